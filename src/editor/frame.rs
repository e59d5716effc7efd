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

use crate::json;
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
        // Room for the stamp's digits too, so that stamping never reallocates.
        let mut b = Vec::with_capacity(HEAD.len() + 128 + STAMP_ROOM + ids + ev.data.len());
        b.extend_from_slice(HEAD);
        json::push_str(&mut b, thread_id)?;
        b.extend_from_slice(b",\"seq\":");
        let seq_at = b.len();
        b.extend_from_slice(b",\"provider\":");
        json::push_str(&mut b, ev.provider.as_str())?;
        b.extend_from_slice(b",\"at\":");
        let at_at = b.len();
        if let Some(turn) = &ev.turn_id {
            b.extend_from_slice(b",\"turnId\":");
            json::push_str(&mut b, turn)?;
        }
        if let Some(item) = &ev.item_id {
            b.extend_from_slice(b",\"itemId\":");
            json::push_str(&mut b, item)?;
        }
        b.extend_from_slice(b",\"type\":");
        json::push_str(&mut b, ev.type_name)?;
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

    /// The whole notification, with the stamp's numbers in their places: the text after each
    /// place moves once, by the digits that go before it.
    pub fn stamped(mut self, stamp: Stamp) -> Vec<u8> {
        let (mut seq_buf, mut at_buf) = ([0; 20], [0; 20]);
        let seq = json::int(&mut seq_buf, stamp.seq);
        let at = json::int(&mut at_buf, stamp.at);
        let b = &mut self.bytes;
        let end = b.len();
        b.resize(end + seq.len() + at.len(), 0);
        b.copy_within(self.at_at..end, self.at_at + seq.len() + at.len());
        b[self.at_at + seq.len()..][..at.len()].copy_from_slice(at);
        b.copy_within(self.seq_at..self.at_at, self.seq_at + seq.len());
        b[self.seq_at..][..seq.len()].copy_from_slice(seq);
        self.bytes
    }
}

/// The most digits a stamp adds: a seq and a time of up to 20 characters each.
const STAMP_ROOM: usize = 40;

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
