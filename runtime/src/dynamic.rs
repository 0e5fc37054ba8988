//! Expressions and reductions typed at run time, for front ends whose arrays carry their element
//! type as a value (the Python module): the same fused kernels, cache and plans as [`Expr`] and
//! [`Reduction`], built without Rust's type parameters.
//!
//! The builder states the element type each operation gives ([`DynExpr::apply`]). gpujit checks
//! the generated kernel like any other, so an operation on mismatched types (an `f32` plus an
//! `f64` without a cast) is a compile error naming the expression, never wrong code: a front end
//! inserts its own casts, by its own promotion rules.
//!
//! ```
//! use gpujit_codegen::{ast::BinOp, ScalarType};
//! use gpujit_runtime::dynamic::DynExpr;
//! use gpujit_runtime::expr::Node;
//! use gpujit_runtime::{Device, DeviceArray, KernelArg};
//! # fn main() -> gpujit_runtime::Result<()> {
//! let dev = Device::cpu();
//! let x = DeviceArray::from_slice(&dev, &[1.0f32, 2.0, 3.0])?;
//! let mut out = DeviceArray::<f64>::zeros(&dev, 3)?;
//! let xs = DynExpr::input(&x).cast(ScalarType::F64);
//! let two = DynExpr::input(2.0f64);
//! let y = DynExpr::apply(Node::Binary(BinOp::Mul), &[xs, two], ScalarType::F64);
//! y.eval_into((&mut out).into_arg(), None)?;
//! assert_eq!(out.to_vec()?, vec![2.0, 4.0, 6.0]);
//! # Ok(()) }
//! ```

use crate::error::{Error, Result};
use crate::expr::{Expr, ExprGraph, Node};
use crate::fuse::Fusion;
use crate::launch::{Arg, KernelArg};
use crate::reduce::{Finish, ReduceOp, Reduction};
use crate::stream::Stream;
use gpujit_codegen::ScalarType;

/// An expression whose element type is a value.
#[derive(Clone, Debug)]
pub struct DynExpr<'a> {
    graph: ExprGraph<'a>,
    elem: ScalarType,
}

impl<'a> DynExpr<'a> {
    /// An operand: an array (read at the current index, broadcast by NumPy's rules) or a scalar.
    pub fn input(arg: impl KernelArg<'a>) -> DynExpr<'a> {
        let arg = arg.into_arg();
        let elem = match arg {
            Arg::Array { elem, .. } | Arg::Scalar { ty: elem, .. } | Arg::Struct { ty: elem, .. } => elem,
        };
        DynExpr { graph: ExprGraph::leaf(arg), elem }
    }

    /// A constant operand: a scalar that the expression's other constants of the same type and
    /// value share, so an expression of many constants takes few operands. (Its value is part of
    /// the kernel's form: unlike [`DynExpr::input`] scalars, a new value may compile a new
    /// kernel when it makes two constants equal or unequal.)
    pub fn constant(arg: Arg<'static>) -> DynExpr<'a> {
        let mut e = DynExpr::input(arg);
        e.graph.consts = 1;
        e
    }

    /// `node` applied to `operands` (as many as its arity; an `Input` node is refused), giving
    /// elements of `result`.
    pub fn apply(node: Node, operands: &[DynExpr<'a>], result: ScalarType) -> DynExpr<'a> {
        let mut graph = ExprGraph::default();
        for o in operands {
            graph.append(&o.graph);
        }
        if matches!(node, Node::Input(_)) || node.arity() != operands.len() {
            graph.error.get_or_insert(format!("{node:?} takes {} operands, not {}", node.arity(), operands.len()));
        }
        graph.nodes.push(node);
        DynExpr { graph, elem: result }
    }

    /// Each element converted with Rust's `as` (no node when the type is already `to`).
    pub fn cast(self, to: ScalarType) -> DynExpr<'a> {
        if to == self.elem {
            return self;
        }
        DynExpr::apply(Node::Cast(to), &[self], to)
    }

    /// The element type.
    pub fn elem(&self) -> ScalarType {
        self.elem
    }

    /// The broadcast shape (empty for scalars only).
    pub fn shape(&self) -> &[usize] {
        &self.graph.shape
    }

    /// The first error met while building, if any (shapes that do not broadcast, ...).
    pub fn error(&self) -> Option<&str> {
        self.graph.error.as_deref()
    }

    /// Evaluates into `out` (a writable array of the expression's element type, whose shape the
    /// expression broadcasts to), on `stream` or the device's default stream.
    pub fn eval_into(&self, out: Arg<'a>, stream: Option<&'a Stream>) -> Result<()> {
        DynExpr::eval_all_into(std::slice::from_ref(self), &[out], stream)
    }

    /// Evaluates several expressions in ONE kernel, each into its output (all of one shape).
    pub fn eval_all_into(exprs: &[DynExpr<'a>], outs: &[Arg<'a>], stream: Option<&'a Stream>) -> Result<()> {
        if exprs.len() != outs.len() || exprs.is_empty() {
            return Err(Error::Expression(format!("{} expressions for {} outputs", exprs.len(), outs.len())));
        }
        let mut f = Fusion::new();
        for (e, out) in exprs.iter().zip(outs) {
            if let Some(message) = e.error() {
                return Err(Error::Expression(message.to_string()));
            }
            match out {
                Arg::Array { elem, .. } if *elem != e.elem => {
                    return Err(Error::Expression(format!("the output holds {elem} but the expression gives {}", e.elem)));
                }
                _ => {}
            }
            f = f.output_graph(*out, &e.graph);
        }
        if let Some(s) = stream {
            f = f.on(s);
        }
        f.run()
    }

    /// A reduction of the expression by `op` (`mean`: the sum divided by the count), giving
    /// elements of `out_elem` (positions, `u64`, for arg-reductions).
    pub fn reduce(self, op: ReduceOp, mean: bool, out_elem: ScalarType) -> DynReduction<'a> {
        let finish = if mean { Finish::Mean } else { Finish::None };
        DynReduction { inner: Reduction::with_types(self.graph, op, finish, self.elem, out_elem) }
    }

    /// The expression as a typed one, for the typed API's methods. Its element type must be `T`
    /// (else the kernel it makes fails to compile).
    pub fn typed<T: crate::Element>(self) -> Expr<'a, T> {
        Expr::from_graph(self.graph)
    }
}

/// A reduction of a [`DynExpr`]: choose the axes, then evaluate into an array.
#[derive(Clone, Debug)]
pub struct DynReduction<'a> {
    inner: Reduction<'a, u8, u8>,
}

impl<'a> DynReduction<'a> {
    /// Reduces only along `axes`; the others are kept.
    pub fn axes(self, axes: &[usize]) -> DynReduction<'a> {
        DynReduction { inner: self.inner.axes(axes) }
    }

    /// Keeps each reduced axis as an axis of extent 1.
    pub fn keepdims(self, keep: bool) -> DynReduction<'a> {
        DynReduction { inner: self.inner.keepdims(keep) }
    }

    /// Runs on `stream` instead of the device's default stream.
    pub fn on(self, stream: &'a Stream) -> DynReduction<'a> {
        DynReduction { inner: self.inner.on(stream) }
    }

    /// The shape of the result.
    pub fn result_shape(&self) -> Result<Vec<usize>> {
        self.inner.result_shape()
    }

    /// Evaluates into `out`: a contiguous writable array of the result's element type with the
    /// result's number of elements.
    pub fn eval_into(&self, out: Arg<'a>) -> Result<()> {
        self.inner.eval_into(out)
    }
}
