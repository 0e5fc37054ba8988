//! `GPUJIT_LOG`: what the runtime reports on standard error, a comma-separated list of topics.
//! `compile` (or `all`): each specialization compiled, with the time of each stage, and each
//! kernel loaded from the disk cache, with its time.

use std::fmt;
use std::sync::OnceLock;

/// Whether `GPUJIT_LOG` asks for compile events.
pub fn compile_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var("GPUJIT_LOG")
            .is_ok_and(|v| v.split(',').map(str::trim).any(|t| t.eq_ignore_ascii_case("compile") || t.eq_ignore_ascii_case("all")))
    })
}

/// Reports a compile event when `GPUJIT_LOG` asks for them.
pub(crate) fn compile(event: fmt::Arguments<'_>) {
    if compile_enabled() {
        eprintln!("gpujit: {event}");
    }
}

/// Milliseconds since `t`, for the log.
pub(crate) fn ms_since(t: std::time::Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
