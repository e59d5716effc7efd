//! SQL of the append-only `events` table, and how an [`EventBody`] is stored.
//!
//! An event body is adjacently tagged on the wire (`{"type": .., "data": ..}`); the store keeps
//! `type` in its own column and `data` as JSON text. Appending is the hot path (every streamed
//! delta), so the body is serialised once and the `data` part is cut out of that text rather than
//! going through a `serde_json::Value`.

use std::sync::Arc;

use baton_protocol::{ContentDelta, Event, EventBody, ProviderId};
use rusqlite::{CachedStatement, Connection, OptionalExtension, params};

use super::{Result, StoreError, now_ms};
use crate::json;

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

/// The statement that inserts an event.
const INSERT: &str =
    "INSERT INTO events (thread_id, seq, type, at, provider, turn_id, item_id, data)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// The insert statement of one batch, prepared once. A statement keeps its bound values from
/// one row to the next, so what a row shares with the one before (its thread, type, provider
/// and turn: all of them, in a stream of deltas) is not bound again.
pub struct Inserter<'c> {
    stmt: CachedStatement<'c>,
    thread: Option<Arc<str>>,
    ty: Option<&'static str>,
    provider: Option<ProviderId>,
    turn: Option<Option<String>>,
}

impl<'c> Inserter<'c> {
    pub fn new(c: &'c Connection) -> Result<Inserter<'c>> {
        Ok(Inserter {
            stmt: c.prepare_cached(INSERT)?,
            thread: None,
            ty: None,
            provider: None,
            turn: None,
        })
    }

    fn insert(&mut self, thread_id: &Arc<str>, seq: i64, at: i64, ev: &EncodedEvent) -> Result<()> {
        let result = self.bind_and_run(thread_id, seq, at, ev);
        if result.is_err() {
            // Which values are still bound is unknown now: bind them all next time.
            self.thread = None;
            self.ty = None;
            self.provider = None;
            self.turn = None;
        }
        result
    }

    fn bind_and_run(
        &mut self,
        thread_id: &Arc<str>,
        seq: i64,
        at: i64,
        ev: &EncodedEvent,
    ) -> Result<()> {
        let s = &mut self.stmt;
        if self.thread.as_deref() != Some(&**thread_id) {
            s.raw_bind_parameter(1, &**thread_id)?;
            self.thread = Some(thread_id.clone());
        }
        s.raw_bind_parameter(2, seq)?;
        if self.ty != Some(ev.type_name) {
            s.raw_bind_parameter(3, ev.type_name)?;
            self.ty = Some(ev.type_name);
        }
        s.raw_bind_parameter(4, at)?;
        if self.provider.as_ref() != Some(&ev.provider) {
            s.raw_bind_parameter(5, ev.provider.as_str())?;
            self.provider = Some(ev.provider.clone());
        }
        if self.turn.as_ref() != Some(&ev.turn_id) {
            s.raw_bind_parameter(6, &ev.turn_id)?;
            self.turn = Some(ev.turn_id.clone());
        }
        s.raw_bind_parameter(7, &ev.item_id)?;
        s.raw_bind_parameter(8, &ev.data)?;
        s.raw_execute()?;
        Ok(())
    }
}

/// Appends events inside one batch of the worker. The seq of a thread is claimed from its row
/// the first time the batch appends to it and counted here after that; [`Appender::flush`]
/// writes the rows back (`last_seq`, `updated_at`, `last_seen_at`), once per thread.
#[derive(Default)]
pub struct Appender {
    /// (thread id, last seq appended, time of that append); a batch touches a few threads.
    threads: Vec<(Arc<str>, i64, i64)>,
    /// (thread id, the `updated_at` a flush last wrote) for the threads whose `updated_at` was
    /// written less than [`UPDATED_AT_STEP`] ago; kept across batches.
    bumped: Vec<(Arc<str>, i64)>,
}

/// How often, at most, appends move a thread's `updated_at` (ms). Every move rewrites the
/// thread's entries in both `threads` indexes, two of the few pages a commit writes; a turn
/// streaming thousands of deltas a second would move them at every commit. Whatever ends a
/// turn updates the thread row itself (its status), so `updated_at` is exact again then.
pub const UPDATED_AT_STEP: i64 = 1000;

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
        let mut insert = Inserter::new(c)?;
        let stamp = self.append_encoded(c, &mut insert, &Arc::from(thread_id), &ev)?;
        Ok(ev.into_event(thread_id, stamp, body))
    }

    /// Appends one serialised event and returns its stamp (the hot path: one `INSERT`).
    pub fn append_encoded(
        &mut self,
        c: &Connection,
        insert: &mut Inserter<'_>,
        thread_id: &Arc<str>,
        ev: &EncodedEvent,
    ) -> Result<Stamp> {
        let now = now_ms();
        let known = self
            .threads
            .iter()
            .position(|(id, _, _)| Arc::ptr_eq(id, thread_id) || **id == **thread_id);
        let last = match known {
            Some(i) => self.threads[i].1,
            // Also proves the thread exists; within the worker's transaction no one else can
            // claim the same seq.
            None => c
                .prepare_cached("SELECT last_seq FROM threads WHERE id = ?1")?
                .query_row(params![&**thread_id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(thread_id.to_string()))?,
        };
        let seq = last + 1;
        insert.insert(thread_id, seq, now, ev)?;
        match known {
            Some(i) => {
                self.threads[i].1 = seq;
                self.threads[i].2 = now;
            }
            None => self.threads.push((thread_id.clone(), seq, now)),
        }
        Ok(Stamp { seq, at: now })
    }

    /// Writes the thread rows of the appends so far and forgets them, so that the next append
    /// reads its thread row again (a command in between may have changed or deleted it).
    pub fn flush(&mut self, c: &Connection) -> Result<()> {
        let now = now_ms();
        self.bumped.retain(|(_, at)| now - at < UPDATED_AT_STEP);
        for (id, seq, at) in self.threads.drain(..) {
            let recent = self
                .bumped
                .iter()
                .any(|(b, _)| Arc::ptr_eq(b, &id) || **b == *id);
            if recent {
                c.prepare_cached(
                    "UPDATE threads SET last_seq = ?2, last_seen_at = ?3 WHERE id = ?1",
                )?
                .execute(params![&*id, seq, at])?;
                continue;
            }
            c.prepare_cached(
                "UPDATE threads SET last_seq = ?2, updated_at = max(updated_at, ?3),
                   last_seen_at = ?3
                 WHERE id = ?1",
            )?
            .execute(params![&*id, seq, at])?;
            self.bumped.push((id, at));
        }
        Ok(())
    }

    /// Forgets the batch's threads (the batch ended, committed or not).
    pub fn clear(&mut self) {
        self.threads.clear();
    }

    /// Forgets which threads' `updated_at` were written lately: the batch that wrote them did
    /// not commit, so the next append writes them again.
    pub fn forget_bumps(&mut self) {
        self.bumped.clear();
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
    if let EventBody::ContentDelta(d) = body {
        return encode_delta(d);
    }
    encode_with_serde(body)
}

/// [`encode_data`] for any body, through serde.
pub(super) fn encode_with_serde(body: &EventBody) -> Result<String> {
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

/// A delta's `data`, written by hand: most of a stream's events are deltas, and this is what
/// serde writes for them (the tests compare the two).
fn encode_delta(d: &ContentDelta) -> Result<String> {
    let stream = d.stream.as_str();
    let mut json = Vec::with_capacity(32 + stream.len() + d.delta.len());
    json.extend_from_slice(b"{\"stream\":\"");
    json.extend_from_slice(stream.as_bytes());
    json.extend_from_slice(b"\",\"delta\":");
    json::push_str(&mut json, &d.delta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    json.push(b'}');
    String::from_utf8(json).map_err(|e| StoreError::Corrupt(e.to_string()))
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
