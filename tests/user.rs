//! `--user`: hooks and command run as that user, with its groups and HOME,
//! while preflight stays root. Needs root and the init core (`init::run`).

use crate::require;
use crate::support::{Bounded, expect_exit_output, preflight};

/// What a process says about itself: `uid groups HOME`.
const WHO: &str = "echo \"$(id -u) $(id -g) [$(id -G)] $HOME\"";

#[test]
fn hook_and_command_run_as_nobody_with_its_groups_and_home() {
    require!(
        nix::unistd::geteuid().is_root(),
        "switching users needs root"
    );
    let (uid, gid) = (65534, 65534);
    let (out, stderr) = expect_exit_output(
        0,
        preflight()
            .args(["--user", "nobody"])
            .args(["--hook", &format!("sh -c '{WHO}'")])
            .args(["--", "sh", "-c", WHO])
            .env("HOME", "/root"),
    );
    // nobody's home in Debian's passwd; replaces the HOME preflight had.
    let home = passwd_home("nobody").unwrap_or_else(|| "/nonexistent".into());
    let expected = format!("{uid} {gid} [{gid}] {home}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .collect::<Vec<_>>(),
        [expected.as_str(), expected.as_str()],
        "root's groups must not leak: {stderr}"
    );
}

#[test]
fn a_numeric_user_and_group_need_no_passwd_entry() {
    require!(
        nix::unistd::geteuid().is_root(),
        "switching users needs root"
    );
    let out = preflight()
        .args(["--user", "4242:4343", "--", "sh", "-c", WHO])
        .bounded_output();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "4242 4343 [4343] /",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn passwd_home(name: &str) -> Option<String> {
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .and_then(|l| l.split(':').nth(5))
        .map(str::to_string)
}
