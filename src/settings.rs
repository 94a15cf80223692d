//! The `MARKETING_CORE_*` environment settings the Rust core reads. All settings are
//! registered in `python/marketing_core/settings.py` (with defaults and descriptions, the
//! README table is made from it); `tests/test_settings.py` checks these names are there
//! as read by rust, and that no other Rust file spells one.

/// Largest output the generator writes, in bytes (`generate/limits.rs`).
pub const MAX_OUTPUT_BYTES: &str = "MARKETING_CORE_MAX_OUTPUT_BYTES";
/// When set, the validator prints the time of each phase to stderr.
pub const TRACE: &str = "MARKETING_CORE_TRACE";

/// A setting's value; empty counts as unset.
pub fn get(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
