//! The data source's Prometheus selector (`prometheusSelector`): label matchers that the
//! plugin puts inside the braces of every AWX metric it asks for. It is checked when the
//! settings are parsed, so that a mistake is reported with the fix (Prometheus's own parse
//! error names neither the setting nor the quoted form it expects) and so that nothing in
//! it can close the braces and append PromQL of its own.

/// Why a selector is not a list of label matchers, worded as the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError(pub String);

impl std::fmt::Display for SelectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const EXAMPLE: &str = "job=\"awx\"";

/// Accepts `job="awx"`, `{job="awx"}`, several matchers separated by commas and nothing at
/// all; returns the matchers without the braces. Label names are PromQL identifiers (or
/// quoted, as Prometheus 3 allows), operators `=`, `!=`, `=~`, `!~`, values quoted with
/// `"`, `'` or `` ` `` as in PromQL.
pub fn normalize(raw: &str) -> Result<String, SelectorError> {
    let s = raw.trim();
    let inner = s
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(s)
        .trim();
    if let Err(e) = check(inner) {
        return Err(SelectorError(match suggestion(inner) {
            Some(fixed) => format!("{e}; write it as {fixed}"),
            None => e.0,
        }));
    }
    Ok(inner.to_string())
}

fn check(s: &str) -> Result<(), SelectorError> {
    let b = s.as_bytes();
    let mut i = skip_ws(b, 0);
    while i < b.len() {
        let start = i;
        // Label name: an identifier, or a quoted name (Prometheus 3's UTF-8 names).
        if matches!(b[i], b'"' | b'\'' | b'`') {
            i = string_end(b, i)?;
        } else {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let name = &s[start..i];
            if name.is_empty() {
                if s[i..].starts_with(|c: char| "{}[]()".contains(c)) && start > 0 {
                    return Err(SelectorError(format!(
                        "`{}` is not allowed outside quotes: the selector holds only label matchers, such as {EXAMPLE}",
                        char_at(s, i)
                    )));
                }
                return Err(SelectorError(format!(
                    "expected a label name at `{}`: write label matchers such as {EXAMPLE}",
                    rest_of(s, i)
                )));
            }
            if name.as_bytes()[0].is_ascii_digit() {
                return Err(SelectorError(format!(
                    "`{name}` is not a label name: label names start with a letter or `_`"
                )));
            }
        }
        let name = &s[start..i];
        i = skip_ws(b, i);
        let op_len = match (b.get(i), b.get(i + 1)) {
            (Some(b'!'), Some(b'=' | b'~')) | (Some(b'='), Some(b'~')) => 2,
            (Some(b'='), _) => 1,
            (Some(b'{'), _) => {
                return Err(SelectorError(format!(
                    "leave out the metric name `{name}`: the plugin adds the selector to each metric it queries"
                )))
            }
            _ => {
                return Err(SelectorError(format!(
                    "`{name}` has no operator: write {name}=\"value\" (or !=, =~, !~ and a quoted value), e.g. {EXAMPLE}"
                )))
            }
        };
        i = skip_ws(b, i + op_len);
        match b.get(i) {
            Some(b'"' | b'\'' | b'`') => i = string_end(b, i)?,
            _ => {
                return Err(SelectorError(format!(
                    "the value of `{name}` is not quoted: label values are PromQL strings"
                )))
            }
        }
        i = skip_ws(b, i);
        match b.get(i) {
            None => break,
            Some(b',') => i = skip_ws(b, i + 1),
            Some(_) => {
                return Err(SelectorError(format!(
                    "unexpected `{}` after the matcher `{}`: separate matchers with commas; the selector holds only label matchers, such as {EXAMPLE}",
                    rest_of(s, i),
                    s[start..i].trim()
                )))
            }
        }
    }
    Ok(())
}

/// The index after the string literal that starts at `i`.
fn string_end(b: &[u8], i: usize) -> Result<usize, SelectorError> {
    let quote = b[i];
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            // Backquoted strings are raw; the others have escapes.
            b'\\' if quote != b'`' => j += 2,
            c if c == quote => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err(SelectorError(format!(
        "a value opened with {} is not closed",
        quote as char
    )))
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn char_at(s: &str, i: usize) -> char {
    s[i..].chars().next().unwrap_or(' ')
}

fn rest_of(s: &str, i: usize) -> &str {
    let rest = &s[i..];
    let end = rest
        .char_indices()
        .nth(24)
        .map(|(k, _)| k)
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The selector with each unquoted value quoted, when that is all that is wrong:
/// `job=awx, instance=~awx-.*` becomes `job="awx", instance=~"awx-.*"`.
fn suggestion(s: &str) -> Option<String> {
    let mut parts = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let at = part.find(['=', '!'])?;
        let name = part[..at].trim();
        let rest = &part[at..];
        let op = ["!=", "=~", "!~", "="]
            .into_iter()
            .find(|op| rest.starts_with(op))?;
        let value = rest[op.len()..].trim();
        let value = if value.starts_with(['"', '\'', '`']) {
            value.to_string()
        } else if value.is_empty() || value.contains(['"', '\'', '`', '=', '{', '}', '(', ')']) {
            // Not a plain word that lost its quotes: no guess.
            return None;
        } else {
            format!("\"{}\"", value.replace('\\', "\\\\"))
        };
        parts.push(format!("{name}{op}{value}"));
    }
    let fixed = parts.join(", ");
    (fixed != s && check(&fixed).is_ok()).then_some(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_are_accepted_with_or_without_braces() {
        for (raw, want) in [
            ("", ""),
            ("job=\"awx\"", "job=\"awx\""),
            ("{job=\"awx\"}", "job=\"awx\""),
            (" { job = \"awx\" } ", "job = \"awx\""),
            (
                "job=\"awx\", instance=~\"awx-.*\",",
                "job=\"awx\", instance=~\"awx-.*\",",
            ),
            ("env!='prod',x!~`a\\d`", "env!='prod',x!~`a\\d`"),
            ("\"service.name\"=\"awx\"", "\"service.name\"=\"awx\""),
            ("job=\"a,b}\"", "job=\"a,b}\""),
            ("job=\"say \\\"hi\\\"\"", "job=\"say \\\"hi\\\"\""),
        ] {
            assert_eq!(normalize(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn an_unquoted_value_is_reported_with_the_quoted_form() {
        let e = normalize("job=awx").unwrap_err().0;
        assert_eq!(
            e,
            "the value of `job` is not quoted: label values are PromQL strings; write it as job=\"awx\""
        );
        let e = normalize("{job=awx, instance=~awx-.*}").unwrap_err().0;
        assert!(
            e.ends_with("write it as job=\"awx\", instance=~\"awx-.*\""),
            "{e}"
        );
        let e = normalize("job=\"awx\",env=prod").unwrap_err().0;
        assert!(e.contains("`env` is not quoted"), "{e}");
        assert!(e.ends_with("write it as job=\"awx\", env=\"prod\""), "{e}");
    }

    #[test]
    fn what_could_break_out_of_the_braces_is_refused() {
        for raw in [
            "job=\"a\"} or vector(1) {",
            "job=\"a\"} or vector(1)",
            "job=\"a\") or (up",
            "job=\"a\" or up",
            "job=\"a\"}[5m]",
        ] {
            let e = normalize(raw).unwrap_err().0;
            assert!(
                e.contains("only label matchers") || e.contains("not allowed outside quotes"),
                "{raw}: {e}"
            );
        }
    }

    #[test]
    fn other_mistakes_say_what_to_write() {
        let cases = [
            ("job", "`job` has no operator: write job=\"value\""),
            ("job=\"awx", "a value opened with \" is not closed"),
            (
                "awx_system_info{job=\"awx\"}",
                "leave out the metric name `awx_system_info`",
            ),
            ("1job=\"a\"", "`1job` is not a label name"),
            ("=\"awx\"", "expected a label name at `=\"awx\"`"),
            ("job==\"awx\"", "the value of `job` is not quoted"),
        ];
        for (raw, want) in cases {
            let e = normalize(raw).unwrap_err().0;
            assert!(e.contains(want), "{raw}: {e}");
        }
    }
}
