//! `#[gpu_kernel]` rejects what the kernel language does not support with an error at the exact
//! span (tests/ui/*.stderr hold the expected compiler output), and rustc type-checks kernel
//! bodies. Regenerate the expectations after an intended change with `TRYBUILD=overwrite`.

#[test]
fn macro_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
