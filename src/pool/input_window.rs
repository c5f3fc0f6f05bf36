//! How much of a worker's input may wait in its socket, unread by it.
//!
//! A Node worker writes each reply with its own syscall, and each one holds its own socket
//! buffer (~770 bytes for a 100-byte reply) on the worker's end until we read it. When a
//! reply meets a full socket, libuv queues it and every later reply in the worker's heap,
//! and the queue drains by at most 32 writes per turn of the worker's event loop while
//! that turn may read thousands of messages: a worker that keeps finding input never leaves
//! that mode (measured: 150-190 MB heaps and ~25 % less throughput for the rest of the run).
//! Its socket fills whenever our reading lags by its room: ~550 small replies with a stock
//! kernel's `wmem_max`, a scheduling slice on a busy machine.
//!
//! So a worker is never given more than it can answer into that room while we do not read:
//! the socket's send buffer on our end is sized to about `UNREAD_MESSAGES` of its recent
//! input messages (the kernel then makes our writes wait, and wakes the writer as the
//! worker reads). Large messages keep the default buffer: a few of them already fill it,
//! and one turn of the worker's loop answers fewer than it can write.

use crate::wire::channel::Channel;

/// Input messages that may wait unread in a worker's socket. 128 × ~110-byte messages
/// (16 KiB) never let an echo worker's replies fill a stock kernel's 416 KiB; 256 (32 KiB)
/// did in about half the runs (echo-100b, `net.core.wmem_max` = 212992).
const UNREAD_MESSAGES: usize = 128;

/// Smallest window: below it one write would carry only a handful of small messages.
const MIN_WINDOW: usize = 16 << 10;

/// A worker's recent input message size, and the window applied to its socket.
#[derive(Debug, Default)]
pub struct InputWindow {
    /// Moving average of the bytes per message handed to the worker; 0 before the first.
    avg_message: usize,
    /// The send buffer set on our end; 0 while it is the kernel's default.
    applied: usize,
}

impl InputWindow {
    /// Notes `bytes` handed to the worker in `messages` messages.
    pub fn note(&mut self, bytes: usize, messages: usize) {
        if messages == 0 {
            return;
        }
        let each = bytes / messages;
        self.avg_message = if self.avg_message == 0 {
            each
        } else {
            (self.avg_message * 7 + each) / 8
        };
    }

    /// The send buffer the socket should have, never above the kernel's default (`ceiling`).
    /// Powers of two, so that the average's drift changes it rarely.
    fn wanted(&self, ceiling: usize) -> usize {
        let want = self.avg_message.saturating_mul(UNREAD_MESSAGES);
        want.next_power_of_two()
            .clamp(MIN_WINDOW.min(ceiling), ceiling)
    }

    /// Sizes the channel's send buffer to the recent messages, when that changed.
    pub fn fit(&mut self, channel: &Channel) {
        if self.avg_message == 0 {
            return;
        }
        let ceiling = channel.default_send_buffer();
        let want = self.wanted(ceiling);
        let current = if self.applied == 0 {
            ceiling
        } else {
            self.applied
        };
        if want != current && channel.set_send_buffer(want).is_ok() {
            self.applied = want;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: usize = 212_992;

    fn window_after(sizes: &[usize]) -> usize {
        let mut w = InputWindow::default();
        for &s in sizes {
            w.note(s, 1);
        }
        w.wanted(DEFAULT)
    }

    #[test]
    fn small_messages_get_a_small_window() {
        assert_eq!(window_after(&[110; 10]), 16 << 10);
        assert_eq!(window_after(&[20; 10]), MIN_WINDOW);
    }

    #[test]
    fn large_messages_keep_the_default() {
        assert_eq!(window_after(&[16_400; 3]), DEFAULT);
        assert_eq!(window_after(&[1_100]), DEFAULT);
        assert_eq!(window_after(&[500]), 64 << 10);
    }

    #[test]
    fn a_batch_counts_as_its_messages() {
        let mut w = InputWindow::default();
        w.note(110 * 64, 64);
        assert_eq!(w.wanted(DEFAULT), 16 << 10);
    }

    #[test]
    fn the_window_follows_a_change_of_size() {
        let mut sizes = vec![16_400; 4];
        sizes.extend([110; 100]);
        assert_eq!(window_after(&sizes), 16 << 10);
        let mut sizes = vec![110; 40];
        sizes.extend([16_400; 10]);
        assert_eq!(window_after(&sizes), DEFAULT);
    }

    #[test]
    fn the_window_never_exceeds_the_default() {
        let mut w = InputWindow::default();
        w.note(110, 1);
        assert_eq!(w.wanted(4096), 4096);
    }
}
