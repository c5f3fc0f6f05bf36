//! The V8-format reader against bytes that `v8.serialize` (the `node` on PATH) writes now,
//! not only the recorded ones in the unit tests.

use std::process::Command;

use forkfriend::wire::control::{classify_frame, Control, LineKind};
use forkfriend::wire::v8::{flat_object, Value};

/// `v8.serialize(value)` for each JS expression, as bytes.
fn serialized(exprs: &[&str]) -> Vec<Vec<u8>> {
    let code = format!(
        "for (const v of [{}]) console.log(require('v8').serialize(v).toString('hex'))",
        exprs.join(",")
    );
    let out = Command::new("node")
        .args(["-e", &code])
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|hex| {
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn control_and_internal_messages_are_recognised_in_real_v8_bytes() {
    let kinds: Vec<LineKind> = serialized(&[
        "{__forkfriend: 'pause'}",
        "{__forkfriend: 'drain'}",
        "{n: 1.5, ok: true, none: null, u: undefined, __forkfriend: 'end'}",
        "{cmd: 'NODE_HANDLE_ACK'}",
        "{cmd: 'NODE_HANDLE', type: 'net.Socket', msg: {a: [1]}}",
    ])
    .iter()
    .map(|b| classify_frame(b))
    .collect();
    assert_eq!(
        kinds,
        vec![
            LineKind::Control(Control::Pause),
            LineKind::Control(Control::Drain),
            LineKind::Control(Control::End),
            LineKind::Internal,
            LineKind::Internal,
        ]
    );
}

#[test]
fn lookalikes_in_real_v8_bytes_stay_results() {
    for bytes in serialized(&[
        "'__forkfriend'",
        "{text: '__forkfriend pause'}",
        "{__forkfriend: 'stop'}",
        "{__forkfriend: new Map()}",
        "{__forkfriend: 'pause', extra: {nested: 1}}",
        "[{__forkfriend: 'pause'}]",
        "{cmd: 'NODE'}",
        "new Map([['__forkfriend', 'pause']])",
    ]) {
        assert_eq!(classify_frame(&bytes), LineKind::Result, "{bytes:02x?}");
    }
}

#[test]
fn flat_objects_read_back_with_every_kind_of_string() {
    let all = serialized(&["{a: 'latin1 é', b: 'two-byte ☃', c: 7, d: -3, e: 2 ** 40}"]);
    let entries = flat_object(&all[0]).expect("a flat object");
    assert_eq!(entries[0], ("a".into(), Value::Str("latin1 é".into())));
    assert_eq!(entries[1], ("b".into(), Value::Str("two-byte ☃".into())));
    assert!(entries[2..].iter().all(|(_, v)| *v == Value::Scalar));
}
