//! Long string values at the top level of a JSON object or array: found by their bytes so
//! that the core decodes them (see `pieces.rs`) and `JSON.parse` only sees the rest. A result
//! such as `{"id":7,"line":"<16 KiB>"}` then costs JS a parse of `{"id":7,"line":null}` and
//! one property assignment.
//!
//! Only the top level is walked; nested values are skipped by their brackets and strings and
//! left to `JSON.parse`, which also rejects whatever the walk lets through that is not JSON.
//! An object qualifies only where `JSON.parse` and an assignment agree: keys without escapes,
//! no key repeated that holds a long value (the last one would win), no `__proto__` (an
//! assignment would set the prototype).

use std::ops::Range;

/// Where a long string value sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub key: Key,
    /// The string literal, quotes included.
    pub literal: Range<usize>,
}

/// The property a long value is found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A key of an object: its bytes between the quotes (ASCII, no escapes).
    Name(Range<usize>),
    /// An index of an array.
    Index(usize),
}

/// Fills `cuts` with the string values of `json`'s top level whose literals are at least `min`
/// bytes long; false (and `cuts` to be ignored) when there are none, when `json` is not an
/// object or array, or when it does not qualify (see the module's notes).
pub fn long_values(json: &[u8], min: usize, cuts: &mut Vec<Cut>) -> bool {
    cuts.clear();
    let found = match json.first() {
        Some(b'{') => object(json, min, cuts),
        Some(b'[') => array(json, min, cuts),
        _ => None,
    };
    found.is_some() && !cuts.is_empty()
}

fn object(json: &[u8], min: usize, cuts: &mut Vec<Cut>) -> Option<()> {
    let mut keys: Vec<Range<usize>> = Vec::new();
    let mut at = skip_ws(json, 1);
    if json.get(at) == Some(&b'}') {
        return at_end(json, at + 1);
    }
    loop {
        if json.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(json, at)?;
        let key = at + 1..key_end - 1;
        if json[key.clone()].contains(&b'\\') {
            return None;
        }
        at = skip_ws(json, key_end);
        if json.get(at) != Some(&b':') {
            return None;
        }
        at = skip_ws(json, at + 1);
        let end = value_end(json, at)?;
        if json[at] == b'"' && end - at >= min {
            let name = &json[key.clone()];
            if !name.is_ascii() || name == b"__proto__" {
                return None;
            }
            cuts.push(Cut {
                key: Key::Name(key.clone()),
                literal: at..end,
            });
        }
        keys.push(key);
        at = skip_ws(json, end);
        match json.get(at) {
            Some(b',') => at = skip_ws(json, at + 1),
            Some(b'}') => break,
            _ => return None,
        }
    }
    // A long value's key must not come again (JSON.parse keeps the last one).
    for cut in cuts.iter() {
        let Key::Name(name) = &cut.key else {
            continue;
        };
        let same = keys
            .iter()
            .filter(|k| json[(*k).clone()] == json[name.clone()]);
        if same.count() > 1 {
            return None;
        }
    }
    at_end(json, at + 1)
}

fn array(json: &[u8], min: usize, cuts: &mut Vec<Cut>) -> Option<()> {
    let mut at = skip_ws(json, 1);
    if json.get(at) == Some(&b']') {
        return at_end(json, at + 1);
    }
    let mut index = 0;
    loop {
        let end = value_end(json, at)?;
        if json[at] == b'"' && end - at >= min {
            cuts.push(Cut {
                key: Key::Index(index),
                literal: at..end,
            });
        }
        index += 1;
        at = skip_ws(json, end);
        match json.get(at) {
            Some(b',') => at = skip_ws(json, at + 1),
            Some(b']') => break,
            _ => return None,
        }
    }
    at_end(json, at + 1)
}

fn at_end(json: &[u8], at: usize) -> Option<()> {
    (skip_ws(json, at) == json.len()).then_some(())
}

fn skip_ws(json: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\r' | b'\n') = json.get(at) {
        at += 1;
    }
    at
}

/// `json[at]` opens a string literal: the offset just past its closing quote.
fn string_end(json: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', json.get(i..)?)?;
        if json[j] == b'"' {
            return Some(j + 1);
        }
        i = j + 2;
    }
}

/// The offset just past the value that starts at `json[at]`: a string, an object or array
/// (by its brackets; what is inside is for JSON.parse to check), or a bare word or number.
fn value_end(json: &[u8], at: usize) -> Option<usize> {
    match *json.get(at)? {
        b'"' => string_end(json, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            while i < json.len() {
                match json[i] {
                    b'"' => {
                        i = string_end(json, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let len = json[at..]
                .iter()
                .position(
                    |b| !matches!(b, b'-' | b'+' | b'.' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z'),
                )
                .unwrap_or(json.len() - at);
            (len > 0).then_some(at + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cuts_of(json: &str, min: usize) -> Option<Vec<(String, String)>> {
        let mut cuts = Vec::new();
        if !long_values(json.as_bytes(), min, &mut cuts) {
            return None;
        }
        Some(
            cuts.iter()
                .map(|c| {
                    let key = match &c.key {
                        Key::Name(r) => json[r.clone()].to_string(),
                        Key::Index(i) => i.to_string(),
                    };
                    (key, json[c.literal.clone()].to_string())
                })
                .collect(),
        )
    }

    #[test]
    fn finds_long_values_of_objects_and_arrays() {
        let json = r#"{"id":7,"p":"abcdef","n":{"q":"abcdefgh"},"s":"ab","t":"a\"bcdef"}"#;
        assert_eq!(
            cuts_of(json, 8),
            Some(vec![
                ("p".into(), r#""abcdef""#.into()),
                ("t".into(), r#""a\"bcdef""#.into())
            ])
        );
        let json = r#"[1,"abcdefgh",[ "abcdefgh" ],null, "abcdefgh" ]"#;
        assert_eq!(
            cuts_of(json, 8),
            Some(vec![
                ("1".into(), r#""abcdefgh""#.into()),
                ("4".into(), r#""abcdefgh""#.into())
            ])
        );
    }

    #[test]
    fn leaves_what_an_assignment_would_get_wrong() {
        for json in [
            r#"{"p":"abcdefgh","p":1}"#,      // repeated: JSON.parse keeps the last
            r#"{"__proto__":"abcdefgh"}"#,    // would set the prototype
            r#"{"\u0070":"abcdefgh","q":1}"#, // escaped key
            r#"{"é":"abcdefgh"}"#,            // not ASCII
            r#"{"p":"short"}"#,               // nothing long
            r#""abcdefgh""#,                  // not an object or array
            r#"{"p":"abcdefgh"} x"#,          // trailing bytes
            r#"{"p":"abcdefgh""#,             // unterminated
            r#"{"p":"abcdefgh",}"#,           // trailing comma
            r#"{"p" "abcdefgh"}"#,            // no colon
            r#"["abcdefgh" 1]"#,              // no comma
            r#"{"p":"abcdefgh\"}"#,           // the quote is escaped
        ] {
            assert_eq!(cuts_of(json, 8), None, "{json}");
        }
        // A repeated key that holds no long value does not matter.
        assert!(cuts_of(r#"{"a":1,"a":2,"p":"abcdefgh"}"#, 8).is_some());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Whatever serde_json writes for an object of strings and numbers: the cuts are its
        /// long string values, in order, each an exact literal.
        #[test]
        fn cuts_are_the_long_values_of_real_json(
            entries in proptest::collection::vec(("[a-z]{1,3}", prop_oneof![
                any::<String>().prop_map(serde_json::Value::from),
                any::<i32>().prop_map(serde_json::Value::from),
                proptest::collection::vec(any::<String>(), 0..3).prop_map(serde_json::Value::from),
            ]), 0..8),
            min in 2usize..40,
        ) {
            let mut map = serde_json::Map::new();
            for (k, v) in entries {
                map.insert(k, v);
            }
            let json = serde_json::to_string(&map).unwrap();
            let want: Vec<(String, String)> = map
                .iter()
                .filter_map(|(k, v)| {
                    let lit = serde_json::to_string(v).unwrap();
                    (v.is_string() && lit.len() >= min).then(|| (k.clone(), lit))
                })
                .collect();
            let got = cuts_of(&json, min);
            prop_assert_eq!(got.unwrap_or_default(), want);
            let list = serde_json::to_string(&map.values().collect::<Vec<_>>()).unwrap();
            let want_list: Vec<String> = map
                .values()
                .filter_map(|v| {
                    let lit = serde_json::to_string(v).unwrap();
                    (v.is_string() && lit.len() >= min).then_some(lit)
                })
                .collect();
            let got_list: Vec<String> = cuts_of(&list, min).unwrap_or_default().into_iter().map(|(_, l)| l).collect();
            prop_assert_eq!(got_list, want_list);
        }
    }
}
