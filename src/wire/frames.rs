//! Length framing of Node's `serialization: 'advanced'` channel: each message is its V8
//! serializer output prefixed by its length, 4 bytes big-endian. A frame here is always the
//! whole thing, prefix included, so that it goes to a worker (or to JS) as it is.

use bytes::{Bytes, BytesMut};

use crate::wire::framing::FrameError;

/// Bytes of the length prefix.
pub const HEADER: usize = 4;

fn declared(at: &[u8]) -> usize {
    u32::from_be_bytes([at[0], at[1], at[2], at[3]]) as usize
}

/// Splits a batch of whole frames into one `Bytes` per frame, without copying. An incomplete
/// frame at the end (never written by JS) is left out.
pub fn split_frames(batch: Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut at = 0;
    while batch.len() - at >= HEADER {
        let end = at + HEADER + declared(&batch[at..]);
        if end > batch.len() {
            break;
        }
        out.push(batch.slice(at..end));
        at = end;
    }
    out
}

/// Iterates over the frames of a chunk of whole frames (prefix included).
pub fn frames(chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if chunk.len() - at < HEADER {
            return None;
        }
        let end = (at + HEADER + declared(&chunk[at..])).min(chunk.len());
        let frame = &chunk[at..end];
        at = end;
        Some(frame)
    })
}

/// The V8 serializer output of a frame (without its prefix).
pub fn payload(frame: &[u8]) -> &[u8] {
    &frame[HEADER.min(frame.len())..]
}

/// Accumulates bytes read from a worker and hands out complete frames.
pub struct FrameReader {
    buf: BytesMut,
    max_frame: usize,
}

impl FrameReader {
    pub fn new(max_frame: usize) -> Self {
        FrameReader {
            buf: BytesMut::with_capacity(64 << 10),
            max_frame,
        }
    }

    /// The buffer to read into; it always has spare room for one more read, and for the
    /// rest of a large frame whose prefix has arrived.
    pub fn buffer(&mut self) -> &mut BytesMut {
        let spare = self.buf.capacity() - self.buf.len();
        let rest = self.pending_frame_rest();
        if spare < (16 << 10).max(rest.min(self.max_frame)) {
            self.buf.reserve((64 << 10).max(rest.min(self.max_frame)));
        }
        &mut self.buf
    }

    /// Bytes still missing from the (incomplete) first frame, when its prefix is there.
    fn pending_frame_rest(&self) -> usize {
        if self.buf.len() < HEADER {
            return 0;
        }
        (HEADER + declared(&self.buf)).saturating_sub(self.buf.len())
    }

    /// Takes every complete frame read so far as one chunk (what stays is one incomplete
    /// frame at most, so the next call starts its scan there).
    pub fn take_complete(&mut self) -> Result<Option<Bytes>, FrameError> {
        let mut at = 0;
        while self.buf.len() - at >= HEADER {
            let len = declared(&self.buf[at..]);
            if len > self.max_frame {
                return Err(FrameError::TooLong {
                    limit: self.max_frame,
                });
            }
            if self.buf.len() - at - HEADER < len {
                break;
            }
            at += HEADER + len;
        }
        if at == 0 {
            return Ok(None);
        }
        Ok(Some(self.buf.split_to(at).freeze()))
    }

    /// Bytes of an unfinished frame left when the stream ended.
    pub fn leftover(&self) -> usize {
        self.buf.len()
    }
}

/// Appends `payload` as one frame.
pub fn push_frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            push_frame(&mut out, p);
        }
        out
    }

    #[test]
    fn splits_batches_into_frames() {
        let batch = framed(&[b"ab", b"", b"cde"]);
        let got = split_frames(Bytes::from(batch));
        let payloads: Vec<&[u8]> = got.iter().map(|f| payload(f)).collect();
        assert_eq!(payloads, vec![&b"ab"[..], &b""[..], &b"cde"[..]]);
        assert_eq!(&got[0][..], b"\0\0\0\x02ab");
    }

    #[test]
    fn an_incomplete_last_frame_is_left_out() {
        let mut batch = framed(&[b"ab"]);
        batch.extend_from_slice(b"\0\0\0\x09xy");
        assert_eq!(split_frames(Bytes::from(batch)).len(), 1);
    }

    #[test]
    fn reader_returns_only_complete_frames() {
        let mut r = FrameReader::new(1024);
        let all = framed(&[b"one", b"two", b"three"]);
        r.buffer().extend_from_slice(&all[..all.len() - 2]);
        let chunk = r.take_complete().unwrap().unwrap();
        let got: Vec<&[u8]> = frames(&chunk).map(payload).collect();
        assert_eq!(got, vec![&b"one"[..], &b"two"[..]]);
        assert_eq!(r.take_complete().unwrap(), None);
        r.buffer().extend_from_slice(&all[all.len() - 2..]);
        let chunk = r.take_complete().unwrap().unwrap();
        assert_eq!(
            frames(&chunk).map(payload).collect::<Vec<_>>(),
            vec![&b"three"[..]]
        );
        assert_eq!(r.leftover(), 0);
    }

    #[test]
    fn a_prefix_split_across_reads_waits_for_the_rest() {
        let mut r = FrameReader::new(1024);
        let all = framed(&[b"hello"]);
        r.buffer().extend_from_slice(&all[..2]);
        assert_eq!(r.take_complete().unwrap(), None);
        r.buffer().extend_from_slice(&all[2..]);
        assert_eq!(&r.take_complete().unwrap().unwrap()[..], &all[..]);
    }

    #[test]
    fn reader_rejects_a_frame_past_the_limit_from_its_prefix() {
        let mut r = FrameReader::new(8);
        r.buffer().extend_from_slice(b"\0\0\0\x09");
        assert_eq!(r.take_complete(), Err(FrameError::TooLong { limit: 8 }));
    }

    #[test]
    fn reader_makes_room_for_a_large_frame_once_its_prefix_is_in() {
        let mut r = FrameReader::new(1 << 30);
        r.buffer().extend_from_slice(&(1u32 << 20).to_be_bytes());
        assert!(r.buffer().capacity() >= HEADER + (1 << 20));
    }
}
