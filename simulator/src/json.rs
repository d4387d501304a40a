//! A small streaming JSON writer that keeps field order (AWX's serializers have a fixed field
//! order) and renders straight into a `String`, so a page of 200 jobs costs no intermediate tree.

use crate::time::{push_iso, Micros, NONE_TS};
use std::fmt::Write as _;

/// A JSON string literal. Runs of bytes that need no escape are copied whole (a page of jobs is
/// mostly such runs); an ASCII byte is never part of a multi-byte character, so the cuts fall on
/// character boundaries.
pub fn push_str_escaped(out: &mut String, s: &str) {
    out.push('"');
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(esc);
        }
        from = i + 1;
    }
    out.push_str(&s[from..]);
    out.push('"');
}

/// Python-compatible float rendering for JSON (`json.dumps`): `0.0`, `44.024`, `1e+16`.
pub fn push_f64(out: &mut String, v: f64) {
    out.push_str(&crate::pyfloat::repr(v));
}

pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_str_escaped(self.out, k);
        self.out.push(':');
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        push_str_escaped(self.out, v);
        self
    }
    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.str(k, v),
            None => self.null(k),
        }
    }
    pub fn int(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }
    pub fn opt_int(&mut self, k: &str, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(k, v),
            None => self.null(k),
        }
    }
    pub fn float(&mut self, k: &str, v: f64) -> &mut Self {
        self.key(k);
        push_f64(self.out, v);
        self
    }
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
        self
    }
    pub fn null(&mut self, k: &str) -> &mut Self {
        self.key(k);
        self.out.push_str("null");
        self
    }
    /// A timestamp, or `null` for [`NONE_TS`].
    pub fn ts(&mut self, k: &str, v: Micros) -> &mut Self {
        self.key(k);
        if v == NONE_TS {
            self.out.push_str("null");
        } else {
            self.out.push('"');
            push_iso(self.out, v);
            self.out.push('"');
        }
        self
    }
    /// Pre-rendered JSON.
    pub fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k);
        self.out.push_str(json);
        self
    }
    pub fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj)) -> &mut Self {
        self.key(k);
        let mut o = Obj::new(self.out);
        f(&mut o);
        o.end();
        self
    }
    pub fn arr(&mut self, k: &str, f: impl FnOnce(&mut Arr)) -> &mut Self {
        self.key(k);
        let mut a = Arr::new(self.out);
        f(&mut a);
        a.end();
        self
    }
    pub fn end(self) {
        self.out.push('}');
    }
}

pub struct Arr<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Arr<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('[');
        Arr { out, first: true }
    }
    fn sep(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }
    pub fn obj(&mut self, f: impl FnOnce(&mut Obj)) -> &mut Self {
        self.sep();
        let mut o = Obj::new(self.out);
        f(&mut o);
        o.end();
        self
    }
    pub fn arr(&mut self, f: impl FnOnce(&mut Arr)) -> &mut Self {
        self.sep();
        let mut a = Arr::new(self.out);
        f(&mut a);
        a.end();
        self
    }
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.sep();
        push_str_escaped(self.out, v);
        self
    }
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{v}");
        self
    }
    pub fn float(&mut self, v: f64) -> &mut Self {
        self.sep();
        push_f64(self.out, v);
        self
    }
    pub fn raw(&mut self, json: &str) -> &mut Self {
        self.sep();
        self.out.push_str(json);
        self
    }
    pub fn end(self) {
        self.out.push(']');
    }
}

/// Renders one object into a new string.
pub fn object(f: impl FnOnce(&mut Obj)) -> String {
    let mut s = String::new();
    let mut o = Obj::new(&mut s);
    f(&mut o);
    o.end();
    s
}

#[cfg(test)]
mod tests {
    use super::push_str_escaped;
    use rand::{Rng, SeedableRng};
    use std::fmt::Write as _;

    /// The char-by-char escaping that `push_str_escaped` replaced.
    fn char_by_char(s: &str) -> String {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn escapes_quotes_backslashes_and_control_characters_only() {
        let mut out = String::new();
        push_str_escaped(
            &mut out,
            "a\"b\\c\nd\re\tf\u{1}g\u{1f}h é – \u{1F600} \u{7f}",
        );
        assert_eq!(
            out,
            "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001fh é – \u{1F600} \u{7f}\""
        );
        let alphabet: Vec<char> = "ab \"\\\n\r\t\u{0}\u{1f}\u{7f}é–\u{1F600}/<>&"
            .chars()
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for n in 0..2000 {
            let s: String = (0..n % 40)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            let mut out = String::new();
            push_str_escaped(&mut out, &s);
            assert_eq!(out, char_by_char(&s), "{s:?}");
        }
    }
}
