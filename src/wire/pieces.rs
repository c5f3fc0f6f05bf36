//! JSON texts gathered for JS as a row of JSON array texts ("pieces"), each one small enough
//! to become an ordinary V8 string.
//!
//! V8 allocates strings over 128 KiB in its large-object space: fresh pages (faults, zeroing)
//! and a GC of their own for every one. Measured on the bench machine, 16 KiB results parse
//! at ~24 µs each from 256 KiB texts and at ~8 µs from texts under 128 KiB. One piece per
//! batch is still the usual case for small messages, so JS keeps one `JSON.parse` per batch.

/// Largest piece, brackets included, unless a single entry is larger on its own.
pub const PIECE_BYTES: usize = 96 << 10;

/// Pieces back to back in one buffer: `[a\n,b][c]`. Entries are separated by "\n," (no JSON
/// text contains a raw newline, so JS can split a piece into its lines when it must).
#[derive(Debug, Default)]
pub struct JsonPieces {
    text: Vec<u8>,
    /// End offset of each closed piece.
    ends: Vec<usize>,
    /// Whether each closed piece is all ASCII (JS then takes it as a one-byte string).
    ascii: Vec<bool>,
    /// Start offset of the piece being filled.
    open_at: Option<usize>,
    /// Whether the piece being filled is all ASCII so far.
    open_ascii: bool,
}

impl JsonPieces {
    /// Appends one JSON text.
    pub fn push(&mut self, json: &[u8]) {
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

    fn open(&mut self) {
        self.open_at = Some(self.text.len());
        self.open_ascii = true;
        self.text.push(b'[');
    }

    /// Closes the piece being filled, if any.
    pub fn close(&mut self) {
        if self.open_at.take().is_some() {
            self.text.push(b']');
            self.ends.push(self.text.len());
            self.ascii.push(self.open_ascii);
        }
    }

    /// Bytes held (for the high-water mark).
    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The closed pieces, in order.
    pub fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(s, e)| &self.text[s..e])
    }

    /// The closed pieces, in order, each with whether it is all ASCII.
    pub fn pieces_with_ascii(&self) -> impl Iterator<Item = (&[u8], bool)> {
        self.pieces().zip(self.ascii.iter().copied())
    }

    /// Empties the pieces, keeping the memory for the next batch.
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.ascii.clear();
        self.open_at = None;
    }

    /// Memory held, used or not.
    pub fn capacity(&self) -> usize {
        self.text.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let flags: Vec<bool> = p.pieces_with_ascii().map(|(_, ascii)| ascii).collect();
        assert_eq!(flags, vec![true, false, true]);
    }

    #[test]
    fn pieces_stay_under_the_limit_and_keep_every_entry_in_order() {
        let mut p = JsonPieces::default();
        let entry = format!("\"{}\"", "y".repeat(16 << 10));
        for _ in 0..20 {
            p.push(entry.as_bytes());
        }
        let huge = format!("\"{}\"", "z".repeat(PIECE_BYTES * 2));
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
        assert_eq!(all[20].as_str().unwrap().len(), PIECE_BYTES * 2);
        assert_eq!(all[21], 7);
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
