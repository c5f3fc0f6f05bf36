//! Recognises the lines a worker sends that are not results: forkfriend control
//! messages and Node's own internal messages.

/// A control message a worker may send with `process.send({__forkfriend: ...})`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Give me no more messages for now.
    Pause,
    /// I can take messages again.
    Drain,
    /// Kill me and start a fresh worker.
    End,
}

/// What one line from a worker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Result,
    Control(Control),
    /// Node's internal traffic (`{"cmd":"NODE_..."}`), never shown to the app.
    Internal,
}

use crate::wire::v8::{Next, Value};

const CONTROL_KEY: &[u8] = b"__forkfriend";

fn control_key() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(CONTROL_KEY))
}

/// Classifies a line (without its `\n`). A byte check first, JSON parsing only for candidates.
pub fn classify(line: &[u8]) -> LineKind {
    if line.first() != Some(&b'{') {
        return LineKind::Result;
    }
    if line.starts_with(b"{\"cmd\":\"NODE_") {
        return LineKind::Internal;
    }
    if control_key().find(line).is_none() {
        return LineKind::Result;
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(line)
    else {
        return LineKind::Result;
    };
    match map.get("__forkfriend").and_then(|v| v.as_str()) {
        Some("pause") => LineKind::Control(Control::Pause),
        Some("drain") => LineKind::Control(Control::Drain),
        Some("end") => LineKind::Control(Control::End),
        _ => LineKind::Result,
    }
}

fn node_prefix() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(b"NODE_"))
}

/// Classifies the V8 serializer output of one frame (`advanced` channels). A byte check
/// first; only candidates are read, and only as flat objects (see `v8`).
pub fn classify_frame(payload: &[u8]) -> LineKind {
    let control = control_key().find(payload).is_some();
    if !control && node_prefix().find(payload).is_none() {
        return LineKind::Result;
    }
    let Some(mut r) = crate::wire::v8::V8Reader::new(payload) else {
        return LineKind::Result;
    };
    if r.begin_object().is_none() {
        return LineKind::Result;
    }
    // Node's internal messages start with their `cmd` (the rest may be anything).
    let Some(Next::Key(first)) = r.next_key() else {
        return LineKind::Result;
    };
    let value = r.value();
    if first == "cmd" {
        if let Some(Value::Str(cmd)) = &value {
            if cmd.starts_with("NODE_") {
                return LineKind::Internal;
            }
        }
    }
    if !control {
        return LineKind::Result;
    }
    let mut entry = Some((first, value));
    loop {
        match entry.take() {
            Some((key, Some(Value::Str(v)))) if key == "__forkfriend" => {
                return match v.as_str() {
                    // The rest of the object must still be a flat object, as in JSON mode
                    // where the whole text must parse.
                    "pause" if rest_is_flat(&mut r) => LineKind::Control(Control::Pause),
                    "drain" if rest_is_flat(&mut r) => LineKind::Control(Control::Drain),
                    "end" if rest_is_flat(&mut r) => LineKind::Control(Control::End),
                    _ => LineKind::Result,
                };
            }
            Some((_, Some(_))) => {}
            _ => return LineKind::Result,
        }
        match r.next_key() {
            Some(Next::Key(key)) => entry = Some((key, r.value())),
            _ => return LineKind::Result,
        }
    }
}

fn rest_is_flat(r: &mut crate::wire::v8::V8Reader<'_>) -> bool {
    loop {
        match r.next_key() {
            Some(Next::End) => return true,
            Some(Next::Key(_)) if r.value().is_some() => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_results() {
        assert_eq!(classify(b"\"hello\""), LineKind::Result);
        assert_eq!(classify(b"{\"a\":1}"), LineKind::Result);
        assert_eq!(classify(b"[1,2]"), LineKind::Result);
    }

    #[test]
    fn control_messages() {
        assert_eq!(
            classify(br#"{"__forkfriend":"pause"}"#),
            LineKind::Control(Control::Pause)
        );
        assert_eq!(
            classify(br#"{"__forkfriend":"drain"}"#),
            LineKind::Control(Control::Drain)
        );
        assert_eq!(
            classify(br#"{"x":1,"__forkfriend":"end"}"#),
            LineKind::Control(Control::End)
        );
    }

    #[test]
    fn lookalikes_stay_results() {
        assert_eq!(classify(br#"{"text":"__forkfriend"}"#), LineKind::Result);
        assert_eq!(classify(br#"{"__forkfriend":"other"}"#), LineKind::Result);
        assert_eq!(classify(br#"{"__forkfriend":"pause""#), LineKind::Result);
    }

    #[test]
    fn node_internal_messages() {
        assert_eq!(
            classify(br#"{"cmd":"NODE_HANDLE_ACK"}"#),
            LineKind::Internal
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Payloads written by `v8.serialize(...)` (Node 20; header version 15).
    #[test]
    fn frames_control_and_internal_messages() {
        let pause = hex("ff0f6f220c5f5f666f726b667269656e64220570617573657b01");
        assert_eq!(classify_frame(&pause), LineKind::Control(Control::Pause));
        let drain = hex("ff0f6f220c5f5f666f726b667269656e642205647261696e7b01");
        assert_eq!(classify_frame(&drain), LineKind::Control(Control::Drain));
        // {x: 1, __forkfriend: 'end'}
        let end = hex("ff0f6f2201784902220c5f5f666f726b667269656e642203656e647b02");
        assert_eq!(classify_frame(&end), LineKind::Control(Control::End));
        // {cmd: 'NODE_HANDLE_ACK'}
        let ack = hex("ff0f6f2203636d64220f4e4f44455f48414e444c455f41434b7b01");
        assert_eq!(classify_frame(&ack), LineKind::Internal);
    }

    #[test]
    fn frame_lookalikes_stay_results() {
        // {text: '__forkfriend'}
        let b = hex("ff0f6f220474657874220c5f5f666f726b667269656e647b01");
        assert_eq!(classify_frame(&b), LineKind::Result);
        // {__forkfriend: {a: 1}}
        let b = hex("ff0f6f220c5f5f666f726b667269656e646f22016149027b017b01");
        assert_eq!(classify_frame(&b), LineKind::Result);
        // {__forkfriend: 'pause'} cut short
        let b = hex("ff0f6f220c5f5f666f726b667269656e6422057061757365");
        assert_eq!(classify_frame(&b), LineKind::Result);
        // "hello"
        assert_eq!(classify_frame(&hex("ff0f220568656c6c6f")), LineKind::Result);
    }
}
