//! Bounds on what the JSON codecs accept and produce.
//!
//! Every walker in this module is iterative or bounded by these depths, so a
//! hostile file or term fails with an error instead of exhausting the small
//! stack of a dirty scheduler thread.

/// Deepest term (lists, tuples, maps) the encoders accept. Equal to the ETF
/// decoder's bound so that anything saved here can also be migrated to ETF.
pub const MAX_VALUE_DEPTH: usize = crate::etf::MAX_DEPTH;

/// Deepest JSON nesting (arrays and objects) the parser accepts. The codecs
/// add a few levels to a term (a binary becomes a Buffer object, a record sits
/// under its wrapper keys), so this leaves room for everything we write.
pub const MAX_JSON_DEPTH: usize = MAX_VALUE_DEPTH + 16;

/// Largest JSON document read. Real auth files are kilobytes; a session with
/// thousands of cached message keys stays well under a megabyte.
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;

/// Largest JSON document written.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024 * 1024;
