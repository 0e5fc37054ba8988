//! Names of a kernel body: its own (parameters, locals, loop variables, arrays) and the Rust
//! constants it names from outside: module or `use`d `const` items, associated constants of
//! user types (`Config::TILE`), and the kernel's const generic parameters. The macro cannot know
//! those values; the code it generates can, so an outside name is kept as a marked `Var`
//! ([`OUTER`] then the path) that `tokens.rs` turns into `gpujit::__private::constant(path)`,
//! evaluated when the source form is built (per const generic instance).

use gpujit_lang::ast::{Block, ExprKind, KernelSource, SourceExpr, Stmt};
use proc_macro2::Span;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

thread_local! {
    /// Where each name or path was first written in the function being expanded, so that the
    /// code capturing an outside constant points rustc's errors at it. (A macro invocation runs
    /// on one thread, start to end; [`forget_spans`] starts each one afresh.)
    static SPANS: RefCell<HashMap<String, Span>> = RefCell::new(HashMap::new());
}

/// Starts a function's expansion with no spans remembered.
pub fn forget_spans() {
    SPANS.with(|s| s.borrow_mut().clear());
}

/// Remembers where `name` (an identifier or a path, `a::B`) was first written.
pub fn remember_span(name: &str, span: Span) {
    SPANS.with(|s| {
        s.borrow_mut().entry(name.to_string()).or_insert(span);
    });
}

/// Where `name` was first written, if it was.
pub fn span_of(name: &str) -> Option<Span> {
    SPANS.with(|s| s.borrow().get(name).copied())
}

/// The first character of a marked name: no Rust identifier starts with it.
pub const OUTER: char = '$';

/// The Rust path of a marked name (`"$config::TILE"` → `config::TILE`).
pub fn outer_path(name: &str) -> Option<&str> {
    name.strip_prefix(OUTER)
}

/// Marks every name of `src`'s body that no parameter, local or array binds.
pub fn mark_outer_names(src: &mut KernelSource) {
    let mut scopes = Scopes(vec![src.params.iter().map(|p| p.name.clone()).collect()]);
    scopes.block(&mut src.body);
}

struct Scopes(Vec<HashSet<String>>);

impl Scopes {
    fn bound(&self, n: &str) -> bool {
        self.0.iter().rev().any(|s| s.contains(n))
    }

    fn bind(&mut self, n: &str) {
        if let Some(s) = self.0.last_mut() {
            s.insert(n.to_string());
        }
    }

    fn block(&mut self, b: &mut Block) {
        self.0.push(HashSet::new());
        for s in &mut b.stmts {
            self.stmt(s);
        }
        self.0.pop();
    }

    fn stmt(&mut self, s: &mut Stmt) {
        match s {
            // The initializer sees the names bound before the `let`, not its own.
            Stmt::Let { name, init, .. } => {
                if let Some(e) = init {
                    self.expr(e);
                }
                self.bind(name);
            }
            Stmt::Assign { place, value, .. } => {
                place.exprs_mut().into_iter().for_each(|e| self.expr(e));
                self.expr(value);
            }
            Stmt::If { cond, then, otherwise, .. } => {
                self.expr(cond);
                self.block(then);
                if let Some(o) = otherwise {
                    self.block(o);
                }
            }
            Stmt::While { cond, body, .. } => {
                self.expr(cond);
                self.block(body);
            }
            Stmt::For { var, range, body, .. } => {
                self.expr(&mut range.start);
                self.expr(&mut range.end);
                if let Some(step) = &mut range.step {
                    self.expr(step);
                }
                self.0.push([var.clone()].into_iter().collect());
                self.block(body);
                self.0.pop();
            }
            Stmt::Block(b) => self.block(b),
            Stmt::Return(Some(e), _) | Stmt::Eval(e) => self.expr(e),
            Stmt::Assert(a) => a.exprs_mut().for_each(|e| self.expr(e)),
            Stmt::Print(p) => p.args.iter_mut().for_each(|e| self.expr(e)),
            Stmt::Asm(a) => a.operands.iter_mut().for_each(|(_, e)| self.expr(e)),
            Stmt::Bulk(b) => {
                self.expr(&mut b.count);
                b.operands.iter_mut().for_each(|e| self.expr(e));
                b.values.iter_mut().for_each(|e| self.expr(e));
                if let Some((name, _)) = &b.declares {
                    self.bind(name);
                }
            }
            Stmt::Shared { name, dims, .. } => {
                dims.iter_mut().for_each(|d| self.expr(d));
                self.bind(name);
            }
            Stmt::Local { name, len, .. } => {
                self.expr(len);
                self.bind(name);
            }
            Stmt::Return(None, _) | Stmt::Break(..) | Stmt::Continue(..) | Stmt::Barrier(_) | Stmt::GridBarrier(_) | Stmt::Fence(..) => {}
        }
    }

    fn expr(&mut self, e: &mut SourceExpr) {
        if let ExprKind::Var(n) = &mut e.kind {
            if outer_path(n).is_none() && !self.bound(n) {
                *n = format!("{OUTER}{n}");
            }
        }
        for c in e.children_mut() {
            self.expr(c);
        }
    }
}
