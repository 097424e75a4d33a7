//! `--user USER[:GROUP]` → the ids the hooks and the command run as, resolved
//! the way `gosu` (and Docker's `--user`) resolve them.
//!
//! `/etc/passwd` and `/etc/group` are parsed here rather than asked of libc:
//! the release binary is static, and glibc's `getpwnam` in a static binary
//! needs NSS modules it cannot load. Containers keep their users in these two
//! files anyway. The parsing is pure ([`resolve_in`]); only [`resolve`] reads.
//!
//! Rules (gosu's, checked against its test suite):
//! - USER is a name, or a numeric id. A name must be in passwd; a number is
//!   looked up by uid, and may be absent: then the gid is preflight's own
//!   (0 when root, as `docker run --user 1000` gives) and HOME is `/`.
//! - Without GROUP: the passwd entry's gid, and as supplementary groups that
//!   gid plus every group in /etc/group that lists the user by name.
//! - With GROUP (a name, or a number that may be absent from /etc/group): that
//!   gid, and it is the only group: root's supplementary groups never leak.
//! - HOME is the passwd entry's home (`/` without an entry), and replaces any
//!   HOME in the environment, as gosu does.
//!
//! Dropping the ids happens in the child (`init`), never in preflight itself:
//! it stays root for its own work.

use std::path::PathBuf;

/// Who the child becomes, resolved before anything starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (the primary gid first).
    pub groups: Vec<u32>,
    /// `HOME` for the child, from the passwd entry.
    pub home: Option<PathBuf>,
}

pub const PASSWD: &str = "/etc/passwd";
pub const GROUP: &str = "/etc/group";

/// Resolve `USER[:GROUP]` (names or numeric ids) against this machine's
/// /etc/passwd and /etc/group. A missing file counts as empty (a `scratch`
/// image has none: numeric ids still work).
pub fn resolve(spec: &str) -> Result<Credentials, String> {
    let read = |path: &str| match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!(
            "--user '{spec}': cannot read {path}: {}",
            crate::describe::io_error(&e)
        )),
    };
    resolve_in(
        spec,
        &read(PASSWD)?,
        &read(GROUP)?,
        nix::unistd::getgid().as_raw(),
    )
}

/// [`resolve`] against the given passwd and group texts; `own_gid` is the gid
/// for a numeric user that passwd does not know.
pub fn resolve_in(
    spec: &str,
    passwd: &str,
    group: &str,
    own_gid: u32,
) -> Result<Credentials, String> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u.trim(), Some(g.trim()).filter(|g| !g.is_empty())),
        None => (spec.trim(), None),
    };
    if user_part.is_empty() {
        return Err(format!(
            "--user '{spec}': expected USER[:GROUP], names or numeric ids, like app or 1000:1000"
        ));
    }
    let users: Vec<PasswdEntry> = passwd.lines().filter_map(PasswdEntry::parse).collect();
    let groups: Vec<GroupEntry> = group.lines().filter_map(GroupEntry::parse).collect();

    let entry = match parse_id(user_part) {
        Some(Ok(uid)) => users.iter().find(|u| u.uid == uid),
        Some(Err(())) => return Err(format!("--user '{spec}': '{user_part}' is out of range")),
        None => match users.iter().find(|u| u.name == user_part) {
            Some(u) => Some(u),
            None => {
                return Err(format!(
                    "--user '{spec}': no user '{user_part}' in {PASSWD}"
                ));
            }
        },
    };
    let (uid, mut gid, home) = match entry {
        Some(u) => (u.uid, u.gid, PathBuf::from(u.home)),
        // Numeric, no entry: only reachable when parse_id succeeded.
        None => (
            parse_id(user_part).and_then(Result::ok).unwrap_or_default(),
            own_gid,
            PathBuf::from("/"),
        ),
    };

    let supplementary = match group_part {
        Some(g) => {
            gid = match parse_id(g) {
                Some(Ok(n)) => n,
                Some(Err(())) => return Err(format!("--user '{spec}': '{g}' is out of range")),
                None => match groups.iter().find(|e| e.name == g) {
                    Some(e) => e.gid,
                    None => return Err(format!("--user '{spec}': no group '{g}' in {GROUP}")),
                },
            };
            vec![gid]
        }
        None => {
            let mut list = vec![gid];
            if let Some(u) = entry {
                for g in &groups {
                    if g.members.contains(&u.name) && !list.contains(&g.gid) {
                        list.push(g.gid);
                    }
                }
            }
            list
        }
    };
    Ok(Credentials {
        uid,
        gid,
        groups: supplementary,
        home: Some(home),
    })
}

/// A numeric id: Some(Ok) in range, Some(Err) a number out of range (and
/// u32::MAX, which means "unchanged" to setuid), None not a number.
fn parse_id(s: &str) -> Option<Result<u32, ()>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u32>().ok().filter(|&n| n != u32::MAX).ok_or(()))
}

/// A passwd or group line's name and the fields after its password; None
/// for comments, NIS `+`/`-` lines and an empty name (skipped, as libc
/// skips them).
fn name_and_fields(line: &str) -> Option<(&str, std::str::Split<'_, char>)> {
    if line.starts_with(['#', '+', '-']) {
        return None;
    }
    let mut f = line.split(':');
    let name = f.next().filter(|name| !name.is_empty())?;
    let _password = f.next()?;
    Some((name, f))
}

/// `name:password:uid:gid:gecos:home:shell`.
struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

impl<'a> PasswdEntry<'a> {
    /// None for comments, NIS `+`/`-` lines and malformed lines (skipped, as
    /// libc skips them).
    fn parse(line: &'a str) -> Option<Self> {
        let (name, mut f) = name_and_fields(line)?;
        let uid = f.next()?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        let _gecos = f.next()?;
        let home = f.next()?;
        Some(PasswdEntry {
            name,
            uid,
            gid,
            home: if home.is_empty() { "/" } else { home },
        })
    }
}

/// `name:password:gid:member,member`.
struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

impl<'a> GroupEntry<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let (name, mut f) = name_and_fields(line)?;
        let gid = f.next()?.parse().ok()?;
        let members = f
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect();
        Some(GroupEntry { name, gid, members })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
games:x:5:60:games:/usr/games:/usr/sbin/nologin
broken line
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
";
    const GROUP: &str = "\
root:x:0:
daemon:x:1:
games:x:60:
users:x:100:games,app
docker:x:999:app
nogroup:x:65534:
app:x:1000:
";

    fn r(spec: &str) -> Result<Credentials, String> {
        resolve_in(spec, PASSWD, GROUP, 0)
    }

    #[test]
    fn comments_nis_lines_and_empty_names_are_skipped_in_both_files() {
        for line in [
            "# root:x:0:0::/root:/bin/sh",
            "+root:x:0:0::/root:/bin/sh",
            "-root:x:0:0::/root:/bin/sh",
            ":x:0:0::/root:/bin/sh",
        ] {
            assert!(PasswdEntry::parse(line).is_none(), "{line}");
        }
        for line in ["# root:x:0:", "+root:x:0:", "-root:x:0:", ":x:0:root"] {
            assert!(GroupEntry::parse(line).is_none(), "{line}");
        }
        assert_eq!(
            PasswdEntry::parse("root:x:0:0::/root:/bin/sh")
                .unwrap()
                .name,
            "root"
        );
        assert_eq!(GroupEntry::parse("root:x:0:").unwrap().name, "root");
    }

    fn ids(c: &Credentials) -> (u32, u32, Vec<u32>, &str) {
        (
            c.uid,
            c.gid,
            c.groups.clone(),
            c.home.as_ref().unwrap().to_str().unwrap(),
        )
    }

    #[test]
    fn a_name_gets_its_passwd_ids_groups_and_home() {
        assert_eq!(
            ids(&r("games").unwrap()),
            (5, 60, vec![60, 100], "/usr/games")
        );
        assert_eq!(
            ids(&r("app").unwrap()),
            (1000, 1000, vec![1000, 100, 999], "/home/app")
        );
        assert_eq!(
            ids(&r("nobody").unwrap()),
            (65534, 65534, vec![65534], "/nonexistent")
        );
    }

    #[test]
    fn a_numeric_user_is_looked_up_by_uid_and_may_be_unknown() {
        assert_eq!(ids(&r("0").unwrap()), (0, 0, vec![0], "/root"));
        assert_eq!(
            ids(&r("1000").unwrap()),
            (1000, 1000, vec![1000, 100, 999], "/home/app")
        );
        // gosu: `gosu 1000` without an entry keeps the caller's gid, HOME=/.
        assert_eq!(
            ids(&resolve_in("4242", PASSWD, GROUP, 7).unwrap()),
            (4242, 7, vec![7], "/")
        );
    }

    #[test]
    fn an_explicit_group_is_the_only_group() {
        assert_eq!(
            ids(&r("games:daemon").unwrap()),
            (5, 1, vec![1], "/usr/games")
        );
        assert_eq!(ids(&r("1000:0").unwrap()), (1000, 0, vec![0], "/home/app"));
        assert_eq!(ids(&r("4242:4343").unwrap()), (4242, 4343, vec![4343], "/"));
        assert_eq!(ids(&r("root:").unwrap()), (0, 0, vec![0], "/root"));
    }

    #[test]
    fn unknown_names_and_bad_specs_are_named() {
        for (spec, expected) in [
            ("bogus", "no user 'bogus' in /etc/passwd"),
            ("0day", "no user '0day'"),
            ("0:bogus", "no group 'bogus' in /etc/group"),
            ("0:0day", "no group '0day'"),
            (":0", "expected USER[:GROUP]"),
            ("", "expected USER[:GROUP]"),
            ("4294967295", "out of range"),
            ("99999999999", "out of range"),
        ] {
            let e = r(spec).unwrap_err();
            assert!(
                e.contains(&format!("'{spec}'")) && e.contains(expected),
                "{spec}: {e}"
            );
        }
    }

    #[test]
    fn missing_files_still_allow_numeric_ids() {
        assert_eq!(
            ids(&resolve_in("1000:1000", "", "", 0).unwrap()),
            (1000, 1000, vec![1000], "/")
        );
        assert!(resolve_in("app", "", "", 0).is_err());
    }
}
