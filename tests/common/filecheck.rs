//! A small FileCheck: `PREFIX:`, `PREFIX-NEXT:`, `PREFIX-SAME:`, `PREFIX-NOT:` and `PREFIX-COUNT-n:`
//! directives checked in order against a compiler's output, as LLVM's FileCheck does.
//!
//! A pattern is literal text, except that `{{re}}` is a regular expression. Runs of whitespace in
//! a pattern match any run of whitespace.

use regex::Regex;

/// One directive: its kind, pattern and where it was written.
#[derive(Clone, Debug)]
pub struct Directive {
    pub kind: Kind,
    pub pattern: String,
    /// The line of the file it was read from (1-based).
    pub line: usize,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Matches on a later line than the previous match.
    Check,
    /// Matches on the line right after the previous match.
    Next,
    /// Matches on the same line as the previous match, after it.
    Same,
    /// Does not match between the previous match and the next one (or the end).
    Not,
    /// Matches on `n` lines in a row, starting after the previous match.
    Count(usize),
}

/// The directives of `prefix` in `text`, each written as `// PREFIX: pattern` (any comment
/// leader before it is ignored).
pub fn directives(text: &str, prefix: &str) -> Vec<Directive> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(at) = line.find(prefix) else { continue };
        // The prefix must start a word (`PTX:` is not found in `PTX90:`, nor `X:` in `PTX:`).
        if line[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_') {
            continue;
        }
        let rest = &line[at + prefix.len()..];
        let (kind, rest) = if let Some(r) = rest.strip_prefix(':') {
            (Kind::Check, r)
        } else if let Some(r) = rest.strip_prefix("-NEXT:") {
            (Kind::Next, r)
        } else if let Some(r) = rest.strip_prefix("-SAME:") {
            (Kind::Same, r)
        } else if let Some(r) = rest.strip_prefix("-NOT:") {
            (Kind::Not, r)
        } else if let Some(r) = rest.strip_prefix("-COUNT-") {
            let Some((count, r)) = r.split_once(':') else { continue };
            let Ok(count) = count.parse() else { continue };
            (Kind::Count(count), r)
        } else {
            continue;
        };
        out.push(Directive { kind, pattern: rest.trim().to_string(), line: n + 1 });
    }
    out
}

/// The regular expression of a pattern.
fn compile(pattern: &str) -> Result<Regex, String> {
    let mut re = String::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(start) = rest.find("{{") {
            re.push_str(&literal(&rest[..start]));
            let Some(end) = rest[start + 2..].find("}}") else {
                return Err(format!("unclosed `{{{{` in `{pattern}`"));
            };
            re.push_str(&format!("(?:{})", &rest[start + 2..start + 2 + end]));
            rest = &rest[start + 2 + end + 2..];
        } else {
            re.push_str(&literal(rest));
            break;
        }
    }
    Regex::new(&re).map_err(|e| format!("bad pattern `{pattern}`: {e}"))
}

fn literal(text: &str) -> String {
    let mut out = String::new();
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !in_space {
                out.push_str(r"\s+");
            }
            in_space = true;
        } else {
            out.push_str(&regex::escape(&c.to_string()));
            in_space = false;
        }
    }
    out
}

/// Checks `directives` against `output`; the error says which directive failed and why.
pub fn check(output: &str, directives: &[Directive]) -> Result<(), String> {
    let lines: Vec<&str> = output.lines().collect();
    // The previous match: its line and the byte offset in it where the match ended.
    let mut pos: Option<(usize, usize)> = None;
    let mut nots: Vec<(&Directive, Regex)> = Vec::new();
    let first_line = |pos: Option<(usize, usize)>| pos.map_or(0, |(l, _)| l + 1);
    let check_nots = |nots: &mut Vec<(&Directive, Regex)>, from: usize, to: usize| -> Result<(), String> {
        for (d, re) in nots.drain(..) {
            if let Some(l) = (from..to.min(lines.len())).find(|&l| re.is_match(lines[l])) {
                return Err(format!("line {}: NOT `{}` found at output line {}: {}", d.line, d.pattern, l + 1, lines[l].trim()));
            }
        }
        Ok(())
    };
    for d in directives {
        let re = compile(&d.pattern).map_err(|e| format!("line {}: {e}", d.line))?;
        let found = match d.kind {
            Kind::Not => {
                nots.push((d, re));
                continue;
            }
            Kind::Check => (first_line(pos)..lines.len()).find_map(|l| re.find(lines[l]).map(|m| (l, m.end()))),
            Kind::Next => {
                let l = first_line(pos);
                lines.get(l).and_then(|t| re.find(t)).map(|m| (l, m.end()))
            }
            Kind::Same => pos.and_then(|(l, col)| re.find(&lines[l][col..]).map(|m| (l, col + m.end()))),
            Kind::Count(n) => {
                let start = (first_line(pos)..lines.len()).find(|&l| re.is_match(lines[l]));
                match start {
                    Some(s) if s + n <= lines.len() && (s..s + n).all(|l| re.is_match(lines[l])) => Some((s + n - 1, 0)),
                    _ => None,
                }
            }
        };
        let Some(found) = found else {
            let from = first_line(pos);
            let context: Vec<String> = lines.iter().skip(from).take(8).map(|l| format!("    {l}")).collect();
            return Err(format!(
                "line {}: {:?} `{}` not found after output line {from}; the output there:\n{}",
                d.line,
                d.kind,
                d.pattern,
                context.join("\n")
            ));
        };
        check_nots(&mut nots, first_line(pos), found.0)?;
        pos = Some(found);
    }
    check_nots(&mut nots, first_line(pos), lines.len())
}

#[test]
fn filecheck_semantics() {
    let out = "a one\nb two\nc three\nd four";
    let run = |spec: &str| check(out, &directives(spec, "T"));
    assert!(run("T: one\nT-NEXT: two\nT: four").is_ok());
    assert!(run("T: two\nT: one").is_err(), "order matters");
    assert!(run("T: one\nT-NEXT: three").is_err(), "NEXT is the very next line");
    assert!(run("T: b\nT-SAME: two").is_ok());
    assert!(run("T: two\nT-SAME: b").is_err(), "SAME looks after the match");
    assert!(run("T: one\nT-NOT: two\nT: three").is_err(), "NOT between matches");
    assert!(run("T: two\nT-NOT: one\nT: four").is_ok(), "NOT only between its neighbours");
    assert!(run("T-NOT: five").is_ok() && run("T-NOT: four").is_err());
    assert!(run("T: {{[a-d]}} t{{w|h}}").is_ok());
    assert!(run("T-COUNT-2: {{^[ab] }}").is_ok() && run("T-COUNT-3: {{^[ab] }}").is_err());
    assert!(run("XT: nothing").is_ok(), "another prefix is not ours");
    assert!(run("T: a    one").is_ok(), "whitespace runs match whitespace runs");
    assert!(run("T: {{[a-d]}} one").is_ok() && run("T: {{[a-d]}}one").is_err(), "whitespace around a regex counts");
}
