//! [`Env`]: the snapshot of the environment the configuration is built from.
//! Taken once ([`Env::from_process`]), then passed by reference: nothing after
//! it reads the process environment for a setting, and tests build one from
//! a list of pairs.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// The environment preflight reads its settings from (a snapshot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
    /// Names whose value is not UTF-8: not in `vars`, and an error if
    /// preflight reads one of them (`Config::from_args` checks); the child
    /// inherits them untouched.
    not_utf8: Vec<String>,
}

impl Env {
    /// The process environment. A variable whose name is not UTF-8 is none
    /// of preflight's and is skipped; one whose value is not is remembered
    /// by name ([`Env::not_utf8`]).
    pub fn from_process() -> Self {
        Self::from_os(std::env::vars_os())
    }

    /// [`Env::from_process`] from given pairs.
    pub fn from_os(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        let mut env = Env::default();
        for (k, v) in vars {
            let Ok(k) = k.into_string() else { continue };
            match v.into_string() {
                Ok(v) => {
                    env.vars.insert(k, v);
                }
                Err(_) => env.not_utf8.push(k),
            }
        }
        env
    }

    /// The variables whose value is not UTF-8 text.
    pub fn not_utf8(&self) -> impl Iterator<Item = &str> {
        self.not_utf8.iter().map(String::as_str)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Set, and not empty (compose writes `FOO=` for unset values).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn set(&mut self, name: String, value: String) {
        self.vars.insert(name, value);
    }

    pub fn remove(&mut self, name: &str) {
        self.vars.remove(name);
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Env {
            vars: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            not_utf8: Vec::new(),
        }
    }
}
