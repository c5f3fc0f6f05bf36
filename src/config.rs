//! Plain configuration values of a manager and of the workers it forks.

use std::time::Duration;

/// How the three standard streams of a worker are set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdioMode {
    /// Share the manager's own stream.
    Inherit,
    /// A pipe whose other end the manager hands to JS.
    Pipe,
    /// /dev/null.
    Ignore,
}

/// How messages cross a pool's channels: Node's `serialization` fork option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Serialization {
    /// One JSON text per message, ended by `\n`.
    #[default]
    Json,
    /// V8's structured-clone format, each message prefixed by its length (4 bytes, big-endian).
    Advanced,
}

impl Serialization {
    /// The value of `NODE_CHANNEL_SERIALIZATION_MODE` that tells a worker.
    pub fn env_value(self) -> &'static str {
        match self {
            Serialization::Json => "json",
            Serialization::Advanced => "advanced",
        }
    }
}

/// Everything needed to start one worker process, as Node's `fork()` would.
#[derive(Clone, Debug)]
pub struct ForkSpec {
    pub exec_path: String,
    /// The child's `argv[0]` (Node's `process.argv0`); None: `exec_path`, as Node's `fork()`.
    pub argv0: Option<String>,
    pub exec_argv: Vec<String>,
    pub script: String,
    pub args: Vec<String>,
    pub cwd: Option<String>,
    /// The complete environment of the child (the channel variables are added on top).
    pub env: Vec<(String, String)>,
    pub stdio: [StdioMode; 3],
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The signal that ends a worker the manager stops (SIGKILL follows after the kill timeout).
    pub kill_signal: i32,
    pub serialization: Serialization,
}

/// Tunables of a manager. Every duration is a minimum or a timeout, never a polling period.
#[derive(Clone, Debug)]
pub struct ManagerConfig {
    /// Minimum spacing between (re)spawns of one script.
    pub respawn_interval: Duration,
    /// A worker that dies sooner than this after it started counts as a crash.
    pub min_uptime: Duration,
    /// Cap of the exponential crash-loop backoff.
    pub max_respawn_delay: Duration,
    /// Messages held per script while no worker can take them.
    pub max_queue: usize,
    /// A worker paused by its own control message longer than this is recycled.
    pub paused_worker_timeout: Option<Duration>,
    /// Delay between SIGTERM and SIGKILL when the manager stops a worker.
    pub kill_timeout: Duration,
    /// At end of input, a worker's output must have been quiet this long before its channel closes.
    pub end_quiet: Duration,
    /// Longest line a worker may send; longer ones are a worker error.
    pub max_message_bytes: usize,
    /// A worker whose resident memory exceeds this many bytes is retired gracefully.
    pub max_worker_rss: Option<u64>,
    /// Bytes handed to one worker but not yet taken by its socket before it counts as backed up.
    pub worker_high_water: usize,
    /// Bytes of results waiting for JS before readers stop reading.
    pub results_high_water: usize,
    /// Reply mode (each message answered exactly once, in order per worker); None: off.
    pub reply: Option<ReplyConfig>,
}

/// The settings of reply mode.
#[derive(Clone, Debug)]
pub struct ReplyConfig {
    /// Results leave in input order (through a bounded reorder window).
    pub ordered: bool,
    /// Most messages in flight to one worker.
    pub concurrency: usize,
    /// Deaths a message may see before it fails: it runs on at most `max_retries + 1` workers.
    pub max_retries: u32,
    /// A message not answered this long after it was submitted fails.
    pub timeout: Option<Duration>,
}

impl Default for ReplyConfig {
    fn default() -> Self {
        ReplyConfig {
            ordered: false,
            concurrency: 1,
            max_retries: 3,
            timeout: None,
        }
    }
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            respawn_interval: Duration::from_millis(500),
            min_uptime: Duration::from_millis(1000),
            max_respawn_delay: Duration::from_millis(10_000),
            max_queue: 1000,
            paused_worker_timeout: None,
            kill_timeout: Duration::from_millis(5000),
            end_quiet: Duration::from_millis(100),
            max_message_bytes: 64 << 20,
            max_worker_rss: None,
            worker_high_water: 128 << 10,
            results_high_water: 1 << 20,
            reply: None,
        }
    }
}
