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
use crate::params::{TlsParams, postgres_mode};
use crate::probe::tls::Roots;
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
    /// `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`: for postgres
    /// URLs that do not say, as libpq reads them.
    pub pg_tls: TlsParams,
}

impl FromEnv {
    /// What `env` holds for `targets`: a header variable that is unset, or
    /// holds a line break, is a bad value (named, never shown).
    pub fn for_targets(env: &Env, targets: &[Target]) -> Result<FromEnv, BadValue> {
        let mut from_env = FromEnv::read(env);
        if let Some(v) = env.non_empty("PGSSLMODE")
            && postgres_mode(v).is_none()
        {
            return Err(BadValue::new(format!(
                "PGSSLMODE: '{v}' is not one of disable, allow, prefer, require, verify-ca, verify-full"
            )));
        }
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
            pg_tls: TlsParams {
                mode: env.non_empty("PGSSLMODE").and_then(postgres_mode),
                roots: env.non_empty("PGSSLROOTCERT").map(|v| match v {
                    "system" => Roots::System,
                    path => Roots::File(PathBuf::from(path)),
                }),
                cert: env.non_empty("PGSSLCERT").map(PathBuf::from),
                key: env.non_empty("PGSSLKEY").map(PathBuf::from),
            },
        }
    }

    /// `target` with what the environment adds: the CA file (every target
    /// may speak TLS: `sslmode=prefer` is the default), the password for a
    /// URL without one.
    pub fn complete(&self, target: &Target) -> Target {
        let mut t = target.clone();
        t.ca_file = self.ca_file.clone();
        if t.protocol == Protocol::Postgres {
            let (url, env) = (&mut t.params.tls, &self.pg_tls);
            url.mode = url.mode.or(env.mode);
            url.roots = url.roots.take().or_else(|| env.roots.clone());
            if url.cert.is_none() && url.key.is_none() {
                url.cert = env.cert.clone();
                url.key = env.key.clone();
            }
        }
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

    #[test]
    fn pgsslmode_and_friends_fill_in_what_the_url_does_not_say() {
        let env: Env = [("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", "/ca.pem")]
            .into_iter()
            .collect();
        let from_env = FromEnv::for_targets(&env, &[]).unwrap();
        let t = from_env.complete(&crate::target::parse("postgres://db/app").unwrap());
        assert_eq!(t.params.tls.mode, Some(crate::params::TlsMode::VerifyFull));
        assert_eq!(t.params.tls.roots, Some(Roots::File("/ca.pem".into())));
        // The URL wins; other protocols are untouched.
        let t =
            from_env.complete(&crate::target::parse("postgres://db/app?sslmode=disable").unwrap());
        assert_eq!(t.params.tls.mode, Some(crate::params::TlsMode::Disable));
        let t = from_env.complete(&crate::target::parse("mysql://db/app").unwrap());
        assert_eq!(t.params.tls.mode, None);
        let bad: Env = [("PGSSLMODE", "on")].into_iter().collect();
        let e = FromEnv::for_targets(&bad, &[]).unwrap_err().to_string();
        assert!(e.starts_with("PGSSLMODE: 'on'"), "{e}");
    }
}
