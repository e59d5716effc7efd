//! Byte scans of the relay's hot path, eight bytes at a time: the end of a line, the end of a
//! JSON string, whether a string needs escaping. A byte-by-byte loop cost several instructions
//! per byte of every message; these cost about one.
//!
//! Each word test says exactly whether any of its eight bytes matches (the classic "has a zero
//! byte" bit trick); the matching byte is then found by looking at that word's bytes.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is zero (exact as to whether there is one).
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LO) & !x & HI
}

/// Some byte of `x` is `b`.
fn has(x: u64, b: u8) -> u64 {
    zero_bytes(x ^ (LO * u64::from(b)))
}

/// Some byte of `x` is below 0x20 (a control character).
fn has_control(x: u64) -> u64 {
    x.wrapping_sub(LO * 0x20) & !x & HI
}

/// The first byte of `hay` for which `byte` holds, testing whole words with `word` first;
/// `word` must hold for every word that has such a byte.
fn position(hay: &[u8], word: impl Fn(u64) -> bool, byte: impl Fn(u8) -> bool) -> Option<usize> {
    let mut at = 0;
    for chunk in hay.chunks_exact(8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        if word(u64::from_le_bytes(w)) {
            break;
        }
        at += 8;
    }
    hay[at..].iter().position(|&c| byte(c)).map(|i| at + i)
}

/// Where `b` first occurs in `hay`.
pub fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    position(hay, |x| has(x, b) != 0, |c| c == b)
}

/// Where the first `"` or `\` of `hay` is: the end of a JSON string's text, or its first escape.
pub fn find_quote_or_backslash(hay: &[u8]) -> Option<usize> {
    position(
        hay,
        |x| has(x, b'"') | has(x, b'\\') != 0,
        |c| c == b'"' || c == b'\\',
    )
}

/// Whether `s` has a byte that a JSON string must escape: `"`, `\` or a control character.
pub fn needs_json_escape(s: &[u8]) -> bool {
    position(
        s,
        |x| has(x, b'"') | has(x, b'\\') | has_control(x) != 0,
        |c| c < 0x20 || c == b'"' || c == b'\\',
    )
    .is_some()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use proptest::prelude::*;

    use super::*;

    /// Bytes that are mostly plain, with the ones the scans look for mixed in.
    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                8 => 0x20u8..0x7f,
                1 => Just(b'"'),
                1 => Just(b'\\'),
                1 => Just(b'\n'),
                1 => 0u8..0x20,
                1 => 0x7fu8..=0xff,
            ],
            0..40,
        )
    }

    proptest! {
        #[test]
        fn scans_agree_with_byte_loops(hay in bytes()) {
            prop_assert_eq!(find_byte(&hay, b'\n'), hay.iter().position(|&c| c == b'\n'));
            prop_assert_eq!(
                find_quote_or_backslash(&hay),
                hay.iter().position(|&c| c == b'"' || c == b'\\')
            );
            prop_assert_eq!(
                needs_json_escape(&hay),
                hay.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\')
            );
        }
    }

    #[test]
    fn every_position_of_a_word_is_seen() {
        for len in 0..24 {
            for at in 0..len {
                for special in [b'\n', b'"', b'\\', 0, 0x1f] {
                    let mut hay = vec![b'a'; len];
                    hay[at] = special;
                    let quote_or_backslash = special == b'"' || special == b'\\';
                    assert_eq!(find_byte(&hay, special), Some(at));
                    assert_eq!(
                        find_quote_or_backslash(&hay),
                        quote_or_backslash.then_some(at)
                    );
                    assert!(needs_json_escape(&hay));
                }
                let mut hay = vec![b'a'; len];
                hay[at] = 0xe9; // high bytes are plain
                assert!(!needs_json_escape(&hay));
                assert_eq!(find_byte(&hay, b'\n'), None);
            }
        }
    }
}
