//! The store's thread: owns the connection, applies commands in group-committed transactions.

use baton_protocol::{
    ApprovalPolicy, Event, EventBody, ProviderId, SandboxMode, Thread, ThreadStatus, TurnCompleted,
    TurnState,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::{
    Binding, NativeThread, NewThread, Recovered, Result, StoreError, ThreadUpdate, now_ms,
};

type Reply<T> = oneshot::Sender<Result<T>>;

/// One command for the worker.
pub enum Op {
    CreateThread(NewThread, Reply<Thread>),
    GetBinding(String, Reply<Option<Binding>>),
    ListThreads {
        cursor: Option<String>,
        limit: u32,
        cwd: Option<String>,
        reply: Reply<(Vec<Thread>, Option<String>)>,
    },
    UpdateThread(String, ThreadUpdate, Reply<Thread>),
    Append {
        thread_id: String,
        provider: ProviderId,
        turn_id: Option<String>,
        item_id: Option<String>,
        body: EventBody,
        reply: Reply<Event>,
    },
    ReadEvents {
        thread_id: String,
        since_seq: i64,
        limit: Option<u32>,
        reply: Reply<Vec<Event>>,
    },
    Delete(String, Reply<bool>),
    UpsertNative(NativeThread, Reply<()>),
    NativeThreads(String, Reply<Vec<NativeThread>>),
    Recover(Reply<Vec<Recovered>>),
    Flush(Reply<()>),
}

/// How many queued commands share one transaction at most.
const GROUP: usize = 64;

/// A reply waiting for its transaction to commit.
type Done = Box<dyn FnOnce(Option<&StoreError>) + Send>;

fn done<T: Send + 'static>(reply: Reply<T>, result: Result<T>) -> Done {
    Box::new(move |commit_err| {
        let r = match (commit_err, result) {
            (Some(e), _) => Err(StoreError::Corrupt(format!("commit failed: {e}"))),
            (None, r) => r,
        };
        let _ = reply.send(r);
    })
}

pub fn run(mut conn: Connection, mut rx: mpsc::Receiver<Op>) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < GROUP {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut flushes = Vec::new();
        let tx = match conn.transaction() {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!("cannot begin a transaction: {e}");
                for op in batch {
                    fail(op, &e);
                }
                continue;
            }
        };
        let mut dones: Vec<Done> = Vec::with_capacity(batch.len());
        let mut tx = tx;
        for op in batch {
            if let Op::Flush(reply) = op {
                flushes.push(reply);
                continue;
            }
            dones.push(apply(&mut tx, op));
        }
        let commit = tx.commit().err().map(StoreError::from);
        if let Some(e) = &commit {
            tracing::error!("commit failed: {e}");
        }
        for d in dones {
            d(commit.as_ref());
        }
        for reply in flushes {
            let r = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(StoreError::from);
            let _ = reply.send(r);
        }
    }
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::debug!("final checkpoint: {e}");
    }
}

fn fail(op: Op, e: &rusqlite::Error) {
    let err = || StoreError::Corrupt(format!("transaction failed: {e}"));
    match op {
        Op::CreateThread(_, r) | Op::UpdateThread(_, _, r) => drop(r.send(Err(err()))),
        Op::GetBinding(_, r) => drop(r.send(Err(err()))),
        Op::ListThreads { reply, .. } => drop(reply.send(Err(err()))),
        Op::UpsertNative(_, r) | Op::Flush(r) => drop(r.send(Err(err()))),
        Op::Append { reply, .. } => drop(reply.send(Err(err()))),
        Op::ReadEvents { reply, .. } => drop(reply.send(Err(err()))),
        Op::Delete(_, r) => drop(r.send(Err(err()))),
        Op::NativeThreads(_, r) => drop(r.send(Err(err()))),
        Op::Recover(r) => drop(r.send(Err(err()))),
    }
}

/// Runs one command inside a savepoint, so its failure undoes only its own writes.
fn apply(tx: &mut Transaction<'_>, op: Op) -> Done {
    fn scoped<T>(tx: &mut Transaction<'_>, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let sp = tx.savepoint()?;
        match f(&sp) {
            Ok(v) => {
                sp.commit()?;
                Ok(v)
            }
            Err(e) => Err(e),
        }
    }
    match op {
        Op::CreateThread(t, r) => done(r, scoped(tx, |c| create_thread(c, t))),
        Op::GetBinding(id, r) => done(r, scoped(tx, |c| get_binding(c, &id))),
        Op::ListThreads {
            cursor,
            limit,
            cwd,
            reply,
        } => done(reply, scoped(tx, |c| list_threads(c, cursor, limit, cwd))),
        Op::UpdateThread(id, u, r) => done(r, scoped(tx, |c| update_thread(c, &id, u))),
        Op::Append {
            thread_id,
            provider,
            turn_id,
            item_id,
            body,
            reply,
        } => done(
            reply,
            scoped(tx, |c| {
                append(c, &thread_id, provider, turn_id, item_id, body)
            }),
        ),
        Op::ReadEvents {
            thread_id,
            since_seq,
            limit,
            reply,
        } => done(
            reply,
            scoped(tx, |c| read_events(c, &thread_id, since_seq, limit)),
        ),
        Op::Delete(id, r) => done(
            r,
            scoped(tx, |c| {
                c.execute("DELETE FROM events WHERE thread_id = ?1", params![id])?;
                c.execute(
                    "DELETE FROM native_threads WHERE thread_id = ?1",
                    params![id],
                )?;
                Ok(c.execute("DELETE FROM threads WHERE id = ?1", params![id])? > 0)
            }),
        ),
        Op::UpsertNative(n, r) => done(
            r,
            scoped(tx, |c| {
                c.prepare_cached(
                    "INSERT INTO native_threads (thread_id, provider, native_id, model, last_seq, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (thread_id, provider) DO UPDATE SET native_id = excluded.native_id,
                       model = excluded.model, last_seq = excluded.last_seq, updated_at = excluded.updated_at",
                )?
                .execute(params![n.thread_id, n.provider.as_str(), n.native_id, n.model, n.last_seq, now_ms()])?;
                Ok(())
            }),
        ),
        Op::NativeThreads(id, r) => done(r, scoped(tx, |c| native_threads(c, &id))),
        Op::Recover(r) => done(r, scoped(tx, recover)),
        Op::Flush(r) => done(r, Ok(())),
    }
}

const THREAD_COLUMNS: &str = "id, provider, model, cwd, title, status, provider_thread_id, approval_policy, sandbox, created_at, updated_at, last_seq, last_seen_at, active_turn_id";

fn row_to_binding(row: &Row<'_>) -> rusqlite::Result<Binding> {
    let provider: String = row.get(1)?;
    let status: String = row.get(5)?;
    let policy: Option<String> = row.get(7)?;
    let sandbox: Option<String> = row.get(8)?;
    Ok(Binding {
        thread: Thread {
            id: row.get(0)?,
            provider: ProviderId::parse(&provider).unwrap_or(ProviderId::Codex),
            model: row.get(2)?,
            cwd: row.get(3)?,
            title: row.get(4)?,
            status: ThreadStatus::parse(&status).unwrap_or(ThreadStatus::Stopped),
            provider_thread_id: row.get(6)?,
            approval_policy: policy.as_deref().and_then(ApprovalPolicy::parse),
            sandbox: sandbox.as_deref().and_then(SandboxMode::parse),
            created_at: row.get(9)?,
            updated_at: row.get(10)?,
            last_seq: row.get(11)?,
        },
        active_turn_id: row.get(13)?,
    })
}

fn get_binding(c: &Connection, id: &str) -> Result<Option<Binding>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {THREAD_COLUMNS} FROM threads WHERE id = ?1"
    ))?
    .query_row(params![id], row_to_binding)
    .optional()?)
}

fn create_thread(c: &Connection, t: NewThread) -> Result<Thread> {
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
        t.approval_policy.map(|p| p.as_str()),
        t.sandbox.map(|s| s.as_str()),
        now
    ])?;
    get_binding(c, &t.id)?
        .map(|b| b.thread)
        .ok_or(StoreError::NotFound(t.id))
}

fn update_thread(c: &Connection, id: &str, u: ThreadUpdate) -> Result<Thread> {
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
    // updated_at never goes backwards, so list order stays stable under clock jitter.
    t.updated_at = now_ms().max(t.updated_at);
    c.prepare_cached(
        "UPDATE threads SET status = ?2, provider = ?3, provider_thread_id = ?4, model = ?5, title = ?6,
           active_turn_id = ?7, updated_at = ?8, last_seen_at = ?8 WHERE id = ?1",
    )?
    .execute(params![
        id,
        t.status.as_str(),
        t.provider.as_str(),
        t.provider_thread_id,
        t.model,
        t.title,
        b.active_turn_id,
        t.updated_at
    ])?;
    Ok(b.thread)
}

fn list_threads(
    c: &Connection,
    cursor: Option<String>,
    limit: u32,
    cwd: Option<String>,
) -> Result<(Vec<Thread>, Option<String>)> {
    let limit = limit.max(1);
    let (cur_at, cur_id) = match &cursor {
        None => (i64::MAX, String::new()),
        Some(c) => {
            let (at, id) = c
                .split_once(':')
                .ok_or_else(|| StoreError::InvalidCursor(c.clone()))?;
            let at = at
                .parse::<i64>()
                .map_err(|_| StoreError::InvalidCursor(c.clone()))?;
            (at, id.to_string())
        }
    };
    let has_cursor = cursor.is_some();
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {THREAD_COLUMNS} FROM threads
         WHERE (?1 = 0 OR updated_at < ?2 OR (updated_at = ?2 AND id < ?3))
           AND (?4 IS NULL OR cwd = ?4)
         ORDER BY updated_at DESC, id DESC LIMIT ?5"
    ))?;
    let rows = stmt.query_map(
        params![has_cursor as i64, cur_at, cur_id, cwd, i64::from(limit) + 1],
        row_to_binding,
    )?;
    let mut threads = Vec::new();
    for r in rows {
        threads.push(r?.thread);
    }
    let next = if threads.len() > limit as usize {
        threads.truncate(limit as usize);
        threads.last().map(|t| format!("{}:{}", t.updated_at, t.id))
    } else {
        None
    };
    Ok((threads, next))
}

fn append(
    c: &Connection,
    thread_id: &str,
    provider: ProviderId,
    turn_id: Option<String>,
    item_id: Option<String>,
    body: EventBody,
) -> Result<Event> {
    let now = now_ms();
    let seq: i64 = c
        .prepare_cached(
            "UPDATE threads SET last_seq = last_seq + 1, updated_at = max(updated_at, ?2), last_seen_at = ?2
             WHERE id = ?1 RETURNING last_seq",
        )?
        .query_row(params![thread_id, now], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(thread_id.to_string()))?;
    let tagged = serde_json::to_value(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let data = tagged
        .get("data")
        .map(Value::to_string)
        .unwrap_or_else(|| "{}".into());
    c.prepare_cached(
        "INSERT INTO events (thread_id, seq, type, at, provider, turn_id, item_id, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        thread_id,
        seq,
        body.type_name(),
        now,
        provider.as_str(),
        turn_id,
        item_id,
        data
    ])?;
    Ok(Event {
        thread_id: thread_id.to_string(),
        seq,
        provider,
        at: now,
        turn_id,
        item_id,
        body,
    })
}

fn read_events(
    c: &Connection,
    thread_id: &str,
    since_seq: i64,
    limit: Option<u32>,
) -> Result<Vec<Event>> {
    let limit = limit.map(i64::from).unwrap_or(-1);
    let mut stmt = c.prepare_cached(
        "SELECT seq, type, at, provider, turn_id, item_id, data FROM events
         WHERE thread_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![thread_id, since_seq, limit], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (seq, ty, at, provider, turn_id, item_id, data) = row?;
        let data: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
        let body = match serde_json::from_value::<EventBody>(
            serde_json::json!({"type": ty, "data": data}),
        ) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(
                    thread_id,
                    seq,
                    "skipping an event this build cannot read: {e}"
                );
                continue;
            }
        };
        events.push(Event {
            thread_id: thread_id.to_string(),
            seq,
            provider: ProviderId::parse(&provider).unwrap_or(ProviderId::Codex),
            at,
            turn_id,
            item_id,
            body,
        });
    }
    Ok(events)
}

fn native_threads(c: &Connection, thread_id: &str) -> Result<Vec<NativeThread>> {
    let mut stmt = c.prepare_cached(
        "SELECT provider, native_id, model, last_seq, updated_at FROM native_threads WHERE thread_id = ?1
         ORDER BY updated_at DESC",
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

fn recover(c: &Connection) -> Result<Vec<Recovered>> {
    let mut stmt = c.prepare(
        "SELECT id, provider, active_turn_id FROM threads
         WHERE status IN ('idle', 'running') OR active_turn_id IS NOT NULL",
    )?;
    let rows: Vec<(String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (id, provider, turn) in rows {
        if let Some(turn_id) = &turn {
            let provider = ProviderId::parse(&provider).unwrap_or(ProviderId::Codex);
            append(
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
            "UPDATE threads SET status = 'stopped', active_turn_id = NULL WHERE id = ?1",
            params![id],
        )?;
        out.push(Recovered {
            thread_id: id,
            closed_turn: turn,
        });
    }
    Ok(out)
}
