//! A small regular expression for `#match=` on HTTP bodies: enough to say
//! `"status":"(green|yellow)"`-like things without a regex crate (the binary
//! has a size budget).
//!
//! Syntax: literal characters; `.` any character; `[abc]`, `[a-z0-9]`,
//! `[^...]`; `\d \w \s` and their negations `\D \W \S`; `\` before any
//! other character takes it literally; `*`, `+`, `?` (greedy) after any of
//! those; `^` and `$` anchor at the start and end of the text; `|` between
//! whole alternatives (`green|yellow`). No groups, no counted repetition.
//!
//! Matching backtracks, with a budget of [`STEPS`] steps per text: a
//! pattern that would take longer on a hostile body does not match.

/// How many steps one [`Pattern::find`] may take.
pub const STEPS: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    alternatives: Vec<Vec<Piece>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    atom: Atom,
    min: usize,
    /// usize::MAX for unbounded.
    max: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    Char(char),
    Any,
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    Start,
    End,
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Char(x) => *x == c,
            Atom::Any => true,
            Atom::Class { ranges, negated } => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
            Atom::Start | Atom::End => false,
        }
    }
}

fn shorthand(c: char) -> Option<Atom> {
    let (ranges, negated): (&[(char, char)], bool) = match c {
        'd' => (&[('0', '9')], false),
        'D' => (&[('0', '9')], true),
        'w' => (&[('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')], false),
        'W' => (&[('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')], true),
        's' => (&[(' ', ' '), ('\t', '\r')], false),
        'S' => (&[(' ', ' '), ('\t', '\r')], true),
        _ => return None,
    };
    Some(Atom::Class {
        ranges: ranges.to_vec(),
        negated,
    })
}

impl Pattern {
    /// Compile `src`; the error says what is wrong, for a one-line message.
    pub fn new(src: &str) -> Result<Pattern, String> {
        let mut alternatives = vec![Vec::new()];
        let mut chars = src.chars().peekable();
        while let Some(c) = chars.next() {
            let atom = match c {
                '|' => {
                    alternatives.push(Vec::new());
                    continue;
                }
                '.' => Atom::Any,
                '^' => Atom::Start,
                '$' => Atom::End,
                '\\' => {
                    let e = chars.next().ok_or("a trailing '\\'")?;
                    shorthand(e).unwrap_or(Atom::Char(e))
                }
                '[' => {
                    let negated = chars.peek() == Some(&'^');
                    if negated {
                        chars.next();
                    }
                    let mut ranges = Vec::new();
                    let mut first = true;
                    loop {
                        let c = chars.next().ok_or("a '[' without its ']'")?;
                        if c == ']' && !first {
                            break;
                        }
                        first = false;
                        let lo = if c == '\\' {
                            let e = chars.next().ok_or("a trailing '\\'")?;
                            if let Some(Atom::Class { ranges: r, .. }) = shorthand(e) {
                                ranges.extend(r);
                                continue;
                            }
                            e
                        } else {
                            c
                        };
                        let mut look = chars.clone();
                        if look.next() == Some('-') && look.peek().is_some_and(|&h| h != ']') {
                            chars.next();
                            let hi = chars.next().ok_or("a '[' without its ']'")?;
                            if hi < lo {
                                return Err(format!("the range {lo}-{hi} is backwards"));
                            }
                            ranges.push((lo, hi));
                        } else {
                            ranges.push((lo, lo));
                        }
                    }
                    Atom::Class { ranges, negated }
                }
                '*' | '+' | '?' => return Err(format!("'{c}' with nothing to repeat")),
                '(' | ')' | '{' | '}' => {
                    return Err(format!(
                        "'{c}': groups and counted repetition are not supported (write \\{c} for the character)"
                    ));
                }
                c => Atom::Char(c),
            };
            let (min, max) = match chars.peek() {
                Some('*') => (0, usize::MAX),
                Some('+') => (1, usize::MAX),
                Some('?') => (0, 1),
                _ => (1, 1),
            };
            if (min, max) != (1, 1) {
                chars.next();
                if matches!(atom, Atom::Start | Atom::End) {
                    return Err("an anchor cannot be repeated".into());
                }
            }
            alternatives
                .last_mut()
                .expect("never empty")
                .push(Piece { atom, min, max });
        }
        Ok(Pattern { alternatives })
    }

    /// Does the pattern match somewhere in `text`? None: the step budget
    /// ran out first.
    pub fn find(&self, text: &str) -> Option<bool> {
        let text: Vec<char> = text.chars().collect();
        let mut steps = 0;
        for alt in &self.alternatives {
            for start in 0..=text.len() {
                match at(alt, &text, start, &mut steps) {
                    Some(true) => return Some(true),
                    Some(false) => {}
                    None => return None,
                }
                if matches!(
                    alt.first(),
                    Some(Piece {
                        atom: Atom::Start,
                        ..
                    })
                ) {
                    break;
                }
            }
        }
        Some(false)
    }
}

/// Do `pieces` match `text` from `i` on? None: out of steps.
fn at(pieces: &[Piece], text: &[char], i: usize, steps: &mut usize) -> Option<bool> {
    *steps += 1;
    if *steps > STEPS {
        return None;
    }
    let Some((p, rest)) = pieces.split_first() else {
        return Some(true);
    };
    match p.atom {
        Atom::Start => {
            return if i == 0 {
                at(rest, text, i, steps)
            } else {
                Some(false)
            };
        }
        Atom::End => {
            return if i == text.len() {
                at(rest, text, i, steps)
            } else {
                Some(false)
            };
        }
        _ => {}
    }
    // Greedy: take as many as allowed, then give back.
    let mut n = 0;
    while n < p.max && i + n < text.len() && p.atom.matches(text[i + n]) {
        n += 1;
    }
    while n >= p.min {
        if at(rest, text, i + n, steps)? {
            return Some(true);
        }
        if n == 0 {
            break;
        }
        n -= 1;
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Pattern::new(p).unwrap().find(t).unwrap()
    }

    #[test]
    fn the_supported_syntax() {
        assert!(m(r#""status":"gr.*n""#, r#"{"status":"green"}"#));
        assert!(m("green|yellow", "status yellow"));
        assert!(!m("green|yellow", "red"));
        assert!(m(r"^ok\d+$", "ok42"));
        assert!(!m(r"^ok\d+$", "ok42 "));
        assert!(!m(r"^ok\d+$", "ok"));
        assert!(m("a.c", "xabcx"));
        assert!(m("colou?r", "color"));
        assert!(m("[a-c]+z", "xxbcaz"));
        assert!(!m("[^a-c]z", "az"));
        assert!(m(r"\s*ready", "   ready"));
        assert!(m(r"1\.0", "v1.0"));
        assert!(!m(r"1\.0", "v100"));
        assert!(m("", "anything"));
        assert!(m("[-a]", "-"));
    }

    #[test]
    fn bad_patterns_say_why_and_hostile_ones_stop() {
        assert!(
            Pattern::new("*a")
                .unwrap_err()
                .contains("nothing to repeat")
        );
        assert!(Pattern::new("(a)").unwrap_err().contains("groups"));
        assert!(Pattern::new("[ab").unwrap_err().contains("']'"));
        assert!(Pattern::new("[z-a]").unwrap_err().contains("backwards"));
        let text = "a".repeat(5000);
        assert_eq!(Pattern::new("a*a*a*a*b").unwrap().find(&text), None);
    }
}
