//! The wire: what crosses a worker's channel and how it is cut up. Nothing here knows about
//! pools or JS.
//!
//! - `channel`: the manager's end of a worker's socket (non-blocking reads and writes).
//! - `framing`: one JSON text per line; splitting batches and reads into messages.
//! - `frames`: the length-prefixed frames of the `advanced` serialization.
//! - `reader`: a worker's output framed as its pool's channel is (lines or frames).
//! - `v8`: a tiny reader of V8's serialization format, for control messages in frames.
//! - `control`: recognising `{__forkfriend: ...}` control messages by their bytes.
//! - `gather`: when a reader lets output gather (JS is behind) instead of reading it at once.
//! - `pieces`: worker output packed as JSON array texts for one `JSON.parse` each in JS.
//! - `values`: long string values at the top level of an object or array result.
//! - `json_string`: JSON string literals escaped and unescaped byte for byte as V8 does.

pub(crate) mod channel;
pub mod control;
pub mod frames;
pub mod framing;
pub(crate) mod gather;
pub mod json_string;
pub mod pieces;
pub mod reader;
pub mod v8;
pub mod values;
