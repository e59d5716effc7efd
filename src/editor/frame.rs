//! `thread/event` notifications, every one of them built here.
//!
//! A notification is built from the event's stored form ([`EncodedEvent`]: the body's `data`
//! JSON, serialised once for the log and the editor alike), leaving out the seq and the time,
//! which the store assigns. A streamed event's frame is built on the actor's task before the
//! commit; the writer holds it in its queue until the store filled the event's `StampSlot`,
//! then writes the two numbers into their places, so the store's thread neither serialises nor
//! touches it. An event already committed (awaited, or read back by the poller) is stamped at
//! once. The bytes are exactly what serde makes of the [`Event`](baton_protocol::Event) (with
//! `data.raw` when the editor asked for raw messages), which the tests check.

use serde_json::Value;

use crate::store::{EncodedEvent, Stamp};

/// The JSON-RPC head of every `thread/event` notification, up to its params' first member.
const HEAD: &[u8] = br#"{"jsonrpc":"2.0","method":"thread/event","params":{"threadId":"#;

/// A `thread/event` notification but for its seq and time.
#[derive(Debug)]
pub struct EventFrame {
    bytes: Vec<u8>,
    /// Where the seq's digits go.
    seq_at: usize,
    /// Where the time's digits go.
    at_at: usize,
}

impl EventFrame {
    /// The notification of `ev` on `thread_id`, with `raw` as `data.raw` when given (and the
    /// data is an object, as every event's is).
    pub fn new(
        thread_id: &str,
        ev: &EncodedEvent,
        raw: Option<&Value>,
    ) -> std::io::Result<EventFrame> {
        let ids = thread_id.len()
            + ev.turn_id.as_ref().map_or(0, String::len)
            + ev.item_id.as_ref().map_or(0, String::len);
        let mut b = Vec::with_capacity(HEAD.len() + 128 + ids + ev.data.len());
        b.extend_from_slice(HEAD);
        serde_json::to_writer(&mut b, thread_id)?;
        b.extend_from_slice(b",\"seq\":");
        let seq_at = b.len();
        b.extend_from_slice(b",\"provider\":");
        serde_json::to_writer(&mut b, &ev.provider)?;
        b.extend_from_slice(b",\"at\":");
        let at_at = b.len();
        if let Some(turn) = &ev.turn_id {
            b.extend_from_slice(b",\"turnId\":");
            serde_json::to_writer(&mut b, turn)?;
        }
        if let Some(item) = &ev.item_id {
            b.extend_from_slice(b",\"itemId\":");
            serde_json::to_writer(&mut b, item)?;
        }
        b.extend_from_slice(b",\"type\":");
        serde_json::to_writer(&mut b, ev.type_name)?;
        b.extend_from_slice(b",\"data\":");
        match raw.and_then(|r| with_raw(&ev.data, r)) {
            Some(data) => b.extend_from_slice(&data),
            None => b.extend_from_slice(ev.data.as_bytes()),
        }
        b.extend_from_slice(b"}}");
        Ok(EventFrame {
            bytes: b,
            seq_at,
            at_at,
        })
    }

    /// The whole notification, with the stamp's numbers in their places.
    pub fn stamped(mut self, stamp: Stamp) -> Vec<u8> {
        // The later place first, so that the earlier one stays where it is.
        insert_number(&mut self.bytes, self.at_at, stamp.at);
        insert_number(&mut self.bytes, self.seq_at, stamp.seq);
        self.bytes
    }
}

fn insert_number(bytes: &mut Vec<u8>, at: usize, n: i64) {
    // Written by hand: `fmt` costs more than the rest of stamping a notification.
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        digits[i] = b'-';
    }
    bytes.splice(at..at, digits[i..].iter().copied());
}

/// `data` with a last member `raw`; `None` when `data` is not an object.
fn with_raw(data: &str, raw: &Value) -> Option<Vec<u8>> {
    let inner = data.strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::with_capacity(data.len() + 64);
    out.push(b'{');
    out.extend_from_slice(inner.as_bytes());
    if !inner.trim().is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(b"\"raw\":");
    serde_json::to_writer(&mut out, raw).ok()?;
    out.push(b'}');
    Some(out)
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
