//! What the environment adds to the targets the user wrote: `PGPASSWORD`,
//! `MYSQL_PWD`, `REDISCLI_AUTH` (each also as `NAME_FILE`, read into the
//! environment by [`super::secret_files`]), `PREFLIGHT_CA_FILE`, and the
//! variables that `#header=Name:$VAR` options name.
//!
//! Kept beside the targets, not written into them: `Config::targets` is what
//! the command line and variables said, and [`FromEnv::complete`] makes the
//! target a probe (or the lock) is built from, at the one place that builds
//! them (`app`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Env;
use crate::expect::HeaderValue;
use crate::protocol::Protocol;
use crate::secrets::Secret;
use crate::target::Target;
use crate::values::BadValue;

/// Credentials and the extra CA file from the environment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FromEnv {
    /// `PGPASSWORD`: for postgres URLs that name a user but no password.
    pub pgpassword: Option<Secret>,
    /// `MYSQL_PWD`: for mysql URLs that name a user but no password.
    pub mysql_pwd: Option<Secret>,
    /// `REDISCLI_AUTH`: for redis URLs without a password, user or not.
    pub redis_auth: Option<Secret>,
    /// `PREFLIGHT_CA_FILE`: trusted beside the bundled roots by every TLS
    /// connection.
    pub ca_file: Option<PathBuf>,
    /// The value of each variable a `#header=Name:$VAR` names.
    pub header_vars: BTreeMap<String, Secret>,
}

impl FromEnv {
    /// What `env` holds for `targets`: a header variable that is unset, or
    /// holds a line break, is a bad value (named, never shown).
    pub fn for_targets(env: &Env, targets: &[Target]) -> Result<FromEnv, BadValue> {
        let mut from_env = FromEnv::read(env);
        for t in targets {
            for h in &t.expect.headers {
                let HeaderValue::Env { var, .. } = &h.value else {
                    continue;
                };
                let v = env.get(var.as_str()).ok_or_else(|| {
                    BadValue::new(format!(
                        "{t}: header {} takes its value from ${var}, which is not set",
                        h.name
                    ))
                })?;
                if v.contains(['\r', '\n']) {
                    return Err(BadValue::new(format!(
                        "{t}: header {}: ${var} holds a line break",
                        h.name
                    )));
                }
                from_env.header_vars.insert(var.clone(), Secret::new(v));
            }
        }
        Ok(from_env)
    }

    pub fn read(env: &Env) -> FromEnv {
        // An empty value is unset: compose writes an unset ${VAR} as "".
        let secret = |name| env.get(name).filter(|v| !v.is_empty()).map(Secret::new);
        FromEnv {
            pgpassword: secret("PGPASSWORD"),
            mysql_pwd: secret("MYSQL_PWD"),
            redis_auth: secret("REDISCLI_AUTH"),
            ca_file: env
                .non_empty(crate::probe::tls::CA_FILE_VAR)
                .map(PathBuf::from),
            header_vars: BTreeMap::new(),
        }
    }

    /// `target` with what the environment adds: the CA file (every target
    /// may speak TLS: `sslmode=prefer` is the default), the password for a
    /// URL without one.
    pub fn complete(&self, target: &Target) -> Target {
        let mut t = target.clone();
        t.ca_file = self.ca_file.clone();
        let password = match t.protocol {
            Protocol::Postgres if t.user.is_some() => &self.pgpassword,
            Protocol::Mysql if t.user.is_some() => &self.mysql_pwd,
            Protocol::Redis => &self.redis_auth,
            _ => &None,
        };
        if let Some(p) = password {
            t.set_password_if_missing(p.clone());
        }
        for h in &mut t.expect.headers {
            if let HeaderValue::Env { var, value } = &mut h.value {
                *value = self.header_vars.get(var).cloned();
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_completes_a_target_without_changing_it() {
        let env: Env = [("PGPASSWORD", "pw"), ("REDISCLI_AUTH", "r")]
            .into_iter()
            .collect();
        let from_env = FromEnv::read(&env);
        let written = crate::target::parse("postgres://app@db/app").unwrap();
        let t = from_env.complete(&written);
        assert_eq!(t.password.as_ref().map(Secret::expose), Some("pw"));
        assert_eq!(written.password, None);
        // Without a user, PGPASSWORD is not used (libpq's user would be
        // guessed); a password in the URL wins.
        let t = from_env.complete(&crate::target::parse("postgres://db/app").unwrap());
        assert_eq!(t.password, None);
        let t = from_env.complete(&crate::target::parse("redis://:url@r").unwrap());
        assert_eq!(t.password.as_ref().map(Secret::expose), Some("url"));
        let t = from_env.complete(&crate::target::parse("redis://r").unwrap());
        assert_eq!(t.password.as_ref().map(Secret::expose), Some("r"));
    }

    #[test]
    fn an_empty_password_variable_is_unset() {
        for (url, var) in [
            ("postgres://app@db/app", "PGPASSWORD"),
            ("mysql://app@db/app", "MYSQL_PWD"),
            ("redis://cache:6379", "REDISCLI_AUTH"),
        ] {
            let written = crate::target::parse(url).unwrap();
            let empty: Env = [(var, "")].into_iter().collect();
            assert_eq!(
                FromEnv::read(&empty).complete(&written).password,
                None,
                "{var}"
            );
            // Control: a value is used.
            let set: Env = [(var, "pw")].into_iter().collect();
            let t = FromEnv::read(&set).complete(&written);
            assert_eq!(t.password.as_ref().map(Secret::expose), Some("pw"), "{var}");
        }
    }
}
