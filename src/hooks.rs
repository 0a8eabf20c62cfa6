//! Containment of user hooks: a panicking redaction hook, `on_log` hook or custom codec
//! never reaches the caller; it is counted here and warned about once.

use std::sync::atomic::{AtomicU64, Ordering};

static HOOK_PANICS: AtomicU64 = AtomicU64::new(0);

/// Count a contained panic of a user hook; the first one is logged as a warning.
pub(crate) fn record_hook_panic(hook: &'static str) {
    if HOOK_PANICS.fetch_add(1, Ordering::Relaxed) == 0 {
        tracing::warn!(
            target: "humanloop_tracing",
            hook,
            "a user hook panicked; the panic was contained (further ones are only counted)"
        );
    }
}

/// How many user-hook panics were contained in this process.
pub fn hook_panics() -> u64 {
    HOOK_PANICS.load(Ordering::Relaxed)
}

/// Run `f`, containing a panic (counted under `hook`); `None` if it panicked.
pub(crate) fn contain<T>(hook: &'static str, f: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(_) => {
            record_hook_panic(hook);
            None
        }
    }
}
