//! Starting worker processes as `child_process.fork` would, and owning each child until it
//! has been reaped. Nothing here knows about pools or messages.
//!
//! - `spawner`: dedicated threads that start children with `clone(CLONE_VM|CLONE_VFORK)`.
//! - `child`: a started child: signals, and waiting for its exit through a pidfd.

pub(crate) mod child;
pub(crate) mod spawner;
