//! `print!` in kernels: the values a launch recorded in its print buffer, formatted on the host
//! as Rust's `format!` formats them, after the launch (on a GPU, the launch of a kernel that
//! prints waits for it). Lines go to standard output (`eprint!`: standard error), or to a sink
//! a test installs.

use gpujit_codegen::contract::KernelMetadata;
use gpujit_codegen::format::{self, Value};
use gpujit_codegen::ScalarType;
use std::io::Write;
use std::sync::RwLock;

/// Where printed text goes instead of standard output and error: `(stderr, text)`.
pub type Sink = fn(bool, &str);

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Sends the kernels' printed text to `sink` (`None`: standard output and error again).
pub fn set_sink(sink: Option<Sink>) {
    *SINK.write().unwrap_or_else(|p| p.into_inner()) = sink;
}

/// A recorded value of type `t` (its bits zero-extended), as the formatter takes it.
pub(crate) fn value(t: ScalarType, bits: u64) -> Value {
    match t {
        ScalarType::Bool => Value::Bool(bits != 0),
        ScalarType::F32 => Value::F32(f32::from_bits(bits as u32)),
        ScalarType::F64 => Value::F64(f64::from_bits(bits)),
        ScalarType::F16 => Value::F32(half::f16::from_bits(bits as u16).to_f32()),
        ScalarType::BF16 => Value::F32(half::bf16::from_bits(bits as u16).to_f32()),
        t if t.is_signed_int() => {
            let shift = 64 - t.bits();
            Value::Int(((bits << shift) as i64) >> shift)
        }
        _ => Value::UInt(bits),
    }
}

/// The parsed format string whose positional and captured arguments are `n` values.
pub(crate) fn parse_with(f: &str, n: usize) -> Option<format::Format> {
    (0..=n).find_map(|p| format::parse(f, p).ok().filter(|parsed| p + parsed.captured.len() == n))
}

/// Writes the records of a print buffer: `reserved` words were reserved, `words` holds the
/// ones that fit (records of the print's number and its values).
pub(crate) fn emit(meta: &KernelMetadata, reserved: u64, words: &[u64]) {
    let mut out = String::new();
    let mut err = String::new();
    let mut at = 0usize;
    while at < words.len() && (at as u64) < reserved {
        let Some(info) = meta.prints.get(words[at] as usize) else { break };
        let n = info.types.len();
        let Some(values) = words.get(at + 1..at + 1 + n) else { break };
        let values: Vec<Value> = info.types.iter().zip(values).map(|(t, b)| value(*t, *b)).collect();
        let text = match parse_with(&info.format, n) {
            Some(parsed) => format::render(&parsed, &values),
            None => info.format.clone(),
        };
        let to = if info.stderr { &mut err } else { &mut out };
        to.push_str(&text);
        if info.newline {
            to.push('\n');
        }
        at += 1 + n;
    }
    if reserved as usize > at {
        err.push_str(&format!(
            "gpujit: kernel `{}` printed more than its print buffer holds ({} words): {} words of output were dropped\n",
            meta.entry,
            gpujit_codegen::limits::PRINT_WORDS,
            reserved as usize - at
        ));
    }
    let sink = *SINK.read().unwrap_or_else(|p| p.into_inner());
    for (stderr, text) in [(false, out), (true, err)] {
        if text.is_empty() {
            continue;
        }
        match sink {
            Some(s) => s(stderr, &text),
            None if stderr => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
            None => {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(text.as_bytes());
                let _ = o.flush();
            }
        }
    }
}
