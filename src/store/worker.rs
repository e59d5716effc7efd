//! The store's own thread: owns the connection and applies commands with group commit.
//!
//! The worker blocks for one command, then takes whatever else is already queued (up to
//! [`GROUP`]) and runs the lot in one `BEGIN IMMEDIATE` transaction. One commit, and so one WAL
//! append, then serves a burst of streamed deltas from several threads. Results wait for the
//! commit: a caller never sees a write that could still be rolled back.
//!
//! Appends are the hot path and skip the savepoint every other write gets: the seq of each
//! thread is claimed from the thread row once per batch and kept in an [`events::Appender`],
//! each event is one `INSERT` (a failed statement changes nothing), and the thread rows are
//! written once per batch, before any other command of the batch runs and before the commit.
//! An append's stamp goes out after the commit, in batch order: to the caller's reply, or to the
//! slot of a streamed append (see [`super::slot`]), so a caller can have its events notified in
//! order without waiting for each commit.
//!
//! A stream of appends faster than [`COMMIT_INTERVAL`] commits at most once per interval: a
//! batch of streamed appends only waits out the rest of it (see [`linger`]).
//!
//! Checkpoints (which `fsync`) run on a second thread with its own connection (see
//! [`super::checkpointer`]), so that a streaming turn never waits for the disk; `flush`
//! checkpoints here after its batch commits.

use std::time::{Duration, Instant};

use baton_protocol::{Event, Thread};
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::checkpointer::Checkpointer;
use super::events::{EncodedEvent, Stamp};
use super::slot::SlotFiller;
use super::{Binding, NativeThread, NewThread, ProbeRecord, Recovered, Result, StoreError};
use super::{ThreadUpdate, events, leases, probes, threads};

type Reply<T> = oneshot::Sender<Result<T>>;

/// Where an append's stamp goes after the commit, with the event handed back (so that it is
/// freed on the thread that made it): the reply of an awaited append, or the slot of a streamed
/// one, which another thread reads (see [`super::slot`]).
pub enum Done {
    Reply(Reply<(Stamp, EncodedEvent)>),
    Slot(SlotFiller),
}

impl Done {
    fn settle(self, result: Result<Stamp>, event: EncodedEvent) {
        match self {
            Done::Reply(reply) => {
                let _ = reply.send(result.map(|stamp| (stamp, event)));
            }
            Done::Slot(filler) => {
                if let Err(e) = &result {
                    tracing::error!("event not persisted: {e}");
                }
                filler.fill(result.ok(), Some(event));
            }
        }
    }
}

/// What is left to do for one command of a batch once its transaction ended.
enum Settle {
    /// A streamed or awaited append: its stamp (or error) goes to its [`Done`].
    Append(Done, Result<Stamp>, EncodedEvent),
    Other(Pending),
}

/// One command for the worker; each carries the oneshot (or slot) its result goes to.
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
        thread_id: std::sync::Arc<str>,
        event: EncodedEvent,
        done: Done,
    },
    ReadEvents {
        thread_id: String,
        since_seq: i64,
        limit: Option<u32>,
        reply: Reply<Vec<Event>>,
    },
    /// A thread and its events read in one transaction, so that its `last_seq` and its events
    /// agree (`thread/read`).
    ReadThread {
        thread_id: String,
        since_seq: i64,
        limit: Option<u32>,
        reply: Reply<Option<(Thread, Vec<Event>)>>,
    },
    Delete(String, Reply<bool>),
    UpsertNative(NativeThread, Reply<()>),
    NativeThreads(String, Reply<Vec<NativeThread>>),
    Recover(leases::Holder, Reply<Vec<Recovered>>),
    Probes(Reply<Vec<ProbeRecord>>),
    PutProbe(ProbeRecord, Reply<()>),
    Flush(Reply<()>),
    /// Leases and takeover requests (several windows on one database).
    Lease(leases::LeaseOp),
    /// The events after each thread's seq, at most `limit` per thread (subscriptions).
    Poll {
        since: Vec<(String, i64)>,
        limit: u32,
        reply: Reply<Vec<Event>>,
    },
}

impl Op {
    /// A streamed append: nobody waits for its commit (its notification waits in the writer).
    fn streamed(&self) -> bool {
        matches!(
            self,
            Op::Append {
                done: Done::Slot(_),
                ..
            }
        )
    }
}

/// How many queued commands share one transaction at most. Large enough to absorb a burst of
/// deltas, small enough that the first caller of a batch does not wait long for its result
/// (an append costs a few microseconds).
const GROUP: usize = 256;

/// The shortest time between two commits of streamed appends only. A provider streaming a few
/// thousand deltas a second would otherwise cost one transaction (and a WAL append of several
/// pages) per delta; a batch that someone waits on (anything but a streamed append) never
/// waits, though a command that arrives while a batch waits joins it. Below the latency target
/// of a streamed event (1 ms at p99) and above the gap between deltas of a fast stream (50 µs
/// at 20,000 a second).
const COMMIT_INTERVAL: Duration = Duration::from_micros(250);

/// Appended events between two nudges of the checkpointer. SQLite's own automatic checkpoint
/// (every 1000 pages, on the committing thread) is off on the worker's connection.
const CHECKPOINT_EVERY: usize = 2000;

/// A result waiting for its transaction: called with the reason when the transaction failed.
pub type Pending = Box<dyn FnOnce(Option<&str>) + Send>;

pub fn pending<T: Send + 'static>(reply: Reply<T>, result: Result<T>) -> Pending {
    Box::new(move |tx_failed| {
        // The caller may have given up waiting; its result is committed all the same.
        let _ = reply.send(settle(tx_failed, result));
    })
}

fn settle<T>(tx_failed: Option<&str>, result: Result<T>) -> Result<T> {
    match (tx_failed, result) {
        // A command that failed on its own keeps its own error: it wrote nothing either way.
        (Some(why), Ok(_)) => Err(StoreError::Transaction(why.to_string())),
        (_, r) => r,
    }
}

/// The worker's loop; returns when every [`super::Store`] handle is gone.
pub fn run(mut conn: Connection, mut rx: mpsc::Receiver<Op>, mut checkpointer: Checkpointer) {
    let mut batch = Vec::with_capacity(GROUP);
    let mut appender = events::Appender::default();
    let mut since_checkpoint = 0usize;
    // When the last batch ended, and whether it came within COMMIT_INTERVAL of the one before:
    // a stream of appends arriving faster than that waits out the rest of the interval, so that
    // its commits carry several events.
    let mut last_batch: Option<Instant> = None;
    let mut streaming = false;
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        take_queued(&mut rx, &mut batch);
        let since = last_batch.map(|t| t.elapsed());
        if let Some(wait) = linger(since, streaming, &batch) {
            std::thread::sleep(wait);
            take_queued(&mut rx, &mut batch);
        }
        streaming = since.is_some_and(|s| s < COMMIT_INTERVAL);
        since_checkpoint += batch.len();
        run_batch(&mut conn, &mut batch, &mut appender);
        last_batch = Some(Instant::now());
        if since_checkpoint >= CHECKPOINT_EVERY {
            checkpointer.nudge(&conn);
            since_checkpoint = 0;
        }
    }
    drop(checkpointer);
    if let Err(e) = checkpoint(&conn) {
        tracing::debug!("final checkpoint failed: {e}");
    }
}

/// How long a batch waits for more appends before it commits, `since` the last batch ended:
/// the rest of [`COMMIT_INTERVAL`] when it holds only streamed appends, has room left, and the
/// appends are `streaming` (the last batch, too, came within the interval of the one before).
/// The first events after a pause (a turn's first token) never wait.
fn linger(since: Option<Duration>, streaming: bool, batch: &[Op]) -> Option<Duration> {
    let rest = COMMIT_INTERVAL.checked_sub(since?)?;
    let wait = streaming && !rest.is_zero() && batch.len() < GROUP;
    (wait && batch.iter().all(Op::streamed)).then_some(rest)
}

/// Adds what is queued to the batch, up to [`GROUP`].
fn take_queued(rx: &mut mpsc::Receiver<Op>, batch: &mut Vec<Op>) {
    while batch.len() < GROUP {
        match rx.try_recv() {
            Ok(op) => batch.push(op),
            Err(_) => break,
        }
    }
}

fn run_batch(conn: &mut Connection, batch: &mut Vec<Op>, appender: &mut events::Appender) {
    let mut flushes = Vec::new();
    // Immediate: take the write lock up front, waiting out another baton on the same file
    // (busy_timeout), instead of failing later when a read has to be upgraded to a write.
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!("cannot begin a transaction: {e}");
            let why = e.to_string();
            for op in batch.drain(..) {
                fail(op, &why);
            }
            return;
        }
    };
    let mut done: Vec<Settle> = Vec::with_capacity(batch.len());
    let mut broken: Option<String> = None;
    // Prepared at the batch's first append, dropped before the commit.
    let mut inserter: Option<events::Inserter<'_>> = None;
    for op in batch.drain(..) {
        if let Some(why) = &broken {
            fail(op, why);
            continue;
        }
        match op {
            Op::Flush(reply) => flushes.push(reply),
            Op::Append {
                thread_id,
                event,
                done: then,
            } => {
                let result = match &mut inserter {
                    Some(i) => appender.append_encoded(&tx, i, &thread_id, &event),
                    None => events::Inserter::new(&tx).and_then(|i| {
                        appender.append_encoded(&tx, inserter.insert(i), &thread_id, &event)
                    }),
                };
                done.push(Settle::Append(then, result, event));
            }
            op => {
                // Every other command sees the thread rows as the appends so far left them.
                if let Err(e) = appender.flush(&tx) {
                    broken = Some(format!("cannot record appended events: {e}"));
                    fail(op, &e.to_string());
                    continue;
                }
                done.push(Settle::Other(apply(&tx, op, &mut broken)));
            }
        }
    }
    drop(inserter);
    if broken.is_none()
        && let Err(e) = appender.flush(&tx)
    {
        broken = Some(format!("cannot record appended events: {e}"));
    }
    appender.clear();
    if broken.is_some() {
        appender.forget_bumps();
    }
    let failed = match broken {
        Some(why) => {
            tracing::error!("rolling back a batch: {why}");
            if let Err(e) = tx.rollback() {
                tracing::error!("rollback failed: {e}");
            }
            Some(why)
        }
        None => tx.commit().err().map(|e| {
            tracing::error!("commit failed: {e}");
            appender.forget_bumps();
            e.to_string()
        }),
    };
    for d in done {
        match d {
            Settle::Append(then, result, event) => {
                then.settle(settle(failed.as_deref(), result), event);
            }
            Settle::Other(pending) => pending(failed.as_deref()),
        }
    }
    for reply in flushes {
        let _ = reply.send(checkpoint(conn));
    }
}

/// Copies the WAL into the main file and truncates it.
fn checkpoint(conn: &Connection) -> Result<()> {
    // The row says whether another process kept the checkpoint from finishing; that is not an
    // error, the next checkpoint picks up the rest.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// Answers a command that never ran because its transaction could not run.
fn fail(op: Op, why: &str) {
    fn refuse<T>(reply: Reply<T>, why: &str) {
        let _ = reply.send(Err(StoreError::Transaction(why.to_string())));
    }
    match op {
        Op::CreateThread(_, r) | Op::UpdateThread(_, _, r) => refuse(r, why),
        Op::GetBinding(_, r) => refuse(r, why),
        Op::ListThreads { reply, .. } => refuse(reply, why),
        Op::UpsertNative(_, r) | Op::Flush(r) | Op::PutProbe(_, r) => refuse(r, why),
        Op::Append { done, event, .. } => {
            done.settle(Err(StoreError::Transaction(why.to_string())), event)
        }
        Op::ReadEvents { reply, .. } => refuse(reply, why),
        Op::ReadThread { reply, .. } => refuse(reply, why),
        Op::Delete(_, r) => refuse(r, why),
        Op::NativeThreads(_, r) => refuse(r, why),
        Op::Recover(_, r) => refuse(r, why),
        Op::Probes(r) => refuse(r, why),
        Op::Lease(op) => op.fail(why),
        Op::Poll { reply, .. } => refuse(reply, why),
    }
}

/// A thread's row and its events after `since_seq`, from one snapshot.
fn read_thread(
    c: &Connection,
    thread_id: &str,
    since_seq: i64,
    limit: Option<u32>,
) -> Result<Option<(Thread, Vec<Event>)>> {
    let Some(binding) = threads::get_binding(c, thread_id)? else {
        return Ok(None);
    };
    let events = events::read(c, thread_id, since_seq, limit)?;
    Ok(Some((binding.thread, events)))
}

/// Runs one command in the open transaction. Reads run as they are; writes run inside a
/// savepoint so that a failure undoes only their own changes. `broken` is set when a savepoint
/// itself could not be undone, after which the transaction's state is unknown.
fn apply(c: &Connection, op: Op, broken: &mut Option<String>) -> Pending {
    match op {
        Op::GetBinding(id, r) => pending(r, threads::get_binding(c, &id)),
        Op::ListThreads {
            cursor,
            limit,
            cwd,
            reply,
        } => pending(reply, threads::list(c, cursor, limit, cwd)),
        Op::ReadEvents {
            thread_id,
            since_seq,
            limit,
            reply,
        } => pending(reply, events::read(c, &thread_id, since_seq, limit)),
        Op::ReadThread {
            thread_id,
            since_seq,
            limit,
            reply,
        } => pending(reply, read_thread(c, &thread_id, since_seq, limit)),
        Op::NativeThreads(id, r) => pending(r, threads::native_threads(c, &id)),
        Op::Probes(r) => pending(r, probes::all(c)),
        Op::PutProbe(p, r) => pending(r, savepoint(c, broken, |c| probes::put(c, &p))),
        Op::CreateThread(t, r) => pending(r, savepoint(c, broken, |c| threads::create(c, t))),
        Op::UpdateThread(id, u, r) => {
            pending(r, savepoint(c, broken, |c| threads::update(c, &id, u)))
        }
        Op::Delete(id, r) => pending(r, savepoint(c, broken, |c| threads::delete(c, &id))),
        Op::UpsertNative(n, r) => {
            pending(r, savepoint(c, broken, |c| threads::upsert_native(c, n)))
        }
        Op::Recover(me, r) => pending(r, savepoint(c, broken, |c| threads::recover(c, &me))),
        Op::Lease(op) => op.apply(c, broken),
        Op::Poll {
            since,
            limit,
            reply,
        } => pending(reply, events::poll(c, &since, limit)),
        // Appends and flushes are taken out of the batch before it runs; answering here keeps
        // this total.
        Op::Append { done, event, .. } => {
            done.settle(
                Err(StoreError::Transaction("append out of order".into())),
                event,
            );
            Box::new(|_| {})
        }
        Op::Flush(r) => pending(r, Ok(())),
    }
}

/// Runs `f` inside `SAVEPOINT cmd`. The savepoint statements are cached like every other
/// statement, which keeps this cheap enough for every appended delta.
pub fn savepoint<T>(
    c: &Connection,
    broken: &mut Option<String>,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let exec = |sql: &str| c.prepare_cached(sql).and_then(|mut s| s.execute([]));
    exec("SAVEPOINT cmd")?;
    let result = f(c);
    let closed = match &result {
        Ok(_) => exec("RELEASE cmd"),
        // ROLLBACK TO undoes the changes but leaves the savepoint open; RELEASE closes it.
        Err(_) => exec("ROLLBACK TO cmd").and_then(|_| exec("RELEASE cmd")),
    };
    if let Err(e) = closed {
        *broken = Some(format!("cannot close a savepoint: {e}"));
        return Err(e.into());
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use baton_protocol::ProviderId;

    use super::*;
    use crate::store::slot::StampSlot;

    fn streamed() -> Op {
        let (_slot, filler) = StampSlot::new();
        Op::Append {
            thread_id: "t".into(),
            event: EncodedEvent {
                provider: ProviderId::codex(),
                turn_id: None,
                item_id: None,
                type_name: "content.delta",
                data: "{}".into(),
            },
            done: Done::Slot(filler),
        }
    }

    #[test]
    fn only_a_fast_stream_of_appends_waits_for_company() {
        let soon = Some(Duration::from_micros(50));
        let later = Some(COMMIT_INTERVAL);
        // Streamed appends in a stream of quick batches wait out the rest of the interval.
        assert_eq!(
            linger(soon, true, &[streamed(), streamed()]),
            Some(COMMIT_INTERVAL - Duration::from_micros(50))
        );
        // The first batch, one after a pause, or the first quick one after a pause (a turn's
        // first token, right after its item started) commits at once.
        assert_eq!(linger(None, false, &[streamed()]), None);
        assert_eq!(linger(later, true, &[streamed()]), None);
        assert_eq!(linger(soon, false, &[streamed()]), None);
        // Anyone waiting for the batch (an awaited command) keeps it from waiting.
        let (reply, _rx) = oneshot::channel();
        assert_eq!(linger(soon, true, &[streamed(), Op::Flush(reply)]), None);
        // A full batch commits at once.
        let full: Vec<Op> = (0..GROUP).map(|_| streamed()).collect();
        assert_eq!(linger(soon, true, &full), None);
    }
}
