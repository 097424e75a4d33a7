//! Templates (`--template SRC:DEST`, `--templates-dir DIR[:OUTDIR]`): rendered
//! from preflight's real environment after waiting and before the hooks;
//! strict about unset variables (exit 2 naming variable and `file:line`,
//! nothing written, the old DEST untouched); atomic; mode kept; owned by
//! `--user`; never printing a value.

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

use crate::support::{TempDir, preflight};

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = preflight()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_template_is_rendered_from_the_environment_before_the_hooks() {
    let dir = TempDir::new();
    let src = dir.join("app.ini.template");
    let dest = dir.join("app.ini");
    fs::write(
        &src,
        "[broker]\nurl = amqp://${BROKER_HOST}:${BROKER_PORT:-5672}/\nprice = 5$$\nrpc = ${RPC_URL-http://rpc}\n",
    )
    .unwrap();
    let spec = format!("{}:{}", src.display(), dest.display());
    // The hook sees the rendered file: templates come first.
    let (code, out, err) = run(
        &[
            "--template",
            &spec,
            "--hook",
            &format!("cat {}", dest.display()),
            "--",
            "true",
        ],
        &[("BROKER_HOST", "rabbit"), ("RPC_URL", "")],
    );
    assert_eq!(code, 0, "{err}");
    let want = "[broker]\nurl = amqp://rabbit:5672/\nprice = 5$\nrpc = \n";
    assert_eq!(fs::read_to_string(&dest).unwrap(), want);
    assert_eq!(out, want, "the hook must see the rendered file");
}

#[test]
fn an_unset_variable_stops_the_start_naming_it_and_its_line_and_writes_nothing() {
    let dir = TempDir::new();
    let first = dir.join("a.template");
    let second = dir.join("b.template");
    fs::write(&first, "ok = ${PRESENT}\n").unwrap();
    fs::write(&second, "one\ntwo = ${PRESENT}\nthree = ${NOT_THERE}\n").unwrap();
    let a = dir.join("a.conf");
    let b = dir.join("b.conf");
    fs::write(&a, "old a\n").unwrap();
    fs::write(&b, "old b\n").unwrap();
    let (code, out, err) = run(
        &[
            "--template",
            &format!("{}:{}", first.display(), a.display()),
            "--template",
            &format!("{}:{}", second.display(), b.display()),
            "--",
            "echo",
            "command ran",
        ],
        &[("PRESENT", "s3cr3t-value")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "the command must not run: {out}");
    let line = format!("{}:3: variable NOT_THERE is not set", second.display());
    assert!(err.contains(&line), "want '{line}' in: {err}");
    assert!(!err.contains("s3cr3t-value"), "a value was printed: {err}");
    assert_eq!(
        fs::read_to_string(&a).unwrap(),
        "old a\n",
        "nothing is written"
    );
    assert_eq!(
        fs::read_to_string(&b).unwrap(),
        "old b\n",
        "the old DEST stays"
    );
    // No temporary file is left behind either.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}

#[test]
fn a_question_mark_default_stops_with_the_users_message() {
    let dir = TempDir::new();
    let src = dir.join("x.template");
    fs::write(
        &src,
        "db = ${DATABASE_URL:?set DATABASE_URL to the app database}\n",
    )
    .unwrap();
    let spec = format!("{}:{}", src.display(), dir.join("x").display());
    let (code, _, err) = run(&["--template", &spec, "--", "true"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(":1: DATABASE_URL: set DATABASE_URL to the app database"),
        "{err}"
    );
    // Set and not empty: rendered.
    let (code, _, err) = run(
        &["--template", &spec, "--", "true"],
        &[("DATABASE_URL", "postgres://db/app")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fs::read_to_string(dir.join("x")).unwrap(),
        "db = postgres://db/app\n"
    );
}

#[test]
fn the_output_keeps_the_templates_mode_and_replaces_the_old_file_atomically() {
    let dir = TempDir::new();
    let src = dir.join("run.sh.template");
    fs::write(&src, "#!/bin/sh\necho ${GREETING}\n").unwrap();
    fs::set_permissions(&src, fs::Permissions::from_mode(0o750)).unwrap();
    let dest = dir.join("run.sh");
    fs::write(&dest, "old").unwrap();
    let old_inode = fs::metadata(&dest).unwrap().ino();
    let spec = format!("{}:{}", src.display(), dest.display());
    let (code, out, err) = run(
        &["--template", &spec, "--", dest.to_str().unwrap()],
        &[("GREETING", "hello")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "hello\n", "the rendered script runs as the command");
    let meta = fs::metadata(&dest).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o750);
    assert_ne!(meta.ino(), old_inode, "a new file renamed over the old one");
}

#[test]
fn a_large_template_renders_whole() {
    let dir = TempDir::new();
    let src = dir.join("big.template");
    let line = "key_${N} = ${VALUE} $$literal\n";
    fs::write(&src, line.repeat(100_000)).unwrap();
    let dest = dir.join("big");
    let spec = format!("{}:{}", src.display(), dest.display());
    let (code, _, err) = run(
        &["--template", &spec, "--", "true"],
        &[("N", "7"), ("VALUE", "v")],
    );
    assert_eq!(code, 0, "{err}");
    let text = fs::read_to_string(&dest).unwrap();
    assert_eq!(text, "key_7 = v $literal\n".repeat(100_000));
}

#[test]
fn a_destination_directory_that_does_not_exist_is_a_clear_error() {
    let dir = TempDir::new();
    let src = dir.join("x.template");
    fs::write(&src, "x\n").unwrap();
    let dest = dir.join("no/such/dir/x.conf");
    let spec = format!("{}:{}", src.display(), dest.display());
    let (code, _, err) = run(&["--template", &spec, "--", "true"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "the directory of '{}' does not exist",
            dest.display()
        )),
        "{err}"
    );
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.contains("does not exist"),
        "the error comes first, in one line: {err}"
    );
    assert!(
        err.contains("start-up stopped after") && err.contains("in the templates"),
        "{err}"
    );
}

#[test]
fn a_missing_template_is_a_clear_error() {
    let dir = TempDir::new();
    let spec = format!("{}:{}", dir.join("nope").display(), dir.join("x").display());
    let (code, _, err) = run(&["--template", &spec, "--", "true"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope': cannot read it"), "{err}");
    let (code, _, err) = run(&["--template", "no-colon-here", "--", "true"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("'no-colon-here': expected SRC:DEST"), "{err}");
}

#[test]
fn the_nginx_directory_convention_renders_every_dot_template() {
    let dir = TempDir::new();
    let templates = dir.join("templates");
    let out = dir.join("conf.d");
    fs::create_dir_all(templates.join("sites")).unwrap();
    fs::create_dir_all(out.join("sites")).unwrap();
    // nginx's own variables ($host, $uri) are left alone.
    fs::write(
        templates.join("default.conf.template"),
        "server { listen ${NGINX_PORT}; server_name ${NGINX_HOST}; return 301 https://$host$request_uri; }\n",
    )
    .unwrap();
    fs::write(
        templates.join("sites/app.conf.template"),
        "upstream app { server ${APP_ADDR:-app:8000}; }\n",
    )
    .unwrap();
    fs::write(templates.join("README"), "not a template ${NOPE}\n").unwrap();
    let spec = format!("{}:{}", templates.display(), out.display());
    let (code, _, err) = run(
        &["--templates-dir", &spec, "--", "true"],
        &[("NGINX_PORT", "80"), ("NGINX_HOST", "example.test")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fs::read_to_string(out.join("default.conf")).unwrap(),
        "server { listen 80; server_name example.test; return 301 https://$host$request_uri; }\n"
    );
    assert_eq!(
        fs::read_to_string(out.join("sites/app.conf")).unwrap(),
        "upstream app { server app:8000; }\n"
    );
    assert!(!out.join("README").exists());
    // The environment variable works too.
    fs::remove_file(out.join("default.conf")).unwrap();
    let (code, _, err) = run(
        &["--", "true"],
        &[
            ("PREFLIGHT_TEMPLATES_DIR", spec.as_str()),
            ("NGINX_PORT", "81"),
            ("NGINX_HOST", "h"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        fs::read_to_string(out.join("default.conf"))
            .unwrap()
            .contains("listen 81;")
    );
}

#[test]
fn templates_from_the_environment_variable_render_too() {
    let dir = TempDir::new();
    let (a, b) = (dir.join("a.template"), dir.join("b.template"));
    fs::write(&a, "A=${X}\n").unwrap();
    fs::write(&b, "B=${X}\n").unwrap();
    let list = format!(
        "{}:{}\n{}:{}",
        a.display(),
        dir.join("a").display(),
        b.display(),
        dir.join("b").display()
    );
    let (code, _, err) = run(
        &["--", "true"],
        &[("PREFLIGHT_TEMPLATES", list.as_str()), ("X", "1")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(fs::read_to_string(dir.join("a")).unwrap(), "A=1\n");
    assert_eq!(fs::read_to_string(dir.join("b")).unwrap(), "B=1\n");
}

#[test]
fn file_secrets_are_available_to_templates() {
    let dir = TempDir::new();
    let secret = dir.join("pw");
    fs::write(&secret, "from-a-file\n").unwrap();
    let src = dir.join("t.template");
    fs::write(&src, "password=${DB_PASSWORD}\n").unwrap();
    let dest = dir.join("t");
    let spec = format!("{}:{}", src.display(), dest.display());
    let (code, _, err) = run(
        &[
            "--secrets-from-files=DB_PASSWORD",
            "--template",
            &spec,
            "--",
            "true",
        ],
        &[("DB_PASSWORD_FILE", secret.to_str().unwrap())],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(fs::read_to_string(&dest).unwrap(), "password=from-a-file\n");
    assert!(!err.contains("from-a-file"), "{err}");
}

#[test]
fn with_user_the_output_belongs_to_that_user() {
    crate::require!(
        nix::unistd::geteuid().is_root(),
        "switching users needs root"
    );
    let dir = TempDir::new();
    let src = dir.join("t.template");
    fs::write(&src, "x=${X:-1}\n").unwrap();
    fs::set_permissions(&src, fs::Permissions::from_mode(0o640)).unwrap();
    let dest = dir.join("t");
    let spec = format!("{}:{}", src.display(), dest.display());
    let (code, out, err) = run(
        &[
            "--user",
            "nobody",
            "--template",
            &spec,
            "--",
            "cat",
            dest.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "x=1\n", "nobody can read its own 0640 file");
    let meta = fs::metadata(&dest).unwrap();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    assert_eq!(meta.uid(), nobody.uid.as_raw());
    assert_eq!(meta.gid(), nobody.gid.as_raw());
    assert_eq!(meta.mode() & 0o7777, 0o640);
}
