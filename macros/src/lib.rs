//! The `#[gpu_kernel]` attribute of gpujit.
//!
//! It parses the annotated function straight into the kernel language's source form, defined in
//! `gpujit-lang` (module `parse`), rejecting anything outside the language with an error at its
//! span, and generates (module `generate`, with `tokens` rebuilding the source form):
//! - a unit struct of the function's name that derefs to a `gpujit::Kernel` (launch it with
//!   `launch!(name[grid, block](args))` or `name.launch(config, args)`), whose source form is
//!   built once, on first use;
//! - a twin of the function, never called, that rustc type-checks with host stand-ins for the
//!   intrinsics, so type errors in a kernel show at `cargo build` with rustc's own messages.
//!
//! This crate depends on `gpujit-lang` alone (no LLVM): the tokens it generates name gpujit's
//! types through the facade crate (`::gpujit::__private`), by the variants' own names.

use proc_macro::TokenStream;

mod forall;
mod generate;
mod gpu_struct;
mod outputs;
mod parse;
mod prelude_check;
mod resolve;
mod tokens;

/// Turns a function over array indices into a GPU kernel. See the `gpujit` crate documentation for
/// the kernel language. Options: `#[gpu_kernel(fastmath, launch_bounds = 256, max_registers = 64)]`
/// (`launch_bounds = (256, 2)` also gives the minimum resident blocks per multiprocessor).
#[proc_macro_attribute]
pub fn gpu_kernel(attr: TokenStream, item: TokenStream) -> TokenStream {
    resolve::forget_spans();
    let options = match parse::options(attr.into()) {
        Ok(o) => o,
        Err(e) => return e.to_compile_error().into(),
    };
    let func = match syn::parse::<syn::ItemFn>(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error().into(),
    };
    match parse::kernel(&func, options, false) {
        Ok(k) => generate::kernel(&k, &func).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Makes a function callable from kernels (Numba's `@cuda.jit(device=True)`). It may be generic
/// (`T: Float`, ...), take scalars and arrays (`&[T]`, `&mut [T]`, `&Array<T, N>`) and return a
/// scalar; its body is in the kernel language. It stays an ordinary Rust function too, so it can
/// be tested on the host. Each kernel specializes it for the types it is called with.
#[proc_macro_attribute]
pub fn gpu_device(attr: TokenStream, item: TokenStream) -> TokenStream {
    resolve::forget_spans();
    let attr = proc_macro2::TokenStream::from(attr);
    if !attr.is_empty() {
        return syn::Error::new_spanned(attr, "#[gpu_device] takes no options; give them to the kernel").to_compile_error().into();
    }
    let func = match syn::parse::<syn::ItemFn>(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error().into(),
    };
    match parse::kernel(&func, Default::default(), true) {
        Ok(k) => generate::device(&k, &func).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// A scalar function made elementwise over arrays (Numba's `@vectorize`, CuPy's
/// ElementwiseKernel): the function stays callable on scalars (and from kernels, as a
/// `#[gpu_device]` function), and `name::map(a, b, ...)` gives a lazy `gpujit::Expr` applying it to
/// arrays, views and scalars with NumPy broadcasting, fused with whatever surrounds it:
/// `rel_diff::map(&x, &y).eval()?`, `(rel_diff::map(&x, 1.0) * 2.0).eval_into(&mut out)?`.
/// Parameters are scalars; the function returns one, or a tuple of several (`-> (T, T)`, ending
/// with `(a, b)`), when `map` gives a tuple of expressions that `.eval()` on the tuple (or a
/// `Fusion`) computes in one kernel. Operands have the declared types (a generic `T` is bound by
/// the operands, as in a kernel); there is no implicit promotion: convert others with
/// `.cast::<T>()`, and scalars take the type of the parameter they are passed to.
#[proc_macro_attribute]
pub fn gpu_vectorize(attr: TokenStream, item: TokenStream) -> TokenStream {
    resolve::forget_spans();
    let attr = proc_macro2::TokenStream::from(attr);
    if !attr.is_empty() {
        return syn::Error::new_spanned(attr, "#[gpu_vectorize] takes no options").to_compile_error().into();
    }
    let func = match syn::parse::<syn::ItemFn>(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error().into(),
    };
    if let Some(outputs) = outputs::tuple_outputs(&func) {
        return match outputs::expand(&func, &outputs) {
            Ok(t) => t.into(),
            Err(e) => e.to_compile_error().into(),
        };
    }
    match parse::kernel(&func, Default::default(), true).and_then(|k| generate::vectorize(&k, &func)) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Makes a `#[repr(C)]` struct a type kernels take: a parameter by value, a local, a device
/// function's argument or result, and an array element (`&[Particle]`, `DeviceArray<Particle>`).
/// Its fields are scalars, complex numbers, other `#[gpu_struct]`s, or fixed arrays of those, and
/// it has no padding (reorder the fields, largest first, or add padding fields). It must derive
/// `Clone`, `Copy` and `Default`. The `gpujit` crate's documentation (section Structs) has a
/// runnable example; in short:
///
/// ```text
/// #[gpu_struct]
/// #[repr(C)]
/// #[derive(Clone, Copy, Default, Debug, PartialEq)]
/// struct Particle { pos: [f32; 3], mass: f32 }
/// ```
#[proc_macro_attribute]
pub fn gpu_struct(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = match syn::parse::<syn::ItemStruct>(item) {
        Ok(s) => s,
        Err(e) => return e.to_compile_error().into(),
    };
    match gpu_struct::expand(attr.into(), item) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// A closure over an index space run as a kernel: `forall!(n, |i| out[i] = a * x[i] + y[i])`, or
/// with 2 or 3 extents `forall!((rows, cols), |i, j| ...)`, the last index varying fastest. The
/// body is in the kernel language; the arrays (`&DeviceArray`, views, external arrays) and scalars
/// it names are captured from the surrounding code, an array written through an index by
/// `&mut`. It is compiled once per call site and argument types (each capture is generic), runs
/// on the captured arrays' device as a grid-stride loop, and returns `gpujit::Result<()>`. A
/// trailing `stream = &s` queues it on that stream (or a graph's capture stream).
#[proc_macro]
pub fn forall(input: TokenStream) -> TokenStream {
    resolve::forget_spans();
    let f = match syn::parse::<forall::Forall>(input) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error().into(),
    };
    match forall::expand(f) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Checks the facade's host stand-ins (`gpujit::kernel_prelude`) against the language's tables:
/// expanded there, it calls every intrinsic and math method with the table's signature. Not for
/// users.
#[doc(hidden)]
#[proc_macro]
pub fn __check_kernel_prelude(input: TokenStream) -> TokenStream {
    if !input.is_empty() {
        return syn::Error::new(proc_macro2::Span::call_site(), "takes no input").to_compile_error().into();
    }
    prelude_check::expand().into()
}

/// The `Float` trait of `gpujit::kernel_prelude` and its host implementations, generated from
/// `gpujit-lang`'s math table. Not for users.
#[doc(hidden)]
#[proc_macro]
pub fn __float_stand_ins(input: TokenStream) -> TokenStream {
    if !input.is_empty() {
        return syn::Error::new(proc_macro2::Span::call_site(), "takes no input").to_compile_error().into();
    }
    prelude_check::float_stand_ins().into()
}

/// The associated items of `gpujit::kernel_prelude::Int` (declarations, or with a type its
/// implementations), from `gpujit-lang`'s constant and math tables. Not for users.
#[doc(hidden)]
#[proc_macro]
pub fn __int_stand_ins(input: TokenStream) -> TokenStream {
    prelude_check::int_stand_ins(input.into()).into()
}
