//! `ptx_asm!` templates, read once for the macro (which checks them) and the lowering (which
//! turns them into LLVM's inline-assembly syntax).

/// A piece of a template: PTX text (braces unescaped), or operand N (`{N}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Operand(usize),
}

/// The pieces of `template`, whose `{N}` name operands below `operands`; `{{` and `}}` are
/// braces. Anything else in braces, or a lone brace, is an error (the message says why).
pub fn pieces(template: &str, operands: usize) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
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
            '{' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                if digits.is_empty() || chars.next() != Some('}') {
                    return Err("in a `ptx_asm!` template `{N}` names operand N; write `{{` and `}}` for braces".into());
                }
                let n: usize = digits.parse().unwrap_or(usize::MAX);
                if n >= operands {
                    return Err(format!("the template names operand {{{n}}}, but `ptx_asm!` has {operands} operand(s)"));
                }
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(Piece::Operand(n));
            }
            '}' => return Err("in a `ptx_asm!` template write `}}` for a closing brace".into()),
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}
