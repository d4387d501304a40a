//! The documentation, run. docs/CLI.md's transcripts (each ```console block: one `$ awx-kpi ...`
//! line, then what it prints) are run against the simulator the page names, and every other
//! `awx-kpi` command the page shows must parse. A change to what the CLI prints fails here until
//! the page says the same.
//!
//! In a transcript, `[..]` stands for the part of a line that changes from run to run (a port,
//! a duration) and a line `...` for any number of lines (an excerpt). After a deliberate change
//! of the output, `CLI_DOCS=overwrite cargo test -p awx-kpi --test docs` rewrites the
//! transcripts that differ (keeping the wildcards that still match); review the diff.

use std::path::{Path, PathBuf};

use clap::Parser;

use awx_kpi::Cli;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A fenced block: its info string, the 0-based line index of its first content line, and its
/// content lines.
struct Block {
    info: String,
    first: usize,
    lines: Vec<String>,
}

fn fenced_blocks(md: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in md.lines().enumerate() {
        match open.take() {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some(Block {
                        info: info.trim().to_string(),
                        first: i + 1,
                        lines: Vec::new(),
                    });
                }
            }
            Some(mut b) => {
                if line.trim_end() == "```" {
                    blocks.push(b);
                } else {
                    b.lines.push(line.to_string());
                    open = Some(b);
                }
            }
        }
    }
    assert!(open.is_none(), "a fenced block is not closed");
    blocks
}

/// Inline code spans (`...`) outside fenced blocks.
fn code_spans(md: &str) -> Vec<String> {
    let mut spans = Vec::new();
    let mut in_fence = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let (Some(code), Some(_)) = (parts.next(), parts.next()) {
            spans.push(code.to_string());
        }
    }
    spans
}

/// The words of a command line as a POSIX shell splits them, `# comments` dropped.
fn words(line: &str) -> Vec<String> {
    shlex::split(line).unwrap_or_else(|| panic!("unbalanced quotes in `{line}`"))
}

struct Transcript {
    /// 0-based line of the `$ ` line in the file.
    line: usize,
    command: String,
    expected: String,
    /// Line range of the expected output in the file.
    output_lines: std::ops::Range<usize>,
}

fn transcripts(md: &str) -> Vec<Transcript> {
    fenced_blocks(md)
        .into_iter()
        .filter(|b| b.info == "console")
        .map(|b| {
            let (first, rest) = b.lines.split_first().expect("an empty console block");
            let command = first
                .strip_prefix("$ ")
                .unwrap_or_else(|| {
                    panic!(
                        "line {}: a console block starts with `$ ` and its one command",
                        b.first + 1
                    )
                })
                .to_string();
            let mut expected = rest.join("\n");
            expected.push('\n');
            Transcript {
                line: b.first,
                command,
                expected,
                output_lines: b.first + 1..b.first + b.lines.len(),
            }
        })
        .collect()
}

/// The simulator a page's transcripts ran against: the `awx-sim ...` command it names.
fn documented_simulator(md: &str) -> awx_sim::Config {
    let spans: Vec<String> = code_spans(md)
        .into_iter()
        .filter(|s| s.starts_with("awx-sim "))
        .collect();
    assert_eq!(spans.len(), 1, "one `awx-sim ...` command: {spans:?}");
    awx_sim::Config::try_parse_from(words(&spans[0]))
        .unwrap_or_else(|e| panic!("`{}`: {e}", spans[0]))
}

/// Starts that simulator on a free port whose number has as many digits as the documented
/// one, so that table widths in the transcripts do not depend on the port.
async fn start_documented_simulator(cfg: &awx_sim::Config) -> (awx_sim::RunningSim, String) {
    let documented = format!("http://{}", cfg.listen);
    for _ in 0..20 {
        let sim = awx_sim::start(awx_sim::Config {
            listen: "127.0.0.1:0".into(),
            ..cfg.clone()
        })
        .await
        .expect("the documented simulator starts");
        if sim.url().len() == documented.len() {
            return (sim, documented);
        }
        sim.shutdown().await;
    }
    panic!("no free port as long as the documented {documented}");
}

/// Runs one documented command line: leading `NAME=value` words set environment variables
/// (over `env`), the rest must be `awx-kpi` and its arguments. Returns the exit code and
/// stdout followed by stderr.
async fn run(command: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut ws = words(command);
    let mut assigned = Vec::new();
    while let Some((k, v)) = ws.first().and_then(|w| w.split_once('=')) {
        if !k.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            break;
        }
        assigned.push((k.to_string(), v.to_string()));
        ws.remove(0);
    }
    assert_eq!(
        ws.first().map(String::as_str),
        Some("awx-kpi"),
        "`{command}`: the transcripts run awx-kpi"
    );
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_awx-kpi"));
    cmd.args(&ws[1..]);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWX_") || k.starts_with("PROMETHEUS_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.envs(assigned);
    let out = cmd.output().await.expect("awx-kpi runs");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// An error is shown as the CLI prints it (`error: ...`, or a failed health check); anything
/// else is a success.
fn expects_failure(expected: &str) -> bool {
    expected
        .lines()
        .any(|l| l.starts_with("error: ") || l.starts_with("Data source is NOT working"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_md_transcripts_are_what_the_cli_prints() {
    let rel = "docs/CLI.md";
    let md = read(rel);
    let cfg = documented_simulator(&md);
    let (sim, documented_url) = start_documented_simulator(&cfg).await;
    let token = awx_kpi::demo::SIM_TOKEN;
    let env_span = format!("AWX_URL={documented_url} AWX_TOKEN={token}");
    assert!(
        code_spans(&md).contains(&env_span),
        "{rel} names the environment of its transcripts as `{env_span}`"
    );
    let url = sim.url();
    let env = [("AWX_URL", url.as_str()), ("AWX_TOKEN", token)];

    let ts = transcripts(&md);
    assert!(ts.len() >= 6, "{rel} has {} transcripts", ts.len());
    let assert = snapbox::Assert::new()
        .normalize_paths(false)
        .palette(snapbox::report::Palette::plain());
    let overwrite = std::env::var("CLI_DOCS").as_deref() == Ok("overwrite");
    let mut lines: Vec<String> = md.lines().map(str::to_string).collect();
    let mut failures = Vec::new();
    // Back to front, so that rewriting one transcript leaves the line numbers of the earlier ones.
    for t in ts.iter().rev() {
        let (code, actual) = run(&t.command, &env).await;
        let actual = actual.replace(&url, &documented_url);
        let name = format!("{rel}:{} `$ {}`", t.line + 1, t.command);
        let want_failure = expects_failure(&t.expected);
        if code.is_none() || (code == Some(0)) == want_failure {
            failures.push(format!(
                "{name}: exit code {code:?}, but the page shows {}\n{actual}",
                if want_failure {
                    "a failure"
                } else {
                    "a success"
                }
            ));
        }
        let expected = snapbox::Data::text(t.expected.clone());
        let actual = snapbox::Data::text(actual);
        if overwrite {
            let (normalized, expected) = assert.normalize(actual, expected);
            if normalized != expected {
                let text = normalized.render().unwrap_or_default();
                lines.splice(
                    t.output_lines.clone(),
                    text.trim_end_matches('\n').lines().map(str::to_string),
                );
                eprintln!("{name}: rewritten");
            }
        } else if let Err(e) = assert.try_eq(Some(&"awx-kpi"), actual, expected) {
            failures.push(format!("{name}:\n{e}"));
        }
    }
    sim.shutdown().await;
    if overwrite {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(repo().join(rel), text).expect("rewrite the page");
    }
    assert!(
        failures.is_empty(),
        "{} transcript(s) of {rel} differ from what awx-kpi prints \
         (after a deliberate change: CLI_DOCS=overwrite cargo test -p awx-kpi --test docs):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every other `awx-kpi` command a page shows (in ```sh blocks and inline code) is one the CLI
/// accepts: a renamed flag or query type fails here.
#[test]
fn every_awx_kpi_command_the_docs_show_parses() {
    let mut checked = 0;
    for rel in ["docs/CLI.md", "README.md"] {
        let md = read(rel);
        let mut commands: Vec<String> = Vec::new();
        for b in fenced_blocks(&md).iter().filter(|b| b.info == "sh") {
            for line in &b.lines {
                let line = line.trim_start_matches("$ ");
                if let Some(rest) = line.strip_prefix("cargo run -p awx-kpi -- ") {
                    commands.push(format!("awx-kpi {rest}"));
                } else if line.starts_with("awx-kpi ") {
                    commands.push(line.to_string());
                }
            }
        }
        // Inline commands, except the synopses with placeholders (`<queryType>`, `[flags]`).
        commands.extend(code_spans(&md).into_iter().filter(|s| {
            s.starts_with("awx-kpi ") && !s.contains(['<', '[']) && !s.contains("...")
        }));
        for c in commands {
            let ws = words(&c);
            match Cli::try_parse_from(&ws) {
                Ok(_) => {}
                Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {}
                Err(e) => panic!("{rel}: `{c}` does not parse:\n{e}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} commands found");
}

/// The README is where a newcomer starts: it links every page of docs/, and every
/// `scripts/*.sh --flag` it shows is a flag that script takes.
#[test]
fn the_readme_links_every_doc_and_shows_only_flags_the_scripts_take() {
    let readme = read("README.md");
    let mut docs: Vec<String> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 9, "{docs:?}");
    for d in &docs {
        assert!(
            readme.contains(&format!("](docs/{d})")),
            "README.md does not link docs/{d}"
        );
    }
    let mut shown = 0;
    for line in readme.lines() {
        for (at, _) in line.match_indices("scripts/") {
            let rest = line[at..].split('#').next().unwrap_or_default();
            let ws: Vec<&str> = rest.split_whitespace().collect();
            let trim = |w: &str| w.trim_end_matches(['`', ',', ')', ':', ';']).to_string();
            let Some(script) = ws.first().map(|w| trim(w)).filter(|w| w.ends_with(".sh")) else {
                continue;
            };
            let path = repo().join(&script);
            let src = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("README.md shows {script}: {e}"));
            shown += 1;
            for flag in ws[1..].iter().take_while(|w| w.starts_with("--")) {
                let flag = trim(flag);
                assert!(
                    src.contains(&format!("{flag})")),
                    "README.md shows `{script} {flag}`, which {script} does not take"
                );
            }
        }
    }
    assert!(
        shown >= 4,
        "only {shown} script commands found in README.md"
    );
}

// ---------------------------------------------------------------------------------------
// docs/TROUBLESHOOTING.md: every message it quotes is one the plugin can produce.
// ---------------------------------------------------------------------------------------

/// A message pattern: literal characters and `*`, any text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    Lit(char),
    Star,
}

/// Whether a quote (`quote`, with its own wildcards) can be read in a format string
/// (`template`): the quote's text must be the template's text, except that a `{...}` of the
/// template may stand for one word of the quote (a value such as `404` or `timeoutSeconds`:
/// no spaces, so a placeholder can never swallow a sentence the template does not have).
fn quote_fits(quote: &[Tok], template: &[Tok]) -> bool {
    // Depth first with memory: most pairs fail on their first letters.
    fn fits(a: &[Tok], b: &[Tok], i: usize, j: usize, memo: &mut [u8]) -> bool {
        let at = i * (b.len() + 1) + j;
        if memo[at] != 0 {
            return memo[at] == 1;
        }
        let r = match (a.get(i), b.get(j)) {
            (None, None) => true,
            (Some(Tok::Star), _) => {
                fits(a, b, i + 1, j, memo) || (j < b.len() && fits(a, b, i, j + 1, memo))
            }
            (None, Some(Tok::Star)) => fits(a, b, i, j + 1, memo),
            (Some(Tok::Lit(c)), Some(Tok::Star)) => {
                fits(a, b, i, j + 1, memo) || (!c.is_whitespace() && fits(a, b, i + 1, j, memo))
            }
            (Some(Tok::Lit(x)), Some(Tok::Lit(y))) => x == y && fits(a, b, i + 1, j + 1, memo),
            _ => false,
        };
        memo[at] = if r { 1 } else { 2 };
        r
    }
    let mut memo = vec![0u8; (quote.len() + 1) * (template.len() + 1)];
    fits(quote, template, 0, 0, &mut memo)
}

/// `template` with its `k`-th placeholder replaced by `filler`.
fn substitute(template: &[Tok], k: usize, filler: &[Tok]) -> Vec<Tok> {
    let mut out = Vec::with_capacity(template.len() + filler.len());
    let mut seen = 0;
    for t in template {
        if *t == Tok::Star {
            if seen == k {
                out.extend_from_slice(filler);
                seen += 1;
                continue;
            }
            seen += 1;
        }
        out.push(*t);
    }
    out
}

/// The string literals of Rust source (normal and raw), escapes resolved; comments, char
/// literals and lifetimes skipped.
fn string_literals(src: &str) -> Vec<String> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            '\'' => {
                // 'x', '\n', '\u{..}' are chars; 'a (no closing quote) is a lifetime.
                if c.get(i + 1) == Some(&'\\') {
                    i += 2;
                    while i < c.len() && c[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if c.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            'r' if matches!(c.get(i + 1), Some('"' | '#'))
                && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while c.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if c.get(j) != Some(&'"') {
                    i += 1;
                    continue;
                }
                j += 1;
                let start = j;
                loop {
                    if j >= c.len() {
                        break;
                    }
                    if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                        break;
                    }
                    j += 1;
                }
                out.push(c[start..j.min(c.len())].iter().collect());
                i = j + 1 + hashes;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        i += 1;
                        match c.get(i) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some('0') => s.push('\0'),
                            Some('\n') => {
                                while i + 1 < c.len() && c[i + 1].is_whitespace() {
                                    i += 1;
                                }
                            }
                            Some('u') => {
                                let end = (i..c.len()).find(|&k| c[k] == '}').unwrap_or(i);
                                let hex: String = c[i + 2..end].iter().collect();
                                s.extend(
                                    u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32),
                                );
                                i = end;
                            }
                            Some('x') => {
                                let hex: String = c[i + 1..(i + 3).min(c.len())].iter().collect();
                                s.extend(
                                    u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32),
                                );
                                i += 2;
                            }
                            Some(&other) => s.push(other),
                            None => {}
                        }
                    } else {
                        s.push(c[i]);
                    }
                    i += 1;
                }
                out.push(s);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// A literal read as a format string: `{...}` is any text, `{{` and `}}` are braces.
fn format_pattern(lit: &str) -> Vec<Tok> {
    let c: Vec<char> = lit.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match (c[i], c.get(i + 1)) {
            ('{', Some('{')) | ('}', Some('}')) => {
                out.push(Tok::Lit(c[i]));
                i += 2;
            }
            ('{', _) => {
                while i < c.len() && c[i] != '}' {
                    i += 1;
                }
                out.push(Tok::Star);
                i += 1;
            }
            (ch, _) => {
                out.push(Tok::Lit(ch));
                i += 1;
            }
        }
    }
    out
}

/// A message as the page quotes it: `<placeholder>`, `...` and a lone capital letter (`N`,
/// `M`) stand for any text; the quote may be any part of the message.
fn quoted_pattern(msg: &str) -> Vec<Tok> {
    let c: Vec<char> = msg.chars().collect();
    let mut out = vec![Tok::Star];
    let mut i = 0;
    while i < c.len() {
        let lone_capital = c[i].is_ascii_uppercase()
            && (i == 0 || !c[i - 1].is_alphanumeric())
            && c.get(i + 1).is_none_or(|n| !n.is_alphanumeric());
        if c[i] == '<' {
            if let Some(end) = (i..c.len()).find(|&k| c[k] == '>') {
                out.push(Tok::Star);
                i = end + 1;
                continue;
            }
        }
        if c[i..].starts_with(&['.', '.', '.']) {
            out.push(Tok::Star);
            i += 3;
        } else if c[i] == '…' || lone_capital {
            out.push(Tok::Star);
            i += 1;
        } else {
            out.push(Tok::Lit(c[i]));
            i += 1;
        }
    }
    out.push(Tok::Star);
    out
}

/// The plugin's messages: every string literal of backend/src outside its test modules.
fn backend_literals() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("backend/src") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let src = std::fs::read_to_string(&path).expect("a source file");
                let code = src.split("\n#[cfg(test)]").next().unwrap_or("");
                out.extend(string_literals(code));
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("backend/src"), &mut out);
    out
}

/// The cells of a table row, `|` inside code spans kept and `\|` read as `|`.
fn cells(row: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut in_code = false;
    let mut chars = row.trim().trim_start_matches('|').chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '`' => {
                in_code = !in_code;
                cell.push(ch);
            }
            '|' if !in_code => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(ch),
        }
    }
    cells
}

struct Quote {
    line: usize,
    text: String,
    /// The quoted message of the paragraph it belongs to, for a reason table.
    heading: Option<String>,
}

/// What TROUBLESHOOTING.md quotes as the product's words: each message in bold code
/// (`` **`...`** ``), the first column of the tables headed `message` (Grafana's own log
/// lines, under `log message`, are not ours), and the first column of the tables headed
/// `the message contains` (the reasons the libraries give, under the message quoted last).
fn troubleshooting_quotes(md: &str) -> (Vec<Quote>, Vec<Quote>) {
    let mut messages = Vec::new();
    let mut reasons = Vec::new();
    let mut table: Option<String> = None;
    let mut heading: Option<String> = None;
    for (i, line) in md.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("**`") {
            let after = &rest[at + 3..];
            let Some(end) = after.find("`**") else { break };
            // ``a `b` c`` (a span holding backticks) arrives as "`a `b` c`".
            let text = after[..end]
                .strip_prefix('`')
                .and_then(|t| t.strip_suffix('`'))
                .unwrap_or(&after[..end])
                .trim()
                .to_string();
            messages.push(Quote {
                line: i,
                text: text.clone(),
                heading: None,
            });
            heading = Some(text);
            rest = &after[end + 3..];
        }
        if !line.starts_with('|') {
            table = None;
            continue;
        }
        let first = cells(line).into_iter().next().unwrap_or_default();
        match &table {
            None => table = Some(first.trim().to_string()),
            Some(kind) if first.starts_with("---") || kind.is_empty() => {}
            Some(kind) => {
                let spans = first.split('`').skip(1).step_by(2).map(str::to_string);
                for text in spans {
                    let q = Quote {
                        line: i,
                        text,
                        heading: heading.clone(),
                    };
                    match kind.as_str() {
                        "message" => messages.push(q),
                        "the message contains" => reasons.push(q),
                        _ => {}
                    }
                }
            }
        }
    }
    (messages, reasons)
}

#[test]
fn every_message_troubleshooting_quotes_is_in_the_plugin() {
    let rel = "docs/TROUBLESHOOTING.md";
    let md = read(rel);
    let (messages, _) = troubleshooting_quotes(&md);
    assert!(
        messages.len() >= 20,
        "{rel}: {} messages found",
        messages.len()
    );
    let templates: Vec<(String, Vec<Tok>)> = backend_literals()
        .into_iter()
        .map(|l| {
            let p = format_pattern(&l);
            (l, p)
        })
        .collect();
    let mut missing = Vec::new();
    for m in &messages {
        let want = quoted_pattern(&m.text);
        // Any 5 characters of the quote's literal text must occur in the template: a cheap
        // filter before the exact comparison.
        let lits: Vec<String> = want
            .split(|t| *t == Tok::Star)
            .map(|run| {
                run.iter()
                    .map(|t| match t {
                        Tok::Lit(c) => *c,
                        Tok::Star => ' ',
                    })
                    .collect()
            })
            .collect();
        let grams: Vec<String> = lits
            .iter()
            .flat_map(|s| {
                let c: Vec<char> = s.chars().collect();
                (0..c.len().saturating_sub(4))
                    .map(|k| c[k..k + 5].iter().collect::<String>())
                    .collect::<Vec<_>>()
            })
            .collect();
        let candidates: Vec<&Vec<Tok>> = templates
            .iter()
            .filter(|(lit, _)| grams.is_empty() || grams.iter().any(|g| lit.contains(g.as_str())))
            .map(|(_, pat)| pat)
            .collect();
        // A message is often one format string put into another's placeholder
        // ("signed in as {} ({})" and the role's words): try each candidate in each
        // placeholder of each candidate.
        let found = candidates.iter().any(|t| quote_fits(&want, t))
            || candidates.iter().any(|t| {
                let stars = t.iter().filter(|x| **x == Tok::Star).count();
                (0..stars).any(|k| {
                    candidates
                        .iter()
                        .any(|filler| quote_fits(&want, &substitute(t, k, filler)))
                })
            });
        if !found {
            missing.push(format!("{rel}:{}: `{}`", m.line + 1, m.text));
        }
    }
    assert!(
        missing.is_empty(),
        "messages quoted in {rel} that no string of backend/src can produce \
         (reword them as the plugin words them; `<placeholder>`, `...` and a lone capital \
         letter stand for the variable parts):\n{}",
        missing.join("\n")
    );
}

#[test]
fn quotes_fit_the_format_strings_they_come_from() {
    let src = r##"
        // "a comment"
        let c = '"'; let l: &'static str = "x";
        #[error("cannot reach AWX at {url}: {reason}; check the URL")]
        let r = r#"raw "quoted" {x}"#;
        let m = format!("no awx_system_info{{{sel}}} in Prometheus: check \
                         the scrape");
    "##;
    let lits = string_literals(src);
    assert_eq!(
        lits,
        [
            "x",
            "cannot reach AWX at {url}: {reason}; check the URL",
            "raw \"quoted\" {x}",
            "no awx_system_info{{{sel}}} in Prometheus: check the scrape",
        ]
    );
    let meets = |quote: &str, lit: &str| quote_fits(&quoted_pattern(quote), &format_pattern(lit));
    assert!(meets("cannot reach AWX at <url>: <reason>", &lits[1]));
    assert!(meets("check the URL", &lits[1]));
    assert!(!meets("cannot reach AWX on <url>", &lits[1]));
    assert!(meets(
        "no awx_system_info{<selector>} in Prometheus: ...",
        &lits[3]
    ));
    assert!(!meets(
        "no awx_system_info(<selector>) in Prometheus",
        &lits[3]
    ));
    assert!(meets(
        "AWX's pagination for <path> did not end after N pages",
        "AWX's pagination for {path} did not end after {pages} pages; narrow it"
    ));
    assert!(!meets(
        "AWX's pagination for <path> ended after N pages",
        "AWX's pagination for {path} did not end after {pages} pages; narrow it"
    ));
    // One format string in another's placeholder.
    let outer = format_pattern("signed in as {} ({})");
    let inner = format_pattern("user: sees only the jobs this user may read");
    let quote = quoted_pattern("signed in as <user> (user: sees only the jobs ...)");
    assert!(!quote_fits(&quote, &outer));
    assert!(quote_fits(&quote, &substitute(&outer, 1, &inner)));
    assert!(!quote_fits(&quote, &substitute(&outer, 0, &inner)));
    assert!(meets(
        "jsonData.timeoutSeconds has an invalid value",
        "jsonData.{field} has an invalid value `{value}`: expected {expected}"
    ));
}

/// A certificate authority and one server certificate it signed.
struct Pki {
    ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn make_pki(names: &[&str], expired: bool) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "TROUBLESHOOTING test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().expect("a key");
    let ca_cert = ca.self_signed(&ca_key).expect("the CA");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut leaf = CertificateParams::new(names).expect("leaf parameters");
    if expired {
        leaf.not_before = rcgen::date_time_ymd(2020, 1, 1);
        leaf.not_after = rcgen::date_time_ymd(2020, 2, 1);
    }
    let key = KeyPair::generate().expect("a key");
    let cert = leaf
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("the server certificate");
    Pki {
        ca_pem: ca_cert.pem(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    }
}

/// A TLS server that completes handshakes and then hangs up: enough for a client to judge
/// the certificate. Returns its port.
async fn tls_server(pki: &Pki) -> u16 {
    use std::sync::Arc;
    use tokio_rustls::rustls::{
        self,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(pki.cert_der.clone())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone())),
    )
    .expect("the server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = listener.local_addr().expect("its address").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    port
}

/// The tables of reasons under a message (`the message contains`) list what the libraries
/// add to it. Each reason is produced here, by `awx-kpi check` (the plugin's health check)
/// against a server set up to fail that way, and must show under the message whose
/// paragraph lists it: the user finds the reason by the message they see.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reasons_troubleshooting_lists_are_what_the_health_check_reports() {
    let rel = "docs/TROUBLESHOOTING.md";
    let (_, reasons) = troubleshooting_quotes(&read(rel));
    assert!(reasons.len() >= 6, "{rel}: {} reasons found", reasons.len());

    let sim = awx_sim::start(awx_sim::Config {
        days: 1,
        jobs_per_day: 10.0,
        ..awx_sim::Config::for_tests("2024-10-01T00:00:00Z")
    })
    .await
    .expect("the simulator starts");
    let sim_port = sim.url().rsplit(':').next().unwrap_or_default().to_string();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        l.local_addr().expect("its address").port()
    };
    let dir = std::env::temp_dir().join(format!("awx-kpi-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let private = make_pki(&["localhost"], false);
    let expired = make_pki(&["localhost"], true);
    let (private_ca, expired_ca) = (dir.join("private-ca.pem"), dir.join("expired-ca.pem"));
    std::fs::write(&private_ca, &private.ca_pem).expect("write the CA");
    std::fs::write(&expired_ca, &expired.ca_pem).expect("write the CA");
    let private_port = tls_server(&private).await;
    let expired_port = tls_server(&expired).await;
    let (private_ca, expired_ca) = (
        private_ca.to_string_lossy().into_owned(),
        expired_ca.to_string_lossy().into_owned(),
    );

    let cases: Vec<(&str, Vec<String>)> = vec![
        ("a closed port", vec![format!("http://127.0.0.1:{closed}")]),
        (
            "a name that does not resolve",
            vec!["http://awx.does-not-exist.invalid".into()],
        ),
        (
            "https:// on a plain-HTTP port",
            vec![format!("https://127.0.0.1:{sim_port}")],
        ),
        (
            "a CA the data source does not trust",
            vec![format!("https://localhost:{private_port}")],
        ),
        (
            "a certificate for another name",
            vec![
                format!("https://127.0.0.1:{private_port}"),
                "--ca-cert".into(),
                private_ca,
            ],
        ),
        (
            "an expired certificate",
            vec![
                format!("https://localhost:{expired_port}"),
                "--ca-cert".into(),
                expired_ca,
            ],
        ),
    ];
    // All at once: each takes the client's retries (about half a second).
    let runs: Vec<_> = cases
        .iter()
        .map(|(_, args)| {
            let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_awx-kpi"));
            cmd.arg("check")
                .arg("--url")
                .args(args)
                // Each fails fast; the long timeout is for a slow resolver, which must still
                // end in the DNS error rather than the timeout's.
                .args(["--timeout", "60"])
                .env("AWX_TOKEN", "sim-admin-token")
                .env_remove("AWX_URL");
            tokio::spawn(async move { cmd.output().await })
        })
        .collect();
    let mut reported = Vec::new();
    for ((what, _), run) in cases.iter().zip(runs) {
        let out = run.await.expect("the task").expect("awx-kpi runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find(|l| l.starts_with("ERROR    AWX reachable"))
            .unwrap_or_else(|| panic!("{what}: AWX reachable did not fail:\n{text}"));
        let message = line["ERROR    AWX reachable".len()..].trim().to_string();
        reported.push((what, message));
    }
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);

    let literal = |s: &str| s.chars().map(Tok::Lit).collect::<Vec<_>>();
    let mut wrong = Vec::new();
    for r in &reasons {
        let Some((what, message)) = reported.iter().find(|(_, m)| m.contains(&r.text)) else {
            wrong.push(format!(
                "{rel}:{}: `{}` is in none of the messages the failures above give:\n  {}",
                r.line + 1,
                r.text,
                reported
                    .iter()
                    .map(|(w, m)| format!("{w}: {m}"))
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ));
            continue;
        };
        let heading = r.heading.as_deref().unwrap_or_default();
        if !quote_fits(&quoted_pattern(heading), &literal(message)) {
            wrong.push(format!(
                "{rel}:{}: `{}` ({what}) is listed under `{heading}`, but the message is: {message}",
                r.line + 1,
                r.text
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
