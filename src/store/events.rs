//! SQL of the append-only `events` table, and how an [`EventBody`] is stored.
//!
//! An event body is adjacently tagged on the wire (`{"type": .., "data": ..}`); the store keeps
//! `type` in its own column and `data` as JSON text. Appending is the hot path (every streamed
//! delta), so the body is serialised once and the `data` part is cut out of that text rather than
//! going through a `serde_json::Value`.

use std::collections::HashMap;

use baton_protocol::{Event, EventBody, ProviderId};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, StoreError, now_ms};

/// Appends one event on its own (startup recovery, lease takeovers): the seq is claimed and the
/// thread row written at once. The worker's stream of appends goes through an [`Appender`].
pub fn append(
    c: &Connection,
    thread_id: &str,
    provider: ProviderId,
    turn_id: Option<String>,
    item_id: Option<String>,
    body: EventBody,
) -> Result<Event> {
    let mut appender = Appender::default();
    let ev = appender.append(c, thread_id, provider, turn_id, item_id, body)?;
    appender.flush(c)?;
    Ok(ev)
}

/// An event ready for the `events` table: its body already serialised by the caller, so the
/// store's thread only inserts it. Its seq and time are the store's to assign ([`Stamp`]), so
/// that both grow with the log.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    pub provider: ProviderId,
    pub turn_id: Option<String>,
    pub item_id: Option<String>,
    pub type_name: &'static str,
    /// The body's `data` as JSON text (see [`encode_data`]).
    pub data: String,
}

impl EncodedEvent {
    /// Serialises `body`.
    pub fn new(
        provider: ProviderId,
        turn_id: Option<String>,
        item_id: Option<String>,
        body: &EventBody,
    ) -> Result<EncodedEvent> {
        Ok(EncodedEvent {
            provider,
            turn_id,
            item_id,
            type_name: body.type_name(),
            data: encode_data(body)?,
        })
    }

    /// The event as the log holds it, once the store stamped it.
    pub fn into_event(self, thread_id: &str, stamp: Stamp, body: EventBody) -> Event {
        Event {
            thread_id: thread_id.to_string(),
            seq: stamp.seq,
            provider: self.provider,
            at: stamp.at,
            turn_id: self.turn_id,
            item_id: self.item_id,
            body,
        }
    }
}

/// What the store gave an appended event: its seq and its time (milliseconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub seq: i64,
    pub at: i64,
}

/// Appends events inside one batch of the worker. The seq of a thread is claimed from its row
/// the first time the batch appends to it and counted here after that; [`Appender::flush`]
/// writes the rows back (`last_seq`, `updated_at`, `last_seen_at`), once per thread.
#[derive(Default)]
pub struct Appender {
    /// Thread id -> (last seq appended, time of that append).
    threads: HashMap<String, (i64, i64)>,
}

impl Appender {
    /// Appends one event; see [`super::Store::append_event`]. A failed append wrote nothing:
    /// the only write is one `INSERT`, and a failed statement changes nothing.
    pub fn append(
        &mut self,
        c: &Connection,
        thread_id: &str,
        provider: ProviderId,
        turn_id: Option<String>,
        item_id: Option<String>,
        body: EventBody,
    ) -> Result<Event> {
        // Serialise before writing anything, so a body that cannot be stored changes nothing.
        let ev = EncodedEvent::new(provider, turn_id, item_id, &body)?;
        let stamp = self.append_encoded(c, thread_id, &ev)?;
        Ok(ev.into_event(thread_id, stamp, body))
    }

    /// Appends one serialised event and returns its stamp (the hot path: one `INSERT`).
    pub fn append_encoded(
        &mut self,
        c: &Connection,
        thread_id: &str,
        ev: &EncodedEvent,
    ) -> Result<Stamp> {
        let now = now_ms();
        let last = match self.threads.get(thread_id) {
            Some((seq, _)) => *seq,
            // Also proves the thread exists; within the worker's transaction no one else can
            // claim the same seq.
            None => c
                .prepare_cached("SELECT last_seq FROM threads WHERE id = ?1")?
                .query_row(params![thread_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(thread_id.to_string()))?,
        };
        let seq = last + 1;
        c.prepare_cached(
            "INSERT INTO events (thread_id, seq, type, at, provider, turn_id, item_id, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            thread_id,
            seq,
            ev.type_name,
            now,
            ev.provider.as_str(),
            ev.turn_id,
            ev.item_id,
            ev.data
        ])?;
        match self.threads.get_mut(thread_id) {
            Some(entry) => *entry = (seq, now),
            None => {
                self.threads.insert(thread_id.to_string(), (seq, now));
            }
        }
        Ok(Stamp { seq, at: now })
    }

    /// Writes the thread rows of the appends so far and forgets them, so that the next append
    /// reads its thread row again (a command in between may have changed or deleted it).
    pub fn flush(&mut self, c: &Connection) -> Result<()> {
        for (id, (seq, at)) in self.threads.drain() {
            c.prepare_cached(
                "UPDATE threads SET last_seq = ?2, updated_at = max(updated_at, ?3),
                   last_seen_at = ?3
                 WHERE id = ?1",
            )?
            .execute(params![id, seq, at])?;
        }
        Ok(())
    }

    /// Forgets everything (the batch ended, committed or not).
    pub fn clear(&mut self) {
        self.threads.clear();
    }
}

/// Reads events; see [`super::Store::read_events`].
pub fn read(
    c: &Connection,
    thread_id: &str,
    since_seq: i64,
    limit: Option<u32>,
) -> Result<Vec<Event>> {
    // A negative LIMIT means no limit in SQLite.
    let limit = limit.map(i64::from).unwrap_or(-1);
    let mut stmt = c.prepare_cached(
        "SELECT seq, type, at, provider, turn_id, item_id, data FROM events
         WHERE thread_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let mut rows = stmt.query(params![thread_id, since_seq, limit])?;
    let mut events = Vec::new();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let ty: String = r.get(1)?;
        let provider: String = r.get(3)?;
        let data: String = r.get(6)?;
        let Some(provider) = ProviderId::parse(&provider) else {
            tracing::warn!(
                thread_id,
                seq,
                provider,
                "skipping an event of an unknown provider"
            );
            continue;
        };
        let body = match decode(&ty, &data) {
            Ok(b) => b,
            Err(e) => {
                // Written by a newer baton, or a type since removed: the rest of the log is
                // still worth showing.
                tracing::warn!(
                    thread_id,
                    seq,
                    ty,
                    "skipping an event this build cannot read: {e}"
                );
                continue;
            }
        };
        events.push(Event {
            thread_id: thread_id.to_string(),
            seq,
            provider,
            at: r.get(2)?,
            turn_id: r.get(4)?,
            item_id: r.get(5)?,
            body,
        });
    }
    Ok(events)
}

/// The events after each `(thread, seq)`, at most `limit` per thread, thread by thread in seq
/// order: one indexed range scan per thread.
pub fn poll(c: &Connection, since: &[(String, i64)], limit: u32) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    for (thread_id, seq) in since {
        out.extend(read(c, thread_id, *seq, Some(limit))?);
    }
    Ok(out)
}

/// The `data` JSON of a body: its serialisation minus the `{"type":"<name>","data":` head and the
/// closing brace. Falls back to a `Value` should serde ever lay the object out differently.
pub fn encode_data(body: &EventBody) -> Result<String> {
    // Serialised into one buffer sized for a typical event, and cut down in place.
    let mut json = Vec::with_capacity(256);
    serde_json::to_writer(&mut json, body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    const OPEN: &[u8] = b"{\"type\":\"";
    const DATA: &[u8] = b"\",\"data\":";
    let ty = body.type_name().as_bytes();
    let head = OPEN.len() + ty.len() + DATA.len();
    if json.len() > head
        && json.starts_with(OPEN)
        && json[OPEN.len()..].starts_with(ty)
        && json[OPEN.len() + ty.len()..].starts_with(DATA)
        && json.last() == Some(&b'}')
    {
        json.pop();
        json.drain(..head);
        return String::from_utf8(json).map_err(|e| StoreError::Corrupt(e.to_string()));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    value
        .get("data")
        .map(serde_json::Value::to_string)
        .ok_or_else(|| StoreError::Corrupt(format!("event {} has no data", body.type_name())))
}

/// Reassembles the adjacently tagged body from its columns and deserialises it.
pub fn decode(ty: &str, data: &str) -> serde_json::Result<EventBody> {
    let ty = serde_json::to_string(ty)?;
    let mut json = String::with_capacity(ty.len() + data.len() + 20);
    json.push_str("{\"type\":");
    json.push_str(&ty);
    json.push_str(",\"data\":");
    json.push_str(data);
    json.push('}');
    serde_json::from_str(&json)
}
