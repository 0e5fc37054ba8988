//! Lazy array expressions: [`Expr<T>`], built with Rust's operators and math methods from arrays,
//! views and scalars, and evaluated as ONE fused kernel by [`crate::fuse`].
//!
//! ```ignore
//! let z = (expr(&x) * 2.0 + &y).exp().eval()?; // one kernel: z[i] = exp(x[i] * 2 + y[i])
//! ```
//!
//! An expression records its operations in postfix order ([`Node`]) and its operands (arrays
//! and scalars) as launch arguments. Scalars are kernel parameters, so changing their values never
//! recompiles; the compiled kernel depends only on the operations, the operands' element types
//! and dimensions, and the layouts (see [`crate::fuse`]). Shapes broadcast as in NumPy; an error
//! (shapes that do not broadcast, operands on two devices) is kept and reported by `eval`.
//!
//! Types follow Rust, not NumPy: both operands of `+` have the same element type, and a change
//! of type is written, `x.cast::<f64>()`. `min`/`max` follow `f32::min`/`f32::max` (a NaN operand
//! is ignored); `clamp` keeps a NaN. Integer arithmetic wraps; integer division by zero gives 0.
//! Expressions of `f16`/`bf16` compute in f32 and round once, where a value leaves the expression
//! (its output, or a `cast`), as torch.compile and Triton do.

use crate::array::{ArrayView, ArrayViewMut, DeviceArray, Element};
use crate::launch::{Arg, KernelArg};
use gpujit_codegen::ast::{BinOp, Callee, KernelSource, UnOp};
use gpujit_codegen::complex::ComplexFn;
use gpujit_codegen::math::MathFn;
use gpujit_codegen::specialize::MAX_DIMS;
use gpujit_codegen::ScalarType;
use num_complex::Complex;
use smallvec::SmallVec;
use std::marker::PhantomData;
use std::ops;

/// One operation of an expression, in postfix order: operands come before their operation.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// Operand `k`: an array (read at the current index) or a scalar parameter.
    Input(u8),
    Unary(UnOp),
    Binary(BinOp),
    /// A math method; its arity says how many values it takes.
    Math(MathFn),
    Cast(ScalarType),
    /// `select(cond, a, b)`: three values.
    Select,
    /// `x.clamp(lo, hi)`: three values; a NaN `x` stays NaN.
    Clamp,
    /// A complex function or method (`Complex::new`, `conj`, `norm`, ...).
    Complex(ComplexFn),
    /// Field `re` (0) or `im` (1) of a complex value.
    Field(u8),
    /// Device function `k` of the expression's callees, taking `arity` values.
    Call {
        callee: u8,
        arity: u8,
    },
}

impl Node {
    /// How many values the operation takes from the stack.
    pub fn arity(self) -> usize {
        match self {
            Node::Input(_) => 0,
            Node::Unary(_) | Node::Cast(_) | Node::Field(_) => 1,
            Node::Complex(f) => f.params().len(),
            Node::Binary(_) => 2,
            Node::Math(f) => f.arity(),
            Node::Select | Node::Clamp => 3,
            Node::Call { arity, .. } => arity as usize,
        }
    }
}

/// The untyped body of an expression: operations, operands, and the broadcast shape so far.
#[derive(Clone, Debug, Default)]
pub struct ExprGraph<'a> {
    pub(crate) nodes: SmallVec<[Node; 24]>,
    pub(crate) inputs: Inputs<'a>,
    /// The broadcast shape of the array operands (empty: scalars only).
    pub(crate) shape: SmallVec<[usize; 4]>,
    /// The device functions `Node::Call` refers to.
    pub(crate) callees: Vec<Callee>,
    /// The first error met while building (reported when the expression is evaluated).
    pub(crate) error: Option<String>,
    /// The inputs (by bit) that are constants: an equal constant appended later is the same
    /// input ([`crate::dynamic::DynExpr::constant`]).
    pub(crate) consts: u32,
}

/// The operands of an expression: the first three inline, so building a typical expression
/// allocates nothing. (Not a `SmallVec`, which would make `ExprGraph<'a>` invariant in `'a`; an array
/// is covariant.)
#[derive(Clone, Debug)]
pub(crate) struct Inputs<'a> {
    inline: [Arg<'a>; INLINE_INPUTS],
    len: u8,
    rest: Vec<Arg<'a>>,
}

const INLINE_INPUTS: usize = 3;

impl Default for Inputs<'_> {
    fn default() -> Self {
        Inputs { inline: [Arg::NONE; INLINE_INPUTS], len: 0, rest: Vec::new() }
    }
}

impl<'a> Inputs<'a> {
    pub(crate) fn len(&self) -> usize {
        self.len as usize + self.rest.len()
    }

    pub(crate) fn iter(&self) -> std::iter::Chain<std::slice::Iter<'_, Arg<'a>>, std::slice::Iter<'_, Arg<'a>>> {
        self.inline[..self.len as usize].iter().chain(self.rest.iter())
    }

    pub(crate) fn push(&mut self, a: Arg<'a>) {
        if (self.len as usize) < INLINE_INPUTS {
            self.inline[self.len as usize] = a;
            self.len += 1;
        } else {
            self.rest.push(a);
        }
    }

    fn one(a: Arg<'a>) -> Inputs<'a> {
        let mut inputs = Inputs::default();
        inputs.push(a);
        inputs
    }
}

impl<'s, 'a> IntoIterator for &'s Inputs<'a> {
    type Item = &'s Arg<'a>;
    type IntoIter = std::iter::Chain<std::slice::Iter<'s, Arg<'a>>, std::slice::Iter<'s, Arg<'a>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The most operands (arrays and scalars) one expression may have.
pub const MAX_OPERANDS: usize = 20;

/// The most distinct device functions one expression may call.
pub const MAX_CALLEES: usize = 32;

impl<'a> ExprGraph<'a> {
    /// The graph of one operand.
    pub(crate) fn leaf(arg: Arg<'a>) -> ExprGraph<'a> {
        ExprGraph::input(arg)
    }

    fn input(arg: Arg<'a>) -> ExprGraph<'a> {
        let shape = match arg {
            Arg::Array { ndim, shape, .. } => shape[..ndim as usize].iter().map(|&s| s as usize).collect(),
            Arg::Scalar { .. } | Arg::Struct { .. } => SmallVec::new(),
        };
        let inputs = Inputs::one(arg);
        let mut nodes = SmallVec::new();
        nodes.push(Node::Input(0));
        ExprGraph { nodes, inputs, shape, callees: Vec::new(), error: None, consts: 0 }
    }

    /// Appends `other`'s operations (its operands merged into ours: an array passed twice is read
    /// once), broadcasting the shapes.
    pub(crate) fn append(&mut self, other: &ExprGraph<'a>) {
        if self.error.is_none() {
            self.error = other.error.clone();
        }
        // Operand and callee numbers of `other` in `self` (no allocation: this runs for every
        // operator of every expression a loop builds).
        // Past MAX_OPERANDS the expression is an error anyway; the maps stay small.
        let mut remap = [0u8; 2 * MAX_OPERANDS];
        for (k, a) in other.inputs.iter().enumerate().take(2 * MAX_OPERANDS) {
            let constant = k < 32 && other.consts & (1 << k) != 0;
            let found = match a {
                Arg::Array { .. } => self.inputs.iter().position(|b| same_array(a, b)),
                Arg::Scalar { ty, bits } if constant => self.inputs.iter().enumerate().position(|(j, b)| {
                    j < 32 && self.consts & (1 << j) != 0 && matches!(b, Arg::Scalar { ty: t, bits: v } if t == ty && v == bits)
                }),
                Arg::Scalar { .. } | Arg::Struct { .. } => None,
            };
            remap[k] = match found {
                Some(k) => k,
                None => {
                    self.inputs.push(*a);
                    let j = self.inputs.len() - 1;
                    if constant && j < 32 {
                        self.consts |= 1 << j;
                    }
                    j
                }
            } as u8;
        }
        if self.inputs.len() > MAX_OPERANDS && self.error.is_none() {
            self.error = Some(format!("an expression takes at most {MAX_OPERANDS} operands (arrays and scalars)"));
        }
        let mut callee_map = [0u8; MAX_CALLEES];
        for (k, c) in other.callees.iter().enumerate().take(MAX_CALLEES) {
            callee_map[k] = match self.callees.iter().position(|d| d.name == c.name) {
                Some(k) => k,
                None => {
                    self.callees.push(*c);
                    self.callees.len() - 1
                }
            } as u8;
        }
        if other.callees.len() > MAX_CALLEES && self.error.is_none() {
            self.error = Some(format!("an expression calls at most {MAX_CALLEES} distinct device functions"));
        }
        self.nodes.extend(other.nodes.iter().map(|n| match *n {
            Node::Input(k) => Node::Input(remap[k as usize]),
            Node::Call { callee, arity } => Node::Call { callee: callee_map[callee as usize], arity },
            n => n,
        }));
        if other.shape.is_empty() || other.shape == self.shape {
            return;
        }
        match broadcast_shapes(&self.shape, &other.shape) {
            Some(s) => self.shape = SmallVec::from_vec(s),
            None => {
                if self.error.is_none() {
                    self.error = Some(format!("shapes {:?} and {:?} cannot be broadcast together", self.shape, other.shape));
                }
            }
        }
    }

    /// Appends one operand (an array or scalar whose type the caller has checked), as `append`
    /// of its one-node graph would, without building that graph.
    pub(crate) fn push_leaf(&mut self, a: Arg<'a>) {
        let found = match a {
            Arg::Array { .. } => self.inputs.iter().position(|b| same_array(&a, b)),
            Arg::Scalar { .. } | Arg::Struct { .. } => None,
        };
        let k = found.unwrap_or_else(|| {
            self.inputs.push(a);
            self.inputs.len() - 1
        });
        if self.inputs.len() > MAX_OPERANDS && self.error.is_none() {
            self.error = Some(format!("an expression takes at most {MAX_OPERANDS} operands (arrays and scalars)"));
        }
        self.nodes.push(Node::Input(k.min(u8::MAX as usize) as u8));
        if let Arg::Array { ndim, shape, .. } = a {
            let mut dims = [0usize; MAX_DIMS];
            for (d, s) in dims.iter_mut().zip(&shape[..ndim as usize]) {
                *d = *s as usize;
            }
            let other = &dims[..ndim as usize];
            if other != self.shape.as_slice() {
                match broadcast_shapes(&self.shape, other) {
                    Some(s) => self.shape = SmallVec::from_vec(s),
                    None => {
                        if self.error.is_none() {
                            self.error = Some(format!("shapes {:?} and {:?} cannot be broadcast together", self.shape, other));
                        }
                    }
                }
            }
        }
    }

    fn apply(mut self, operands: &[&ExprGraph<'a>], node: Node) -> ExprGraph<'a> {
        for g in operands {
            self.append(g);
        }
        self.nodes.push(node);
        self
    }
}

fn same_array(a: &Arg<'_>, b: &Arg<'_>) -> bool {
    match (a, b) {
        (
            Arg::Array { elem, ptr, ndim, shape, strides, device, .. },
            Arg::Array { elem: e2, ptr: p2, ndim: n2, shape: s2, strides: t2, device: d2, .. },
        ) => elem == e2 && ptr == p2 && ndim == n2 && shape == s2 && strides == t2 && device.id() == d2.id(),
        _ => false,
    }
}

/// NumPy's broadcasting of two shapes (aligned at the last axis; extents equal or 1).
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for (d, o) in out.iter_mut().enumerate() {
        let x = if d + a.len() >= n { a[d + a.len() - n] } else { 1 };
        let y = if d + b.len() >= n { b[d + b.len() - n] } else { 1 };
        *o = match (x, y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    if n > MAX_DIMS {
        return None;
    }
    Some(out)
}

/// A lazy expression whose elements are `T`: nothing runs until it is evaluated
/// ([`Expr::eval`], [`Expr::eval_into`], [`crate::fuse::Fusion`]) or reduced ([`Expr::sum`], ...).
#[derive(Clone, Debug)]
pub struct Expr<'a, T: Element> {
    pub(crate) graph: ExprGraph<'a>,
    _t: PhantomData<T>,
}

impl<'a, T: Element> Expr<'a, T> {
    pub(crate) fn from_graph(graph: ExprGraph<'a>) -> Expr<'a, T> {
        Expr { graph, _t: PhantomData }
    }

    /// An expression reading a kernel argument: an array (`&DeviceArray`, a view, an
    /// [`crate::ExternalArray`], ...) or a scalar. Its element type must be `T`.
    pub fn input(arg: impl KernelArg<'a>) -> Expr<'a, T> {
        let arg = arg.into_arg();
        let mut graph = ExprGraph::input(arg);
        let elem = match arg {
            Arg::Array { elem, .. } | Arg::Scalar { ty: elem, .. } | Arg::Struct { ty: elem, .. } => elem,
        };
        if elem != T::TYPE {
            graph.error = Some(format!("an operand holds {elem} but the expression is of {}", T::TYPE));
        }
        Expr::from_graph(graph)
    }

    /// The expression's untyped body (for generated code).
    #[doc(hidden)]
    pub fn into_graph(self) -> ExprGraph<'a> {
        self.graph
    }

    /// The broadcast shape of the result (empty for an expression of scalars only).
    pub fn shape(&self) -> &[usize] {
        &self.graph.shape
    }

    /// The operations in postfix order.
    pub fn nodes(&self) -> &[Node] {
        &self.graph.nodes
    }

    fn unary<U: Element>(self, node: Node) -> Expr<'a, U> {
        Expr::from_graph(self.graph.apply(&[], node))
    }

    fn ternary<U: Element>(self, a: impl IntoExpr<'a, T>, b: impl IntoExpr<'a, T>, node: Node) -> Expr<'a, U> {
        let (a, b) = (a.into_expr(), b.into_expr());
        Expr::from_graph(self.graph.apply(&[&a.graph, &b.graph], node))
    }

    fn binary<U: Element>(self, rhs: impl IntoExpr<'a, T>, node: Node) -> Expr<'a, U> {
        match rhs.into_operand() {
            Operand::Leaf(arg) => {
                let mut g = self.graph;
                g.push_leaf(arg);
                g.nodes.push(node);
                Expr::from_graph(g)
            }
            Operand::Expr(rhs) => Expr::from_graph(self.graph.apply(&[&rhs.graph], node)),
        }
    }

    /// Each element converted with Rust's `as` (float → int saturates, NaN → 0).
    pub fn cast<U: Element>(self) -> Expr<'a, U> {
        self.unary(Node::Cast(U::TYPE))
    }

    /// `self < rhs`, elementwise.
    pub fn lt(self, rhs: impl IntoExpr<'a, T>) -> Expr<'a, bool> {
        self.binary(rhs, Node::Binary(BinOp::Lt))
    }

    /// `self <= rhs`, elementwise.
    pub fn le(self, rhs: impl IntoExpr<'a, T>) -> Expr<'a, bool> {
        self.binary(rhs, Node::Binary(BinOp::Le))
    }

    /// `self > rhs`, elementwise.
    pub fn gt(self, rhs: impl IntoExpr<'a, T>) -> Expr<'a, bool> {
        self.binary(rhs, Node::Binary(BinOp::Gt))
    }

    /// `self >= rhs`, elementwise.
    pub fn ge(self, rhs: impl IntoExpr<'a, T>) -> Expr<'a, bool> {
        self.binary(rhs, Node::Binary(BinOp::Ge))
    }

    /// `self == rhs`, elementwise.
    #[allow(clippy::should_implement_trait)]
    pub fn eq(self, rhs: impl IntoExpr<'a, T>) -> Expr<'a, bool> {
        self.binary(rhs, Node::Binary(BinOp::Eq))
    }

    /// `self != rhs`, elementwise.
    #[allow(clippy::should_implement_trait)]
    pub fn ne(self, rhs: impl IntoExpr<'a, T>) -> Expr<'a, bool> {
        self.binary(rhs, Node::Binary(BinOp::Ne))
    }
}

impl<'a, T: NumElement> Expr<'a, T> {
    /// The smaller of each pair (`f32::min`: a NaN operand is ignored).
    pub fn min(self, rhs: impl IntoExpr<'a, T>) -> Expr<'a, T> {
        self.binary(rhs, Node::Math(MathFn::Min))
    }

    /// The larger of each pair (`f32::max`: a NaN operand is ignored).
    pub fn max(self, rhs: impl IntoExpr<'a, T>) -> Expr<'a, T> {
        self.binary(rhs, Node::Math(MathFn::Max))
    }

    /// Each element limited to `lo..=hi` (a NaN stays NaN, as `f32::clamp`).
    pub fn clamp(self, lo: impl IntoExpr<'a, T>, hi: impl IntoExpr<'a, T>) -> Expr<'a, T> {
        self.ternary(lo, hi, Node::Clamp)
    }
}

impl<'a, T: SignedElement> Expr<'a, T> {
    /// The absolute value (integers wrap: `i32::MIN.abs()` is `i32::MIN`).
    pub fn abs(self) -> Expr<'a, T> {
        self.unary(Node::Math(MathFn::Abs))
    }

    /// -1, 0 or 1 by sign (floats: ±1, NaN stays NaN).
    pub fn signum(self) -> Expr<'a, T> {
        self.unary(Node::Math(MathFn::Signum))
    }
}

macro_rules! float_methods {
    ($($(#[$doc:meta])* $name:ident => $f:ident;)*) => {
        impl<'a, T: FloatElement> Expr<'a, T> {
            $( $(#[$doc])* pub fn $name(self) -> Expr<'a, T> { self.unary(Node::Math(MathFn::$f)) } )*
        }
    };
}

float_methods! {
    /// Square root.
    sqrt => Sqrt;
    /// `e^x`.
    exp => Exp;
    /// `2^x`.
    exp2 => Exp2;
    /// Natural logarithm.
    ln => Ln;
    /// Base-2 logarithm.
    log2 => Log2;
    /// Base-10 logarithm.
    log10 => Log10;
    /// Sine.
    sin => Sin;
    /// Cosine.
    cos => Cos;
    /// Tangent.
    tan => Tan;
    /// Arcsine.
    asin => Asin;
    /// Arccosine.
    acos => Acos;
    /// Arctangent.
    atan => Atan;
    /// Hyperbolic sine.
    sinh => Sinh;
    /// Hyperbolic cosine.
    cosh => Cosh;
    /// Hyperbolic tangent.
    tanh => Tanh;
    /// Largest integer not above.
    floor => Floor;
    /// Smallest integer not below.
    ceil => Ceil;
    /// Nearest integer, halves away from zero.
    round => Round;
    /// Integer part.
    trunc => Trunc;
    /// Cube root.
    cbrt => Cbrt;
    /// `1 / x`.
    recip => Recip;
    /// The error function.
    erf => Erf;
    /// `1 - erf(x)`.
    erfc => Erfc;
}

impl<'a, T: FloatElement> Expr<'a, T> {
    /// `self^n`.
    pub fn powf(self, n: impl IntoExpr<'a, T>) -> Expr<'a, T> {
        self.binary(n, Node::Math(MathFn::Powf))
    }

    /// `self^n` for an integer `n`.
    pub fn powi(self, n: impl IntoExpr<'a, i32>) -> Expr<'a, T> {
        let n = n.into_expr();
        Expr::from_graph(self.graph.apply(&[&n.graph], Node::Math(MathFn::Powi)))
    }

    /// The four-quadrant arctangent of `self / x`.
    pub fn atan2(self, x: impl IntoExpr<'a, T>) -> Expr<'a, T> {
        self.binary(x, Node::Math(MathFn::Atan2))
    }

    /// `sqrt(self² + y²)` without undue overflow.
    pub fn hypot(self, y: impl IntoExpr<'a, T>) -> Expr<'a, T> {
        self.binary(y, Node::Math(MathFn::Hypot))
    }

    /// `self * a + b` with one rounding.
    pub fn mul_add(self, a: impl IntoExpr<'a, T>, b: impl IntoExpr<'a, T>) -> Expr<'a, T> {
        self.ternary(a, b, Node::Math(MathFn::MulAdd))
    }

    /// The magnitude of `self` with the sign of `sign`.
    pub fn copysign(self, sign: impl IntoExpr<'a, T>) -> Expr<'a, T> {
        self.binary(sign, Node::Math(MathFn::Copysign))
    }

    /// Whether each element is NaN.
    pub fn is_nan(self) -> Expr<'a, bool> {
        let again = self.clone();
        self.ne(again)
    }
}

impl<'a> Expr<'a, bool> {
    /// `if self { a } else { b }`, elementwise (NumPy's `where`); both sides are evaluated.
    pub fn select<T: Element>(self, a: impl IntoExpr<'a, T>, b: impl IntoExpr<'a, T>) -> Expr<'a, T> {
        let (a, b) = (a.into_expr(), b.into_expr());
        Expr::from_graph(self.graph.apply(&[&a.graph, &b.graph], Node::Select))
    }
}

/// `if cond { a } else { b }`, elementwise (NumPy's `where`).
pub fn select<'a, T: Element>(cond: impl IntoExpr<'a, bool>, a: impl IntoExpr<'a, T>, b: impl IntoExpr<'a, T>) -> Expr<'a, T> {
    cond.into_expr().select(a, b)
}

/// Starts an expression from an array, a view or a scalar: `expr(&x) * 2.0`.
pub fn expr<'a, T: Element>(x: impl IntoExpr<'a, T>) -> Expr<'a, T> {
    x.into_expr()
}

/// An expression calling a device function on operands (what `#[gpu_vectorize]` generates).
#[doc(hidden)]
pub fn call<'a, R: Element>(callee: Callee, operands: Vec<ExprGraph<'a>>) -> Expr<'a, R> {
    let mut g = ExprGraph { callees: vec![callee], ..ExprGraph::default() };
    for o in &operands {
        g.append(o);
    }
    g.nodes.push(Node::Call { callee: 0, arity: operands.len() as u8 });
    Expr::from_graph(g)
}

/// The source of a device function, for [`call`].
#[doc(hidden)]
pub fn callee(name: &'static str, source: fn() -> &'static KernelSource) -> Callee {
    Callee { name, source }
}

/// What can stand for an expression of `T`: an expression, an array or view of `T`, or a `T`.
pub trait IntoExpr<'a, T: Element> {
    fn into_expr(self) -> Expr<'a, T>;

    /// An operand as an operation takes it: arrays and scalars as they are (appended to the
    /// expression without building one of their own), anything else as an expression.
    #[doc(hidden)]
    fn into_operand(self) -> Operand<'a, T>
    where
        Self: Sized,
    {
        Operand::Expr(self.into_expr())
    }
}

/// An operand of an operation: a leaf (an array or scalar of `T`) or an expression. (Returned
/// and matched at once, never stored: the size difference of the variants does not matter.)
#[doc(hidden)]
#[allow(clippy::large_enum_variant)]
pub enum Operand<'a, T: Element> {
    Leaf(Arg<'a>),
    Expr(Expr<'a, T>),
}

impl<'a, T: Element> IntoExpr<'a, T> for Expr<'a, T> {
    #[inline]
    fn into_expr(self) -> Expr<'a, T> {
        self
    }
}

impl<'a, T: Element> IntoExpr<'a, T> for &Expr<'a, T> {
    fn into_expr(self) -> Expr<'a, T> {
        self.clone()
    }
}

impl<'a, T: Element> IntoExpr<'a, T> for T {
    fn into_expr(self) -> Expr<'a, T> {
        Expr::input(self)
    }
    #[inline]
    fn into_operand(self) -> Operand<'a, T> {
        Operand::Leaf(self.into_arg())
    }
}

impl<'a, T: Element> IntoExpr<'a, T> for &'a DeviceArray<T> {
    fn into_expr(self) -> Expr<'a, T> {
        Expr::input(self)
    }
    #[inline]
    fn into_operand(self) -> Operand<'a, T> {
        Operand::Leaf(self.into_arg())
    }
}

impl<'a, T: Element> IntoExpr<'a, T> for &'a mut DeviceArray<T> {
    fn into_expr(self) -> Expr<'a, T> {
        Expr::input(&*self)
    }
    #[inline]
    fn into_operand(self) -> Operand<'a, T> {
        Operand::Leaf((&*self).into_arg())
    }
}

impl<'a, T: Element> IntoExpr<'a, T> for ArrayView<'a, T> {
    fn into_expr(self) -> Expr<'a, T> {
        Expr::input(self)
    }
}

impl<'a, 'b: 'a, T: Element> IntoExpr<'a, T> for &'a ArrayView<'b, T> {
    fn into_expr(self) -> Expr<'a, T> {
        Expr::input(self)
    }
}

impl<'a, T: Element> IntoExpr<'a, T> for ArrayViewMut<'a, T> {
    fn into_expr(self) -> Expr<'a, T> {
        let mut arg = self.into_arg();
        if let Arg::Array { writable, .. } = &mut arg {
            *writable = false;
        }
        Expr::input_arg(arg)
    }
}

impl<'a, T: Element> Expr<'a, T> {
    fn input_arg(arg: Arg<'a>) -> Expr<'a, T> {
        struct Raw<'a>(Arg<'a>);
        impl<'a> KernelArg<'a> for Raw<'a> {
            fn into_arg(self) -> Arg<'a> {
                self.0
            }
        }
        Expr::input(Raw(arg))
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Element types with `+ - * /`, `sum`, `prod` and `dot`: the integers, the floats and the
/// complex numbers.
pub trait Arith: Element + sealed::Sealed {}
/// Element types with unary `-`: the signed integers, the floats and the complex numbers.
pub trait NegElement: Arith {}
/// Element types with `mean`: the floats and the complex numbers (NumPy's inexact types).
pub trait InexactElement: Arith {}
/// Element types with arithmetic and an order: the integers and the floats (`%`, `min`, `max`).
pub trait NumElement: Arith {}
/// Signed integers and floats (`abs`, `signum`).
pub trait SignedElement: NumElement + NegElement {}
/// `f32`, `f64`, `f16`, `bf16`: the math methods (16-bit floats compute in f32).
pub trait FloatElement: SignedElement + InexactElement {}
/// `Complex<f32>` and `Complex<f64>`: their methods (`conj`, `norm`, `exp`, ...) and
/// arithmetic with their real type `Real` on either side.
pub trait ComplexElement: InexactElement + NegElement {
    /// The type of the parts.
    type Real: FloatElement;
}
impl ComplexElement for num_complex::Complex<f32> {
    type Real = f32;
}
impl ComplexElement for num_complex::Complex<f64> {
    type Real = f64;
}
/// The integers: bitwise operators and shifts.
pub trait IntElement: NumElement {}

macro_rules! classes {
    ($tr:path: $($t:ty),*) => {$( impl $tr for $t {} )*};
}
classes!(sealed::Sealed: i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, half::f16, half::bf16, Complex<f32>, Complex<f64>);
classes!(Arith: i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, half::f16, half::bf16, Complex<f32>, Complex<f64>);
classes!(NegElement: i8, i16, i32, i64, isize, f32, f64, half::f16, half::bf16, Complex<f32>, Complex<f64>);
classes!(InexactElement: f32, f64, half::f16, half::bf16, Complex<f32>, Complex<f64>);
classes!(NumElement: i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, half::f16, half::bf16);
classes!(SignedElement: i8, i16, i32, i64, isize, f32, f64, half::f16, half::bf16);
classes!(FloatElement: f32, f64, half::f16, half::bf16);
classes!(IntElement: i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

macro_rules! binary_ops {
    ($bound:ident: $($tr:ident $method:ident $op:ident),*) => {$(
        impl<'a, T: $bound, R: IntoExpr<'a, T>> ops::$tr<R> for Expr<'a, T> {
            type Output = Expr<'a, T>;
            fn $method(self, rhs: R) -> Expr<'a, T> {
                self.binary(rhs, Node::Binary(BinOp::$op))
            }
        }
        impl<'a, T: $bound, R: IntoExpr<'a, T>> ops::$tr<R> for &Expr<'a, T> {
            type Output = Expr<'a, T>;
            fn $method(self, rhs: R) -> Expr<'a, T> {
                self.clone().binary(rhs, Node::Binary(BinOp::$op))
            }
        }
        impl<'a, T: $bound, R: IntoExpr<'a, T>> ops::$tr<R> for &'a DeviceArray<T> {
            type Output = Expr<'a, T>;
            fn $method(self, rhs: R) -> Expr<'a, T> {
                Expr::input(self).binary(rhs, Node::Binary(BinOp::$op))
            }
        }
        impl<'a, 'b: 'a, T: $bound, R: IntoExpr<'a, T>> ops::$tr<R> for &'a ArrayView<'b, T> {
            type Output = Expr<'a, T>;
            fn $method(self, rhs: R) -> Expr<'a, T> {
                Expr::input(self).binary(rhs, Node::Binary(BinOp::$op))
            }
        }
    )*};
}

binary_ops!(Arith: Add add Add, Sub sub Sub, Mul mul Mul, Div div Div);
binary_ops!(NumElement: Rem rem Rem);
binary_ops!(IntElement: Shl shl Shl, Shr shr Shr);

// `&`, `|`, `^` on integers (bitwise) and on booleans (logical; both sides are evaluated).
macro_rules! bit_ops {
    ($($tr:ident $method:ident $int:ident $logic:ident),*) => {$(
        impl<'a, T: Element, R: IntoExpr<'a, T>> ops::$tr<R> for Expr<'a, T> where T: Bits {
            type Output = Expr<'a, T>;
            fn $method(self, rhs: R) -> Expr<'a, T> {
                let op = if T::TYPE == ScalarType::Bool { BinOp::$logic } else { BinOp::$int };
                self.binary(rhs, Node::Binary(op))
            }
        }
        impl<'a, T: Element, R: IntoExpr<'a, T>> ops::$tr<R> for &'a DeviceArray<T> where T: Bits {
            type Output = Expr<'a, T>;
            fn $method(self, rhs: R) -> Expr<'a, T> {
                ops::$tr::$method(Expr::input(self), rhs)
            }
        }
    )*};
}

/// Element types with `&`, `|`, `^`: the integers and `bool`.
pub trait Bits: Element {}
classes!(Bits: bool, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);
bit_ops!(BitAnd bitand BitAnd And, BitOr bitor BitOr Or, BitXor bitxor BitXor BitXor);

impl<'a, T: NegElement> ops::Neg for Expr<'a, T> {
    type Output = Expr<'a, T>;
    fn neg(self) -> Expr<'a, T> {
        self.unary(Node::Unary(UnOp::Neg))
    }
}

impl<'a, T: NegElement> ops::Neg for &Expr<'a, T> {
    type Output = Expr<'a, T>;
    fn neg(self) -> Expr<'a, T> {
        self.clone().unary(Node::Unary(UnOp::Neg))
    }
}

impl<'a, T: Bits> ops::Not for Expr<'a, T> {
    type Output = Expr<'a, T>;
    fn not(self) -> Expr<'a, T> {
        self.unary(Node::Unary(UnOp::Not))
    }
}

// A scalar on the left: `2.0 * x`.
macro_rules! scalar_lhs {
    ($($t:ty),*) => {$(
        scalar_lhs!(@ops $t, Expr<'a, $t>);
        scalar_lhs!(@ops $t, &Expr<'a, $t>);
        scalar_lhs!(@ops $t, &'a DeviceArray<$t>);
    )*};
    (@ops $t:ty, $rhs:ty) => {
        impl<'a> ops::Add<$rhs> for $t { type Output = Expr<'a, $t>; fn add(self, rhs: $rhs) -> Expr<'a, $t> { Expr::<$t>::input(self) + rhs } }
        impl<'a> ops::Sub<$rhs> for $t { type Output = Expr<'a, $t>; fn sub(self, rhs: $rhs) -> Expr<'a, $t> { Expr::<$t>::input(self) - rhs } }
        impl<'a> ops::Mul<$rhs> for $t { type Output = Expr<'a, $t>; fn mul(self, rhs: $rhs) -> Expr<'a, $t> { Expr::<$t>::input(self) * rhs } }
        impl<'a> ops::Div<$rhs> for $t { type Output = Expr<'a, $t>; fn div(self, rhs: $rhs) -> Expr<'a, $t> { Expr::<$t>::input(self) / rhs } }
    };
}
scalar_lhs!(f32, f64, i32, i64, u32, u64, half::f16, half::bf16, Complex<f32>, Complex<f64>);

// ---- Complex numbers ----------------------------------------------------------------------------

/// `Complex::new(re, im)`, elementwise: a complex expression from two real ones.
pub fn complex<'a, T: FloatElement>(re: impl IntoExpr<'a, T>, im: impl IntoExpr<'a, T>) -> Expr<'a, Complex<T>>
where
    Complex<T>: Element,
{
    let (re, im) = (re.into_expr(), im.into_expr());
    Expr::from_graph(re.graph.apply(&[&im.graph], Node::Complex(ComplexFn::New)))
}

/// `Complex::from_polar(r, theta)`, elementwise.
pub fn from_polar<'a, T: FloatElement>(r: impl IntoExpr<'a, T>, theta: impl IntoExpr<'a, T>) -> Expr<'a, Complex<T>>
where
    Complex<T>: Element,
{
    let (r, theta) = (r.into_expr(), theta.into_expr());
    Expr::from_graph(r.graph.apply(&[&theta.graph], Node::Complex(ComplexFn::FromPolar)))
}

macro_rules! complex_exprs {
    ($($c:ty: $r:ty;)*) => {$(
        impl<'a> Expr<'a, $c> {
            /// The real part of each element.
            pub fn re(self) -> Expr<'a, $r> {
                self.unary(Node::Field(0))
            }
            /// The imaginary part of each element.
            pub fn im(self) -> Expr<'a, $r> {
                self.unary(Node::Field(1))
            }
            /// The complex conjugate.
            pub fn conj(self) -> Expr<'a, $c> {
                self.unary(Node::Complex(ComplexFn::Conj))
            }
            /// `1 / z`.
            pub fn inv(self) -> Expr<'a, $c> {
                self.unary(Node::Complex(ComplexFn::Inv))
            }
            /// The modulus `|z|` of each element (`hypot(re, im)`; not a reduction, as on
            /// real expressions).
            pub fn norm(self) -> Expr<'a, $r> {
                self.unary(Node::Complex(ComplexFn::Norm))
            }
            /// `re² + im²`.
            pub fn norm_sqr(self) -> Expr<'a, $r> {
                self.unary(Node::Complex(ComplexFn::NormSqr))
            }
            /// `|re| + |im|`.
            pub fn l1_norm(self) -> Expr<'a, $r> {
                self.unary(Node::Complex(ComplexFn::L1Norm))
            }
            /// The argument (phase), `atan2(im, re)`.
            pub fn arg(self) -> Expr<'a, $r> {
                self.unary(Node::Complex(ComplexFn::Arg))
            }
            /// `e^z`.
            pub fn exp(self) -> Expr<'a, $c> {
                self.unary(Node::Complex(ComplexFn::Exp))
            }
            /// The principal natural logarithm.
            pub fn ln(self) -> Expr<'a, $c> {
                self.unary(Node::Complex(ComplexFn::Ln))
            }
            /// The principal square root.
            pub fn sqrt(self) -> Expr<'a, $c> {
                self.unary(Node::Complex(ComplexFn::Sqrt))
            }
            /// `z^e` for a real `e`.
            pub fn powf(self, e: impl IntoExpr<'a, $r>) -> Expr<'a, $c> {
                let e = e.into_expr();
                Expr::from_graph(self.graph.apply(&[&e.graph], Node::Complex(ComplexFn::Powf)))
            }
        }

        // Arithmetic with the real type on either side, as num-complex's `Complex<T> op T`
        // and `T op Complex<T>` (not a conversion of the real to a complex first).
        complex_exprs!(@mixed $c, $r, Add add Add, Sub sub Sub, Mul mul Mul, Div div Div);
    )*};
    (@mixed $c:ty, $r:ty, $($tr:ident $method:ident $op:ident),*) => {$(
        impl<'a> ops::$tr<$r> for Expr<'a, $c> {
            type Output = Expr<'a, $c>;
            fn $method(self, rhs: $r) -> Expr<'a, $c> {
                Expr::from_graph(self.graph.apply(&[&Expr::<$r>::input(rhs).graph], Node::Binary(BinOp::$op)))
            }
        }
        impl<'a> ops::$tr<Expr<'a, $r>> for Expr<'a, $c> {
            type Output = Expr<'a, $c>;
            fn $method(self, rhs: Expr<'a, $r>) -> Expr<'a, $c> {
                Expr::from_graph(self.graph.apply(&[&rhs.graph], Node::Binary(BinOp::$op)))
            }
        }
        impl<'a> ops::$tr<&'a DeviceArray<$r>> for Expr<'a, $c> {
            type Output = Expr<'a, $c>;
            fn $method(self, rhs: &'a DeviceArray<$r>) -> Expr<'a, $c> {
                Expr::from_graph(self.graph.apply(&[&Expr::<$r>::input(rhs).graph], Node::Binary(BinOp::$op)))
            }
        }
        impl<'a> ops::$tr<Expr<'a, $c>> for $r {
            type Output = Expr<'a, $c>;
            fn $method(self, rhs: Expr<'a, $c>) -> Expr<'a, $c> {
                Expr::from_graph(Expr::<$r>::input(self).graph.apply(&[&rhs.graph], Node::Binary(BinOp::$op)))
            }
        }
        impl<'a> ops::$tr<Expr<'a, $c>> for Expr<'a, $r> {
            type Output = Expr<'a, $c>;
            fn $method(self, rhs: Expr<'a, $c>) -> Expr<'a, $c> {
                Expr::from_graph(self.graph.apply(&[&rhs.graph], Node::Binary(BinOp::$op)))
            }
        }
    )*};
}

complex_exprs! {
    Complex<f32>: f32;
    Complex<f64>: f64;
}
