//! Leases: which baton process drives a thread, so that two editor windows (two baton processes
//! on one database) can never drive the same thread, and so that a crashed one's threads are
//! picked up at once.
//!
//! A lease names its holder by pid *and* process start time (field 22 of `/proc/<pid>/stat`), so
//! a pid the kernel gave to another program never counts as the holder. Liveness is decided on
//! the spot, by looking at `/proc`: a dead holder's lease is taken over at once, without waiting
//! for its heartbeat to go stale. Only a holder in another pid namespace or on another machine
//! (a different [`Holder::scope`]) cannot be looked up; it counts as dead once its heartbeat is
//! [`STALE_MS`] old.
//!
//! A takeover request is written into the holder's lease row; the holder sees it with its next
//! heartbeat, stops its session and hands the lease to the requester ([`hand_over`]).

use baton_protocol::{EventBody, LeaseHolder, ProviderId, TurnCompleted, TurnState};
use rusqlite::{Connection, OptionalExtension, Row, params};
use tokio::sync::oneshot;

use super::worker::{Pending, pending, savepoint};
use super::{Result, StoreError, events, now_ms};
use baton_protocol::Event;

/// A holder in another scope whose heartbeat is this old is considered dead.
pub const STALE_MS: i64 = 15_000;

/// A baton process, as leases name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// Clock ticks after boot at which the process started (0 when unknown).
    pub start_time: u64,
    /// Where `pid` means something: the boot id and pid namespace. Two processes with the same
    /// scope can check each other in `/proc`.
    pub scope: String,
    /// The editor's `clientInfo.name`.
    pub client: Option<String>,
}

impl Holder {
    /// This process, for an editor that called itself `client`.
    /// What names the process is read from `/proc` once: startup asks for it twice (recovery,
    /// then the leases), and it cannot change while the process runs.
    pub fn current(client: Option<String>) -> Holder {
        static ME: std::sync::OnceLock<(u32, u64, String)> = std::sync::OnceLock::new();
        let (pid, start_time, scope) = ME.get_or_init(|| {
            let pid = std::process::id();
            (pid, process_start_time(pid).unwrap_or(0), own_scope())
        });
        Holder {
            pid: *pid,
            start_time: *start_time,
            scope: scope.clone(),
            client,
        }
    }

    /// The same process (the client name does not matter).
    pub fn same_process(&self, other: &Holder) -> bool {
        self.pid == other.pid && self.start_time == other.start_time && self.scope == other.scope
    }
}

/// One thread's lease.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    pub thread_id: String,
    pub holder: Holder,
    pub acquired_at: i64,
    pub heartbeat_at: i64,
    /// A process that asked for the thread with `thread/takeover` and is waiting for it.
    pub takeover: Option<Holder>,
}

impl Lease {
    /// The holder as the protocol names it (error -32016's `data`).
    pub fn wire_holder(&self) -> LeaseHolder {
        LeaseHolder {
            client: self.holder.client.clone(),
            pid: self.holder.pid,
            since: self.acquired_at,
            heartbeat_at: self.heartbeat_at,
        }
    }
}

/// The outcome of asking for a thread's lease.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The caller holds the lease now.
    Acquired(Acquired),
    /// Another live process holds it.
    Held(Lease),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Acquired {
    /// The lease of a dead process that was taken over, if that is how it was acquired.
    pub from_dead: Option<Lease>,
    /// Events appended while taking it over (the dead holder's open turn, closed as failed);
    /// committed, for the caller to notify.
    pub events: Vec<Event>,
}

/// What a heartbeat learnt.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Beat {
    /// Threads another process asked for with `thread/takeover`, with who asked.
    pub requests: Vec<(String, Holder)>,
    /// Threads the caller believed it held whose lease is not its own any more.
    pub lost: Vec<String>,
}

type Reply<T> = oneshot::Sender<Result<T>>;

/// The store commands about leases (one variant of the worker's `Op`).
pub enum LeaseOp {
    /// Take the lease if it is free, ours, or its holder is dead. With `takeover`, a live
    /// holder is also asked to let go (the caller then asks again until it is handed over).
    Acquire {
        thread_id: String,
        me: Holder,
        takeover: bool,
        reply: Reply<Claim>,
    },
    /// Drop our lease; true when there was one.
    Release {
        thread_id: String,
        me: Holder,
        reply: Reply<bool>,
    },
    /// Give our lease to the process that asked for it, or drop it when no one did.
    HandOver {
        thread_id: String,
        me: Holder,
        reply: Reply<Option<Holder>>,
    },
    /// Withdraw our takeover request (the holder did not let go in time).
    CancelTakeover {
        thread_id: String,
        me: Holder,
        reply: Reply<()>,
    },
    Heartbeat {
        me: Holder,
        held: Vec<String>,
        reply: Reply<Beat>,
    },
    /// Drop every lease of ours (orderly exit).
    ReleaseAll { me: Holder, reply: Reply<usize> },
}

impl LeaseOp {
    /// Answers a command that never ran.
    pub fn fail(self, why: &str) {
        let e = || StoreError::Transaction(why.to_string());
        // The caller may have given up waiting; nothing to do then.
        match self {
            LeaseOp::Acquire { reply, .. } => drop(reply.send(Err(e()))),
            LeaseOp::Release { reply, .. } => drop(reply.send(Err(e()))),
            LeaseOp::HandOver { reply, .. } => drop(reply.send(Err(e()))),
            LeaseOp::CancelTakeover { reply, .. } => drop(reply.send(Err(e()))),
            LeaseOp::Heartbeat { reply, .. } => drop(reply.send(Err(e()))),
            LeaseOp::ReleaseAll { reply, .. } => drop(reply.send(Err(e()))),
        }
    }

    /// Runs in the worker's transaction; every write inside its own savepoint.
    pub fn apply(self, c: &Connection, broken: &mut Option<String>) -> Pending {
        match self {
            LeaseOp::Acquire {
                thread_id,
                me,
                takeover,
                reply,
            } => pending(
                reply,
                savepoint(c, broken, |c| acquire(c, &thread_id, &me, takeover)),
            ),
            LeaseOp::Release {
                thread_id,
                me,
                reply,
            } => pending(reply, savepoint(c, broken, |c| release(c, &thread_id, &me))),
            LeaseOp::HandOver {
                thread_id,
                me,
                reply,
            } => pending(
                reply,
                savepoint(c, broken, |c| hand_over(c, &thread_id, &me)),
            ),
            LeaseOp::CancelTakeover {
                thread_id,
                me,
                reply,
            } => pending(
                reply,
                savepoint(c, broken, |c| cancel_takeover(c, &thread_id, &me)),
            ),
            LeaseOp::Heartbeat { me, held, reply } => {
                pending(reply, savepoint(c, broken, |c| heartbeat(c, &me, &held)))
            }
            LeaseOp::ReleaseAll { me, reply } => {
                pending(reply, savepoint(c, broken, |c| release_all(c, &me)))
            }
        }
    }
}

const COLUMNS: &str = "thread_id, pid, start_time, scope, client, acquired_at, heartbeat_at, \
    takeover_pid, takeover_start, takeover_scope, takeover_client";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Lease> {
    let takeover = match r.get::<_, Option<u32>>(7)? {
        Some(pid) => Some(Holder {
            pid,
            start_time: r.get::<_, Option<i64>>(8)?.unwrap_or(0) as u64,
            scope: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
            client: r.get(10)?,
        }),
        None => None,
    };
    Ok(Lease {
        thread_id: r.get(0)?,
        holder: Holder {
            pid: r.get(1)?,
            start_time: r.get::<_, i64>(2)? as u64,
            scope: r.get(3)?,
            client: r.get(4)?,
        },
        acquired_at: r.get(5)?,
        heartbeat_at: r.get(6)?,
        takeover,
    })
}

pub fn get(c: &Connection, thread_id: &str) -> Result<Option<Lease>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM leases WHERE thread_id = ?1"
    ))?
    .query_row(params![thread_id], from_row)
    .optional()?)
}

/// Whether `h` still runs, judged from `me`'s point of view.
pub fn alive(h: &Holder, heartbeat_at: i64, me: &Holder) -> bool {
    if h.same_process(me) {
        return true;
    }
    if h.scope != me.scope {
        // Its pid means nothing here: only the heartbeat can tell.
        return now_ms().saturating_sub(heartbeat_at) < STALE_MS;
    }
    process_start_time(h.pid) == Some(h.start_time)
}

fn write_holder(c: &Connection, thread_id: &str, me: &Holder) -> Result<()> {
    let now = now_ms();
    c.prepare_cached(
        "INSERT INTO leases (thread_id, pid, start_time, scope, client, acquired_at, heartbeat_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
         ON CONFLICT (thread_id) DO UPDATE SET pid = excluded.pid,
           start_time = excluded.start_time, scope = excluded.scope, client = excluded.client,
           acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at,
           takeover_pid = NULL, takeover_start = NULL, takeover_scope = NULL,
           takeover_client = NULL, takeover_at = NULL",
    )?
    .execute(params![
        thread_id,
        me.pid,
        me.start_time as i64,
        me.scope,
        me.client,
        now
    ])?;
    Ok(())
}

pub fn acquire(c: &Connection, thread_id: &str, me: &Holder, takeover: bool) -> Result<Claim> {
    let exists: bool = c
        .prepare_cached("SELECT 1 FROM threads WHERE id = ?1")?
        .query_row(params![thread_id], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Err(StoreError::NotFound(thread_id.to_string()));
    }
    let current = get(c, thread_id)?;
    match current {
        Some(l) if l.holder.same_process(me) => {
            c.prepare_cached("UPDATE leases SET heartbeat_at = ?2 WHERE thread_id = ?1")?
                .execute(params![thread_id, now_ms()])?;
            Ok(Claim::Acquired(Acquired::default()))
        }
        Some(l) if alive(&l.holder, l.heartbeat_at, me) => {
            if !takeover {
                return Ok(Claim::Held(l));
            }
            c.prepare_cached(
                "UPDATE leases SET takeover_pid = ?2, takeover_start = ?3, takeover_scope = ?4,
                   takeover_client = ?5, takeover_at = ?6 WHERE thread_id = ?1",
            )?
            .execute(params![
                thread_id,
                me.pid,
                me.start_time as i64,
                me.scope,
                me.client,
                now_ms()
            ])?;
            Ok(Claim::Held(Lease {
                takeover: Some(me.clone()),
                ..l
            }))
        }
        Some(dead) => {
            let events = close_dead_holders_turn(c, thread_id, &dead)?;
            write_holder(c, thread_id, me)?;
            tracing::info!(
                thread = thread_id,
                pid = dead.holder.pid,
                "took over the lease of a dead baton"
            );
            Ok(Claim::Acquired(Acquired {
                from_dead: Some(dead),
                events,
            }))
        }
        None => {
            write_holder(c, thread_id, me)?;
            Ok(Claim::Acquired(Acquired::default()))
        }
    }
}

/// A dead holder may have left a turn open (invariant 8): it is closed as failed, and the
/// thread's status says no session runs.
fn close_dead_holders_turn(c: &Connection, thread_id: &str, dead: &Lease) -> Result<Vec<Event>> {
    let (provider, turn): (String, Option<String>) = c
        .prepare_cached("SELECT provider, active_turn_id FROM threads WHERE id = ?1")?
        .query_row(params![thread_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut out = Vec::new();
    if let Some(turn_id) = turn {
        let provider = ProviderId::parse(&provider).unwrap_or_else(ProviderId::codex);
        let client = dead.holder.client.as_deref().unwrap_or("another editor");
        out.push(events::append(
            c,
            thread_id,
            provider,
            Some(turn_id),
            None,
            EventBody::TurnCompleted(TurnCompleted {
                state: TurnState::Failed,
                error: Some(format!(
                    "the baton driving this thread ({client}, pid {}) died",
                    dead.holder.pid
                )),
            }),
        )?);
    }
    c.prepare_cached(
        "UPDATE threads SET active_turn_id = NULL,
           status = CASE WHEN status IN ('idle', 'running') THEN 'stopped' ELSE status END
         WHERE id = ?1",
    )?
    .execute(params![thread_id])?;
    Ok(out)
}

const MINE: &str = "pid = ?2 AND start_time = ?3 AND scope = ?4";

pub fn release(c: &Connection, thread_id: &str, me: &Holder) -> Result<bool> {
    Ok(c.prepare_cached(&format!(
        "DELETE FROM leases WHERE thread_id = ?1 AND {MINE}"
    ))?
    .execute(params![thread_id, me.pid, me.start_time as i64, me.scope])?
        > 0)
}

pub fn hand_over(c: &Connection, thread_id: &str, me: &Holder) -> Result<Option<Holder>> {
    let Some(lease) = get(c, thread_id)?.filter(|l| l.holder.same_process(me)) else {
        return Ok(None);
    };
    match lease.takeover {
        Some(to) => {
            write_holder(c, thread_id, &to)?;
            Ok(Some(to))
        }
        None => {
            release(c, thread_id, me)?;
            Ok(None)
        }
    }
}

pub fn cancel_takeover(c: &Connection, thread_id: &str, me: &Holder) -> Result<()> {
    c.prepare_cached(
        "UPDATE leases SET takeover_pid = NULL, takeover_start = NULL, takeover_scope = NULL,
           takeover_client = NULL, takeover_at = NULL
         WHERE thread_id = ?1 AND takeover_pid = ?2 AND takeover_start = ?3 AND takeover_scope = ?4",
    )?
    .execute(params![thread_id, me.pid, me.start_time as i64, me.scope])?;
    Ok(())
}

pub fn heartbeat(c: &Connection, me: &Holder, held: &[String]) -> Result<Beat> {
    let now = now_ms();
    c.prepare_cached(
        "UPDATE leases SET heartbeat_at = ?1 WHERE pid = ?2 AND start_time = ?3 AND scope = ?4",
    )?
    .execute(params![now, me.pid, me.start_time as i64, me.scope])?;
    let mine: Vec<Lease> = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM leases WHERE pid = ?1 AND start_time = ?2 AND scope = ?3"
        ))?
        .query_map(params![me.pid, me.start_time as i64, me.scope], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let mut beat = Beat::default();
    for l in &mine {
        if let Some(to) = &l.takeover {
            // A requester that died waiting asks for nothing any more (one in another scope
            // cannot be checked and is believed).
            if alive(to, now, me) {
                beat.requests.push((l.thread_id.clone(), to.clone()));
            } else {
                cancel_takeover(c, &l.thread_id, to)?;
            }
        }
    }
    beat.lost = held
        .iter()
        .filter(|t| !mine.iter().any(|l| &l.thread_id == *t))
        .cloned()
        .collect();
    Ok(beat)
}

pub fn release_all(c: &Connection, me: &Holder) -> Result<usize> {
    Ok(
        c.prepare_cached("DELETE FROM leases WHERE pid = ?1 AND start_time = ?2 AND scope = ?3")?
            .execute(params![me.pid, me.start_time as i64, me.scope])?,
    )
}

/// Deletes every lease whose holder is dead (startup recovery); returns their thread ids.
pub fn drop_dead(c: &Connection, me: &Holder) -> Result<Vec<String>> {
    let all: Vec<Lease> = c
        .prepare(&format!("SELECT {COLUMNS} FROM leases"))?
        .query_map([], from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let mut dropped = Vec::new();
    for l in all {
        if !alive(&l.holder, l.heartbeat_at, me) || l.holder.same_process(me) {
            c.prepare_cached("DELETE FROM leases WHERE thread_id = ?1")?
                .execute(params![l.thread_id])?;
            dropped.push(l.thread_id);
        }
    }
    Ok(dropped)
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks after boot. None
/// when there is no such process, or only its zombie.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces and parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (the state), so field 22 is fields[19].
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The boot id and pid namespace of this process: where its pids can be checked. Without a
/// `/proc` (not Linux) the scope is unique to the process, so others judge it by heartbeat.
fn own_scope() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .ok();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.to_string_lossy().into_owned())
        .ok();
    match (boot, ns) {
        (Some(b), Some(n)) => format!("{b}/{n}"),
        (Some(b), None) => b,
        _ => format!("pid{}-{}", std::process::id(), now_ms()),
    }
}
