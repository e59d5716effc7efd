//! What can be told from the first bytes of a message too large to read: its id, and whether it
//! is a request or a response. That is enough to answer an oversized request with an error (the
//! editor is not left waiting) and to fail the pending request an oversized response answers.
//!
//! The head is parsed as the start of a JSON object, key by key, until it ends or breaks off;
//! whatever was read before the break counts. Clients write `id` and `method` before `params`,
//! so the head of a huge request almost always names both.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::RequestId;

/// What the head of a message says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Head {
    pub id: Option<RequestId>,
    /// A `method` member was seen: a request (with an id) or a notification.
    pub method: bool,
    /// A `result` or `error` member was seen: a response.
    pub response: bool,
}

/// Reads what it can from the first bytes of a message.
pub fn peek(head: &[u8]) -> Head {
    let found = scan(head);
    // A number id that the head cuts off ("id":12|3) would read as a different id. One more digit
    // after the head changes such an id and leaves a complete one alone.
    if let Some(RequestId::Number(_)) = &found.id {
        let mut longer = head.to_vec();
        longer.push(b'0');
        if scan(&longer).id != found.id {
            return Head { id: None, ..found };
        }
    }
    found
}

fn scan(head: &[u8]) -> Head {
    let mut found = Head::default();
    let mut de = serde_json::Deserializer::from_slice(head);
    // The error is expected (the head breaks off mid-value); what was found before it stays.
    let _ = Peek(&mut found).deserialize(&mut de);
    found
}

struct Peek<'a>(&'a mut Head);

impl<'de> DeserializeSeed<'de> for Peek<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Peek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-RPC message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "id" => self.0.id = map.next_value::<Option<RequestId>>()?,
                "method" => {
                    self.0.method = true;
                    map.next_value::<IgnoredAny>()?;
                }
                "result" | "error" => {
                    self.0.response = true;
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;

    fn head(id: Option<RequestId>, method: bool, response: bool) -> Head {
        Head {
            id,
            method,
            response,
        }
    }

    #[test]
    fn reads_what_comes_before_the_break() {
        let cases: [(&[u8], Head); 8] = [
            (
                br#"{"jsonrpc":"2.0","id":7,"method":"turn/start","params":{"input":"xxxx"#,
                head(Some(RequestId::Number(7)), true, false),
            ),
            (
                br#"{"jsonrpc":"2.0","method":"x","id":"a b","params":["#,
                head(Some(RequestId::String("a b".into())), true, false),
            ),
            (
                br#"{"id":3,"result":{"big":"xxx"#,
                head(Some(RequestId::Number(3)), false, true),
            ),
            (
                br#"{"jsonrpc":"2.0","method":"thread/event","params":{"#,
                head(None, true, false),
            ),
            // The id after the cut-off is not known.
            (br#"{"params":{"a":"xxxxx"#, head(None, false, false)),
            (br#"{"id":12"#, head(None, false, false)),
            (b"[1,2,", Head::default()),
            (b"\xff\xfe garbage", Head::default()),
        ];
        for (bytes, expected) in cases {
            assert_eq!(peek(bytes), expected, "{}", String::from_utf8_lossy(bytes));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Any prefix of a request that reaches past its id gives the id back; any bytes at all
        /// are read without a panic.
        #[test]
        fn prefixes_of_a_request(id in any::<i64>(), cut in 0usize..200, junk in prop::collection::vec(any::<u8>(), 0..100)) {
            let full = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"m","params":{{"text":"{}"}}}}"#, "x".repeat(100));
            let bytes = &full.as_bytes()[..cut.min(full.len())];
            let got = peek(bytes);
            let id_end = full.find(",\"method\"").unwrap();
            if bytes.len() > id_end {
                prop_assert_eq!(got.id, Some(RequestId::Number(id)));
            } else {
                prop_assert_eq!(got.id, None);
            }
            let _ = peek(&junk);
        }
    }
}
