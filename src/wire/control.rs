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
}
