//! JSON text written by hand where serde's writer costs more than the text: every streamed event
//! passes through here (its stored `data`, its notification's ids). The output is byte for byte
//! what `serde_json` writes, which the tests check on arbitrary strings.

use crate::scan;

/// Appends `s` as a JSON string. Text without quotes, backslashes or control characters (ids,
/// names, most deltas) is copied as it is; anything else is escaped by `serde_json`.
pub fn push_str(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    if !scan::needs_json_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, s)
    }
}

/// The decimal digits of `n`, written into `buf`; returns them. `fmt` costs more than the rest
/// of stamping a notification.
pub fn int(buf: &mut [u8; 20], n: i64) -> &[u8] {
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use proptest::prelude::*;

    use super::*;

    fn written(s: &str) -> String {
        let mut out = b"x".to_vec();
        push_str(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_written_as_serde_writes_them() {
        for s in [
            "",
            "t-1",
            "héllo ✓",
            "a\"b",
            "back\\slash",
            "line\nfeed",
            "\u{0}\u{1f}\u{7f}",
            "\t",
            "0199a2b4-7c1e-7d2f-9a3b-4c5d6e7f8091",
        ] {
            assert_eq!(
                written(s),
                format!("x{}", serde_json::to_string(s).unwrap()),
                "{s:?}"
            );
        }
    }

    #[test]
    fn integers_are_written_as_fmt_writes_them() {
        for n in [0, 1, 9, 10, -1, -10, 1_764_000_000_000, i64::MAX, i64::MIN] {
            let mut buf = [0; 20];
            assert_eq!(int(&mut buf, n), n.to_string().as_bytes(), "{n}");
        }
    }

    proptest! {
        #[test]
        fn any_string_is_written_as_serde_writes_it(s in any::<String>()) {
            prop_assert_eq!(written(&s), format!("x{}", serde_json::to_string(&s).unwrap()));
        }

        #[test]
        fn any_integer_is_written_as_fmt_writes_it(n in any::<i64>()) {
            let (mut buf, expected) = ([0; 20], n.to_string());
            prop_assert_eq!(int(&mut buf, n), expected.as_bytes());
        }
    }
}
