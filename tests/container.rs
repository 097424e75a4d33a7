//! preflight in real containers, on a real Docker engine: `docker stop`,
//! exit codes, orphans, HEALTHCHECK, Ctrl-C through `docker run -it`, the
//! example compose stack (docker/compose.yaml) and swarm stack
//! (docker/stack.yaml) with PostgreSQL, Redis and the Django app in
//! docker/app.
//!
//! One test runs every check in order on one engine: it uses the engine
//! `docker info` reaches, or starts its own `dockerd` (vfs, no bridge) and
//! stops it at the end. Images come from tests/containers/images.sh (cached
//! by recipe) and docker/build.sh (the binary under test). Containers use no
//! network, `--internal` ones, or none at all: nothing leaves the machine.
//! Everything the test made (containers, networks, stacks, the swarm) is
//! removed; the images stay for the next run.

use crate::support;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Disk the engine's vfs storage needs for a cold run (images, then a copy
/// of each image per container: about 3 GB at the peak).
const NEED_FREE_BYTES: u64 = 6 << 30;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Docker CLI: Debian's docker.io (`/usr/bin/docker`, which builds with
/// BuildKit by itself) when installed, else the one on PATH.
fn docker_cli() -> PathBuf {
    if let Some(p) = std::env::var_os("PREFLIGHT_TEST_DOCKER") {
        return p.into();
    }
    let debian = Path::new("/usr/bin/docker");
    if debian.exists() {
        debian.into()
    } else {
        "docker".into()
    }
}

/// The engine the checks run on, and the dockerd this test started (if any).
struct Engine {
    host: Option<String>,
    daemon: Option<Child>,
    label: String,
}

impl Engine {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(docker_cli());
        c.args(args);
        if let Some(h) = &self.host {
            c.env("DOCKER_HOST", h);
        }
        c
    }

    /// `docker build` with BuildKit (with vfs storage the plain builder
    /// commits a full copy of the image per instruction: minutes per image),
    /// no network, quiet; then ARGS.
    fn build(&self, args: &[&str]) -> Command {
        let mut c = self.cmd(&["build", "-q", "--network", "none"]);
        c.args(args).env("DOCKER_BUILDKIT", "1");
        c
    }

    /// `docker ARGS`, its output; panics when docker cannot be run.
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run docker")
    }

    /// `docker ARGS`, which must succeed; its stdout, trimmed.
    fn ok(&self, args: &[&str]) -> Result<String, String> {
        let out = self.run(args);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(format!(
                "docker {}: {}\n{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn answers(host: Option<&str>) -> bool {
        let mut c = Command::new(docker_cli());
        c.args(["info", "--format", "{{.ServerVersion}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(h) = host {
            c.env("DOCKER_HOST", h);
        }
        c.status().is_ok_and(|s| s.success())
    }

    /// The engine `docker` reaches as configured, or one started here.
    fn start() -> Result<Engine, String> {
        let label = format!("preflight-test={}", std::process::id());
        if Engine::answers(None) {
            return Ok(Engine {
                host: None,
                daemon: None,
                label,
            });
        }
        let root = PathBuf::from(
            std::env::var("PREFLIGHT_TEST_DOCKER_ROOT")
                .unwrap_or_else(|_| "/var/lib/preflight-tests".into()),
        );
        let sock = root.join("docker.sock");
        let host = format!("unix://{}", sock.display());
        if Engine::answers(Some(&host)) {
            return Ok(Engine {
                host: Some(host),
                daemon: None,
                label,
            });
        }
        if !support::have_program("dockerd") {
            return Err("dockerd is not installed (.ci/install installs docker.io)".into());
        }
        std::fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
        let log = std::fs::File::create(root.join("dockerd.log")).map_err(|e| e.to_string())?;
        let p = |name: &str| root.join(name).display().to_string();
        let daemon = Command::new("dockerd")
            .args(["--storage-driver=vfs", "--bridge=none", "--host", &host])
            .args(["--data-root", &p("data"), "--exec-root", &p("exec")])
            .args(["--pidfile", &p("dockerd.pid")])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start dockerd: {e}"))?;
        let mut engine = Engine {
            host: Some(host.clone()),
            daemon: Some(daemon),
            label,
        };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if Engine::answers(Some(&host)) {
                return Ok(engine);
            }
            if let Some(st) = engine.daemon.as_mut().unwrap().try_wait().unwrap() {
                let log = std::fs::read_to_string(root.join("dockerd.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                return Err(format!("dockerd exited ({st}): {}", tail.join(" | ")));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err("dockerd did not answer within 60 s".into())
    }

    /// Remove what earlier runs left (a run that was killed, a removal the
    /// engine did not finish): their containers, stacks and networks. Only
    /// one run at a time holds the machine lock, so none of it is in use.
    fn clean_leftovers(&self) {
        let ours = |labels: &str| {
            labels.split(',').any(|l| {
                l.starts_with("preflight-test=")
                    || l.starts_with("com.docker.compose.project=pftest")
                    || l.starts_with("com.docker.stack.namespace=pfstack")
            })
        };
        let stacks = self
            .ok(&["stack", "ls", "--format", "{{.Name}}"])
            .unwrap_or_default();
        for stack in stacks.lines().filter(|s| s.starts_with("pfstack")) {
            let _ = self.run(&["stack", "rm", stack]);
        }
        let all = self
            .ok(&["ps", "-a", "--format", "{{.ID}} {{.Labels}}"])
            .unwrap_or_default();
        for line in all.lines() {
            if let Some((id, _)) = line.split_once(' ').filter(|(_, l)| ours(l)) {
                let _ = self.run(&["rm", "-f", "-v", id]);
            }
        }
        if self.host.is_some() {
            // The tests' own engine: a killed build leaves containers too.
            let dead = self
                .ok(&["ps", "-aq", "--filter", "status=dead"])
                .unwrap_or_default();
            let created = self
                .ok(&["ps", "-aq", "--filter", "status=created"])
                .unwrap_or_default();
            for id in dead.split_whitespace().chain(created.split_whitespace()) {
                let _ = self.run(&["rm", "-f", "-v", id]);
            }
        }
        let nets = self
            .ok(&["network", "ls", "--format", "{{.Name}}"])
            .unwrap_or_default();
        for net in nets
            .lines()
            .filter(|n| n.starts_with("pftest") || n.starts_with("pfstack"))
        {
            let _ = self.run(&["network", "rm", net]);
        }
    }

    /// Remove the containers and networks labelled by this run.
    fn clean(&self) {
        let filter = format!("label={}", self.label);
        let ids = self
            .ok(&["ps", "-aq", "--filter", &filter])
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids);
            let _ = self.run(&args);
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.clean();
        if let Some(mut d) = self.daemon.take() {
            // SIGTERM: dockerd stops its containers and containerd, then exits.
            let _ = Command::new("kill").arg(d.id().to_string()).status();
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(90) {
                if d.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

/// Free bytes on the file system holding `path` (or its nearest parent).
fn free_bytes(path: &Path) -> Option<u64> {
    let mut p = path.to_path_buf();
    while !p.exists() {
        p = p.parent()?.to_path_buf();
    }
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(&p)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)?
        .trim()
        .parse()
        .ok()
}

/// The images the checks run.
struct Images {
    preflight: String,
    shell: String,
    postgres: String,
    redis: String,
    web: String,
    /// Built from: the base images the last two are made of.
    bases: [String; 2],
}

/// A short hash of a file's bytes (sha256sum's first 12 hex digits).
fn hash_file(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)[..12].to_string()
}

fn build_images(e: &Engine) -> Result<Images, String> {
    let app = repo().join("docker/app");
    let mut c = Command::new("bash");
    c.arg(repo().join("tests/containers/images.sh")).arg(&app);
    if let Some(h) = &e.host {
        c.env("DOCKER_HOST", h);
    }
    c.env("PATH", path_with_cli());
    let out = c
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("tests/containers/images.sh: {}", out.status));
    }
    let tags: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let tag = |k: &str| {
        tags.get(k)
            .cloned()
            .ok_or(format!("images.sh printed no {k}="))
    };

    // The preflight image, from the binary under test, with the plain
    // builder and with BuildKit: the same Dockerfile must build with both.
    let bin = hash_file(&support::bin());
    let preflight = format!("preflight-test/preflight:{bin}");
    for (builder, tag) in [
        ("0", preflight.clone()),
        ("1", format!("{preflight}-buildkit")),
    ] {
        let mut c = Command::new(repo().join("docker/build.sh"));
        c.arg("--binary").arg(support::bin()).args(["--tag", &tag]);
        c.env("DOCKER_BUILDKIT", builder)
            .env("PATH", path_with_cli());
        if let Some(h) = &e.host {
            c.env("DOCKER_HOST", h);
        }
        let out = c.output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "docker/build.sh with DOCKER_BUILDKIT={builder}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let version = e.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &format!("{preflight}-buildkit"),
        "--version",
    ])?;
    if !version.starts_with("preflight ") {
        return Err(format!(
            "the BuildKit image's preflight --version said {version:?}"
        ));
    }

    // busybox with preflight, copied from the preflight image as the
    // Dockerfile's comment shows.
    let shell = format!("preflight-test/shell:{bin}");
    if e.ok(&["image", "inspect", &shell]).is_err() {
        let dockerfile = format!(
            "FROM {preflight} AS preflight\nFROM {}\nCOPY --from=preflight /preflight /usr/local/bin/preflight\nENTRYPOINT [\"preflight\"]\n",
            tag("busybox")?
        );
        pipe(|| e.build(&["-t", &shell, "-"]), dockerfile.as_bytes())?;
    }

    // The example app, built from docker/app.Dockerfile as it is.
    let web = format!("preflight-test/web:{bin}-{}", tree_hash(&app));
    if e.ok(&["image", "inspect", &web]).is_err() {
        let python = tag("python")?;
        let args = [
            "-t",
            &web,
            "--build-arg",
            &format!("PREFLIGHT_IMAGE={preflight}"),
            "--build-arg",
            &format!("PYTHON_IMAGE={python}"),
            "-f",
            &repo().join("docker/app.Dockerfile").display().to_string(),
            &app.display().to_string(),
        ];
        pipe(|| e.build(&args), b"").map_err(|why| format!("build the web image: {why}"))?;
    }
    let bases = [tag("python")?, tag("busybox")?];
    let images = Images {
        preflight,
        shell,
        postgres: tag("postgres")?,
        redis: tag("redis")?,
        web,
        bases,
    };
    images.remove_others(e);
    Ok(images)
}

impl Images {
    /// Remove the test images of other binaries and recipes: with vfs each
    /// layer is a full copy of the file system, so stale ones add up.
    fn remove_others(&self, e: &Engine) {
        let keep = [
            &self.preflight,
            &self.shell,
            &self.postgres,
            &self.redis,
            &self.web,
            &self.bases[0],
            &self.bases[1],
        ];
        let all = e
            .ok(&[
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}}",
                "--filter",
                "reference=preflight-test/*",
            ])
            .unwrap_or_default();
        let buildkit = format!("{}-buildkit", self.preflight);
        for tag in all.lines() {
            if !keep.iter().any(|k| *k == tag) && tag != buildkit {
                let _ = e.run(&["rmi", tag]);
            }
        }
    }
}

/// PATH with the chosen Docker CLI's directory first (for the scripts).
fn path_with_cli() -> String {
    let cli = docker_cli();
    let path = std::env::var("PATH").unwrap_or_default();
    match cli.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => format!("{}:{path}", dir.display()),
        None => path,
    }
}

/// A hash of every file under `dir` (names and contents).
fn tree_hash(dir: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("find . -type f ! -name '*.pyc' | LC_ALL=C sort | xargs sha256sum | sha256sum")
        .current_dir(dir)
        .output()
        .expect("hash the app");
    String::from_utf8_lossy(&out.stdout)[..12].to_string()
}

/// Run the command `make` gives with `input` on its stdin; Ok(stdout) when
/// it succeeds. A build made with BuildKit that fails for want of BuildKit
/// (a CLI without buildx) is made again with the plain builder.
fn pipe(make: impl Fn() -> Command, input: &[u8]) -> Result<String, String> {
    match pipe_once(make(), input) {
        Err(why) if why.contains("buildx") || why.contains("BuildKit") => {
            let mut c = make();
            c.env("DOCKER_BUILDKIT", "0");
            pipe_once(c, input)
        }
        r => r,
    }
}

fn pipe_once(mut c: Command, input: &[u8]) -> Result<String, String> {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input)
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{:?}: {}",
            c.get_program(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Poll `f` every 200 ms until it gives Some, for at most `limit`.
fn until<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if t0.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A check's outcome: Ok, or what went wrong.
type Check = Result<(), String>;

/// One of the checks the test runs in turn.
type CheckFn = fn(&Engine, &Images) -> Check;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// `docker run -d` of the shell image with preflight as PID 1 and ARGS.
fn run_detached(e: &Engine, im: &Images, extra: &[&str], args: &[&str]) -> Result<String, String> {
    let mut a = vec!["run", "-d", "--network", "none", "--label", &e.label];
    a.extend(extra);
    a.push(&im.shell);
    a.extend(args);
    e.ok(&a)
}

/// `docker stop` of a container: seconds it took and the exit code.
fn stop(e: &Engine, id: &str) -> Result<(f64, i32), String> {
    let t0 = Instant::now();
    e.ok(&["stop", "-t", "10", id])?;
    let took = t0.elapsed().as_secs_f64();
    let code = e.ok(&["inspect", "-f", "{{.State.ExitCode}}", id])?;
    Ok((
        took,
        code.parse().map_err(|_| format!("exit code {code:?}"))?,
    ))
}

/// Wait until the container's main program prints `line` (it is running).
fn wait_for_log(e: &Engine, id: &str, line: &str, limit: Duration) -> Check {
    until(limit, || {
        let out = e.run(&["logs", id]);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        all.contains(line).then_some(())
    })
    .ok_or(format!("{id} never printed {line:?}"))
}

/// `docker stop`: TERM reaches the program through preflight at once, and
/// its status comes back (0 for a program that traps TERM and exits, 143
/// for one that does not), long before docker's KILL; tini and a shell as
/// PID 1 beside it (printed, for the README's table).
fn check_stop(e: &Engine, im: &Images) -> Check {
    let trap = "trap 'echo got TERM; exit 0' TERM; echo running; sleep 1000 & wait";
    let cases: [(&str, Vec<&str>, i32); 2] = [
        ("traps TERM", vec!["--", "sh", "-c", trap], 0),
        (
            "does not trap TERM",
            vec!["--", "sh", "-c", "echo running; exec sleep 1000"],
            143,
        ),
    ];
    for (what, args, want) in cases {
        let id = run_detached(e, im, &[], &args)?;
        wait_for_log(e, &id, "running", Duration::from_secs(20))?;
        let (took, code) = stop(e, &id)?;
        eprintln!(
            "containers: docker stop, preflight as PID 1, program {what}: {took:.2} s, exit {code}"
        );
        ensure!(
            code == want,
            "docker stop of a program that {what}: exit {code}, expected {want}"
        );
        if want == 0 {
            let logs = e.ok(&["logs", &id])?;
            ensure!(logs.contains("got TERM"), "the trap never ran: {logs:?}");
        }
    }
    // The same program under tini and under sh as PID 1, for comparison.
    for (what, entry) in [
        ("tini", vec!["--entrypoint", "tini"]),
        ("sh", vec!["--entrypoint", "sh"]),
    ] {
        let args: Vec<&str> = if what == "tini" {
            vec!["--", "sh", "-c", "echo running; exec sleep 1000"]
        } else {
            vec!["-c", "echo running; sleep 1000"]
        };
        let id = run_detached(e, im, &entry, &args)?;
        wait_for_log(e, &id, "running", Duration::from_secs(20))?;
        let (took, code) = stop(e, &id)?;
        eprintln!(
            "containers: docker stop, {what} as PID 1, program does not trap TERM: {took:.2} s, exit {code}"
        );
    }
    Ok(())
}

/// The program's status is the container's: its code, 128+N for a signal,
/// 127/126 when it cannot start, 124 when waiting timed out, 2 for a bad
/// argument.
fn check_exit_codes(e: &Engine, im: &Images) -> Check {
    let cases: [(&[&str], i32); 8] = [
        (&["--", "sh", "-c", "exit 3"], 3),
        (&["--", "sh", "-c", "kill -KILL $$"], 137),
        (&["--", "sh", "-c", "kill -SEGV $$"], 139),
        (&["--", "sh", "-c", "kill -TERM $$"], 143),
        (&["--", "no-such-program"], 127),
        (&["--", "/tmp"], 126),
        (
            &[
                "--wait",
                "tcp://127.0.0.1:1",
                "--timeout",
                "1s",
                "--",
                "true",
            ],
            124,
        ),
        (&["--timeout", "soon", "--", "true"], 2),
    ];
    for (args, want) in cases {
        let mut a = vec!["run", "--rm", "--network", "none", &im.shell];
        a.extend(args);
        let code = e.run(&a).status.code();
        ensure!(
            code == Some(want),
            "docker run … {}: exit {code:?}, expected {want}",
            args.join(" ")
        );
    }
    Ok(())
}

/// 100 orphans re-parented to preflight (PID 1) are reaped: no zombie is
/// left while the program still runs.
fn check_orphans(e: &Engine, im: &Images) -> Check {
    let script = "for i in $(seq 100); do (sleep 0.5 &); done; sleep 3; \
                  z=$(ps -o stat | grep -c '^Z'); echo zombies=$z; exit $z";
    let out = e.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        &im.shell,
        "--",
        "sh",
        "-c",
        script,
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    ensure!(
        out.status.code() == Some(0),
        "orphans left zombies: {} ({})",
        text.trim(),
        out.status
    );
    Ok(())
}

/// A HEALTHCHECK made of `preflight check`: healthy while the server
/// answers, unhealthy once it is gone (the container keeps running).
fn check_healthcheck(e: &Engine, im: &Images) -> Check {
    let id = run_detached(
        e,
        im,
        &[
            "--health-cmd",
            "preflight check http://127.0.0.1:8080/",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
            "--health-timeout",
            "3s",
        ],
        &[
            "--",
            "sh",
            "-c",
            "mkdir -p /www && echo ok >/www/index.html && httpd -p 8080 -h /www && exec sleep 1000",
        ],
    )?;
    let status = || {
        e.ok(&["inspect", "-f", "{{.State.Health.Status}}", &id])
            .unwrap_or_default()
    };
    until(Duration::from_secs(30), || {
        (status() == "healthy").then_some(())
    })
    .ok_or(format!("never healthy: {}", status()))?;
    e.ok(&["exec", &id, "killall", "httpd"])?;
    until(Duration::from_secs(30), || {
        (status() == "unhealthy").then_some(())
    })
    .ok_or(format!("never unhealthy after httpd stopped: {}", status()))?;
    let _ = e.run(&["rm", "-f", &id]);
    Ok(())
}

/// Ctrl-C typed into `docker run -it` reaches the program (the terminal's
/// foreground is its), and the container ends with 130.
fn check_ctrl_c(e: &Engine, im: &Images) -> Check {
    if !support::have_program("script") {
        return Err("`script` (util-linux) is needed to give docker run a terminal".into());
    }
    let mut docker = format!(
        "{} run --rm -it --network none --label {} {} -- sh -c 'echo ready; sleep 1000'",
        docker_cli().display(),
        e.label,
        im.shell
    );
    if let Some(h) = &e.host {
        docker = format!("DOCKER_HOST={h} {docker}");
    }
    let mut child = Command::new("script")
        .args(["-qefc", &docker, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains("ready") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        return Err("docker run -it never printed ready".into());
    }
    std::thread::sleep(Duration::from_millis(300));
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"\x03")
        .map_err(|e| e.to_string())?;
    let status = until(Duration::from_secs(20), || child.try_wait().ok().flatten());
    let Some(status) = status else {
        let _ = child.kill();
        return Err("Ctrl-C did not end docker run -it within 20 s".into());
    };
    ensure!(
        status.code() == Some(130),
        "docker run -it after Ctrl-C: {status}, expected 130"
    );
    Ok(())
}

/// `docker exec` into a web container: the page through the app's own
/// Python (no network from the host needed).
fn fetch_page(e: &Engine, id: &str) -> Option<String> {
    let py = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/', timeout=5).read().decode(), end='')";
    let out = e.run(&["exec", id, "python", "-c", py]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

/// Each replica's migrate runs, from the table the app's `migrate` fills:
/// (host, started, ended) as epoch seconds; and whether any two overlapped.
fn migrate_runs(e: &Engine, db: &str) -> Result<Vec<(String, f64, f64)>, String> {
    let sql = "select host, extract(epoch from started), extract(epoch from ended) from migrate_runs order by started";
    let out = e.ok(&["exec", db, "psql", "-U", "postgres", "-AtF", " ", "-c", sql])?;
    out.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            match f.as_slice() {
                [h, s, t] => Ok((
                    h.to_string(),
                    s.parse().unwrap_or(0.0),
                    t.parse().unwrap_or(f64::MAX),
                )),
                _ => Err(format!(
                    "migrate_runs row {l:?}: a replica's migrate never ended"
                )),
            }
        })
        .collect()
}

/// The checks the compose and the swarm stack share, on running web
/// containers `webs` and the db container: every replica serves, each
/// migrated before gunicorn started, and no two migrations overlapped.
fn check_stack(e: &Engine, webs: &[String], db: &str, limit: Duration) -> Check {
    ensure!(webs.len() == 3, "{} web containers, expected 3", webs.len());
    for id in webs {
        let page = until(limit, || fetch_page(e, id)).ok_or(format!("web {id} never answered"))?;
        ensure!(page.starts_with("served by"), "web {id} answered {page:?}");
        // preflight's lines and gunicorn's go to stderr, in order.
        let logs = String::from_utf8_lossy(&e.run(&["logs", id]).stderr).to_string();
        let migrated = logs.find("hook 'python manage.py migrate --noinput': done");
        let listening = logs.find("Listening at");
        ensure!(
            matches!((migrated, listening), (Some(m), Some(l)) if m < l),
            "web {id}: gunicorn did not start after the migrate hook ended: {logs}"
        );
    }
    let runs = migrate_runs(e, db)?;
    ensure!(
        runs.len() == 3,
        "{} migrate runs, expected one per replica: {runs:?}",
        runs.len()
    );
    for w in runs.windows(2) {
        if w[0].2 > w[1].1 {
            return Err(format!("migrations overlapped: {:?} and {:?}", w[0], w[1]));
        }
    }
    Ok(())
}

/// Containers of a compose service (running ones).
fn compose_ids(e: &Engine, project: &str, service: &str) -> Result<Vec<String>, String> {
    let out = e.ok(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--filter",
        &format!("label=com.docker.compose.service={service}"),
    ])?;
    Ok(out.split_whitespace().map(String::from).collect())
}

/// docker/compose.yaml: web waits for PostgreSQL started late and Redis,
/// three replicas migrate one at a time (--lock), all serve, and
/// `docker-compose stop` stops them at once with status 0.
fn check_compose(e: &Engine, im: &Images) -> Check {
    if !support::have_program("docker-compose") {
        return Err("docker-compose is not installed (.ci/install installs it)".into());
    }
    let project = format!("pftest{}", std::process::id());
    let compose = |args: &[&str]| {
        let mut c = Command::new("docker-compose");
        c.args(["-p", &project, "-f"])
            .arg(repo().join("docker/compose.yaml"));
        c.arg("-f")
            .arg(repo().join("tests/containers/compose.test.yaml"));
        c.args(args);
        c.env("WEB_IMAGE", &im.web)
            .env("POSTGRES_IMAGE", &im.postgres)
            .env("REDIS_IMAGE", &im.redis);
        if let Some(h) = &e.host {
            c.env("DOCKER_HOST", h);
        }
        let out = c.output().expect("run docker-compose");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).to_string())
        } else {
            Err(format!(
                "docker-compose {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let result = (|| {
        compose(&["config", "-q"])?;
        // Web and Redis first; PostgreSQL only later.
        compose(&["up", "-d", "--no-deps", "--scale", "web=3", "web", "redis"])?;
        let webs = compose_ids(e, &project, "web")?;
        // The name server of an internal network never answers for a name
        // that does not exist yet: preflight says so (not "no answer").
        for id in &webs {
            wait_for_log(
                e,
                id,
                "name 'db' does not resolve yet",
                Duration::from_secs(60),
            )?;
        }
        for id in &webs {
            ensure!(
                fetch_page(e, id).is_none(),
                "web {id} answered before PostgreSQL ran"
            );
        }
        let t0 = Instant::now();
        compose(&["up", "-d", "--no-deps", "db"])?;
        let db = compose_ids(e, &project, "db")?
            .pop()
            .ok_or("no db container")?;
        check_stack(e, &webs, &db, Duration::from_secs(120))?;
        eprintln!(
            "containers: compose, all 3 replicas served {:.1} s after db started",
            t0.elapsed().as_secs_f64()
        );
        let health = |id: &str| {
            e.ok(&["inspect", "-f", "{{.State.Health.Status}}", id])
                .unwrap_or_default()
        };
        until(Duration::from_secs(30), || {
            webs.iter().all(|id| health(id) == "healthy").then_some(())
        })
        .ok_or("the app image's HEALTHCHECK never turned healthy".to_string())?;
        let t0 = Instant::now();
        compose(&["stop"])?;
        eprintln!(
            "containers: docker-compose stop (3 web, db, redis): {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        for id in &webs {
            let code = e.ok(&["inspect", "-f", "{{.State.ExitCode}}", id])?;
            ensure!(
                code == "0",
                "web {id} exited {code} on docker-compose stop, expected 0"
            );
        }
        Ok(())
    })();
    let _ = compose(&["down", "-v", "--remove-orphans"]);
    result
}

/// docker/stack.yaml on a one-node swarm: three replicas, PostgreSQL
/// scaled up late, the same checks as compose; then web scaled to 0 stops
/// every replica with status 0.
fn check_swarm(e: &Engine, im: &Images) -> Check {
    let state = e.ok(&["info", "-f", "{{.Swarm.LocalNodeState}}"])?;
    let joined_here = state != "active";
    if joined_here {
        e.ok(&["swarm", "init", "--advertise-addr", "127.0.0.1"])?;
    }
    let stack = format!("pfstack{}", std::process::id());
    let result = (|| {
        let mut c = e.cmd(&["stack", "deploy", "--resolve-image", "never"]);
        c.arg("-c").arg(repo().join("docker/stack.yaml"));
        c.arg("-c")
            .arg(repo().join("tests/containers/stack.test.yaml"));
        c.arg(&stack);
        c.env("WEB_IMAGE", &im.web)
            .env("POSTGRES_IMAGE", &im.postgres)
            .env("REDIS_IMAGE", &im.redis);
        let out = c.output().map_err(|e| e.to_string())?;
        ensure!(
            out.status.success(),
            "docker stack deploy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let service = |name: &str| format!("{stack}_{name}");
        let running = |name: &str| -> Vec<String> {
            e.ok(&[
                "ps",
                "-q",
                "--filter",
                &format!("label=com.docker.swarm.service.name={}", service(name)),
            ])
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect()
        };
        let webs = until(Duration::from_secs(120), || {
            let w = running("web");
            (w.len() == 3).then_some(w)
        })
        .ok_or("the swarm never ran 3 web replicas")?;
        std::thread::sleep(Duration::from_secs(2));
        for id in &webs {
            ensure!(
                fetch_page(e, id).is_none(),
                "web {id} answered before PostgreSQL ran"
            );
        }
        let t0 = Instant::now();
        e.ok(&["service", "scale", "-d", &format!("{}=1", service("db"))])?;
        let db = until(Duration::from_secs(60), || running("db").pop()).ok_or("db never ran")?;
        check_stack(e, &webs, &db, Duration::from_secs(120))?;
        eprintln!(
            "containers: swarm, all 3 replicas served {:.1} s after db was scaled up",
            t0.elapsed().as_secs_f64()
        );
        let t0 = Instant::now();
        e.ok(&["service", "scale", "-d", &format!("{}=0", service("web"))])?;
        until(Duration::from_secs(60), || {
            running("web").is_empty().then_some(())
        })
        .ok_or("web replicas still ran 60 s after scaling to 0")?;
        eprintln!(
            "containers: swarm, web scaled 3 -> 0: {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        for id in &webs {
            let code = e.ok(&["inspect", "-f", "{{.State.ExitCode}}", id])?;
            ensure!(
                code == "0",
                "web {id} exited {code} when scaled down, expected 0"
            );
        }
        Ok(())
    })();
    let _ = e.run(&["stack", "rm", &stack]);
    // Wait until the stack's containers and network are gone.
    until(Duration::from_secs(60), || {
        let left = e.ok(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.stack.namespace={stack}"),
        ]);
        let nets = e.ok(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.stack.namespace={stack}"),
        ]);
        (left.unwrap_or_default().is_empty() && nets.unwrap_or_default().is_empty()).then_some(())
    });
    if joined_here {
        let _ = e.run(&["swarm", "leave", "--force"]);
    }
    result
}

/// One container test at a time on this machine (they share the engine, its
/// swarm and the disk): `flock` holds the lock while its stdin stays open.
struct MachineLock(Child);

impl MachineLock {
    fn take(path: &Path) -> Result<MachineLock, String> {
        let mut child = Command::new("flock")
            .arg(path)
            .args(["sh", "-c", "echo locked; exec cat >/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("flock: {e}"))?;
        let mut line = [0u8; 7];
        child
            .stdout
            .take()
            .unwrap()
            .read_exact(&mut line)
            .map_err(|e| format!("flock: {e}"))?;
        Ok(MachineLock(child))
    }
}

impl Drop for MachineLock {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

#[test]
fn containers() {
    // Opt-in: a cold run builds images for minutes, and the machines the
    // suite runs on share one engine and two cores. `.ci/run` sets it.
    if std::env::var("PREFLIGHT_TEST_CONTAINERS").as_deref() != Ok("1") {
        eprintln!(
            "SKIPPED: container tests run with PREFLIGHT_TEST_CONTAINERS=1 (.ci/run sets it)"
        );
        return;
    }
    crate::require!(
        support::have_program(&docker_cli().display().to_string()) || docker_cli().exists(),
        "no docker CLI (.ci/install installs docker.io)"
    );
    let lock_dir = std::env::temp_dir();
    let _lock = match MachineLock::take(&lock_dir.join("preflight-container-tests.lock")) {
        Ok(l) => l,
        Err(why) => return support::skip(&why),
    };
    let engine = match Engine::start() {
        Ok(e) => e,
        Err(why) => return support::skip(&format!("no Docker engine: {why}")),
    };
    engine.clean_leftovers();
    let root = engine
        .ok(&["info", "-f", "{{.DockerRootDir}}"])
        .unwrap_or_default();
    let free = free_bytes(Path::new(&root)).unwrap_or(0);
    crate::require!(
        free >= NEED_FREE_BYTES,
        "{} GiB free under {root}, the container tests need {} GiB",
        free >> 30,
        NEED_FREE_BYTES >> 30
    );
    let t0 = Instant::now();
    let images = match build_images(&engine) {
        Ok(i) => i,
        Err(why) => panic!("building the test images failed: {why}"),
    };
    eprintln!(
        "containers: images ready in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let checks: [(&str, CheckFn); 7] = [
        ("docker stop", check_stop),
        ("exit codes", check_exit_codes),
        ("orphans", check_orphans),
        ("HEALTHCHECK", check_healthcheck),
        ("Ctrl-C", check_ctrl_c),
        ("compose", check_compose),
        ("swarm", check_swarm),
    ];
    let mut failed = Vec::new();
    for (name, check) in checks {
        let t = Instant::now();
        let r = check(&engine, &images);
        eprintln!(
            "containers: {name}: {} in {:.1} s",
            if r.is_ok() { "ok" } else { "FAILED" },
            t.elapsed().as_secs_f64()
        );
        if let Err(why) = r {
            failed.push(format!("{name}: {why}"));
        }
        engine.clean();
    }
    let _ = images.preflight;
    assert!(
        failed.is_empty(),
        "container checks failed:\n{}",
        failed.join("\n")
    );
}

/// docker/k8s.yaml is valid against the Kubernetes schemas (strict: an
/// unknown field fails), and uses preflight the three ways it says.
#[test]
fn kubernetes_manifest() {
    crate::require!(
        support::have_program("kubernetes-validate"),
        "kubernetes-validate is not installed (.ci/install: pip install kubernetes-validate)"
    );
    let manifest = std::fs::read_to_string(repo().join("docker/k8s.yaml")).unwrap();
    for part in [
        r#"args: ["wait", "#,
        r#"command: ["preflight"]"#,
        r#"command: ["preflight", "check", "#,
    ] {
        assert!(manifest.contains(part), "docker/k8s.yaml lacks {part}");
    }
    let validate = |text: &str| {
        let dir = support::TempDir::new();
        let path = dir.join("k8s.yaml");
        std::fs::write(&path, text).unwrap();
        let out = Command::new("kubernetes-validate")
            .args(["--strict", "--quiet"])
            .arg(&path)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, said) = validate(&manifest);
    assert!(ok, "docker/k8s.yaml is not valid: {said}");
    // The check is not vacuous: a misspelt field fails it.
    let (ok, _) = validate(&manifest.replace("readinessProbe:", "readynessProbe:"));
    assert!(!ok, "kubernetes-validate accepted an unknown field");
}
