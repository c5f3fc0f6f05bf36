//! forkfriend: a worker-process manager for Node.js with a Rust core.
//!
//! Module map (dependencies point down this list, never up):
//! - `binding`: the only napi file; converts between JS values and the core's types.
//! - `node_loop`: workers' sockets polled on Node's own event loop (libuv), for reads on
//!   the main thread while it keeps up.
//! - `manager`: the public operations (add, remove, submit, finish, stop, ...).
//! - `pool`: pools and workers: their state, balancing, respawning, draining, each worker's
//!   tasks, and the shared `Inner` they all act on.
//! - `events`: the one batched path from the core to JS.
//! - `wire`: what crosses a worker's channel: the socket, JSON-line framing, control
//!   messages, read coalescing, result pieces for JS.
//! - `process`: starting a worker as `fork()` would, and owning the child until it is reaped.
//! - `runtime`: the tokio runtime shared by every manager; `config`, `counters`: plain data.

mod binding;
pub mod config;
pub mod counters;
pub mod events;
pub mod manager;
mod node_loop;
pub mod pool;
pub mod process;
mod runtime;
pub mod wire;

pub use config::{ForkSpec, ManagerConfig, Serialization, StdioMode};
pub use events::{Batch, Event};
pub use manager::{CoreError, Manager};
