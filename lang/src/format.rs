//! Rust format strings in kernels (`assert!(i < n, "i = {i}, n = {}", n)`): parsed when the
//! macro expands, so an unsupported specifier is a compile error at the string, and applied on
//! the host to the values a kernel recorded, so a message reads exactly as Rust would write it.
//!
//! Supported: `{}`, `{:?}`, `{:x}`, `{:X}`, `{:o}`, `{:b}`, `{:e}`, `{:E}`; a fill and an
//! alignment (`<`, `^`, `>`), `+`, `#`, `0`, a width and a precision (`{:>8.3}`, `{:08x}`);
//! arguments by position (`{0}`) or captured by name (`{i}`); `{{` and `}}`.

/// How one value is written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Spec {
    pub fill: char,
    /// `<`, `^` or `>`; `None`: numbers to the right, the rest to the left.
    pub align: Option<char>,
    pub plus: bool,
    pub alternate: bool,
    pub zero: bool,
    pub width: Option<usize>,
    pub precision: Option<usize>,
    /// `""` (Display), `"?"`, `"x"`, `"X"`, `"o"`, `"b"`, `"e"`, `"E"`.
    pub kind: &'static str,
}

/// A piece of a parsed format string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Piece {
    Text(String),
    /// The argument at this position (named arguments are appended after the positional ones).
    Arg(usize, Spec),
}

/// A parsed format string: its pieces, and the names it captures (`{i}`), whose values follow
/// the positional arguments.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Format {
    pub pieces: Vec<Piece>,
    pub captured: Vec<String>,
}

/// Parses `s` given `positional` arguments. The error says what is not supported.
pub fn parse(s: &str, positional: usize) -> Result<Format, String> {
    let mut pieces = Vec::new();
    let mut captured: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut next = 0;
    let mut used = vec![false; positional];
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                text.push('}');
            }
            '}' => return Err("unmatched `}` in the format string (write `}}` for a brace)".into()),
            '{' => {
                let mut inner = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => inner.push(c),
                        None => return Err("unclosed `{` in the format string (write `{{` for a brace)".into()),
                    }
                }
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                let (arg, spec) = inner.split_once(':').unwrap_or((&inner, ""));
                let arg = arg.trim();
                let index = if arg.is_empty() {
                    next += 1;
                    next - 1
                } else if let Ok(i) = arg.parse::<usize>() {
                    i
                } else if arg.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
                    && arg.chars().all(|c| c.is_alphanumeric() || c == '_')
                {
                    let k = match captured.iter().position(|n| n == arg) {
                        Some(k) => k,
                        None => {
                            captured.push(arg.to_string());
                            captured.len() - 1
                        }
                    };
                    positional + k
                } else {
                    return Err(format!("`{{{inner}}}`: arguments are named by position (`{{0}}`) or by a variable's name (`{{i}}`)"));
                };
                if index < positional {
                    used[index] = true;
                } else if arg.is_empty() || arg.parse::<usize>().is_ok() {
                    return Err(format!("the format string refers to argument {index}, but {positional} are given"));
                }
                pieces.push(Piece::Arg(index, parse_spec(spec)?));
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    if let Some(unused) = used.iter().position(|u| !u) {
        return Err(format!("argument {unused} is never used by the format string"));
    }
    Ok(Format { pieces, captured })
}

fn parse_spec(spec: &str) -> Result<Spec, String> {
    let mut out = Spec { fill: ' ', ..Spec::default() };
    let cs: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let is_align = |c: char| matches!(c, '<' | '^' | '>');
    if cs.len() >= 2 && is_align(cs[1]) {
        out.fill = cs[0];
        out.align = Some(cs[1]);
        i = 2;
    } else if cs.first().is_some_and(|c| is_align(*c)) {
        out.align = Some(cs[0]);
        i = 1;
    }
    if cs.get(i) == Some(&'+') {
        out.plus = true;
        i += 1;
    } else if cs.get(i) == Some(&'-') {
        i += 1;
    }
    if cs.get(i) == Some(&'#') {
        out.alternate = true;
        i += 1;
    }
    if cs.get(i) == Some(&'0') {
        out.zero = true;
        i += 1;
    }
    let digits = |i: &mut usize| -> Option<usize> {
        let start = *i;
        while cs.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        (start < *i).then(|| cs[start..*i].iter().collect::<String>().parse().ok()).flatten()
    };
    out.width = digits(&mut i);
    if cs.get(i) == Some(&'.') {
        i += 1;
        out.precision = digits(&mut i);
        if out.precision.is_none() {
            return Err(format!("`{{:{spec}}}`: a precision is a number (`.3`); `.*` and `$` arguments are not supported in kernels"));
        }
    }
    let rest: String = cs[i..].iter().collect();
    out.kind = match rest.as_str() {
        "" => "",
        "?" => "?",
        "x" => "x",
        "X" => "X",
        "o" => "o",
        "b" => "b",
        "e" => "e",
        "E" => "E",
        _ => return Err(format!("`{{:{spec}}}` is not supported in kernels; they format with {{}}, {{:?}}, {{:x}}, {{:X}}, {{:o}}, {{:b}}, {{:e}}, {{:E}}, with a fill, an alignment, a sign, `#`, `0`, a width and a precision")),
    };
    Ok(out)
}

/// A value a kernel recorded, by its type.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    UInt(u64),
    F32(f32),
    F64(f64),
}

/// `v` formatted by `spec`, as Rust's `format!` would.
pub fn format_value(v: Value, spec: &Spec) -> String {
    macro_rules! by_kind {
        ($x:expr) => {{
            let x = $x;
            match (spec.kind, spec.alternate, spec.precision) {
                ("?", _, Some(p)) => format!("{x:.p$?}"),
                ("?", _, None) => format!("{x:?}"),
                (_, _, Some(p)) => format!("{x:.p$}"),
                _ => format!("{x}"),
            }
        }};
    }
    macro_rules! int {
        ($x:expr) => {{
            let x = $x;
            match (spec.kind, spec.alternate) {
                ("x", false) => format!("{x:x}"),
                ("x", true) => format!("{x:#x}"),
                ("X", false) => format!("{x:X}"),
                ("X", true) => format!("{x:#X}"),
                ("o", false) => format!("{x:o}"),
                ("o", true) => format!("{x:#o}"),
                ("b", false) => format!("{x:b}"),
                ("b", true) => format!("{x:#b}"),
                ("e", _) => format!("{x:e}"),
                ("E", _) => format!("{x:E}"),
                _ => format!("{x}"),
            }
        }};
    }
    macro_rules! float {
        ($x:expr) => {{
            let x = $x;
            match (spec.kind, spec.precision) {
                ("e", Some(p)) => format!("{x:.p$e}"),
                ("e", None) => format!("{x:e}"),
                ("E", Some(p)) => format!("{x:.p$E}"),
                ("E", None) => format!("{x:E}"),
                _ => by_kind!(x),
            }
        }};
    }
    let (body, numeric) = match v {
        Value::Bool(b) => (format!("{b}"), false),
        Value::Int(i) => (int!(i), true),
        Value::UInt(u) => (int!(u), true),
        Value::F32(f) => (float!(f), true),
        Value::F64(f) => (float!(f), true),
    };
    let body = if spec.plus && numeric && !body.starts_with('-') { format!("+{body}") } else { body };
    let Some(width) = spec.width else { return body };
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let pad = width - len;
    if spec.zero && numeric {
        // Sign-aware zero padding: after the sign and a `0x`-style prefix.
        let sign_len = body.starts_with(['-', '+']) as usize;
        let prefix_len = if body[sign_len..].starts_with("0x")
            || body[sign_len..].starts_with("0X")
            || body[sign_len..].starts_with("0o")
            || body[sign_len..].starts_with("0b")
        {
            2
        } else {
            0
        };
        let (head, tail) = body.split_at(sign_len + prefix_len);
        return format!("{head}{}{tail}", "0".repeat(pad));
    }
    let fill = |n: usize| spec.fill.to_string().repeat(n);
    match spec.align.unwrap_or(if numeric { '>' } else { '<' }) {
        '<' => format!("{body}{}", fill(pad)),
        '^' => format!("{}{body}{}", fill(pad / 2), fill(pad - pad / 2)),
        _ => format!("{}{body}", fill(pad)),
    }
}

/// The whole message: `values[k]` for argument `k`.
pub fn render(f: &Format, values: &[Value]) -> String {
    let mut out = String::new();
    for p in &f.pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Arg(i, spec) => match values.get(*i) {
                Some(v) => out.push_str(&format_value(*v, spec)),
                None => out.push_str("<missing>"),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(fmt: &str, v: Value) -> String {
        render(&parse(fmt, 1).unwrap(), &[v])
    }

    #[test]
    fn formats_as_rust_does() {
        assert_eq!(one("{}", Value::F32(0.1)), format!("{}", 0.1f32));
        assert_eq!(one("{:?}", Value::F64(1.0)), format!("{:?}", 1.0f64));
        assert_eq!(one("{:8.3}", Value::F64(-1.5)), format!("{:8.3}", -1.5f64));
        assert_eq!(one("{:08.3}", Value::F64(-1.5)), format!("{:08.3}", -1.5f64));
        assert_eq!(one("{:<6}|", Value::Int(-7)), format!("{:<6}|", -7));
        assert_eq!(one("{:^7}", Value::UInt(42)), format!("{:^7}", 42u64));
        assert_eq!(one("{:*>5}", Value::Bool(true)), format!("{:*>5}", true));
        assert_eq!(one("{:#010x}", Value::UInt(255)), format!("{:#010x}", 255u64));
        assert_eq!(one("{:X}", Value::UInt(0xbeef)), format!("{:X}", 0xbeefu64));
        assert_eq!(one("{:+}", Value::Int(3)), format!("{:+}", 3));
        assert_eq!(one("{:e}", Value::F32(1234.5)), format!("{:e}", 1234.5f32));
        assert_eq!(one("{:b}", Value::UInt(5)), format!("{:b}", 5u64));
        assert_eq!(render(&parse("{{{}}}", 1).unwrap(), &[Value::Int(1)]), "{1}");
    }

    #[test]
    fn arguments_by_position_and_name() {
        let f = parse("{1} {0} {i} {}", 2).unwrap();
        assert_eq!(f.captured, vec!["i".to_string()]);
        assert_eq!(render(&f, &[Value::Int(1), Value::Int(2), Value::Int(3)]), "2 1 3 1");
        assert!(parse("{} {}", 1).unwrap_err().contains("argument 1"));
        assert!(parse("{:p}", 1).is_err());
        assert!(parse("{:.*}", 1).is_err());
        assert!(parse("x", 1).unwrap_err().contains("never used"));
        assert!(parse("{", 0).is_err());
    }
}
