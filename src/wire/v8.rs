//! A tiny reader of V8's serialization format (what `v8.serialize` and Node's `advanced`
//! channel write), enough to read flat objects whose keys are strings: the control
//! messages and Node's internal messages. Anything else is "not understood" (None), and
//! the caller treats the message as an ordinary result.

/// One value of a flat object, as far as we care.
#[derive(Debug, PartialEq, Eq)]
pub enum Value {
    Str(String),
    /// A number, boolean, null or undefined.
    Scalar,
}

/// What comes next in an object.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Key(String),
    End,
}

/// Reads V8 serializer output from the start (header included).
pub struct V8Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> V8Reader<'a> {
    /// Reads the header; None when `bytes` do not start with one.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        let mut r = V8Reader { bytes, at: 0 };
        if r.byte()? != 0xFF {
            return None;
        }
        r.varint()?;
        Some(r)
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    /// The next tag, past padding.
    fn tag(&mut self) -> Option<u8> {
        loop {
            match self.byte()? {
                0x00 => continue,
                t => return Some(t),
            }
        }
    }

    /// The rest of a string whose tag was read.
    fn string(&mut self, tag: u8) -> Option<String> {
        let len = usize::try_from(self.varint()?).ok()?;
        let raw = self.take(len)?;
        match tag {
            b'"' => Some(raw.iter().map(|&b| char::from(b)).collect()),
            b'c' => {
                let units: Vec<u16> = raw
                    .chunks_exact(2)
                    .map(|p| u16::from_le_bytes([p[0], p[1]]))
                    .collect();
                String::from_utf16(&units).ok()
            }
            b'S' => String::from_utf8(raw.to_vec()).ok(),
            _ => None,
        }
    }

    /// Expects the start of a plain object.
    pub fn begin_object(&mut self) -> Option<()> {
        (self.tag()? == b'o').then_some(())
    }

    /// The next key of the object, or its end; None for what we do not read.
    pub fn next_key(&mut self) -> Option<Next> {
        match self.tag()? {
            b'{' => {
                self.varint()?;
                Some(Next::End)
            }
            t @ (b'"' | b'c' | b'S') => self.string(t).map(Next::Key),
            _ => None,
        }
    }

    /// The value after a key; None for what we do not read (nested objects, arrays...).
    pub fn value(&mut self) -> Option<Value> {
        match self.tag()? {
            t @ (b'"' | b'c' | b'S') => self.string(t).map(Value::Str),
            b'I' | b'U' => self.varint().map(|_| Value::Scalar),
            b'N' => self.take(8).map(|_| Value::Scalar),
            b'0' | b'_' | b'T' | b'F' => Some(Value::Scalar),
            _ => None,
        }
    }
}

/// The entries of a flat object with string keys, in order; None when `payload` is not one.
pub fn flat_object(payload: &[u8]) -> Option<Vec<(String, Value)>> {
    let mut r = V8Reader::new(payload)?;
    r.begin_object()?;
    let mut out = Vec::new();
    while let Next::Key(key) = r.next_key()? {
        out.push((key, r.value()?));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes written by `v8.serialize(...)` in Node 20 (header version 15).
    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn s(v: &str) -> Value {
        Value::Str(v.to_string())
    }

    #[test]
    fn reads_a_control_message() {
        // {__forkfriend: 'pause'}
        let b = hex("ff0f6f220c5f5f666f726b667269656e64220570617573657b01");
        assert_eq!(
            flat_object(&b),
            Some(vec![("__forkfriend".into(), s("pause"))])
        );
    }

    #[test]
    fn reads_scalars_and_latin1_and_two_byte_strings() {
        // {a: 'x', __forkfriend: 'end', n: null, t: true, big: 123456}
        let b = hex("ff0f6f220161220178220c5f5f666f726b667269656e642203656e6422016e302201745422036269674980890f7b05");
        let got = flat_object(&b).unwrap();
        assert_eq!(got[1], ("__forkfriend".into(), s("end")));
        assert_eq!(got[4], ("big".into(), Value::Scalar));
        // {__forkfriend: 'pausé'}: one byte per char (Latin-1)
        let b = hex("ff0f6f220c5f5f666f726b667269656e64220570617573e97b01");
        assert_eq!(flat_object(&b).unwrap()[0].1, s("pausé"));
        // {__forkfriend: 'p☃'}: a padding byte, then UTF-16LE
        let b = hex("ff0f6f220c5f5f666f726b667269656e64006304700003267b01");
        assert_eq!(flat_object(&b).unwrap()[0].1, s("p☃"));
    }

    #[test]
    fn what_it_does_not_read_is_none() {
        // "hello"
        assert_eq!(flat_object(&hex("ff0f220568656c6c6f")), None);
        // {__forkfriend: {a: 1}}
        let b = hex("ff0f6f220c5f5f666f726b667269656e646f22016149027b017b01");
        assert_eq!(flat_object(&b), None);
        // truncated, or not V8 output at all
        let b = hex("ff0f6f220c5f5f666f726b66");
        assert_eq!(flat_object(&b), None);
        assert_eq!(flat_object(b"{\"a\":1}"), None);
        assert_eq!(flat_object(b""), None);
    }

    #[test]
    fn the_first_key_can_be_read_alone() {
        // {cmd: 'NODE_HANDLE_ACK'}
        let b = hex("ff0f6f2203636d64220f4e4f44455f48414e444c455f41434b7b01");
        let mut r = V8Reader::new(&b).unwrap();
        r.begin_object().unwrap();
        assert_eq!(r.next_key(), Some(Next::Key("cmd".into())));
        assert_eq!(r.value(), Some(s("NODE_HANDLE_ACK")));
    }
}
