//! The core with real worker processes (Node scripts given with `-e`), without the JS layer.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use forkfriend::events::Batch;
use forkfriend::{Event, ForkSpec, Manager, ManagerConfig, Serialization, StdioMode};

const ECHO: &str = "process.on('message', (m) => process.send(m))";
const EXIT_AT_ONCE: &str = "process.exit(3)";

fn spec(code: &str) -> ForkSpec {
    ForkSpec {
        exec_path: "node".into(),
        argv0: None,
        exec_argv: vec!["-e".into(), code.into()],
        script: "worker".into(),
        args: vec![],
        cwd: None,
        env: std::env::vars().collect(),
        stdio: [StdioMode::Ignore, StdioMode::Inherit, StdioMode::Inherit],
        uid: None,
        gid: None,
        kill_signal: libc::SIGTERM,
        serialization: Default::default(),
    }
}

/// A manager whose wakes arrive on a channel, as JS would be woken.
fn manager(config: ManagerConfig) -> (Manager, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let wake = Box::new(move || {
        let _ = tx.send(());
    });
    (Manager::new(config, wake), rx)
}

/// Takes event batches until `on` says so or the deadline passes.
fn collect_batches(
    m: &Manager,
    wakes: &mpsc::Receiver<()>,
    within: Duration,
    mut on: impl FnMut(&Batch, Instant) -> bool,
) -> bool {
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if wakes.recv_timeout(left).is_err() {
            break;
        }
        if on(&m.take_events(), Instant::now()) {
            return true;
        }
    }
    false
}

/// Takes events until `on` says so or the deadline passes.
fn collect(
    m: &Manager,
    wakes: &mpsc::Receiver<()>,
    within: Duration,
    mut on: impl FnMut(&Event, Instant) -> bool,
) -> bool {
    collect_batches(m, wakes, within, |batch, at| {
        batch.events.iter().any(|e| on(e, at))
    })
}

/// Takes events until `want` results have arrived (true) or 20 s pass; gives the count too.
fn results_arrive(m: &Manager, wakes: &mpsc::Receiver<()>, want: usize) -> (bool, usize) {
    let mut got = 0;
    let done = collect(m, wakes, Duration::from_secs(20), |e, _| {
        if let Event::Results { count, .. } = e {
            got += *count as usize;
        }
        got == want
    });
    (done, got)
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

#[test]
fn echo_round_trip_delivers_every_message_in_batches() {
    let (m, wakes) = manager(ManagerConfig::default());
    let pool = m.add_pool(spec(ECHO)).unwrap();
    m.add_workers(pool, 2).unwrap();
    let batch: String = (0..1000).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    m.submit(Some(pool), Bytes::from(batch), true, Serialization::Json);
    let mut got = 0u32;
    let mut ids = vec![0u8; 1000];
    let done = collect_batches(&m, &wakes, Duration::from_secs(20), |batch, _| {
        for piece in batch.results.pieces() {
            let values: Vec<serde_json::Value> = serde_json::from_slice(piece).unwrap();
            for v in values {
                ids[v["id"].as_u64().unwrap() as usize] += 1;
            }
        }
        for e in &batch.events {
            if let Event::Results { count, .. } = e {
                got += count;
            }
        }
        got == 1000
    });
    assert!(done, "got {got} of 1000 results");
    assert!(ids.iter().all(|&n| n == 1), "every id exactly once");
    let c = m.counters();
    assert_eq!(c.results, 1000);
    assert!(
        c.reads < 1000,
        "results arrive in batches ({} reads)",
        c.reads
    );
    m.stop();
}

#[test]
fn a_crash_loop_backs_off_exponentially() {
    let config = ManagerConfig {
        respawn_interval: Duration::from_millis(100),
        min_uptime: Duration::from_millis(1000),
        max_respawn_delay: Duration::from_millis(400),
        ..ManagerConfig::default()
    };
    let (m, wakes) = manager(config);
    let pool = m.add_pool(spec(EXIT_AT_ONCE)).unwrap();
    m.add_workers(pool, 1).unwrap();
    let mut spawns: Vec<Instant> = Vec::new();
    let mut codes = Vec::new();
    collect(&m, &wakes, Duration::from_millis(1800), |e, at| {
        match e {
            Event::Spawned { .. } => spawns.push(at),
            Event::Exit { code, .. } => codes.push(*code),
            _ => {}
        }
        false
    });
    m.stop();
    let gaps: Vec<u128> = spawns
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    // Each worker lives a few ms, so gaps are the backoff: 100, 200, 400, 400 ... ms.
    assert!(gaps.len() >= 3 && gaps.len() <= 6, "spawn gaps {gaps:?}");
    for (gap, floor) in gaps.iter().zip([100u128, 200, 400, 400, 400]) {
        assert!(
            *gap + 15 >= floor,
            "gap {gap} ms below {floor} ms: {gaps:?}"
        );
    }
    assert!(codes.iter().all(|c| *c == Some(3)), "{codes:?}");
}

#[test]
fn stop_ends_every_worker() {
    let (m, wakes) = manager(ManagerConfig::default());
    let pool = m.add_pool(spec("setInterval(() => {}, 1000)")).unwrap();
    m.add_workers(pool, 3).unwrap();
    let mut pids = Vec::new();
    collect(&m, &wakes, Duration::from_secs(10), |e, _| {
        if let Event::Spawned { pid, .. } = e {
            pids.push(*pid);
        }
        pids.len() == 3
    });
    assert_eq!(pids.len(), 3);
    m.stop();
    let mut exits = 0;
    collect(&m, &wakes, Duration::from_secs(10), |e, _| {
        if let Event::Exit { expected, .. } = e {
            assert!(*expected, "the manager ended it");
            exits += 1;
        }
        exits == 3
    });
    assert_eq!(exits, 3);
    assert!(pids.iter().all(|p| !alive(*p)), "no worker is left");
    assert_eq!(m.worker_count(), 0);
}

#[test]
fn an_advanced_pool_echoes_frames_and_acts_on_control_frames() {
    use forkfriend::wire::frames::{frames, push_frame};
    // v8.serialize('hi') and v8.serialize({__forkfriend: 'pause'}), as Node writes them.
    let hi: &[u8] = &[0xff, 0x0f, 0x22, 0x02, b'h', b'i'];
    // The worker echoes each message, and pauses itself after the second.
    const ECHO_THEN_PAUSE: &str = "let n = 0; process.on('message', (m) => { process.send(m); \
         if (++n === 2) process.send({ __forkfriend: 'pause' }) })";
    let (m, wakes) = manager(ManagerConfig::default());
    let spec = ForkSpec {
        serialization: Serialization::Advanced,
        ..spec(ECHO_THEN_PAUSE)
    };
    let pool = m.add_pool(spec).unwrap();
    m.add_workers(pool, 1).unwrap();
    let mut batch = Vec::new();
    for _ in 0..2 {
        push_frame(&mut batch, hi);
    }
    m.submit(
        Some(pool),
        Bytes::from(batch),
        true,
        Serialization::Advanced,
    );
    let mut echoed = Vec::new();
    let mut paused = false;
    let done = collect_batches(&m, &wakes, Duration::from_secs(20), |batch, _| {
        echoed.extend(frames(&batch.frames).map(|f| f.to_vec()));
        for e in &batch.events {
            match e {
                Event::Results { advanced, .. } => assert!(advanced),
                Event::Control { .. } => paused = true,
                _ => {}
            }
        }
        echoed.len() == 2 && paused
    });
    assert!(done, "{} echoes, paused: {paused}", echoed.len());
    let mut framed_hi = Vec::new();
    push_frame(&mut framed_hi, hi);
    assert!(echoed.iter().all(|f| *f == framed_hi), "{echoed:02x?}");
    m.stop();
}

#[test]
fn a_worker_gets_no_input_while_results_may_not_be_read() {
    let (m, wakes) = manager(ManagerConfig::default());
    m.set_flowing(false);
    let pool = m.add_pool(spec(ECHO)).unwrap();
    m.add_workers(pool, 1).unwrap();
    let batch: String = (0..100).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    m.submit(Some(pool), Bytes::from(batch), true, Serialization::Json);
    let spawned = collect(&m, &wakes, Duration::from_secs(20), |e, _| {
        matches!(e, Event::Spawned { .. })
    });
    assert!(spawned, "the worker started");
    // Given its input, a live echo worker answers within a few ms; nothing may reach it.
    collect(&m, &wakes, Duration::from_millis(300), |_, _| false);
    assert_eq!(
        m.counters().written_bytes,
        0,
        "nothing written to the worker"
    );
    m.set_flowing(true);
    let (done, got) = results_arrive(&m, &wakes, 100);
    assert!(done, "got {got} of 100 results once reading resumed");
    m.stop();
}

#[test]
fn small_messages_wait_in_the_core_not_in_a_busy_workers_socket() {
    // Busy for 1.5 s before it reads anything: what we write meanwhile stays in its socket.
    const BUSY_THEN_ECHO: &str = "const t = Date.now() + 1500; while (Date.now() < t); \
        process.on('message', (m) => process.send(m))";
    let (m, wakes) = manager(ManagerConfig::default());
    let pool = m.add_pool(spec(BUSY_THEN_ECHO)).unwrap();
    m.add_workers(pool, 1).unwrap();
    let pad = "x".repeat(80);
    let batch: String = (0..2000)
        .map(|i| format!("{{\"id\":{i},\"p\":\"{pad}\"}}\n"))
        .collect();
    let total = batch.len() as u64;
    m.submit(Some(pool), Bytes::from(batch), true, Serialization::Json);
    let spawned = collect(&m, &wakes, Duration::from_secs(20), |e, _| {
        matches!(e, Event::Spawned { .. })
    });
    assert!(spawned, "the worker started");
    collect(&m, &wakes, Duration::from_millis(500), |_, _| false);
    // The kernel's default buffer would take ~200 KB of these; ~128 messages may wait.
    let written = m.counters().written_bytes;
    assert!(
        written > 0 && written <= 32 << 10,
        "{written} of {total} bytes written while the worker read nothing"
    );
    let (done, got) = results_arrive(&m, &wakes, 2000);
    assert!(done, "got {got} of 2000 results once the worker read");
    assert_eq!(m.counters().written_bytes, total);
    m.stop();
}
