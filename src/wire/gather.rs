//! When a reader lets a worker's output gather instead of reading it at once.
//!
//! Batching exists to spare Node's main thread when it is behind, never to make an answer
//! wait while it is idle. So the signal is the consumer's lag, not how recently a worker
//! wrote:
//! - JS has taken everything handed to it (it is idle or busy with other work): output is
//!   read as soon as it arrives and JS is woken for it at once.
//! - JS was woken for a batch it has not taken yet (it is behind): whatever is read now
//!   would wait for it anyway. The reader stops watching the socket (so the worker's writes
//!   wake nobody), waits until JS takes its batch, then reads all that gathered meanwhile
//!   in one go. The wait is bounded by `MAX_GATHER`, so that a main thread stuck in a long
//!   computation still has the core drain workers into its bounded queue, see control
//!   messages and count answers.
//!
//! While JS keeps up, a batch holds what arrived while it handled the previous one: batches
//! grow with the load, and one JS wake and one read per worker serve the whole batch.

use std::io;
use std::time::Duration;

use crate::wire::channel::Channel;
use crate::wire::reader::Reader;

/// Longest wait for a consumer that is behind before the reader takes what gathered.
pub const MAX_GATHER: Duration = Duration::from_millis(2);

/// Most bytes taken in one go after a gathering wait.
const GATHERED_MAX: usize = 1 << 20;

/// After a gathering wait, reads all the worker wrote meanwhile (up to GATHERED_MAX), not
/// one buffer of it: with large messages one buffer is a handful of them, and a wait per
/// handful starves the pipeline. Ok(0) only at end of stream; WouldBlock if nothing came.
pub fn read_gathered(channel: &Channel, lines: &mut Reader) -> io::Result<usize> {
    let mut total = 0;
    loop {
        match channel.read_into(lines.buffer()) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                total += n;
                if total >= GATHERED_MAX {
                    return Ok(total);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && total > 0 => return Ok(total),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[tokio::test]
    async fn a_gathered_read_takes_everything_written_meanwhile() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let channel = Channel::new(ours).unwrap();
        let mut lines = Reader::new(crate::config::Serialization::Json, 1 << 20);
        let err = read_gathered(&channel, &mut lines).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "nothing written yet");
        // More than one read buffer (64 KiB), in few writes so that it fits the socket.
        let mut line = vec![b'x'; 9_999];
        line.push(b'\n');
        for _ in 0..10 {
            theirs.write_all(&line).unwrap();
        }
        assert_eq!(read_gathered(&channel, &mut lines).unwrap(), 100_000);
        let chunk = lines.take_complete().unwrap().unwrap();
        assert_eq!(chunk.iter().filter(|&&b| b == b'\n').count(), 10);
        drop(theirs);
        assert_eq!(
            read_gathered(&channel, &mut lines).unwrap(),
            0,
            "end of stream"
        );
    }
}
