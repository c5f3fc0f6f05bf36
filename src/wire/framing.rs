//! Line framing of Node's JSON IPC channel: one JSON text per message, ended by `\n`.

use bytes::{Bytes, BytesMut};

use crate::wire::json_string::escape_into;

/// Starts a string in a batch from JS: this byte, the string's UTF-8 length (u32,
/// little-endian), then its UTF-8. It may stand for a whole message or for one string value
/// inside a JSON text (the text before and after it comes as it is). JSON texts never hold
/// this byte raw (`JSON.stringify` escapes it), so it cannot be mistaken for text.
pub const STRING_MARK: u8 = 1;
const STRING_HEADER: usize = 5;

/// A batch from JS whose strings came as raw UTF-8 (see `STRING_MARK`) made into plain
/// `\n`-separated JSON texts, each string escaped exactly as `JSON.stringify` would
/// (this replaces the copy the batch needs anyway). Also returns how many characters the
/// escapes added beyond the strings and their quotes (for `stats.length`).
pub fn expand_strings(batch: &[u8]) -> (Bytes, usize) {
    let mut out = Vec::with_capacity(batch.len() + batch.len() / 8 + 64);
    let mut added = 0;
    let mut at = 0;
    while at < batch.len() {
        if batch[at] == STRING_MARK && at + STRING_HEADER <= batch.len() {
            let len = u32::from_le_bytes(batch[at + 1..at + STRING_HEADER].try_into().unwrap());
            let start = at + STRING_HEADER;
            let end = (start + len as usize).min(batch.len());
            let before = out.len();
            escape_into(&mut out, &batch[start..end]);
            added += out.len() - before - 2 - (end - start);
            // The separator after it, if any (a lone message has none).
            at = end;
            if batch.get(at) == Some(&b'\n') {
                out.push(b'\n');
                at += 1;
            }
        } else {
            // JSON text up to the next string or the end of its line (`batch[at]` itself is
            // text, even a mark whose header is cut off).
            let from = at + 1;
            let next = memchr::memchr2(b'\n', STRING_MARK, &batch[from..])
                .map_or(batch.len(), |i| from + i);
            let end = if batch.get(next) == Some(&b'\n') {
                next + 1
            } else {
                next
            };
            out.extend_from_slice(&batch[at..end]);
            at = end;
        }
    }
    (Bytes::from(out), added)
}

/// Splits a batch of `\n`-separated lines into one `Bytes` per message (without its `\n`),
/// without copying. The last line may lack its `\n`; empty lines are not messages.
pub fn split_messages(batch: Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', &batch) {
        if end > start {
            out.push(batch.slice(start..end));
        }
        start = end + 1;
    }
    if start < batch.len() {
        out.push(batch.slice(start..));
    }
    out
}

/// Why a worker's byte stream could not be framed.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A line grew past the configured limit before its `\n` arrived.
    TooLong { limit: usize },
}

/// Accumulates bytes read from a worker and hands out complete lines.
pub struct LineReader {
    buf: BytesMut,
    max_line: usize,
}

impl LineReader {
    pub fn new(max_line: usize) -> Self {
        LineReader {
            buf: BytesMut::with_capacity(64 << 10),
            max_line,
        }
    }

    /// The buffer to read into; it always has spare room for one more read.
    pub fn buffer(&mut self) -> &mut BytesMut {
        if self.buf.capacity() - self.buf.len() < 16 << 10 {
            self.buf.reserve(64 << 10);
        }
        &mut self.buf
    }

    /// Takes every complete line read so far as one chunk (each line still ends with `\n`).
    pub fn take_complete(&mut self) -> Result<Option<Bytes>, FrameError> {
        match memchr::memrchr(b'\n', &self.buf) {
            Some(last) => {
                // The first line may have begun in earlier reads, however big they were.
                let first = memchr::memchr(b'\n', &self.buf[..=last]).unwrap_or(last);
                if first > self.max_line {
                    return Err(FrameError::TooLong {
                        limit: self.max_line,
                    });
                }
                let chunk = self.buf.split_to(last + 1).freeze();
                self.check_partial()?;
                Ok(Some(chunk))
            }
            None => {
                self.check_partial()?;
                Ok(None)
            }
        }
    }

    fn check_partial(&self) -> Result<(), FrameError> {
        if self.buf.len() > self.max_line {
            return Err(FrameError::TooLong {
                limit: self.max_line,
            });
        }
        Ok(())
    }

    /// Bytes of an unfinished line left when the stream ended.
    pub fn leftover(&self) -> usize {
        self.buf.len()
    }
}

/// Iterates over the lines of a chunk, without their `\n` (found with SIMD: results can be
/// large, and a byte-by-byte scan cost more than copying them).
pub fn lines(chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', chunk)
        .chain(std::iter::once(chunk.len()))
        .filter_map(move |end| {
            let line = &chunk[start.min(end)..end];
            start = end + 1;
            (!line.is_empty()).then_some(line)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_batches_into_messages() {
        let msgs = split_messages(Bytes::from_static(b"{\"a\":1}\n\"x\"\n3\n"));
        assert_eq!(msgs, vec![&b"{\"a\":1}"[..], &b"\"x\""[..], &b"3"[..]]);
    }

    /// A batch as JS writes it: JSON texts as they are, strings raw behind their header.
    fn js_batch(items: &[Result<&str, &str>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b'\n');
            }
            match item {
                Ok(json) => out.extend_from_slice(json.as_bytes()),
                Err(raw) => {
                    out.push(STRING_MARK);
                    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
                    out.extend_from_slice(raw.as_bytes());
                }
            }
        }
        out
    }

    #[test]
    fn raw_strings_become_json_texts_between_the_others() {
        let raw = "line\nwith \"quotes\" and \u{1}\u{1F600}";
        let batch = js_batch(&[Ok("{\"a\":1}"), Err(raw), Err(""), Ok("2"), Err("\n")]);
        let (text, added) = expand_strings(&batch);
        let msgs = split_messages(text);
        let expected = [
            "{\"a\":1}".to_string(),
            serde_json::to_string(raw).unwrap(),
            "\"\"".to_string(),
            "2".to_string(),
            "\"\\n\"".to_string(),
        ];
        assert_eq!(msgs.len(), expected.len());
        for (got, want) in msgs.iter().zip(&expected) {
            assert_eq!(std::str::from_utf8(got).unwrap(), want);
        }
        // \n -> \\n, two quotes, \u0001 -> 6 characters; and the lone \n.
        assert_eq!(added, 1 + 2 + 5 + 1);
    }

    #[test]
    fn strings_inside_json_texts_are_escaped_in_place() {
        let mut batch = b"{\"id\":1,\"p\":".to_vec();
        batch.extend(js_batch(&[Err("a\"b\n")]));
        batch.extend_from_slice(b",\"q\":");
        batch.extend(js_batch(&[Err("\u{1}")]));
        batch.extend_from_slice(b"}\n[");
        batch.extend(js_batch(&[Err("x")]));
        batch.extend_from_slice(b"]");
        let (text, added) = expand_strings(&batch);
        let msgs = split_messages(text);
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            std::str::from_utf8(&msgs[0]).unwrap(),
            r#"{"id":1,"p":"a\"b\n","q":"\u0001"}"#
        );
        assert_eq!(&msgs[1][..], b"[\"x\"]");
        assert_eq!(added, 2 + 5);
    }

    #[test]
    fn a_lone_string_gets_no_separator() {
        let (text, added) = expand_strings(&js_batch(&[Err("a\tb")]));
        assert_eq!(&text[..], b"\"a\\tb\"");
        assert_eq!(added, 1);
    }

    #[test]
    fn a_batch_without_strings_is_copied_as_it_is() {
        let (text, added) = expand_strings(b"1\n[2]\n\"x\"");
        assert_eq!(&text[..], b"1\n[2]\n\"x\"");
        assert_eq!(added, 0);
    }

    #[test]
    fn lines_skip_empty_ones_and_keep_an_unterminated_tail() {
        let got: Vec<&[u8]> = lines(b"\n1\n\n22\n333").collect();
        assert_eq!(got, vec![&b"1"[..], &b"22"[..], &b"333"[..]]);
        assert_eq!(lines(b"a\n").collect::<Vec<_>>(), vec![&b"a"[..]]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n\n").count(), 0);
    }

    #[test]
    fn unterminated_last_message_counts() {
        let msgs = split_messages(Bytes::from_static(b"1\n2"));
        assert_eq!(msgs, vec![&b"1"[..], &b"2"[..]]);
    }

    #[test]
    fn empty_lines_are_not_messages() {
        assert!(split_messages(Bytes::from_static(b"\n\n")).is_empty());
    }

    #[test]
    fn reader_returns_only_complete_lines() {
        let mut r = LineReader::new(1024);
        r.buffer().extend_from_slice(b"1\n22\n33");
        let chunk = r.take_complete().unwrap().unwrap();
        assert_eq!(
            lines(&chunk).collect::<Vec<_>>(),
            vec![&b"1"[..], &b"22"[..]]
        );
        assert_eq!(r.take_complete().unwrap(), None);
        r.buffer().extend_from_slice(b"3\n");
        assert_eq!(&r.take_complete().unwrap().unwrap()[..], b"333\n");
        assert_eq!(r.leftover(), 0);
    }

    #[test]
    fn reader_rejects_a_line_past_the_limit() {
        let mut r = LineReader::new(8);
        r.buffer().extend_from_slice(b"123456789");
        assert_eq!(r.take_complete(), Err(FrameError::TooLong { limit: 8 }));
    }

    #[test]
    fn reader_rejects_a_line_past_the_limit_read_whole_in_one_go() {
        let mut r = LineReader::new(8);
        r.buffer().extend_from_slice(b"123456789\n1\n");
        assert_eq!(r.take_complete(), Err(FrameError::TooLong { limit: 8 }));
    }

    #[test]
    fn reader_accepts_long_lines_once_complete_within_limit() {
        let mut r = LineReader::new(8);
        r.buffer().extend_from_slice(b"1234567\n12");
        assert_eq!(&r.take_complete().unwrap().unwrap()[..], b"1234567\n");
    }
}
