//! The one tokio runtime (and the spawning threads) that every manager of the process shares.

use std::sync::OnceLock;

use crate::process::spawner::Spawner;

/// Runs a task on the core's runtime.
pub(crate) fn spawn_task<F>(task: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    runtime().runtime.spawn(task);
}

pub(crate) struct Runtime {
    pub runtime: tokio::runtime::Runtime,
    pub spawner: Spawner,
}

/// One tokio runtime and one spawning thread serve every manager of the process.
pub(crate) fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("forkfriend-io")
            .enable_all()
            .build()
            .expect("tokio runtime");
        let spawner = Spawner::start(runtime.handle().clone()).expect("spawning thread");
        Runtime { runtime, spawner }
    })
}
