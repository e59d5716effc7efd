//! SQL of the `threads` and `native_threads` tables, and crash recovery.
//!
//! Every function runs on the worker's connection inside the current transaction; the worker
//! decides where transactions and savepoints begin and end.

use baton_protocol::{
    ApprovalPolicy, EventBody, ProviderId, SandboxMode, Thread, ThreadStatus, TurnCompleted,
    TurnState,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::events;
use super::leases::{self, Holder};
use super::{
    Binding, NativeThread, NewThread, Recovered, Result, StoreError, ThreadUpdate, now_ms,
};

const COLUMNS: &str = "id, provider, model, cwd, title, status, provider_thread_id, \
    approval_policy, sandbox, created_at, updated_at, last_seq, last_seen_at, active_turn_id, \
    pending_handoff";

/// A `threads` row as stored, before its text columns are parsed.
struct RawThread {
    id: String,
    provider: String,
    model: Option<String>,
    cwd: String,
    title: Option<String>,
    status: String,
    provider_thread_id: Option<String>,
    approval_policy: Option<String>,
    sandbox: Option<String>,
    created_at: i64,
    updated_at: i64,
    last_seq: i64,
    last_seen_at: i64,
    active_turn_id: Option<String>,
    pending_handoff: Option<String>,
}

impl RawThread {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RawThread> {
        Ok(RawThread {
            id: r.get(0)?,
            provider: r.get(1)?,
            model: r.get(2)?,
            cwd: r.get(3)?,
            title: r.get(4)?,
            status: r.get(5)?,
            provider_thread_id: r.get(6)?,
            approval_policy: r.get(7)?,
            sandbox: r.get(8)?,
            created_at: r.get(9)?,
            updated_at: r.get(10)?,
            last_seq: r.get(11)?,
            last_seen_at: r.get(12)?,
            active_turn_id: r.get(13)?,
            pending_handoff: r.get(14)?,
        })
    }

    /// Parses the text columns. A value this build does not know (written by a newer baton, or
    /// by hand) is reported rather than guessed, since guessing a provider would resume the
    /// conversation on the wrong agent.
    fn parse(self) -> Result<Binding> {
        let bad = |what: &str, v: &str| {
            StoreError::Corrupt(format!("thread {}: unknown {what} {v:?}", self.id))
        };
        let provider =
            ProviderId::parse(&self.provider).ok_or_else(|| bad("provider", &self.provider))?;
        let status =
            ThreadStatus::parse(&self.status).ok_or_else(|| bad("status", &self.status))?;
        let approval_policy = match &self.approval_policy {
            None => None,
            Some(p) => Some(ApprovalPolicy::parse(p).ok_or_else(|| bad("approval policy", p))?),
        };
        let sandbox = match &self.sandbox {
            None => None,
            Some(s) => Some(SandboxMode::parse(s).ok_or_else(|| bad("sandbox mode", s))?),
        };
        Ok(Binding {
            thread: Thread {
                id: self.id,
                provider,
                model: self.model,
                cwd: self.cwd,
                title: self.title,
                status,
                provider_thread_id: self.provider_thread_id,
                approval_policy,
                sandbox,
                created_at: self.created_at,
                updated_at: self.updated_at,
                last_seq: self.last_seq,
            },
            last_seen_at: self.last_seen_at,
            active_turn_id: self.active_turn_id,
            pending_handoff: self.pending_handoff,
        })
    }
}

pub fn get_binding(c: &Connection, id: &str) -> Result<Option<Binding>> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM threads WHERE id = ?1"))?
        .query_row(params![id], RawThread::from_row)
        .optional()?
        .map(RawThread::parse)
        .transpose()
}

pub fn create(c: &Connection, t: NewThread) -> Result<Thread> {
    let now = now_ms();
    c.prepare_cached(
        "INSERT INTO threads (id, provider, model, cwd, title, status, approval_policy, sandbox,
           created_at, updated_at, last_seq, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'stopped', ?6, ?7, ?8, ?8, 0, ?8)",
    )?
    .execute(params![
        t.id,
        t.provider.as_str(),
        t.model,
        t.cwd,
        t.title,
        t.approval_policy.map(ApprovalPolicy::as_str),
        t.sandbox.map(SandboxMode::as_str),
        now
    ])?;
    Ok(Thread {
        id: t.id,
        provider: t.provider,
        model: t.model,
        cwd: t.cwd,
        title: t.title,
        status: ThreadStatus::Stopped,
        provider_thread_id: None,
        approval_policy: t.approval_policy,
        sandbox: t.sandbox,
        created_at: now,
        updated_at: now,
        last_seq: 0,
    })
}

pub fn update(c: &Connection, id: &str, u: ThreadUpdate) -> Result<Thread> {
    let mut b = get_binding(c, id)?.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
    let t = &mut b.thread;
    if let Some(s) = u.status {
        t.status = s;
    }
    if let Some(p) = u.provider {
        t.provider = p;
    }
    if let Some(p) = u.provider_thread_id {
        t.provider_thread_id = p;
    }
    if let Some(m) = u.model {
        t.model = m;
    }
    if let Some(title) = u.title {
        t.title = title;
    }
    if let Some(a) = u.active_turn_id {
        b.active_turn_id = a;
    }
    if let Some(h) = u.pending_handoff {
        b.pending_handoff = h;
    }
    if let Some(p) = u.approval_policy {
        t.approval_policy = p;
    }
    // updated_at never goes backwards, so list order and cursors stay stable under clock jitter.
    let now = now_ms();
    t.updated_at = now.max(t.updated_at);
    c.prepare_cached(
        "UPDATE threads SET status = ?2, provider = ?3, provider_thread_id = ?4, model = ?5,
           title = ?6, active_turn_id = ?7, updated_at = ?8, last_seen_at = ?9,
           pending_handoff = ?10, approval_policy = ?11 WHERE id = ?1",
    )?
    .execute(params![
        id,
        t.status.as_str(),
        t.provider.as_str(),
        t.provider_thread_id,
        t.model,
        t.title,
        b.active_turn_id,
        t.updated_at,
        now,
        b.pending_handoff,
        t.approval_policy.map(ApprovalPolicy::as_str)
    ])?;
    Ok(b.thread)
}

/// Page sizes are clamped to this, so a careless caller cannot load the whole table at once.
const MAX_PAGE: u32 = 1000;

pub fn list(
    c: &Connection,
    cursor: Option<String>,
    limit: u32,
    cwd: Option<String>,
) -> Result<(Vec<Thread>, Option<String>)> {
    let limit = limit.clamp(1, MAX_PAGE);
    // No cursor starts above every real key: updated_at < i64::MAX holds for every row.
    let (after_at, after_id) = match &cursor {
        None => (i64::MAX, String::new()),
        Some(c) => decode_cursor(c).ok_or_else(|| StoreError::InvalidCursor(c.clone()))?,
    };
    // Row values keep the keyset condition in a form SQLite can seek the indexes with.
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM threads
         WHERE (updated_at, id) < (?1, ?2) AND (?3 IS NULL OR cwd = ?3)
         ORDER BY updated_at DESC, id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![after_at, after_id, cwd, i64::from(limit) + 1],
        RawThread::from_row,
    )?;
    let mut threads = Vec::new();
    let mut more = false;
    let mut last_key = None;
    for row in rows {
        let raw = row?;
        if threads.len() == limit as usize {
            more = true;
            break;
        }
        last_key = Some((raw.updated_at, raw.id.clone()));
        match raw.parse() {
            Ok(b) => threads.push(b.thread),
            // One unreadable row must not hide every other thread from the editor.
            Err(e) => tracing::warn!("skipping a thread this build cannot read: {e}"),
        }
    }
    let next = if more {
        last_key.map(|(at, id)| encode_cursor(at, &id))
    } else {
        None
    };
    Ok((threads, next))
}

/// The cursor is the key of the last row of a page: `<updated_at>:<id>`. Callers treat it as
/// opaque; the first `:` separates the parts since ids may contain colons.
fn encode_cursor(updated_at: i64, id: &str) -> String {
    format!("{updated_at}:{id}")
}

fn decode_cursor(c: &str) -> Option<(i64, String)> {
    let (at, id) = c.split_once(':')?;
    Some((at.parse().ok()?, id.to_string()))
}

pub fn delete(c: &Connection, id: &str) -> Result<bool> {
    // The foreign keys cascade too; deleting explicitly keeps this right on a connection where
    // they were never switched on (e.g. a file opened by the sqlite3 shell and edited).
    c.prepare_cached("DELETE FROM events WHERE thread_id = ?1")?
        .execute(params![id])?;
    c.prepare_cached("DELETE FROM native_threads WHERE thread_id = ?1")?
        .execute(params![id])?;
    c.prepare_cached("DELETE FROM leases WHERE thread_id = ?1")?
        .execute(params![id])?;
    Ok(c.prepare_cached("DELETE FROM threads WHERE id = ?1")?
        .execute(params![id])?
        > 0)
}

pub fn upsert_native(c: &Connection, n: NativeThread) -> Result<()> {
    let written = c
        .prepare_cached(
            "INSERT INTO native_threads (thread_id, provider, native_id, model, last_seq, updated_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM threads WHERE id = ?1)
             ON CONFLICT (thread_id, provider) DO UPDATE SET native_id = excluded.native_id,
               model = excluded.model, last_seq = excluded.last_seq,
               updated_at = excluded.updated_at",
        )?
        .execute(params![
            n.thread_id,
            n.provider.as_str(),
            n.native_id,
            n.model,
            n.last_seq,
            now_ms()
        ])?;
    if written == 0 {
        return Err(StoreError::NotFound(n.thread_id));
    }
    Ok(())
}

pub fn native_threads(c: &Connection, thread_id: &str) -> Result<Vec<NativeThread>> {
    let mut stmt = c.prepare_cached(
        "SELECT provider, native_id, model, last_seq, updated_at FROM native_threads
         WHERE thread_id = ?1 ORDER BY updated_at DESC, provider",
    )?;
    let rows = stmt.query_map(params![thread_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (provider, native_id, model, last_seq, updated_at) = row?;
        let Some(provider) = ProviderId::parse(&provider) else {
            tracing::warn!(
                thread_id,
                provider,
                "skipping a native thread of an unknown provider"
            );
            continue;
        };
        out.push(NativeThread {
            thread_id: thread_id.to_string(),
            provider,
            native_id,
            model,
            last_seq,
            updated_at,
        });
    }
    Ok(out)
}

/// See [`super::Store::recover`].
pub fn recover(c: &Connection, me: &Holder) -> Result<Vec<Recovered>> {
    leases::drop_dead(c, me)?;
    let rows: Vec<(String, String, Option<String>)> = c
        .prepare(
            "SELECT id, provider, active_turn_id FROM threads
             WHERE status IN ('idle', 'running') OR active_turn_id IS NOT NULL ORDER BY id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, provider, turn) in rows {
        if leases::get(c, &id)?.is_some() {
            // Only live holders' leases are left: another baton (another editor) drives it.
            continue;
        }
        if let Some(turn_id) = &turn {
            // An unknown provider cannot be resumed anyway; the event still records the failure.
            let provider = ProviderId::parse(&provider).unwrap_or_else(ProviderId::codex);
            events::append(
                c,
                &id,
                provider,
                Some(turn_id.clone()),
                None,
                EventBody::TurnCompleted(TurnCompleted {
                    state: TurnState::Failed,
                    error: Some("baton restarted".into()),
                }),
            )?;
        }
        c.execute(
            "UPDATE threads SET active_turn_id = NULL, updated_at = max(updated_at, ?2),
               status = CASE WHEN status IN ('idle', 'running') THEN 'stopped' ELSE status END
             WHERE id = ?1",
            params![id, now_ms()],
        )?;
        out.push(Recovered {
            thread_id: id,
            closed_turn: turn,
        });
    }
    Ok(out)
}
