//! Just enough JSON to read one value at a path out of a small document: the
//! `INFO` line of NATS and an HTTP body checked with `#json=status:green`.
//!
//! [`at`] walks the text once without building a tree: keys are compared as
//! they are met, every other value is skipped. A path is keys and array
//! indexes joined by dots (`status`, `nodes.0.name`). Strings are unescaped
//! (`\uXXXX` included; a lone surrogate becomes U+FFFD). Nesting deeper than
//! [`MAX_DEPTH`] is an error, so a hostile document cannot blow the stack;
//! the document itself is already capped by whoever read it.
//!
//! Deliberately not done: building values, numbers as numbers (a number is
//! compared as the text it was written as), duplicate keys (the first wins).

/// How deep objects and arrays may nest.
pub const MAX_DEPTH: usize = 64;

/// A value found at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string, unescaped.
    Str(String),
    /// A number, a boolean or null, as written (`1.0`, `true`, `null`).
    Literal(String),
    /// An object or an array.
    Composite,
}

impl Value {
    /// The value as a user would write it after `=`: a string without its
    /// quotes, anything else as written.
    pub fn text(&self) -> &str {
        match self {
            Value::Str(s) | Value::Literal(s) => s,
            Value::Composite => "(an object or array)",
        }
    }
}

/// `s` as a JSON string, quotes included.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value at `path` in `doc`: Ok(None) when the document is JSON but has
/// nothing there, Err when it is not JSON.
pub fn at(doc: &[u8], path: &str) -> Result<Option<Value>, String> {
    let segments: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('.').collect()
    };
    let mut p = Parser { doc, pos: 0 };
    let found = p.value(Some(&segments), 0)?;
    p.ws();
    if p.pos != doc.len() {
        return Err(p.error("trailing characters after the document"));
    }
    Ok(found)
}

struct Parser<'a> {
    doc: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        format!("not JSON: {what} at byte {}", self.pos)
    }

    fn ws(&mut self) {
        while matches!(self.doc.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.doc.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", b as char)))
        }
    }

    /// Parse one value. With `want` = Some(path), return what lies at that
    /// path inside it (an empty path: the value itself); with None, skip it.
    fn value(&mut self, want: Option<&[&str]>, depth: usize) -> Result<Option<Value>, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deep"));
        }
        self.ws();
        let here = want.is_some_and(|w| w.is_empty());
        match self.doc.get(self.pos) {
            Some(b'{') => {
                self.pos += 1;
                let mut found = None;
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        let key = self.string()?;
                        self.expect(b':')?;
                        let inner = match want {
                            Some([first, rest @ ..]) if found.is_none() && *first == key => {
                                Some(rest)
                            }
                            _ => None,
                        };
                        let got = self.value(inner, depth + 1)?;
                        if inner.is_some() {
                            found = got;
                        }
                        if self.eat(b'}') {
                            break;
                        }
                        self.expect(b',')?;
                    }
                }
                Ok(if here { Some(Value::Composite) } else { found })
            }
            Some(b'[') => {
                self.pos += 1;
                let mut found = None;
                if !self.eat(b']') {
                    let mut i = 0usize;
                    loop {
                        let inner = match want {
                            Some([first, rest @ ..]) if first.parse() == Ok(i) => Some(rest),
                            _ => None,
                        };
                        let got = self.value(inner, depth + 1)?;
                        if inner.is_some() {
                            found = got;
                        }
                        i += 1;
                        if self.eat(b']') {
                            break;
                        }
                        self.expect(b',')?;
                    }
                }
                Ok(if here { Some(Value::Composite) } else { found })
            }
            Some(b'"') => {
                let s = self.string()?;
                Ok(here.then_some(Value::Str(s)))
            }
            Some(_) => {
                let start = self.pos;
                while self
                    .doc
                    .get(self.pos)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
                {
                    self.pos += 1;
                }
                let word = std::str::from_utf8(&self.doc[start..self.pos]).unwrap_or("");
                let ok = matches!(word, "true" | "false" | "null")
                    || (!word.is_empty()
                        && word
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)));
                if !ok {
                    self.pos = start;
                    return Err(self.error("expected a value"));
                }
                Ok(here.then(|| Value::Literal(word.to_string())))
            }
            None => Err(self.error("unexpected end")),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.doc.get(self.pos) != Some(&b'"') {
            return Err(self.error("expected a string"));
        }
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.doc.get(self.pos) else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match b {
                b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let Some(&e) = self.doc.get(self.pos) else {
                        return Err(self.error("unterminated string"));
                    };
                    self.pos += 1;
                    let c = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hex = self
                                .doc
                                .get(self.pos..self.pos + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or_else(|| self.error("bad \\u escape"))?;
                            self.pos += 4;
                            char::from_u32(hex).unwrap_or('\u{fffd}')
                        }
                        other => other as char,
                    };
                    let mut tmp = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                _ => out.push(b),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_at_paths() {
        let doc =
            br#" {"cluster_name":"es","status":"yellow","n":{"a":[1, {"b":true}]},"x":null} "#;
        let get = |p| at(doc, p).unwrap();
        assert_eq!(get("status"), Some(Value::Str("yellow".into())));
        assert_eq!(get("n.a.0"), Some(Value::Literal("1".into())));
        assert_eq!(get("n.a.1.b"), Some(Value::Literal("true".into())));
        assert_eq!(get("n.a"), Some(Value::Composite));
        assert_eq!(get("x"), Some(Value::Literal("null".into())));
        assert_eq!(get("nope"), None);
        assert_eq!(get("n.a.7"), None);
        assert_eq!(
            at(br#"{"s":"a\"b\u00e9"}"#, "s").unwrap(),
            Some(Value::Str("a\"bé".into()))
        );
    }

    #[test]
    fn quoting_round_trips() {
        let q = quote("p\"w\\\n");
        assert_eq!(q, r#""p\"w\\\u000a""#);
        let doc = format!("{{\"k\":{q}}}");
        assert_eq!(
            at(doc.as_bytes(), "k").unwrap(),
            Some(Value::Str("p\"w\\\n".into()))
        );
    }

    #[test]
    fn not_json_and_deep_nesting_are_errors() {
        assert!(at(b"<html>", "status").is_err());
        assert!(at(br#"{"a":1"#, "a").is_err());
        assert!(at(br#"{"a":1} x"#, "a").is_err());
        assert!(at(&[b'['; 100_000], "0").is_err());
    }
}
