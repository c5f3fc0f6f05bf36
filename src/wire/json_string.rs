//! JSON string literals, written and read byte for byte as V8 does.
//!
//! - [`escape_into`] appends exactly what `JSON.stringify(string)` gives (Node 20..26) for a
//!   string held as valid UTF-8: `"` and `\` escaped, the short forms `\b \f \n \r \t`, every
//!   other byte below 0x20 as `\u00xx` with lowercase hex, and everything else raw (`/`, DEL,
//!   U+2028/U+2029 and all non-ASCII included).
//! - [`unescape`] gives what `JSON.parse` gives for a line that is exactly one string literal,
//!   as Latin-1 or UTF-16 code units ready for a V8 string, or `None` for anything else, so that
//!   the caller can fall back to `JSON.parse` and its own errors.
//!
//! Both are on the hot path for large messages (16 KiB lines), so clean bytes are found a chunk
//! at a time (a fixed-size block tested without early exits, which LLVM turns into a few SIMD
//! compares) and copied in whole runs; only the escapes go byte by byte.

/// Bytes tested at a time when looking for the next byte that needs attention.
const CHUNK: usize = 32;

/// Whether `special` holds for any byte of `block`: a reduction without early exit, so that it
/// vectorises (SSE2: three compares per 16 bytes, one pmovmskb per block). `max` rather than
/// `|`: LLVM compiles `any | (b == x)` into twice the instructions.
#[inline(always)]
fn any_in(block: &[u8], special: impl Fn(u8) -> bool) -> bool {
    block
        .iter()
        .fold(0u8, |acc, &b| acc.max(u8::from(special(b))))
        != 0
}

/// Index of the first byte at or after `i` for which `special` holds, or `bytes.len()`.
#[inline(always)]
fn find(bytes: &[u8], mut i: usize, special: impl Fn(u8) -> bool) -> usize {
    for chunk in bytes[i..].chunks_exact(CHUNK) {
        if any_in(chunk, &special) {
            // Where in the block: its flags (vectorised too) read as words. With escapes at
            // random places this took half the time of a byte loop (fewer mispredictions).
            let mut flags = [0u8; CHUNK];
            for (flag, &b) in flags.iter_mut().zip(chunk) {
                *flag = u8::from(special(b));
            }
            for (k, word) in flags.chunks_exact(8).enumerate() {
                let word = u64::from_le_bytes(word.try_into().unwrap());
                if word != 0 {
                    return i + 8 * k + (word.trailing_zeros() / 8) as usize;
                }
            }
        }
        i += CHUNK;
    }
    // The last few bytes.
    while i < bytes.len() && !special(bytes[i]) {
        i += 1;
    }
    i
}

/// Whether `JSON.stringify` escapes this byte.
#[inline(always)]
fn needs_escape(b: u8) -> bool {
    (b < 0x20) | (b == b'"') | (b == b'\\')
}

/// The letter of a byte's short escape (`\n` ...), or 0 where it has none.
const SHORT: [u8; 256] = {
    let mut t = [0u8; 256];
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends the JSON string literal of `utf8` (valid UTF-8, quotes included) to `out`,
/// exactly as JSON.stringify writes it.
pub fn escape_into(out: &mut Vec<u8>, utf8: &[u8]) {
    out.reserve(utf8.len() + 2);
    out.push(b'"');
    let mut clean = 0;
    let mut i = find(utf8, 0, needs_escape);
    while i < utf8.len() {
        out.extend_from_slice(&utf8[clean..i]);
        let b = utf8[i];
        match SHORT[usize::from(b)] {
            // A control character without a short form.
            0 => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
            letter => out.extend_from_slice(&[b'\\', letter]),
        }
        clean = i + 1;
        i = find(utf8, clean, needs_escape);
    }
    out.extend_from_slice(&utf8[clean..]);
    out.push(b'"');
}

/// Bytes that escaping `b` adds: 1 for a short form, 5 for `\u00xx`, else 0. Branch-free
/// arithmetic rather than a table lookup, so that a block of these vectorises.
#[inline(always)]
fn extra_len(b: u8) -> u8 {
    // 0x08..=0x0d but 0x0b: \b \t \n \f \r.
    let short_control = (b.wrapping_sub(0x08) < 6) & (b != 0x0b);
    let short = short_control | (b == b'"') | (b == b'\\');
    u8::from(short) + 5 * u8::from((b < 0x20) & !short_control)
}

/// The escaped length escape_into would append (quotes included), for reserving space; may be
/// computed by the same scan.
pub fn escaped_len(utf8: &[u8]) -> usize {
    let mut len = utf8.len() + 2;
    let mut chunks = utf8.chunks_exact(CHUNK);
    // Summed a block at a time in a u8 (at most 5 * CHUNK = 160), branch-free within a block
    // whatever the share of escapes.
    for chunk in &mut chunks {
        // Most blocks need no escapes, and testing for that is cheaper than adding up.
        if any_in(chunk, needs_escape) {
            len += usize::from(chunk.iter().fold(0u8, |sum, &b| sum + extra_len(b)));
        }
    }
    len + chunks
        .remainder()
        .iter()
        .map(|&b| usize::from(extra_len(b)))
        .sum::<usize>()
}

/// A decoded JSON string literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// The literal's content needed no unescaping and is all ASCII: these bytes (borrowed from
    /// the input, between the quotes) are the string.
    Ascii(&'a [u8]),
    /// Every UTF-16 code unit is < 0x100: one byte per code unit (Latin-1).
    Latin1(Vec<u8>),
    /// Otherwise: the UTF-16 code units (lone surrogates from `\ud800`-style escapes kept as
    /// they are, exactly as JSON.parse gives them).
    Utf16(Vec<u16>),
}

/// Whether a byte inside a literal needs more than copying: an escape, a quote (which may only
/// close the literal), a raw control character (invalid) or non-ASCII (`as i8` makes 0x80..
/// negative, so one compare covers both ends).
#[inline(always)]
fn special_in_literal(b: u8) -> bool {
    ((b as i8) < 0x20) | (b == b'"') | (b == b'\\')
}

/// What the byte after a backslash stands for: the code unit of a short escape, [`U`] for
/// `\u`, 0 for no escape at all (no short escape stands for NUL). A table rather than a
/// `match`: the jump table's indirect branch mispredicted whenever escapes of different kinds
/// alternate.
const UNESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'/' as usize] = b'/';
    t[b'b' as usize] = 0x08;
    t[b'f' as usize] = 0x0c;
    t[b'n' as usize] = b'\n';
    t[b'r' as usize] = b'\r';
    t[b't' as usize] = b'\t';
    t[b'u' as usize] = U;
    t
};
/// `\u` in [`UNESCAPE`] (no short escape stands for 0xff).
const U: u8 = 0xff;

/// The code unit of the escape whose backslash is at `body[j]`, and the escape's length.
#[inline(always)]
fn escape_at(body: &[u8], j: usize) -> Option<(u16, usize)> {
    match UNESCAPE[usize::from(*body.get(j + 1)?)] {
        0 => None,
        U => {
            let mut unit = 0u16;
            for &h in body.get(j + 2..j + 6)? {
                unit = unit << 4 | (h as char).to_digit(16)? as u16;
            }
            // Surrogates need no pairing here: a pair is two code units either way.
            Some((unit, 6))
        }
        unit => Some((u16::from(unit), 2)),
    }
}

/// The code point of the UTF-8 sequence starting at `body[j]` (a byte >= 0x80) and its
/// length, or None where it is not valid UTF-8 (cut short, overlong, a surrogate, above
/// U+10FFFF, a stray continuation byte).
#[inline(always)]
fn utf8_at(body: &[u8], j: usize) -> Option<(u32, usize)> {
    let cont = |k: usize| match body.get(j + k) {
        Some(&b) if b & 0xc0 == 0x80 => Some(u32::from(b & 0x3f)),
        _ => None,
    };
    let lead = body[j];
    let bits = u32::from(lead);
    match lead {
        0xc2..=0xdf => Some(((bits & 0x1f) << 6 | cont(1)?, 2)),
        0xe0..=0xef => {
            let c = (bits & 0x0f) << 12 | cont(1)? << 6 | cont(2)?;
            (c >= 0x800 && !(0xd800..0xe000).contains(&c)).then_some((c, 3))
        }
        0xf0..=0xf4 => {
            let c = (bits & 0x07) << 18 | cont(1)? << 12 | cont(2)? << 6 | cont(3)?;
            (0x10000..=0x10ffff).contains(&c).then_some((c, 4))
        }
        _ => None,
    }
}

/// Where decoded code units go: Latin-1 bytes (which refuse units >= 0x100) or UTF-16.
trait Units {
    /// Appends bytes as code units each (Latin-1, which includes ASCII).
    fn latin1(&mut self, run: &[u8]);
    /// Appends a code unit (from an escape, so maybe a lone surrogate) or a code point (from
    /// UTF-8, a surrogate pair if above U+FFFF); false, and nothing appended, if it does not fit.
    fn push_char(&mut self, c: u32) -> bool;
}

impl Units for Vec<u8> {
    fn latin1(&mut self, run: &[u8]) {
        self.extend_from_slice(run);
    }
    fn push_char(&mut self, c: u32) -> bool {
        let fits = c < 0x100;
        if fits {
            self.push(c as u8);
        }
        fits
    }
}

impl Units for Vec<u16> {
    fn latin1(&mut self, run: &[u8]) {
        self.extend(run.iter().map(|&b| u16::from(b)));
    }
    fn push_char(&mut self, c: u32) -> bool {
        if c < 0x10000 {
            self.push(c as u16);
        } else {
            let c = c - 0x10000;
            self.extend_from_slice(&[0xd800 | (c >> 10) as u16, 0xdc00 | (c & 0x3ff) as u16]);
        }
        true
    }
}

enum Stop {
    /// Not a valid literal's content.
    Invalid,
    /// A code unit that does not fit starts at this byte.
    Wide(usize),
}

/// Decodes `body[i..]` (a literal's content) into `out`.
fn decode(body: &[u8], mut i: usize, out: &mut impl Units) -> Result<(), Stop> {
    loop {
        let j = find(body, i, special_in_literal);
        out.latin1(&body[i..j]);
        let Some(&b) = body.get(j) else {
            return Ok(());
        };
        if b == b'\\' {
            let (unit, len) = escape_at(body, j).ok_or(Stop::Invalid)?;
            if !out.push_char(u32::from(unit)) {
                return Err(Stop::Wide(j));
            }
            i = j + len;
        } else if b >= 0x80 {
            // A run of non-ASCII chars, taken without going back to the block scan.
            i = j;
            while i < body.len() && body[i] >= 0x80 {
                let (c, len) = utf8_at(body, i).ok_or(Stop::Invalid)?;
                if !out.push_char(c) {
                    return Err(Stop::Wide(i));
                }
                i += len;
            }
        } else {
            // A raw control character, or a quote before the last byte.
            return Err(Stop::Invalid);
        }
    }
}

/// `literal` is a whole result line: if it is exactly one JSON string literal (first byte `"`,
/// last byte the closing `"`, nothing before or after, no whitespace), returns what JSON.parse
/// would give; None when it is anything else or invalid (raw control characters < 0x20 inside,
/// bad escape, invalid UTF-8, unterminated, trailing bytes) — the caller then falls back to
/// JSON.parse, which keeps its own errors.
pub fn unescape(literal: &[u8]) -> Option<Decoded<'_>> {
    // If the last quote is escaped, the content ends in a lone backslash and fails below.
    let [b'"', body @ .., b'"'] = literal else {
        return None;
    };
    let first = find(body, 0, special_in_literal);
    if first == body.len() {
        return Some(Decoded::Ascii(body));
    }
    // Every code unit takes at least one byte of the content, so neither buffer grows.
    let mut latin1 = Vec::with_capacity(body.len());
    latin1.extend_from_slice(&body[..first]);
    match decode(body, first, &mut latin1) {
        Ok(()) => Some(Decoded::Latin1(latin1)),
        Err(Stop::Invalid) => None,
        Err(Stop::Wide(at)) => {
            let mut utf16 = Vec::with_capacity(body.len());
            utf16.latin1(&latin1);
            match decode(body, at, &mut utf16) {
                Ok(()) => Some(Decoded::Utf16(utf16)),
                Err(_) => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn escaped(s: &str) -> String {
        let mut out = b"junk".to_vec();
        escape_into(&mut out, s.as_bytes());
        assert_eq!(&out[..4], b"junk", "escape_into must append");
        let out = String::from_utf8(out[4..].to_vec()).expect("escaped text is UTF-8");
        assert_eq!(escaped_len(s.as_bytes()), out.len(), "escaped_len of {s:?}");
        out
    }

    fn units(d: &Decoded<'_>) -> Vec<u16> {
        match d {
            Decoded::Ascii(b) => b.iter().map(|&b| u16::from(b)).collect(),
            Decoded::Latin1(b) => b.iter().map(|&b| u16::from(b)).collect(),
            Decoded::Utf16(u) => u.clone(),
        }
    }

    /// The variant `unescape` must choose for a literal with these code units.
    fn expected_kind(units: &[u16], unescaping: bool) -> &'static str {
        if !unescaping && units.iter().all(|&u| u < 0x80) {
            "ascii"
        } else if units.iter().all(|&u| u < 0x100) {
            "latin1"
        } else {
            "utf16"
        }
    }

    fn kind(d: &Decoded<'_>) -> &'static str {
        match d {
            Decoded::Ascii(_) => "ascii",
            Decoded::Latin1(_) => "latin1",
            Decoded::Utf16(_) => "utf16",
        }
    }

    /// Escapes `s`, checks it against serde_json, and checks that it decodes back to `s`.
    fn check_round_trip(s: &str) {
        let lit = escaped(s);
        assert_eq!(lit, serde_json::to_string(s).unwrap(), "escape of {s:?}");
        let d = unescape(lit.as_bytes()).expect("own output decodes");
        let want: Vec<u16> = s.encode_utf16().collect();
        assert_eq!(units(&d), want, "decode of {lit:?}");
        let needed_escapes = s.bytes().any(needs_escape);
        assert_eq!(kind(&d), expected_kind(&want, needed_escapes), "{lit:?}");
        if let Decoded::Ascii(b) = d {
            assert_eq!(b, s.as_bytes());
        }
    }

    #[test]
    fn every_control_character_and_the_short_forms() {
        for b in 0u8..0x20 {
            let want = match b {
                0x08 => "\"\\b\"".to_string(),
                0x09 => "\"\\t\"".to_string(),
                0x0a => "\"\\n\"".to_string(),
                0x0c => "\"\\f\"".to_string(),
                0x0d => "\"\\r\"".to_string(),
                _ => format!("\"\\u{b:04x}\""),
            };
            let s = (b as char).to_string();
            assert_eq!(escaped(&s), want);
            check_round_trip(&s);
        }
        assert_eq!(escaped("\u{1f}"), r#""\u001f""#, "lowercase hex");
        assert_eq!(escaped("\u{1b}"), r#""\u001b""#, "lowercase hex");
        assert_eq!(escaped("\0"), r#""\u0000""#);
        assert_eq!(escaped("\""), r#""\"""#);
        assert_eq!(escaped("\\"), r#""\\""#);
        assert_eq!(escaped("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
    }

    #[test]
    fn raw_bytes_stay_raw() {
        assert_eq!(escaped(""), "\"\"");
        assert_eq!(escaped("/"), "\"/\"", "solidus is not escaped");
        assert_eq!(escaped("\u{7f}"), "\"\u{7f}\"", "DEL stays raw");
        assert_eq!(escaped("\u{2028}\u{2029}"), "\"\u{2028}\u{2029}\"");
        assert_eq!(escaped("é€😀\u{10ffff}"), "\"é€😀\u{10ffff}\"");
        for s in [
            "", "/", "\u{7f}", "\u{2028}", "\u{2029}", "é", "ÿ", "\u{100}", "😀",
        ] {
            check_round_trip(s);
        }
    }

    #[test]
    fn decodes_each_kind() {
        assert_eq!(unescape(br#""""#), Some(Decoded::Ascii(b"")));
        assert_eq!(unescape(br#""abc""#), Some(Decoded::Ascii(b"abc")));
        assert_eq!(unescape(b"\"a\x7fb\""), Some(Decoded::Ascii(b"a\x7fb")));
        let latin1 = |b: &[u8]| Some(Decoded::Latin1(b.to_vec()));
        assert_eq!(
            unescape(br#""\/""#),
            latin1(b"/"),
            "an escape is never Ascii"
        );
        assert_eq!(unescape(br#""a\"b""#), latin1(b"a\"b"));
        assert_eq!(unescape(br#""\\""#), latin1(b"\\"));
        assert_eq!(unescape(br#""\b\f\n\r\t""#), latin1(b"\x08\x0c\n\r\t"));
        assert_eq!(
            unescape(br#""\u0000\u001F\u00e9\u00FF""#),
            latin1(b"\0\x1f\xe9\xff")
        );
        assert_eq!(unescape("\"é\"".as_bytes()), latin1(b"\xe9"));
        assert_eq!(unescape("\"ÿa\"".as_bytes()), latin1(b"\xffa"));
        let utf16 = |u: &[u16]| Some(Decoded::Utf16(u.to_vec()));
        assert_eq!(unescape(br#""\u0100""#), utf16(&[0x100]));
        assert_eq!(unescape("\"ā\"".as_bytes()), utf16(&[0x101]));
        assert_eq!(unescape("\"😀\"".as_bytes()), utf16(&[0xd83d, 0xde00]));
        assert_eq!(unescape(br#""\uD83D\uDE00""#), utf16(&[0xd83d, 0xde00]));
        assert_eq!(
            unescape(br#""\ud800x""#),
            utf16(&[0xd800, 0x78]),
            "lone high"
        );
        assert_eq!(
            unescape(br#""\udc00\ud800""#),
            utf16(&[0xdc00, 0xd800]),
            "reversed"
        );
        assert_eq!(
            unescape("\"\u{2028}\u{2029}\"".as_bytes()),
            utf16(&[0x2028, 0x2029])
        );
        // Latin-1 first, then a unit that forces UTF-16 in the middle of a run and of escapes.
        let want: Vec<u16> = "ab\néé€x😀".encode_utf16().collect();
        assert_eq!(
            unescape(r#""ab\néé€x😀""#.as_bytes()),
            Some(Decoded::Utf16(want))
        );
        let want: Vec<u16> = "é\n\u{1234}é".encode_utf16().collect();
        assert_eq!(
            unescape(br#""\u00e9\n\u1234\u00e9""#),
            Some(Decoded::Utf16(want))
        );
    }

    #[test]
    fn rejects_what_is_not_one_valid_literal() {
        let bad: &[&[u8]] = &[
            b"",
            b"\"",
            b"abc",
            b"\"abc",
            b"abc\"",
            b" \"abc\"",
            b"\"abc\" ",
            b"\"abc\"\n",
            b"\"a\"b\"",
            b"\"a\"\"",
            b"\"abc\\\"",
            b"\"a\nb\"",
            b"\"a\tb\"",
            b"\"\0\"",
            b"\"\x1f\"",
            b"\"\\x\"",
            b"\"\\a\"",
            b"\"\\U0041\"",
            b"\"\\u12\"",
            b"\"\\u12zz\"",
            b"\"\\u+123\"",
            b"\"\\u\"",
            b"\"\\\"",
            b"\"\xff\"",
            b"\"\x80\"",
            b"\"a\xc3\"",
            b"\"\xc3\xa9\xe2\x82\"",
            b"\"\xed\xa0\x80\"",
            b"\"\xc0\xaf\"",
            b"\"\xf4\x90\x80\x80\"",
            b"\"\xe0\x80\x80\"",
            b"\"\xe0\x9f\xbf\"",
            b"\"\xf0\x80\x80\x80\"",
            b"\"\xf0\x8f\xbf\xbf\"",
            b"\"\xf5\x80\x80\x80\"",
            b"\"\xf8\x88\x80\x80\x80\"",
            b"\"\xed\xbf\xbf\"",
            b"\"\xe2\x82\xac\xac\"",
            b"\"\xc3\xa9\n\"",
            b"\"\xc3\xa9\\x\"",
            b"\"\xc4\x80\n\"",
            b"\"\xc4\x80\\u00\"",
        ];
        for lit in bad {
            assert_eq!(unescape(lit), None, "{:?}", String::from_utf8_lossy(lit));
        }
    }

    #[test]
    fn only_json_escapes_are_accepted() {
        for b in 0..=u8::MAX {
            let lit = [b'"', b'\\', b, b'"'];
            let got = unescape(&lit);
            match b {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => assert!(got.is_some()),
                _ => assert_eq!(got, None, "\\ followed by {b:#04x}"),
            }
        }
        for b in 0..=u8::MAX {
            let lit = [&b"\"\\u0"[..], &[b], b"0a\""].concat();
            assert_eq!(unescape(&lit).is_some(), b.is_ascii_hexdigit(), "{b:#04x}");
        }
    }

    #[test]
    fn long_runs_and_chunk_boundaries() {
        let clean = "a".repeat(64 << 10);
        check_round_trip(&clean);
        for tail in ["\"", "\n", "\u{1}", "\\", "é", "€", "😀"] {
            check_round_trip(&format!("{clean}{tail}"));
            check_round_trip(&format!("{tail}{clean}"));
        }
        // One or two special chars at every offset around the first few chunk boundaries,
        // in strings ending at every length around them.
        for boundary in [CHUNK, 2 * CHUNK, 7 * CHUNK] {
            for at in boundary - 32..boundary + 32 {
                for special in ["\"", "\u{1f}", "\t", "\\", "é", "€", "😀"] {
                    let s = format!("{}{special}{}", "x".repeat(at), "y".repeat(40));
                    check_round_trip(&s);
                    check_round_trip(&format!("{}{special}", "x".repeat(at)));
                    check_round_trip(&format!("{}\n{special}z", "x".repeat(at)));
                }
            }
        }
    }

    /// Strings heavy in what needs care: escapes, controls, non-ASCII, non-BMP, long runs.
    fn tricky_string() -> impl Strategy<Value = String> {
        let special = prop::sample::select(vec![
            '\0',
            '\u{1}',
            '\u{8}',
            '\t',
            '\n',
            '\u{b}',
            '\u{c}',
            '\r',
            '\u{1b}',
            '\u{1f}',
            ' ',
            '"',
            '\\',
            '/',
            '\u{7f}',
            '\u{80}',
            'é',
            'ÿ',
            '\u{100}',
            '€',
            '\u{2028}',
            '\u{2029}',
            '\u{d7ff}',
            '\u{e000}',
            '\u{fffd}',
            '\u{ffff}',
            '😀',
            '\u{10000}',
            '\u{10ffff}',
        ]);
        let piece = prop_oneof![
            4 => special.prop_map(String::from),
            2 => any::<char>().prop_map(String::from),
            2 => "[ -~]{0,80}",
            1 => (0usize..3000).prop_map(|n| "k".repeat(n)),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
    }

    /// A valid literal's content as tokens (raw chars, and escapes of every form), so that
    /// corruptions can be put between them.
    fn literal_tokens() -> impl Strategy<Value = Vec<String>> {
        fn hex(unit: u16, upper: u8) -> String {
            // Each digit's case chosen by one bit of `upper`.
            format!("{unit:04x}")
                .chars()
                .enumerate()
                .map(|(k, c)| {
                    if upper >> k & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect()
        }
        let raw = any::<char>()
            .prop_filter("needs escaping", |&c| !(c < ' ' || c == '"' || c == '\\'))
            .prop_map(String::from);
        let short = prop::sample::select(vec![
            "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
        ])
        .prop_map(String::from);
        let u = (any::<u16>(), any::<u8>()).prop_map(|(u, c)| format!("\\u{}", hex(u, c)));
        let low_u = (0u16..0x100, any::<u8>()).prop_map(|(u, c)| format!("\\u{}", hex(u, c)));
        let lone = (0xd800u16..0xe000, any::<u8>()).prop_map(|(u, c)| format!("\\u{}", hex(u, c)));
        let pair = (
            any::<char>().prop_filter("non-BMP", |&c| c as u32 > 0xffff),
            any::<u8>(),
        )
            .prop_map(|(c, case)| {
                let mut b = [0u16; 2];
                c.encode_utf16(&mut b);
                format!("\\u{}\\u{}", hex(b[0], case), hex(b[1], case >> 4))
            });
        let token = prop_oneof![
            3 => raw,
            2 => "[ -!#-\\[\\]-~]{1,40}",
            2 => short,
            1 => u,
            2 => low_u,
            1 => lone,
            1 => pair,
            1 => (0usize..2000).prop_map(|n| "q".repeat(n)),
        ];
        prop::collection::vec(token, 0..30)
    }

    /// JSON.parse of a string literal's content, char by char, as UTF-16 code units.
    fn reference_decode(content: &str) -> Vec<u16> {
        let mut out = Vec::new();
        let mut chars = content.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                let mut b = [0u16; 2];
                out.extend_from_slice(c.encode_utf16(&mut b));
                continue;
            }
            let unit = match chars.next().unwrap() {
                '"' => 0x22,
                '\\' => 0x5c,
                '/' => 0x2f,
                'b' => 0x08,
                'f' => 0x0c,
                'n' => 0x0a,
                'r' => 0x0d,
                't' => 0x09,
                'u' => (0..4).fold(0, |u, _| {
                    u * 16 + chars.next().unwrap().to_digit(16).unwrap()
                }),
                other => panic!("bad escape {other:?}"),
            };
            out.push(unit as u16);
        }
        out
    }

    fn quoted(content: &[u8]) -> Vec<u8> {
        [&b"\""[..], content, b"\""].concat()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn escape_matches_serde_json(s in tricky_string()) {
            let want = serde_json::to_string(&s).unwrap();
            let mut out = Vec::new();
            escape_into(&mut out, s.as_bytes());
            prop_assert_eq!(String::from_utf8(out).unwrap(), want.clone());
            prop_assert_eq!(escaped_len(s.as_bytes()), want.len());
        }

        #[test]
        fn unescape_inverts_escape(s in tricky_string()) {
            let mut lit = Vec::new();
            escape_into(&mut lit, s.as_bytes());
            let d = unescape(&lit).expect("own output decodes");
            let want: Vec<u16> = s.encode_utf16().collect();
            prop_assert_eq!(units(&d), want.clone());
            prop_assert_eq!(kind(&d), expected_kind(&want, s.bytes().any(needs_escape)));
        }

        #[test]
        fn unescape_matches_reference_and_serde_json(tokens in literal_tokens()) {
            let content = tokens.concat();
            let lit = quoted(content.as_bytes());
            let d = unescape(&lit).expect("valid literal decodes");
            let want = reference_decode(&content);
            prop_assert_eq!(units(&d), want.clone());
            prop_assert_eq!(kind(&d), expected_kind(&want, content.contains('\\')));
            // serde_json rejects lone surrogates; where there are none it must agree.
            if let Ok(s) = String::from_utf16(&want) {
                let parsed: String = serde_json::from_slice(&lit).unwrap();
                prop_assert_eq!(parsed, s);
            }
        }

        #[test]
        fn unescape_rejects_corrupted_literals(
            tokens in literal_tokens(),
            at in any::<prop::sample::Index>(),
            how in 0usize..13,
            letter in any::<u8>().prop_filter("a JSON escape", |b| !b"\"\\/bfnrtu".contains(b)),
        ) {
            let at = at.index(tokens.len() + 1);
            let mut before = tokens[..at].concat().into_bytes();
            let after = tokens[at..].concat().into_bytes();
            let lit = match how {
                // Inside the content, between two tokens.
                0..=6 => {
                    let bad: &[u8] = [
                        &b"\n"[..], b"\x00", b"\x1f", b"\\x", b"\\u12zz", b"\xff",
                        b"\xe2\x82",
                    ][how];
                    before.extend_from_slice(bad);
                    before.extend_from_slice(&after);
                    quoted(&before)
                }
                // `\u` cut short by the end of the literal.
                7 => {
                    before.extend_from_slice(b"\\u12");
                    quoted(&before)
                }
                // Unterminated.
                8 => [&b"\""[..], &before, &after].concat(),
                // Text after the closing quote.
                9 => [quoted(&before), b"x".to_vec(), after].concat(),
                10 => [quoted(&before), quoted(&after)].concat(),
                // A backslash with anything but an escape's letter after it.
                11 => quoted(&[&before[..], b"\\", &[letter], &after].concat()),
                // Whitespace before.
                _ => [&b" "[..], &quoted(&[before, after].concat())].concat(),
            };
            prop_assert_eq!(unescape(&lit), None, "{:?}", String::from_utf8_lossy(&lit));
        }
    }

    /// A UTF-8 sequence or something close to one: a lead byte (edge cases often) and
    /// continuation bytes (edge values often), mostly as many as the lead calls for.
    fn utf8_ish() -> impl Strategy<Value = Vec<u8>> {
        let edge_leads = vec![
            0xc0u8, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4,
            0xf5, 0xf7, 0xf8, 0xff,
        ];
        let lead = prop_oneof![prop::sample::select(edge_leads), 0xc0u8..=0xff];
        let edge_conts = vec![0x80u8, 0x8f, 0x90, 0x9f, 0xa0, 0xbf];
        let cont = prop_oneof![prop::sample::select(edge_conts), 0x80u8..=0xbf];
        (lead, prop::collection::vec(cont, 3), 0usize..6).prop_map(|(lead, conts, n)| {
            let wanted = match lead {
                0xc0..=0xdf => 1,
                0xe0..=0xef => 2,
                _ => 3,
            };
            let n = if n <= 2 { n } else { wanted };
            [&[lead][..], &conts[..n]].concat()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn raw_utf8_is_validated_as_std_does(
            pieces in prop::collection::vec(
                prop_oneof![
                    4 => utf8_ish(),
                    1 => (0x80u8..=0xff).prop_map(|b| vec![b]),
                    2 => "[a-z]{1,3}".prop_map(String::into_bytes),
                ],
                0..6,
            )
            .prop_map(|p| p.concat()),
        ) {
            let lit = quoted(&pieces);
            let got = unescape(&lit);
            match std::str::from_utf8(&pieces) {
                Ok(s) => {
                    let want: Vec<u16> = s.encode_utf16().collect();
                    prop_assert_eq!(units(&got.expect("valid UTF-8 decodes")), want);
                }
                Err(_) => prop_assert_eq!(got, None),
            }
        }
    }
}
