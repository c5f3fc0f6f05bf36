//! By hand, in release mode: how long the JSON string codec takes on a 16 KiB line
//! (ASCII, 1% escapes, Latin-1, CJK). A probe, not a test; it asserts nothing.
//!
//! ```sh
//! cargo run --release --example json-string-timing
//! ```

use forkfriend::wire::json_string::{escape_into, escaped_len, unescape};

fn main() {
    use std::hint::black_box;
    use std::time::Instant;

    /// Best of 15 batches of 1000 calls, in ns per call (the machine may be busy).
    fn best_ns(mut f: impl FnMut()) -> f64 {
        (0..15)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..1000 {
                    f();
                }
                t.elapsed().as_nanos() as f64 / 1000.0
            })
            .fold(f64::MAX, f64::min)
    }

    let words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod ";
    let ascii: String = words.chars().cycle().take(16 << 10).collect();
    // 1% escapes at random places (xorshift): quotes, newlines and backslashes.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut random = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let escapes: String = ascii
        .chars()
        .map(|c| match random() % 300 {
            0 => '"',
            1 => '\n',
            2 => '\\',
            _ => c,
        })
        .collect();
    // 2% non-ASCII (Latin-1), and all CJK (UTF-16, 3 bytes a char).
    let latin1: String = ascii
        .chars()
        .map(|c| if random() % 50 == 0 { 'é' } else { c })
        .collect();
    let cjk: String = "漢字かなカナ"
        .chars()
        .cycle()
        .take((16 << 10) / 3)
        .collect();
    for (name, s) in [
        ("ascii", &ascii),
        ("1% escapes", &escapes),
        ("2% é", &latin1),
        ("cjk", &cjk),
    ] {
        let mut out = Vec::with_capacity(40 << 10);
        let escape = best_ns(|| {
            out.clear();
            escape_into(&mut out, black_box(s.as_bytes()));
            black_box(&out);
        });
        let len = best_ns(|| {
            black_box(escaped_len(black_box(s.as_bytes())));
        });
        let unescape = best_ns(|| {
            black_box(unescape(black_box(&out)));
        });
        println!(
            "{name:>10} ({} bytes): escape_into {escape:.0} ns, escaped_len {len:.0} ns, \
             unescape {unescape:.0} ns",
            s.len()
        );
    }
}
