//! JSON texts gathered for JS as a row of parts: JSON array texts ("pieces"), each one small
//! enough to become an ordinary V8 string, and long string results already decoded.
//!
//! V8 allocates strings over 128 KiB in its large-object space: fresh pages (faults, zeroing)
//! and a GC of their own for every one. Measured on the bench machine, 16 KiB results parse
//! at ~24 µs each from 256 KiB texts and at ~8 µs from texts under 128 KiB. One piece per
//! batch is still the usual case for small messages, so JS keeps one `JSON.parse` per batch.
//! A long result that is a JSON string literal (a line of text, the main job's usual answer)
//! is unescaped here instead, on the core's thread, and JS takes it as a string as it is.
//! So are the long string values at the top level of a long object or array result (see
//! `values.rs`): JS parses the rest (a "skeleton", `null` where they were) and assigns them.

use crate::wire::json_string::{unescape, Decoded};
use crate::wire::values::{long_values, Cut, Key};

/// Largest piece, brackets included, unless a single entry is larger on its own.
pub const PIECE_BYTES: usize = 96 << 10;

/// A string result at least this long (quotes included) is decoded here rather than by
/// `JSON.parse`; shorter ones cost JS less inside a piece than as a string of their own.
pub const DECODE_BYTES: usize = 1024;

/// One part of the results, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Part<'a> {
    /// A JSON array text of one or more results; `ascii` when it is all ASCII.
    Json { text: &'a [u8], ascii: bool },
    /// One string result, one byte per UTF-16 code unit (Latin-1).
    Latin1(&'a [u8]),
    /// One string result as UTF-16 code units.
    Utf16(&'a [u16]),
    /// The JSON text of one result with its long string values taken out (`null` in their
    /// place); each comes next as a `Key` and the value (`Latin1` or `Utf16`).
    Skeleton { text: &'a [u8], ascii: bool },
    /// The key (ASCII) or array index (decimal) of a value taken out of a skeleton.
    Key(&'a [u8]),
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Json { ascii: bool },
    Latin1,
    Utf16,
    Skeleton { ascii: bool },
    Key,
}

/// Parts back to back: the bytes of JSON pieces and Latin-1 strings in `text` (`[a\n,b][c]`),
/// UTF-16 strings in `wide`. Entries of a piece are separated by "\n," (no JSON text contains
/// a raw newline, so JS can split a piece into its lines when it must).
#[derive(Debug, Default)]
pub struct JsonPieces {
    text: Vec<u8>,
    wide: Vec<u16>,
    /// Each closed part: its kind and its end offset (in `wide` for UTF-16, else in `text`).
    ends: Vec<(Kind, usize)>,
    /// Start offset of the piece being filled.
    open_at: Option<usize>,
    /// Whether the piece being filled is all ASCII so far.
    open_ascii: bool,
    /// Scratch for the long values of one result.
    cuts: Vec<Cut>,
}

impl JsonPieces {
    /// Appends one JSON text.
    pub fn push(&mut self, json: &[u8]) {
        if json.len() >= DECODE_BYTES {
            if json[0] == b'"' {
                if let Some(decoded) = unescape(json) {
                    self.push_string(decoded);
                    return;
                }
            } else if self.push_skeleton(json) {
                return;
            }
        }
        match self.open_at {
            Some(start) if self.text.len() - start + 2 + json.len() < PIECE_BYTES => {
                self.text.extend_from_slice(b"\n,");
            }
            Some(_) => {
                self.close();
                self.open();
            }
            None => self.open(),
        }
        // Checked here, on the core's thread, so that JS's thread does not scan the text again.
        self.open_ascii &= json.is_ascii();
        self.text.extend_from_slice(json);
    }

    /// Pushes `json` as a skeleton and its long string values, if it has any that decode.
    fn push_skeleton(&mut self, json: &[u8]) -> bool {
        let mut cuts = std::mem::take(&mut self.cuts);
        let pushed = long_values(json, DECODE_BYTES, &mut cuts) && {
            let decoded: Option<Vec<Decoded<'_>>> = cuts
                .iter()
                .map(|cut| unescape(&json[cut.literal.clone()]))
                .collect();
            decoded.is_some_and(|decoded| {
                self.close();
                let start = self.text.len();
                let mut at = 0;
                for cut in &cuts {
                    self.text.extend_from_slice(&json[at..cut.literal.start]);
                    self.text.extend_from_slice(b"null");
                    at = cut.literal.end;
                }
                self.text.extend_from_slice(&json[at..]);
                let ascii = self.text[start..].is_ascii();
                self.ends.push((Kind::Skeleton { ascii }, self.text.len()));
                for (cut, value) in cuts.iter().zip(decoded) {
                    match &cut.key {
                        Key::Name(name) => self.text.extend_from_slice(&json[name.clone()]),
                        Key::Index(i) => self.text.extend_from_slice(i.to_string().as_bytes()),
                    }
                    self.ends.push((Kind::Key, self.text.len()));
                    self.push_string(value);
                }
                true
            })
        };
        self.cuts = cuts;
        pushed
    }

    fn push_string(&mut self, decoded: Decoded<'_>) {
        self.close();
        match decoded {
            Decoded::Ascii(bytes) => self.text.extend_from_slice(bytes),
            Decoded::Latin1(bytes) => self.text.extend_from_slice(&bytes),
            Decoded::Utf16(units) => {
                self.wide.extend_from_slice(&units);
                self.ends.push((Kind::Utf16, self.wide.len()));
                return;
            }
        }
        self.ends.push((Kind::Latin1, self.text.len()));
    }

    fn open(&mut self) {
        self.open_at = Some(self.text.len());
        self.open_ascii = true;
        self.text.push(b'[');
    }

    /// Closes the piece being filled, if any.
    pub fn close(&mut self) {
        if self.open_at.take().is_some() {
            self.text.push(b']');
            let ascii = self.open_ascii;
            self.ends.push((Kind::Json { ascii }, self.text.len()));
        }
    }

    /// Bytes held (for the high-water mark).
    pub fn len(&self) -> usize {
        self.text.len() + 2 * self.wide.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.wide.is_empty()
    }

    /// How many closed parts `parts()` yields.
    pub fn part_count(&self) -> usize {
        self.ends.len()
    }

    /// The closed parts, in order.
    pub fn parts(&self) -> impl Iterator<Item = Part<'_>> {
        let (mut at, mut wide_at) = (0, 0);
        self.ends.iter().map(move |&(kind, end)| match kind {
            Kind::Utf16 => {
                let units = &self.wide[wide_at..end];
                wide_at = end;
                Part::Utf16(units)
            }
            _ => {
                let text = &self.text[at..end];
                at = end;
                match kind {
                    Kind::Json { ascii } => Part::Json { text, ascii },
                    Kind::Skeleton { ascii } => Part::Skeleton { text, ascii },
                    Kind::Key => Part::Key(text),
                    _ => Part::Latin1(text),
                }
            }
        })
    }

    /// The JSON array texts among the parts, in order.
    pub fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        self.parts().filter_map(|part| match part {
            Part::Json { text, .. } => Some(text),
            _ => None,
        })
    }

    /// Empties the parts, keeping the memory for the next batch.
    pub fn clear(&mut self) {
        self.text.clear();
        self.wide.clear();
        self.ends.clear();
        self.open_at = None;
    }

    /// Memory held, used or not.
    pub fn capacity(&self) -> usize {
        self.text.capacity() + 2 * self.wide.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a decoded string part holds for `s`: one byte per character (all under U+0100).
    fn latin1_of(s: &str) -> Vec<u8> {
        s.chars().map(|c| c as u32 as u8).collect()
    }

    fn utf16_of(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn parse(piece: &[u8]) -> Vec<serde_json::Value> {
        serde_json::from_slice::<Vec<serde_json::Value>>(piece).unwrap()
    }

    #[test]
    fn small_entries_share_one_piece() {
        let mut p = JsonPieces::default();
        p.push(b"{\"a\":1}");
        p.push(b"2");
        p.push(b"\"x\"");
        p.close();
        let pieces: Vec<&[u8]> = p.pieces().collect();
        assert_eq!(pieces, vec![&b"[{\"a\":1}\n,2\n,\"x\"]"[..]]);
    }

    #[test]
    fn each_piece_knows_whether_it_is_ascii() {
        let mut p = JsonPieces::default();
        p.push(b"1");
        p.close();
        p.push("\"é\"".as_bytes());
        p.push(b"2");
        p.close();
        p.push(b"3");
        p.close();
        let flags: Vec<bool> = p
            .parts()
            .map(|part| matches!(part, Part::Json { ascii: true, .. }))
            .collect();
        assert_eq!(flags, vec![true, false, true]);
    }

    #[test]
    fn pieces_stay_under_the_limit_and_keep_every_entry_in_order() {
        let mut p = JsonPieces::default();
        // Nested: long strings at the top level would be decoded rather than packed.
        let entry = format!("[[\"{}\"]]", "y".repeat(16 << 10));
        for _ in 0..20 {
            p.push(entry.as_bytes());
        }
        // An entry larger than a piece (not a string, which would be decoded).
        let huge = format!("[[\"{}\"]]", "z".repeat(PIECE_BYTES * 2));
        p.push(huge.as_bytes());
        p.push(b"7");
        p.close();
        let pieces: Vec<&[u8]> = p.pieces().collect();
        assert!(pieces.len() >= 4, "{} pieces", pieces.len());
        let mut all = Vec::new();
        for piece in &pieces {
            assert!(piece.len() < PIECE_BYTES || parse(piece).len() == 1);
            all.extend(parse(piece));
        }
        assert_eq!(all.len(), 22);
        assert_eq!(all[20][0][0].as_str().unwrap().len(), PIECE_BYTES * 2);
        assert_eq!(all[21], 7);
    }

    #[test]
    fn long_string_results_are_decoded_into_parts_of_their_own() {
        let mut p = JsonPieces::default();
        let ascii = "a".repeat(DECODE_BYTES);
        let latin1 = format!("\u{e9}\n{}", "b".repeat(DECODE_BYTES));
        let wide = format!("\u{1F600}{}", "c".repeat(DECODE_BYTES));
        p.push(b"1");
        p.push(serde_json::to_string(&ascii).unwrap().as_bytes());
        p.push(b"\"short\"");
        p.push(serde_json::to_string(&latin1).unwrap().as_bytes());
        p.push(serde_json::to_string(&wide).unwrap().as_bytes());
        // Not a literal on its own: left to JSON.parse.
        let not_literal = format!("\"{}\" ", "d".repeat(DECODE_BYTES));
        p.push(not_literal.as_bytes());
        p.close();
        let parts: Vec<Part> = p.parts().collect();
        assert_eq!(parts.len(), 6, "{parts:?}");
        assert_eq!(
            parts[0],
            Part::Json {
                text: b"[1]",
                ascii: true
            }
        );
        assert_eq!(parts[1], Part::Latin1(ascii.as_bytes()));
        assert_eq!(
            parts[2],
            Part::Json {
                text: b"[\"short\"]",
                ascii: true
            }
        );
        assert_eq!(parts[3], Part::Latin1(&latin1_of(&latin1)));
        assert_eq!(parts[4], Part::Utf16(&utf16_of(&wide)));
        assert!(matches!(parts[5], Part::Json { .. }));
        assert_eq!(p.pieces().count(), 3);
    }

    #[test]
    fn long_values_of_objects_and_arrays_come_out_of_their_skeleton() {
        let mut p = JsonPieces::default();
        let long = "a\"\u{e9}".repeat(DECODE_BYTES);
        let wide = format!("\u{1F600}{long}");
        let object = serde_json::json!({"id": 1, "p": long, "q": [long], "w": wide});
        p.push(b"0");
        p.push(object.to_string().as_bytes());
        p.push(serde_json::json!([2, long]).to_string().as_bytes());
        // Not a candidate: JSON.parse takes it whole, inside a piece.
        let repeated = format!(
            "{{\"p\":{},\"p\":1}}",
            serde_json::to_string(&long).unwrap()
        );
        p.push(repeated.as_bytes());
        p.close();
        let parts: Vec<Part> = p.parts().collect();
        let skeleton = serde_json::json!({"id": 1, "p": null, "q": [long], "w": null}).to_string();
        let (latin1, units) = (latin1_of(&long), utf16_of(&wide));
        assert_eq!(parts.len(), 10, "{parts:?}");
        assert_eq!(
            parts[0],
            Part::Json {
                text: b"[0]",
                ascii: true
            }
        );
        assert_eq!(
            parts[1],
            Part::Skeleton {
                text: skeleton.as_bytes(),
                ascii: false
            }
        );
        assert_eq!(parts[2], Part::Key(b"p"));
        assert_eq!(parts[3], Part::Latin1(&latin1));
        assert_eq!(parts[4], Part::Key(b"w"));
        assert_eq!(parts[5], Part::Utf16(&units));
        assert_eq!(
            parts[6],
            Part::Skeleton {
                text: b"[2,null]",
                ascii: true
            }
        );
        assert_eq!(parts[7], Part::Key(b"1"));
        assert_eq!(parts[8], Part::Latin1(&latin1));
        let whole = format!("[{repeated}]");
        assert_eq!(
            parts[9],
            Part::Json {
                text: whole.as_bytes(),
                ascii: false
            }
        );
    }

    #[test]
    fn clear_keeps_memory_and_close_is_idempotent() {
        let mut p = JsonPieces::default();
        p.close();
        assert_eq!(p.pieces().count(), 0);
        p.push(b"1");
        p.close();
        p.close();
        assert_eq!(p.pieces().count(), 1);
        let cap = p.capacity();
        p.clear();
        assert!(p.is_empty());
        assert_eq!(p.capacity(), cap);
        p.push(b"2");
        p.close();
        assert_eq!(p.pieces().collect::<Vec<_>>(), vec![&b"[2]"[..]]);
    }
}
