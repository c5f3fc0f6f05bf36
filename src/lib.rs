//! forkfriend: a worker-process manager for Node.js with a Rust core.
//!
//! Module map: `config` (settings), `spawner` (starting workers like `fork()`), `channel`
//! (a worker's socket), `framing`
//! (JSON lines), `gather` (read coalescing), `control` (control messages), `balance` (default balancer), `respawn`
//! (restart policy), `state` (pools, workers, queues), `events` (the batched path to JS),
//! `worker` (per-worker I/O tasks), `counters` (data-path counters), `drain` (graceful ends: end of input, retiring), `manager` (operations), `lifecycle`
//! (starting, ending, respawning workers), `traffic` (a worker's output and input),
//! `binding` (the only napi file).

pub mod balance;
mod channel;
pub mod config;
pub mod control;
pub mod counters;
mod drain;
pub mod events;
pub mod framing;
mod gather;
mod lifecycle;
pub mod manager;
mod memory;
pub mod pieces;
mod process;
pub mod respawn;
mod spawner;
mod state;
mod traffic;
mod worker;

mod binding;

pub use config::{ForkSpec, ManagerConfig, StdioMode};
pub use events::{Batch, Event};
pub use manager::{CoreError, Manager};
