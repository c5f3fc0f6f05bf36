//! Pools and workers: everything that acts on one manager's shared state (`inner::Inner`).
//!
//! - `inner`: the shared state and its lock, the event queue, the flow switch.
//! - `state`: pools, workers, queues, and dispatching queued messages.
//! - `balance`: the default balancer.
//! - `respawn`: when the next worker of a script may start (spacing, crash backoff).
//! - `lifecycle`: starting, installing, ending, respawning workers; reacting to exits.
//! - `input_window`: how much of a worker's input may wait unread in its socket.
//! - `traffic`: a running worker's output (results, control messages) and input.
//! - `read_side`: a worker's output reader, shared with reads on the consumer's thread.
//! - `tasks`: each worker's supervisor, reader and writer tasks.
//! - `drain`: graceful ends (end of input, retiring a worker).
//! - `memory`: the per-worker memory limit.
//! - `tracking`: reply mode at work: matching answers, redelivery, failures, timeouts.
//! - `reply`: reply mode's books: sequence numbers, the reorder window, latency histograms.

pub mod balance;
pub(crate) mod drain;
pub(crate) mod inner;
mod input_window;
mod lifecycle;
pub(crate) mod memory;
pub mod read_side;
pub mod reply;
pub mod respawn;
pub(crate) mod state;
mod tasks;
pub(crate) mod tracking;
mod traffic;
