//! A parser of the IR's text form (the `Display` of [`ir::Kernel`]), so that tests of the later
//! stages ([`crate::verify`], [`crate::lower`]) can be written as IR text, as cranelift's
//! filetests are, rather than reached through the macro and the specializer.
//!
//! The form, as `GPUJIT_DUMP_DIR` writes it:
//!
//! ```text
//! #[options(fastmath = false, launch_bounds = None/None, max_registers = None, boundscheck = true, aligned16 = false)]
//! kernel saxpy(a: f32, x: &[f32], y: &mut Array<f32, 2, strided>) -> f32 {
//!     shared tile: [f32; [256]];
//!     local acc: [f32; 4];
//!     a_0: f32 = a;                      // local `a` number 0, assigned
//!     for i_1 in (0u64..x.len()).step_by(1u64) { y[[i_1, 0u64]] = (a_0 * x[i_1]); }
//! }
//!
//! // device function #0
//! kernel square(v: f64) -> f64 { ... }
//! ```
//!
//! Locals are written `name_N` (N their number) and typed where assigned; every expression's
//! type follows from its operands, so the text carries exactly what the IR does (spans aside:
//! parsed statements have none). [`parse`] of a kernel's `Display` gives the kernel back.

use crate::ast::{AsmDir, AtomicOp, BinOp, Builtin, Collective, Dim, FenceScope, KernelOptions, Span, UnOp};
use crate::complex::ComplexFn;
use crate::ir::{self, ArrayRef, CallArg, Const, Kernel, Local, LocalArray, Param, ParamType, SharedArray, Stmt, StmtKind};
use crate::ir::{TypedExpr, TypedExprKind};
use crate::math::MathFn;
use crate::types::ScalarType;

/// Why IR text could not be parsed: the line and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IR text line {}: {}", self.line, self.message)
    }
}

type R<T> = Result<T, ParseError>;

/// Parses a kernel (and the device functions after it) from its text form.
pub fn parse(text: &str) -> R<Kernel> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut first_line = 1;
    let mut starts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("// device function #") {
            parts.push(std::mem::take(&mut current));
            starts.push(first_line);
            first_line = n + 2;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    parts.push(current);
    starts.push(first_line);
    // Device functions come after the kernel, each after the functions it calls: parse them
    // first, so that every call's type (its callee's result) is known where it is read.
    let mut functions: Vec<Kernel> = Vec::new();
    for (part, start) in parts.iter().zip(&starts).skip(1) {
        let rets = functions.iter().map(|f| f.ret).collect();
        functions.push(Parser::new(part, *start, rets)?.kernel()?);
    }
    let rets = functions.iter().map(|f| f.ret).collect();
    let mut kernel = Parser::new(&parts[0], starts[0], rets)?.kernel()?;
    kernel.functions = functions;
    Ok(kernel)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// A string literal, unescaped.
    Str(String),
    /// A number with its suffix (`3u64`, `2.5f32`, `1e-5f64`, `NaNf32`).
    Num(String),
    Punct(&'static str),
}

const PUNCT: &[&str] = &[
    "..=", "<<", ">>", "&&", "||", "==", "!=", "<=", ">=", "->", "..", "(", ")", "[", "]", "{", "}", ",", ";", ":", "=", "<", ">", "+",
    "-", "*", "/", "%", "&", "|", "^", "!", ".", "#", "@",
];

fn lex(text: &str, first_line: usize) -> R<Vec<(Tok, usize)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = first_line + n;
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i] as char;
            if c.is_whitespace() {
                i += 1;
            } else if c == '"' {
                // A string as Rust's `{:?}` writes it.
                let mut value = String::new();
                let mut chars = line[i + 1..].char_indices();
                let mut end = None;
                while let Some((k, ch)) = chars.next() {
                    match ch {
                        '"' => {
                            end = Some(i + 1 + k + 1);
                            break;
                        }
                        '\\' => match chars.next().map(|(_, e)| e) {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some('r') => value.push('\r'),
                            Some('0') => value.push('\0'),
                            Some('u') => {
                                let hex: String = chars.by_ref().map(|(_, h)| h).skip(1).take_while(|h| *h != '}').collect();
                                value.push(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32).unwrap_or('\u{fffd}'));
                            }
                            Some(other) => value.push(other),
                            None => break,
                        },
                        ch => value.push(ch),
                    }
                }
                let Some(end) = end else {
                    return Err(ParseError { line: line_no, message: "unterminated string".into() });
                };
                out.push((Tok::Str(value), line_no));
                i = end;
            } else if c.is_ascii_digit()
                || ["NaN", "inf"]
                    .iter()
                    .any(|w| line[i..].strip_prefix(w).is_some_and(|r| ["f16", "bf16", "f32", "f64"].iter().any(|t| r.starts_with(t))))
            {
                let start = i;
                while i < b.len()
                    && ((b[i] as char).is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
                {
                    // `1e-5`: an exponent's sign.
                    if (b[i] == b'e' || b[i] == b'E') && b.get(i + 1) == Some(&b'-') {
                        i += 1;
                    }
                    i += 1;
                }
                out.push((Tok::Num(line[start..i].to_string()), line_no));
            } else if c.is_ascii_alphabetic() || c == '_' {
                let start = i;
                while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push((Tok::Ident(line[start..i].to_string()), line_no));
            } else {
                let Some(p) = PUNCT.iter().find(|p| line[i..].starts_with(**p)) else {
                    return Err(ParseError { line: line_no, message: format!("unexpected character `{c}`") });
                };
                out.push((Tok::Punct(p), line_no));
                i += p.len();
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
    kernel: Kernel,
    /// The result types of the device functions parsed so far (calls index them).
    rets: Vec<Option<ScalarType>>,
    /// The structs declared so far (leaked: the text's types live as long as gpujit's own).
    structs: Vec<&'static crate::types::StructDef>,
}

fn scalar(name: &str) -> Option<ScalarType> {
    // `usize`/`isize` never appear in IR text: it spells them u64/i64.
    ScalarType::ALL.iter().copied().find(|t| t.name() == name)
}

fn builtins() -> Vec<Builtin> {
    let mut out = vec![Builtin::LaneId, Builtin::WarpSize];
    for d in [Dim::X, Dim::Y, Dim::Z] {
        out.extend([
            Builtin::ThreadIdx(d),
            Builtin::BlockIdx(d),
            Builtin::BlockDim(d),
            Builtin::GridDim(d),
            Builtin::Grid(d),
            Builtin::GridSize(d),
        ]);
    }
    out
}

const BINARY: &[(&str, BinOp, u8)] = &[
    ("||", BinOp::Or, 1),
    ("&&", BinOp::And, 2),
    ("==", BinOp::Eq, 3),
    ("!=", BinOp::Ne, 3),
    ("<", BinOp::Lt, 3),
    ("<=", BinOp::Le, 3),
    (">", BinOp::Gt, 3),
    (">=", BinOp::Ge, 3),
    ("|", BinOp::BitOr, 4),
    ("^", BinOp::BitXor, 5),
    ("&", BinOp::BitAnd, 6),
    ("<<", BinOp::Shl, 7),
    (">>", BinOp::Shr, 7),
    ("+", BinOp::Add, 8),
    ("-", BinOp::Sub, 8),
    ("*", BinOp::Mul, 9),
    ("/", BinOp::Div, 9),
    ("%", BinOp::Rem, 9),
];

impl Parser {
    fn new(text: &str, first_line: usize, rets: Vec<Option<ScalarType>>) -> R<Parser> {
        let empty = Kernel {
            name: String::new(),
            params: Vec::new(),
            locals: Vec::new(),
            shared: Vec::new(),
            local_arrays: Vec::new(),
            body: Vec::new(),
            options: KernelOptions::default(),
            ret: None,
            functions: Vec::new(),
            asserts: Vec::new(),
            prints: Vec::new(),
            file: String::new(),
        };
        Ok(Parser { toks: lex(text, first_line)?, at: 0, kernel: empty, rets, structs: Vec::new() })
    }

    fn line(&self) -> usize {
        self.toks.get(self.at).or(self.toks.last()).map(|t| t.1).unwrap_or(0)
    }

    fn fail<T>(&self, message: impl Into<String>) -> R<T> {
        Err(ParseError { line: self.line(), message: message.into() })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.0)
    }

    fn peek_is(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    fn peek_ident(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(i)) if i == name)
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.peek_is(p) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> R<()> {
        if self.eat(p) {
            Ok(())
        } else {
            self.fail(format!("expected `{p}`, found {:?}", self.peek()))
        }
    }

    fn ident(&mut self) -> R<String> {
        match self.peek().cloned() {
            Some(Tok::Ident(i)) => {
                self.at += 1;
                Ok(i)
            }
            other => self.fail(format!("expected a name, found {other:?}")),
        }
    }

    fn keyword(&mut self, k: &str) -> R<()> {
        if self.peek_ident(k) {
            self.at += 1;
            Ok(())
        } else {
            self.fail(format!("expected `{k}`, found {:?}", self.peek()))
        }
    }

    fn number(&mut self) -> R<String> {
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.at += 1;
                Ok(n)
            }
            other => self.fail(format!("expected a number, found {other:?}")),
        }
    }

    fn scalar_type(&mut self) -> R<ScalarType> {
        let name = self.ident()?;
        if let Some(d) = self.structs.iter().find(|d| d.name == name) {
            return Ok(ScalarType::Struct(d));
        }
        if name == "Complex" {
            // `Complex<f32>`.
            self.expect("<")?;
            let part = self.scalar_type()?;
            self.expect(">")?;
            return match part.complex() {
                Some(t) => Ok(t),
                None => self.fail(format!("`Complex<{part}>` is not a complex type")),
            };
        }
        match scalar(&name) {
            Some(t) => Ok(t),
            None => self.fail(format!("`{name}` is not a scalar type")),
        }
    }

    fn opt_u32(&mut self) -> R<Option<u32>> {
        if self.peek_ident("None") {
            self.at += 1;
            return Ok(None);
        }
        self.keyword("Some")?;
        self.expect("(")?;
        let n = self.number()?;
        self.expect(")")?;
        n.parse().map(Some).or_else(|_| self.fail("expected an integer"))
    }

    fn bool_value(&mut self) -> R<bool> {
        match self.ident()?.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => self.fail(format!("expected true or false, found `{other}`")),
        }
    }

    fn options(&mut self) -> R<KernelOptions> {
        let mut o = KernelOptions::default();
        if !self.eat("#") {
            return Ok(o);
        }
        self.expect("[")?;
        self.keyword("options")?;
        self.expect("(")?;
        while !self.eat(")") {
            let key = self.ident()?;
            self.expect("=")?;
            match key.as_str() {
                "fastmath" => o.fastmath = self.bool_value()?,
                "boundscheck" => o.boundscheck = self.bool_value()?,
                "debug" => o.debug = self.bool_value()?,
                "lineinfo" => o.lineinfo = self.bool_value()?,
                "finitecheck" => o.finitecheck = self.bool_value()?,
                "aligned16" => o.aligned16 = self.bool_value()?,
                "no_contract" => o.no_contract = self.bool_value()?,
                "may_alias" => o.may_alias = self.bool_value()?,
                "lockstep_all" => o.lockstep_all = self.bool_value()?,
                "flat_refuse_unproven" => o.flat_refuse_unproven = self.bool_value()?,
                "wide_arrays" | "aligned_arrays" => {
                    let n = self.number()?;
                    let v = match n.parse() {
                        Ok(v) => v,
                        Err(_) => return self.fail("expected an integer"),
                    };
                    if key == "wide_arrays" {
                        o.wide_arrays = v;
                    } else {
                        o.aligned_arrays = v;
                    }
                }
                "max_registers" => o.max_registers = self.opt_u32()?,
                "launch_bounds" => {
                    o.max_threads_per_block = self.opt_u32()?;
                    self.expect("/")?;
                    o.min_blocks_per_sm = self.opt_u32()?;
                }
                other => return self.fail(format!("unknown option `{other}`")),
            }
            self.eat(",");
        }
        self.expect("]")?;
        Ok(o)
    }

    fn param_type(&mut self) -> R<ParamType> {
        if !self.eat("&") {
            return Ok(ParamType::Scalar(self.scalar_type()?));
        }
        let mutable = self.peek_ident("mut") && {
            self.at += 1;
            true
        };
        let (close, ndim) = if self.eat("[") {
            ("]", 1)
        } else {
            self.keyword("Array")?;
            self.expect("<")?;
            ("", 0)
        };
        let elem = self.scalar_type()?;
        let ndim = if ndim == 1 {
            1
        } else {
            self.expect(",")?;
            self.number()?.parse().or_else(|_| self.fail("expected the number of dimensions"))?
        };
        let contiguous = !(self.eat(",") && {
            self.keyword("strided")?;
            true
        });
        self.expect(if close.is_empty() { ">" } else { close })?;
        Ok(ParamType::Array { elem, mutable, ndim, contiguous })
    }

    /// `struct Name { field: T @offset, field: [T; n] @offset } size S align A`.
    fn struct_decl(&mut self) -> R<()> {
        self.keyword("struct")?;
        let name = self.ident()?;
        self.expect("{")?;
        let mut fields = Vec::new();
        while !self.eat("}") {
            let fname = self.ident()?;
            self.expect(":")?;
            let (ty, len) = if self.eat("[") {
                let t = self.scalar_type()?;
                self.expect(";")?;
                let n: usize = self.number()?.parse().or_else(|_| self.fail("expected a length"))?;
                self.expect("]")?;
                (t, Some(n))
            } else {
                (self.scalar_type()?, None)
            };
            self.expect("@")?;
            let offset: usize = self.number()?.parse().or_else(|_| self.fail("expected an offset"))?;
            let fname: &'static str = Box::leak(fname.into_boxed_str());
            fields.push(crate::types::FieldDef { name: fname, ty, len, offset });
            self.eat(",");
        }
        self.keyword("size")?;
        let size: usize = self.number()?.parse().or_else(|_| self.fail("expected a size"))?;
        self.keyword("align")?;
        let align: usize = self.number()?.parse().or_else(|_| self.fail("expected an alignment"))?;
        let name: &'static str = Box::leak(name.into_boxed_str());
        let fields: &'static [crate::types::FieldDef] = Box::leak(fields.into_boxed_slice());
        self.structs.push(Box::leak(Box::new(crate::types::StructDef { name, size, align, fields })));
        Ok(())
    }

    fn string(&mut self) -> R<String> {
        match self.peek().cloned() {
            Some(Tok::Str(v)) => {
                self.at += 1;
                Ok(v)
            }
            other => self.fail(format!("expected a string, found {other:?}")),
        }
    }

    /// `printing N "format" newline = b stderr = b [types]`.
    fn printing_decl(&mut self) -> R<()> {
        self.keyword("printing")?;
        self.number()?;
        let format = self.string()?;
        self.keyword("newline")?;
        self.expect("=")?;
        let newline = self.bool_value()?;
        self.keyword("stderr")?;
        self.expect("=")?;
        let stderr = self.bool_value()?;
        self.expect("[")?;
        let mut types = Vec::new();
        while !self.eat("]") {
            types.push(self.scalar_type()?);
            self.eat(",");
        }
        self.kernel.prints.push(ir::PrintInfo { format, newline, stderr, types });
        Ok(())
    }

    /// `assertion N Kind "file" line column "text" "format"|none [types]`.
    fn assertion_decl(&mut self) -> R<()> {
        self.keyword("assertion")?;
        self.number()?;
        let kind = self.ident()?;
        let Some(kind) = crate::ast::AssertKind::ALL.iter().copied().find(|k| k.variant_name() == kind) else {
            return self.fail(format!("`{kind}` is not an assertion kind"));
        };
        let file = self.string()?;
        let line = self.number()?.parse().or_else(|_| self.fail("expected a line"))?;
        let column = self.number()?.parse().or_else(|_| self.fail("expected a column"))?;
        let text = self.string()?;
        let format = if self.peek_ident("none") {
            self.at += 1;
            None
        } else {
            Some(self.string()?)
        };
        self.expect("[")?;
        let mut types = Vec::new();
        while !self.eat("]") {
            types.push(self.scalar_type()?);
            self.eat(",");
        }
        self.kernel.asserts.push(ir::AssertInfo { file, line, column, kind, text, format, types });
        Ok(())
    }

    /// `.field`, `.field[k]`, ... after a value of type `t`: the path and the part's type.
    fn path(&mut self, t: ScalarType) -> R<(Vec<u32>, ScalarType)> {
        let mut path = Vec::new();
        let mut t = t;
        while self.peek_is(".") {
            let Some((Tok::Ident(name), _)) = self.toks.get(self.at + 1).cloned() else { break };
            let Some((i, ty, len)) = t.field(&name) else { break };
            self.at += 2;
            path.push(i);
            if let Some(n) = len {
                self.expect("[")?;
                let k: u32 = self.number()?.parse().or_else(|_| self.fail("expected a constant index"))?;
                self.expect("]")?;
                if k as usize >= n {
                    return self.fail(format!("index {k} of an array field of {n}"));
                }
                path.push(k);
            }
            t = ty;
        }
        Ok((path, t))
    }

    fn kernel(mut self) -> R<Kernel> {
        self.kernel.options = self.options()?;
        if self.peek_ident("file") {
            self.at += 1;
            self.kernel.file = self.string()?;
        }
        while self.peek_ident("struct") {
            self.struct_decl()?;
        }
        while self.peek_ident("assertion") {
            self.assertion_decl()?;
        }
        while self.peek_ident("printing") {
            self.printing_decl()?;
        }
        self.keyword("kernel")?;
        self.kernel.name = self.ident()?;
        self.expect("(")?;
        while !self.eat(")") {
            let name = self.ident()?;
            self.expect(":")?;
            let ty = self.param_type()?;
            self.kernel.params.push(Param { name, ty });
            self.eat(",");
        }
        if self.eat("->") {
            self.kernel.ret = Some(self.scalar_type()?);
        }
        self.expect("{")?;
        // Array declarations come first.
        loop {
            if self.peek_ident("shared") {
                self.at += 1;
                let name = self.ident()?;
                self.expect(":")?;
                self.expect("[")?;
                let elem = self.scalar_type()?;
                self.expect(";")?;
                self.expect("[")?;
                let mut dims = Vec::new();
                while !self.eat("]") {
                    dims.push(self.number()?.parse().or_else(|_| self.fail("expected a size"))?);
                    self.eat(",");
                }
                self.expect("]")?;
                self.expect(";")?;
                self.kernel.shared.push(SharedArray { name, elem, dims });
            } else if self.peek_ident("local") && matches!(self.toks.get(self.at + 2), Some((Tok::Punct(":"), _))) {
                self.at += 1;
                let name = self.ident()?;
                self.expect(":")?;
                self.expect("[")?;
                let elem = self.scalar_type()?;
                self.expect(";")?;
                let len = self.number()?.parse().or_else(|_| self.fail("expected a length"))?;
                self.expect("]")?;
                self.expect(";")?;
                self.kernel.local_arrays.push(LocalArray { name, elem, len });
            } else {
                break;
            }
        }
        let body = self.block_until_close()?;
        if self.at != self.toks.len() {
            return self.fail("text after the kernel's closing brace");
        }
        self.kernel.body = body;
        Ok(self.kernel)
    }

    /// Statements up to and including the closing `}`.
    fn block_until_close(&mut self) -> R<Vec<Stmt>> {
        let mut out = Vec::new();
        while !self.eat("}") {
            if self.peek().is_none() {
                return self.fail("missing `}`");
            }
            let kind = self.stmt()?;
            out.push(Stmt::new(kind, Span::default()));
        }
        Ok(out)
    }

    fn block(&mut self) -> R<Vec<Stmt>> {
        self.expect("{")?;
        self.block_until_close()
    }

    /// `name_N` as a local: its number, declaring it (with `ty` when known) on first sight.
    fn local(&mut self, ident: &str, ty: Option<ScalarType>) -> Option<ir::LocalId> {
        let (name, n) = ident.rsplit_once('_')?;
        let n: u32 = n.parse().ok()?;
        let locals = &mut self.kernel.locals;
        if locals.len() <= n as usize {
            locals.resize(n as usize + 1, Local { name: String::new(), ty: ScalarType::Bool });
        }
        let l = &mut locals[n as usize];
        if l.name.is_empty() {
            l.name = name.to_string();
        }
        if let Some(t) = ty {
            l.ty = t;
        }
        Some(n)
    }

    /// `name_N` as a local already declared.
    fn local_known(&self, ident: &str) -> Option<ir::LocalId> {
        let (_, n) = ident.rsplit_once('_')?;
        let n: u32 = n.parse().ok()?;
        self.kernel.locals.get(n as usize).filter(|l| !l.name.is_empty()).map(|_| n)
    }

    fn array(&self, name: &str) -> Option<ArrayRef> {
        let k = &self.kernel;
        if let Some(p) = k.params.iter().position(|p| p.name == name && matches!(p.ty, ParamType::Array { .. })) {
            return Some(ArrayRef::Param(p as u32));
        }
        if let Some(s) = k.shared.iter().position(|s| s.name == name) {
            return Some(ArrayRef::Shared(s as u32));
        }
        if let Some(l) = k.local_arrays.iter().position(|l| l.name == name) {
            return Some(ArrayRef::Local(l as u32));
        }
        // `v_3`: per-thread array 3, one of several named `v`.
        let (base, n) = name.rsplit_once('_')?;
        let n: usize = n.parse().ok()?;
        k.local_arrays.get(n).filter(|l| l.name == base).map(|_| ArrayRef::Local(n as u32))
    }

    fn stmt(&mut self) -> R<StmtKind> {
        // `#[unroll]` / `#[unroll(n)]` before a `for`.
        if self.eat("#") {
            self.expect("[")?;
            self.keyword("unroll")?;
            let n = if self.eat("(") {
                let n = self.number()?;
                self.expect(")")?;
                match n.parse::<u32>() {
                    Ok(v) => v,
                    Err(_) => return self.fail("expected an unroll factor"),
                }
            } else {
                0
            };
            self.expect("]")?;
            let mut s = self.for_range()?;
            if let StmtKind::ForRange { unroll, .. } = &mut s {
                *unroll = Some(n);
            }
            return Ok(s);
        }
        let word = match self.peek() {
            Some(Tok::Ident(i)) => i.clone(),
            _ => String::new(),
        };
        match word.as_str() {
            "if" => {
                self.at += 1;
                let cond = self.expr()?;
                let then = self.block()?;
                let otherwise = if self.peek_ident("else") {
                    self.at += 1;
                    self.block()?
                } else {
                    Vec::new()
                };
                return Ok(StmtKind::If { cond, then, otherwise });
            }
            "while" => {
                self.at += 1;
                let cond = self.expr()?;
                return Ok(StmtKind::While { cond, body: self.block()? });
            }
            "for" => return self.for_range(),
            "break" | "continue" => {
                self.at += 1;
                let levels = if self.eat(";") {
                    0
                } else {
                    let n = self.number()?.parse().or_else(|_| self.fail("expected a number of loops"))?;
                    self.keyword("loops")?;
                    self.keyword("out")?;
                    self.expect(";")?;
                    n
                };
                return Ok(if word == "break" { StmtKind::Break(levels) } else { StmtKind::Continue(levels) });
            }
            "return" => {
                self.at += 1;
                if self.eat(";") {
                    return Ok(StmtKind::Return(None));
                }
                let v = self.expr()?;
                self.expect(";")?;
                return Ok(StmtKind::Return(Some(v)));
            }
            "sync_threads" | "grid_sync" if matches!(self.toks.get(self.at + 1), Some((Tok::Punct("("), _))) => {
                self.at += 1;
                self.expect("(")?;
                self.expect(")")?;
                self.expect(";")?;
                return Ok(if word == "sync_threads" { StmtKind::Barrier } else { StmtKind::GridBarrier });
            }
            "fence" => {
                self.at += 1;
                self.expect("(")?;
                let scope = match self.ident()?.as_str() {
                    "Block" => FenceScope::Block,
                    "Device" => FenceScope::Device,
                    "System" => FenceScope::System,
                    other => return self.fail(format!("unknown fence scope `{other}`")),
                };
                self.expect(")")?;
                self.expect(";")?;
                return Ok(StmtKind::Fence(scope));
            }
            _ => {}
        }
        // `print#N([values]);`
        if self.peek_ident("print") && matches!(self.toks.get(self.at + 1), Some((Tok::Punct("#"), _))) {
            self.at += 2;
            let id: u32 = self.number()?.parse().or_else(|_| self.fail("expected a print number"))?;
            self.expect("(")?;
            self.expect("[")?;
            let mut values = Vec::new();
            while !self.eat("]") {
                values.push(self.expr()?);
                self.eat(",");
            }
            self.expect(")")?;
            self.expect(";")?;
            return Ok(StmtKind::Print { id, values });
        }
        // `asm("template", [In expr, Out local, ...]);`
        if self.peek_ident("asm") && matches!(self.toks.get(self.at + 1), Some((Tok::Punct("("), _))) {
            self.at += 2;
            let template = self.string()?;
            self.expect(",")?;
            self.expect("[")?;
            let mut operands = Vec::new();
            while !self.eat("]") {
                let dir = match self.ident()?.as_str() {
                    "In" => AsmDir::In,
                    "Out" => AsmDir::Out,
                    "InOut" => AsmDir::InOut,
                    "Address" => AsmDir::Address,
                    "AddressMut" => AsmDir::AddressMut,
                    other => return self.fail(format!("unknown asm operand kind `{other}`")),
                };
                operands.push((dir, self.expr()?));
                self.eat(",");
            }
            self.expect(")")?;
            self.expect(";")?;
            return Ok(StmtKind::Asm { template, operands });
        }
        // `bulk(op words, [a[i], b[0]]);`
        if self.peek_ident("bulk") && matches!(self.toks.get(self.at + 1), Some((Tok::Punct("("), _))) {
            self.at += 2;
            let mut words = Vec::new();
            while !self.eat(",") {
                match self.peek() {
                    Some(Tok::Ident(w)) => words.push(w.clone()),
                    Some(Tok::Num(n)) => words.push(n.clone()),
                    _ => return self.fail("expected the words of a bulk operation"),
                }
                self.at += 1;
            }
            let refs: Vec<&str> = words.iter().map(String::as_str).collect();
            let Some(op) = crate::ir::BulkOp::parse(&refs) else {
                return self.fail(format!("unknown bulk operation `{}`", words.join(" ")));
            };
            self.expect("[")?;
            let mut operands = Vec::new();
            while !self.eat("]") {
                let e = self.expr()?;
                let TypedExprKind::Load { array, index } = e.kind else {
                    return self.fail("a bulk operand is an array element, `a[i]`");
                };
                operands.push(crate::ir::Element { array, index });
                self.eat(",");
            }
            let mut values = Vec::new();
            if self.eat(",") {
                self.expect("[")?;
                while !self.eat("]") {
                    values.push(self.expr()?);
                    self.eat(",");
                }
            }
            self.expect(")")?;
            self.expect(";")?;
            return Ok(StmtKind::Bulk { op, operands, values });
        }
        // `assert#N(cond, [values]);`
        if self.peek_ident("assert") && matches!(self.toks.get(self.at + 1), Some((Tok::Punct("#"), _))) {
            self.at += 2;
            let id: u32 = self.number()?.parse().or_else(|_| self.fail("expected an assertion number"))?;
            self.expect("(")?;
            let cond = self.expr()?;
            self.expect(",")?;
            self.expect("[")?;
            let mut values = Vec::new();
            while !self.eat("]") {
                values.push(self.expr()?);
                self.eat(",");
            }
            self.expect(")")?;
            self.expect(";")?;
            return Ok(StmtKind::Assert { id, cond, values });
        }
        // `name_N: T = value;`
        if let (Some(Tok::Ident(name)), Some((Tok::Punct(":"), _))) = (self.peek().cloned(), self.toks.get(self.at + 1)) {
            self.at += 2;
            let ty = self.scalar_type()?;
            self.expect("=")?;
            let value = self.expr()?;
            self.expect(";")?;
            let Some(local) = self.local(&name, Some(ty)) else {
                return self.fail(format!("`{name}` is not a local (`name_N`)"));
            };
            return Ok(StmtKind::Assign { local, value });
        }
        // `array[index] = value;`, `array[index].field = value;` or an expression for its effect.
        if let Some(Tok::Ident(name)) = self.peek().cloned() {
            if let (Some(array), Some((Tok::Punct("["), _))) = (self.array(&name), self.toks.get(self.at + 1)) {
                let save = self.at;
                self.at += 1;
                let index = self.index()?;
                let elem = self.kernel.array_info(array).map(|(t, _)| t).unwrap_or(ScalarType::Bool);
                let (path, _) = self.path(elem)?;
                if self.eat("=") {
                    let value = self.expr()?;
                    self.expect(";")?;
                    return Ok(match path.is_empty() {
                        true => StmtKind::Store { array, index, value },
                        false => StmtKind::StoreField { array, index, path, value },
                    });
                }
                self.at = save;
            }
            // `name_N.field = value;`
            if matches!(self.toks.get(self.at + 1), Some((Tok::Punct("."), _))) {
                if let Some(local) = self.local_known(&name) {
                    let save = self.at;
                    self.at += 1;
                    let (path, _) = self.path(self.kernel.locals[local as usize].ty)?;
                    if !path.is_empty() && self.eat("=") {
                        let value = self.expr()?;
                        self.expect(";")?;
                        return Ok(StmtKind::AssignField { local, path, value });
                    }
                    self.at = save;
                }
            }
        }
        let e = self.expr()?;
        self.expect(";")?;
        Ok(StmtKind::Eval(e))
    }

    fn for_range(&mut self) -> R<StmtKind> {
        self.keyword("for")?;
        let name = self.ident()?;
        self.keyword("in")?;
        self.expect("(")?;
        let start = self.expr()?;
        let inclusive = if self.eat("..=") {
            true
        } else {
            self.expect("..")?;
            false
        };
        let end = self.expr()?;
        self.expect(")")?;
        self.expect(".")?;
        let reverse = self.peek_ident("rev") && {
            self.at += 1;
            self.expect("(")?;
            self.expect(")")?;
            self.expect(".")?;
            true
        };
        self.keyword("step_by")?;
        self.expect("(")?;
        let step = self.expr()?;
        self.expect(")")?;
        let Some(var) = self.local(&name, Some(start.ty)) else {
            return self.fail(format!("`{name}` is not a local (`name_N`)"));
        };
        let body = self.block()?;
        Ok(StmtKind::ForRange { var, start, end, step, inclusive, reverse, unroll: None, body })
    }

    /// `[i]` or `[[i, j]]`, after the array's name.
    fn index(&mut self) -> R<Vec<TypedExpr>> {
        self.expect("[")?;
        let double = self.eat("[");
        let mut out = vec![self.expr()?];
        while self.eat(",") {
            out.push(self.expr()?);
        }
        self.expect("]")?;
        if double {
            self.expect("]")?;
        }
        Ok(out)
    }

    fn expr(&mut self) -> R<TypedExpr> {
        self.binary(1)
    }

    /// Operators are always parenthesized in the text, but precedence is honoured anyway.
    fn binary(&mut self, min: u8) -> R<TypedExpr> {
        let mut lhs = self.unary()?;
        while let Some(Tok::Punct(p)) = self.peek() {
            let Some(&(_, op, prec)) = BINARY.iter().find(|(s, _, _)| s == p) else { break };
            if prec < min {
                break;
            }
            self.at += 1;
            let rhs = self.binary(prec + 1)?;
            // A real operand beside a complex one: the result is complex.
            let ty = if op.is_comparison() {
                ScalarType::Bool
            } else if rhs.ty.is_complex() {
                rhs.ty
            } else {
                lhs.ty
            };
            lhs = TypedExpr::new(TypedExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), ty);
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> R<TypedExpr> {
        // `-5i32`: a negative constant (the negation of 5 is written `-(5i32)`).
        if self.peek_is("-") && matches!(self.toks.get(self.at + 1), Some((Tok::Num(_), _))) {
            self.at += 1;
            let c = self.constant(true)?;
            return self.postfix(c);
        }
        for (p, op) in [("-", UnOp::Neg), ("!", UnOp::Not)] {
            if self.eat(p) {
                let a = self.unary()?;
                let ty = a.ty;
                return Ok(TypedExpr::new(TypedExprKind::Unary(op, Box::new(a)), ty));
            }
        }
        let e = self.primary()?;
        self.postfix(e)
    }

    /// `.method(args)` after a value: a math method.
    fn postfix(&mut self, mut e: TypedExpr) -> R<TypedExpr> {
        while self.peek_is(".") && !matches!(self.toks.get(self.at + 1), Some((Tok::Punct("."), _))) {
            let save = self.at;
            self.at += 1;
            let Ok(method) = self.ident() else {
                self.at = save;
                break;
            };
            if e.ty.field(&method).is_some() {
                // `z.re`, `p.pos[2]`: a field.
                self.at = save;
                let (path, ty) = self.path(e.ty)?;
                e = TypedExpr::new(TypedExprKind::Field(Box::new(e), path), ty);
                continue;
            }
            let complex = ComplexFn::ALL.iter().copied().find(|f| f.is_method() && f.name() == method);
            if let (true, Some(f)) = (e.ty.is_complex(), complex) {
                let ty = ComplexFn::type_of(f.ret(), e.ty);
                let mut args = vec![e];
                args.extend(self.args()?);
                e = TypedExpr::new(TypedExprKind::Complex(f, args), ty);
                continue;
            }
            let Some(f) = MathFn::from_method(&method) else {
                return self.fail(format!("`{method}` is not a math method"));
            };
            let mut args = vec![e];
            self.expect("(")?;
            while !self.eat(")") {
                args.push(self.expr()?);
                self.eat(",");
            }
            let Some(ty) = f.result(args[0].ty) else {
                return self.fail(format!("`{method}` is not defined on {}", args[0].ty));
            };
            e = TypedExpr::new(TypedExprKind::Math(f, args), ty);
        }
        Ok(e)
    }

    fn constant(&mut self, negative: bool) -> R<TypedExpr> {
        let text = self.number()?;
        let split = text.find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E').unwrap_or(text.len());
        // `NaNf32` and `inff64`: the value is the alphabetic part's head.
        let (value, suffix) = if let Some(rest) = text.strip_prefix("NaN") {
            ("NaN", rest)
        } else if let Some(rest) = text.strip_prefix("inf") {
            ("inf", rest)
        } else {
            text.split_at(split)
        };
        let Some(ty) = scalar(suffix) else {
            return self.fail(format!("the literal `{text}` has no type suffix"));
        };
        if ty.is_float() {
            let v: f64 = value.parse().or_else(|_| self.fail(format!("bad float `{text}`")))?;
            return Ok(TypedExpr::new(TypedExprKind::Const(Const::Float(if negative { -v } else { v })), ty));
        }
        let v: u64 = value.parse().or_else(|_| self.fail(format!("bad integer `{text}`")))?;
        let bits = if negative { v.wrapping_neg() } else { v };
        // Signed constants hold their two's-complement bits in the type's width.
        let bits = if ty.bits() < 64 { bits & ((1u64 << ty.bits()) - 1) } else { bits };
        Ok(TypedExpr::new(TypedExprKind::Const(Const::Int(bits)), ty))
    }

    fn args(&mut self) -> R<Vec<TypedExpr>> {
        self.expect("(")?;
        let mut out = Vec::new();
        while !self.eat(")") {
            out.push(self.expr()?);
            self.eat(",");
        }
        Ok(out)
    }

    fn primary(&mut self) -> R<TypedExpr> {
        if self.eat("(") {
            let inner = self.expr()?;
            if self.peek_ident("as") {
                self.at += 1;
                let ty = self.scalar_type()?;
                self.expect(")")?;
                return Ok(TypedExpr::new(TypedExprKind::Cast(Box::new(inner)), ty));
            }
            self.expect(")")?;
            return Ok(inner);
        }
        if let Some(Tok::Num(_)) = self.peek() {
            return self.constant(false);
        }
        if self.eat("#") {
            return self.fail("unexpected `#`");
        }
        let name = self.ident()?;
        let k = &self.kernel;
        match name.as_str() {
            "true" | "false" => return Ok(TypedExpr::new(TypedExprKind::Const(Const::Bool(name == "true")), ScalarType::Bool)),
            "call" => return self.call(),
            _ => {}
        }
        if let (Some(t), true) = (ScalarType::from_rust_name(&name).filter(|t| t.is_float()), self.peek_is(":")) {
            // `f32::from_bits(x)`.
            self.expect(":")?;
            self.expect(":")?;
            let f = self.ident()?;
            if f != "from_bits" {
                return self.fail(format!("`{name}::{f}` is not an IR expression"));
            }
            self.expect("(")?;
            let bits = self.expr()?;
            self.expect(")")?;
            return Ok(TypedExpr::new(TypedExprKind::FromBits(Box::new(bits)), t));
        }
        if let (Some(d), true) = (self.structs.iter().copied().find(|d| d.name == name), self.peek_is("{")) {
            // `Particle { a, b, c }`: the fields in order.
            self.expect("{")?;
            let mut args = Vec::new();
            while !self.eat("}") {
                args.push(self.expr()?);
                self.eat(",");
            }
            return Ok(TypedExpr::new(TypedExprKind::Construct(args), ScalarType::Struct(d)));
        }
        if name == "Complex" && self.peek_is(":") {
            // `Complex::<f32>::new(re, im)`.
            self.expect(":")?;
            self.expect(":")?;
            self.expect("<")?;
            let part = self.scalar_type()?;
            self.expect(">")?;
            let Some(t) = part.complex() else {
                return self.fail(format!("`Complex<{part}>` is not a complex type"));
            };
            self.expect(":")?;
            self.expect(":")?;
            let f = self.ident()?;
            let Some(f) = ComplexFn::from_function(&f) else {
                return self.fail(format!("`Complex::{f}` is not an IR expression"));
            };
            let args = self.args()?;
            return Ok(TypedExpr::new(TypedExprKind::Complex(f, args), t));
        }
        if name == "philox" && self.peek_is("(") {
            // `philox(seed_1, sub_2, drawn_3).next_u32()`: a draw from a generator's locals.
            self.expect("(")?;
            let mut state = [0; 3];
            for (i, slot) in state.iter_mut().enumerate() {
                if i > 0 {
                    self.expect(",")?;
                }
                let local = self.ident()?;
                let Some(l) = self.local(&local, None) else {
                    return self.fail(format!("cannot resolve `{local}`"));
                };
                *slot = l;
            }
            self.expect(")")?;
            self.expect(".")?;
            let method = self.ident()?;
            let Some(draw) = crate::random::Draw::from_method(&method) else {
                return self.fail(format!("`{method}` is not a generator's method"));
            };
            self.expect("(")?;
            self.expect(")")?;
            let [seed, subsequence, drawn] = state;
            return Ok(TypedExpr::new(TypedExprKind::Random { draw, seed, subsequence, drawn }, draw.ty()));
        }
        if let Some(f) = MathFn::from_function(&name) {
            let args = self.args()?;
            let Some(ty) = args.first().and_then(|a| f.result(a.ty)) else {
                return self.fail(format!("`{name}` on these operands"));
            };
            return Ok(TypedExpr::new(TypedExprKind::Math(f, args), ty));
        }
        if let Some(b) = builtins().into_iter().find(|b| b.name() == name) {
            self.expect("(")?;
            self.expect(")")?;
            return Ok(TypedExpr::new(TypedExprKind::Special(b), ScalarType::U64));
        }
        if let Some(c) = Collective::ALL.iter().copied().find(|c| c.name() == name) {
            let args = self.args()?;
            let value = args.iter().zip(c.operands()).find(|(_, o)| o.fixed().is_none()).map(|(a, _)| a.ty);
            let ty = c.result().or(value).unwrap_or(ScalarType::U32);
            return Ok(TypedExpr::new(TypedExprKind::Collective(c, args), ty));
        }
        if let Some(op) = AtomicOp::ALL.iter().copied().find(|o| o.name() == name) {
            self.expect("(")?;
            let array_name = self.ident()?;
            let Some(array) = self.array(&array_name) else {
                return self.fail(format!("`{array_name}` is not an array"));
            };
            self.expect(",")?;
            let index = self.index()?;
            let mut values = Vec::new();
            while self.eat(",") {
                values.push(self.expr()?);
            }
            self.expect(")")?;
            let ty = self.kernel.array_info(array).map(|(t, _)| t).unwrap_or(ScalarType::U32);
            return Ok(TypedExpr::new(TypedExprKind::Atomic { op, array, index, values }, ty));
        }
        if let Some(p) = k.params.iter().position(|p| p.name == name && matches!(p.ty, ParamType::Scalar(_))) {
            let ParamType::Scalar(t) = k.params[p].ty else { unreachable!("matched a scalar parameter") };
            return Ok(TypedExpr::new(TypedExprKind::Param(p as u32), t));
        }
        if let Some(array) = self.array(&name) {
            if self.peek_is("[") {
                let index = self.index()?;
                let ty = self.kernel.array_info(array).map(|(t, _)| t).unwrap_or(ScalarType::U32);
                return Ok(TypedExpr::new(TypedExprKind::Load { array, index }, ty));
            }
            self.expect(".")?;
            let method = self.ident()?;
            self.expect("(")?;
            let e = match (method.as_str(), array) {
                ("len", _) => TypedExpr::new(TypedExprKind::Len(array), ScalarType::U64),
                ("shape" | "stride", ArrayRef::Param(p)) => {
                    let axis = self.number()?.parse().or_else(|_| self.fail("expected an axis"))?;
                    let stride = method == "stride";
                    TypedExpr::new(
                        TypedExprKind::ArrayDim { array: p, axis, stride },
                        if stride { ScalarType::I64 } else { ScalarType::U64 },
                    )
                }
                _ => return self.fail(format!("unknown array method `{method}`")),
            };
            self.expect(")")?;
            return Ok(e);
        }
        match self.local(&name, None) {
            Some(l) => {
                let ty = self.kernel.locals[l as usize].ty;
                Ok(TypedExpr::new(TypedExprKind::Local(l), ty))
            }
            None => self.fail(format!("cannot resolve `{name}`")),
        }
    }

    /// `call#N(args)`, of the type its callee returns (`u32` for none: a call as a statement).
    fn call(&mut self) -> R<TypedExpr> {
        self.expect("#")?;
        let func: u32 = self.number()?.parse().or_else(|_| self.fail("expected a function number"))?;
        self.expect("(")?;
        let mut args = Vec::new();
        while !self.eat(")") {
            // A bare array name is an array argument.
            let bare_array = match (self.peek(), self.toks.get(self.at + 1)) {
                (Some(Tok::Ident(n)), Some((Tok::Punct("," | ")"), _))) => self.array(n),
                _ => None,
            };
            let arg = match bare_array {
                Some(array) => {
                    self.at += 1;
                    CallArg::Array(array)
                }
                None => CallArg::Value(self.expr()?),
            };
            args.push(arg);
            self.eat(",");
        }
        let ty = self.rets.get(func as usize).copied().flatten().unwrap_or(ScalarType::U32);
        Ok(TypedExpr::new(TypedExprKind::Call { func, args }, ty))
    }
}
