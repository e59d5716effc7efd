//! The store: the only module that touches SQLite.
//!
//! Threads with their provider binding, the native threads each provider holds for a baton
//! thread, and the append-only event log live in one SQLite file (bundled SQLite, WAL).
//!
//! One dedicated OS thread owns the connection ([`worker`]); the async [`Store`] handle sends it
//! commands over a bounded channel and awaits a oneshot reply. Commands that are queued together
//! share one transaction (group commit), each inside its own savepoint so that a failing command
//! fails only its own reply, and every reply is sent after its transaction committed: an event is
//! durable before anyone can notify it.
//!
//! Layout: [`schema`] opens the file and migrates it, [`threads`] and [`events`] hold the SQL of
//! each table, [`leases`] which baton process drives which thread, [`worker`] runs the command
//! loop, [`checkpointer`] copies the WAL into the file off the worker's thread.

mod checkpointer;
mod events;
pub mod leases;
mod probes;
mod schema;
mod slot;
mod threads;
mod worker;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton_protocol::{
    ApprovalPolicy, Event, EventBody, ProviderId, SandboxMode, Thread, ThreadStatus,
};
use tokio::sync::{mpsc, oneshot};

use checkpointer::Checkpointer;
pub use events::{EncodedEvent, Stamp};
use leases::LeaseOp;
pub use leases::{Acquired, Beat, Claim, Holder, Lease};
pub use slot::{SlotFiller, StampSlot};
use worker::Done;
use worker::Op;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("store is closed")]
    Closed,
    #[error("thread not found: {0}")]
    NotFound(String),
    /// A `thread/list` cursor this store did not hand out.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    /// Data in the file that this build cannot make sense of (or a schema from a newer baton).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The command itself succeeded but the transaction it shared could not be committed, so
    /// none of its writes happened.
    #[error("transaction failed: {0}")]
    Transaction(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A thread to create.
#[derive(Debug, Clone)]
pub struct NewThread {
    pub id: String,
    pub provider: ProviderId,
    pub model: Option<String>,
    pub cwd: String,
    pub title: Option<String>,
    pub approval_policy: Option<ApprovalPolicy>,
    pub sandbox: Option<SandboxMode>,
}

/// Fields to change; `None` leaves a field alone, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct ThreadUpdate {
    pub status: Option<ThreadStatus>,
    pub provider: Option<ProviderId>,
    pub provider_thread_id: Option<Option<String>>,
    pub model: Option<Option<String>>,
    pub active_turn_id: Option<Option<String>>,
    pub title: Option<Option<String>>,
    /// The handoff block waiting for the next user message.
    pub pending_handoff: Option<Option<String>>,
    pub approval_policy: Option<Option<ApprovalPolicy>>,
}

/// A thread plus the binding fields that are not on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub thread: Thread,
    /// Milliseconds since the Unix epoch of the last activity (event or update).
    pub last_seen_at: i64,
    /// The turn running on the provider, if any; closed by [`Store::recover`] after a crash.
    pub active_turn_id: Option<String>,
    /// The handoff block a switch left for the next user message.
    pub pending_handoff: Option<String>,
}

/// A provider's native thread for a baton thread (at most one per provider).
#[derive(Debug, Clone, PartialEq)]
pub struct NativeThread {
    pub thread_id: String,
    pub provider: ProviderId,
    pub native_id: String,
    pub model: Option<String>,
    /// The seq of the baton event log up to which this native thread has seen the conversation.
    pub last_seq: i64,
    /// Milliseconds since the Unix epoch; stamped by the store on every upsert.
    pub updated_at: i64,
}

/// What [`Store::recover`] did to one thread.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    pub thread_id: String,
    /// The turn that was closed as failed, if one was open.
    pub closed_turn: Option<String>,
}

/// A provider binary's cached `--version` probe, valid while the file keeps its size and
/// modification time.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRecord {
    pub path: String,
    pub size: i64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    pub version: Option<String>,
    /// Why the probe failed, if it did.
    pub error: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub probed_at: i64,
}

/// The async handle to the store; cheap to clone. The worker stops when the last clone drops.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Op>,
}

/// Commands in flight before senders wait; bounds memory when the disk is slower than the agents.
const CHANNEL_CAPACITY: usize = 256;

impl Store {
    /// Default path: `$XDG_DATA_HOME/baton/baton.db`, else `$HOME/.local/share/baton/baton.db`.
    pub fn default_path() -> Option<PathBuf> {
        default_path_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
    }

    /// Opens the database, creating its directory (mode 0700) and file (mode 0600) when missing,
    /// migrates it, and starts the worker thread.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = schema::open(path)?;
        // Checkpoints run on their own thread (see checkpointer): none on the committing one.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = Checkpointer::new(path.to_path_buf());
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        std::thread::Builder::new()
            .name("baton-store".into())
            .spawn(move || worker::run(conn, rx, checkpointer))?;
        Ok(Store { tx })
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T>>) -> Op) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Creates a thread: status `stopped`, no events, created/updated now.
    pub async fn create_thread(&self, t: NewThread) -> Result<Thread> {
        self.call(|r| Op::CreateThread(t, r)).await
    }

    pub async fn get_thread(&self, id: &str) -> Result<Option<Thread>> {
        Ok(self.get_binding(id).await?.map(|b| b.thread))
    }

    pub async fn get_binding(&self, id: &str) -> Result<Option<Binding>> {
        let id = id.to_string();
        self.call(|r| Op::GetBinding(id, r)).await
    }

    /// One page of threads, most recently updated first (ties by id, descending). `cursor` is
    /// the second value returned for the previous page, which is `None` after the last page.
    pub async fn list_threads(
        &self,
        cursor: Option<String>,
        limit: u32,
        cwd: Option<String>,
    ) -> Result<(Vec<Thread>, Option<String>)> {
        self.call(|reply| Op::ListThreads {
            cursor,
            limit,
            cwd,
            reply,
        })
        .await
    }

    /// Applies `u` and bumps `updated_at`; `NotFound` when the thread does not exist.
    pub async fn update_thread(&self, id: &str, u: ThreadUpdate) -> Result<Thread> {
        let id = id.to_string();
        self.call(|r| Op::UpdateThread(id, u, r)).await
    }

    /// Appends an event with `seq = last_seq + 1` and `at = now`, bumps the thread's `last_seq`,
    /// `updated_at` and `last_seen_at`, and returns the event once it is committed.
    pub async fn append_event(
        &self,
        thread_id: &str,
        provider: ProviderId,
        turn_id: Option<String>,
        item_id: Option<String>,
        body: EventBody,
    ) -> Result<Event> {
        let event = EncodedEvent::new(provider, turn_id, item_id, &body)?;
        let (tx, rx) = oneshot::channel();
        self.queue_append(Arc::from(thread_id), event, Done::Reply(tx))
            .await?;
        let (stamp, event) = rx.await.map_err(|_| StoreError::Closed)??;
        Ok(event.into_event(thread_id, stamp, body))
    }

    /// Queues an append whose stamp goes to `filler`'s slot after the commit (the streaming
    /// path: the editor's writer holds the event's notification until then). Waits only for
    /// room in the store's queue. On `Err` the filler was dropped, which fills the slot with
    /// nothing.
    pub async fn append_streamed(
        &self,
        thread_id: Arc<str>,
        event: EncodedEvent,
        filler: SlotFiller,
    ) -> Result<()> {
        self.queue_append(thread_id, event, Done::Slot(filler))
            .await
    }

    async fn queue_append(
        &self,
        thread_id: Arc<str>,
        event: EncodedEvent,
        done: Done,
    ) -> Result<()> {
        self.tx
            .send(Op::Append {
                thread_id,
                event,
                done,
            })
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// Every cached provider probe.
    pub async fn probes(&self) -> Result<Vec<ProbeRecord>> {
        self.call(Op::Probes).await
    }

    /// Records a provider probe, replacing the one of the same path.
    pub async fn put_probe(&self, p: ProbeRecord) -> Result<()> {
        self.call(|r| Op::PutProbe(p, r)).await
    }

    /// The events with `seq > since_seq`, in order, at most `limit` of them. Rows this build can
    /// no longer read are skipped (and logged), so seqs may have gaps after a downgrade.
    pub async fn read_events(
        &self,
        thread_id: &str,
        since_seq: i64,
        limit: Option<u32>,
    ) -> Result<Vec<Event>> {
        let thread_id = thread_id.to_string();
        self.call(|reply| Op::ReadEvents {
            thread_id,
            since_seq,
            limit,
            reply,
        })
        .await
    }

    /// The thread and its events with `seq > since_seq` (as [`Self::read_events`]), read in one
    /// transaction: with no `limit`, the last event is the thread's `last_seq` even while the
    /// thread streams. `None` when the thread does not exist.
    pub async fn read_thread(
        &self,
        thread_id: &str,
        since_seq: i64,
        limit: Option<u32>,
    ) -> Result<Option<(Thread, Vec<Event>)>> {
        let thread_id = thread_id.to_string();
        self.call(|reply| Op::ReadThread {
            thread_id,
            since_seq,
            limit,
            reply,
        })
        .await
    }

    /// Deletes the thread, its native threads and its events; false when it did not exist.
    pub async fn delete_thread(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.call(|r| Op::Delete(id, r)).await
    }

    /// Inserts or replaces the native thread of `(n.thread_id, n.provider)`.
    pub async fn upsert_native_thread(&self, n: NativeThread) -> Result<()> {
        self.call(|r| Op::UpsertNative(n, r)).await
    }

    /// The thread's native threads, most recently updated first (read back by provider
    /// switching, which hands a thread back to a provider's earlier native thread).
    pub async fn native_threads(&self, thread_id: &str) -> Result<Vec<NativeThread>> {
        let id = thread_id.to_string();
        self.call(|r| Op::NativeThreads(id, r)).await
    }

    /// Run once at startup, before anything else: leases of dead processes are dropped, and
    /// threads a dead baton left idle/running become stopped, an open turn closed with
    /// `turn.completed {failed, "baton restarted"}` — unless a live baton (`me` or another
    /// editor's) holds the thread's lease. Resume cursors are kept.
    ///
    /// The command is queued when this is called, ahead of every command sent after it, so a
    /// caller may start serving and look at the outcome later: whatever it asks the store
    /// meanwhile sees the recovered rows.
    pub fn recover(
        &self,
        me: Holder,
    ) -> impl std::future::Future<Output = Result<Vec<Recovered>>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let waiting = match self.tx.try_send(Op::Recover(me, reply)) {
            Ok(()) => None,
            // Only when the queue is full or gone: then wait for room like any command.
            Err(mpsc::error::TrySendError::Full(op) | mpsc::error::TrySendError::Closed(op)) => {
                Some((self.tx.clone(), op))
            }
        };
        async move {
            if let Some((tx, op)) = waiting {
                tx.send(op).await.map_err(|_| StoreError::Closed)?;
            }
            answer.await.map_err(|_| StoreError::Closed)?
        }
    }

    /// Takes the thread's lease if it is free, ours, or its holder died (then the dead holder's
    /// open turn is closed). With `takeover`, a live holder is also asked to hand it over.
    pub async fn acquire_lease(
        &self,
        thread_id: &str,
        me: &Holder,
        takeover: bool,
    ) -> Result<Claim> {
        let (thread_id, me) = (thread_id.to_string(), me.clone());
        self.call(|reply| {
            Op::Lease(LeaseOp::Acquire {
                thread_id,
                me,
                takeover,
                reply,
            })
        })
        .await
    }

    /// Drops our lease of the thread; true when we held one.
    pub async fn release_lease(&self, thread_id: &str, me: &Holder) -> Result<bool> {
        let (thread_id, me) = (thread_id.to_string(), me.clone());
        self.call(|reply| {
            Op::Lease(LeaseOp::Release {
                thread_id,
                me,
                reply,
            })
        })
        .await
    }

    /// Hands our lease to the process that asked for it (or drops it); returns that process.
    pub async fn hand_over_lease(&self, thread_id: &str, me: &Holder) -> Result<Option<Holder>> {
        let (thread_id, me) = (thread_id.to_string(), me.clone());
        self.call(|reply| {
            Op::Lease(LeaseOp::HandOver {
                thread_id,
                me,
                reply,
            })
        })
        .await
    }

    /// Withdraws our takeover request.
    pub async fn cancel_takeover(&self, thread_id: &str, me: &Holder) -> Result<()> {
        let (thread_id, me) = (thread_id.to_string(), me.clone());
        self.call(|reply| {
            Op::Lease(LeaseOp::CancelTakeover {
                thread_id,
                me,
                reply,
            })
        })
        .await
    }

    /// Stamps our leases' heartbeat; returns the takeover requests for them and the threads in
    /// `held` whose lease is no longer ours.
    pub async fn heartbeat(&self, me: &Holder, held: Vec<String>) -> Result<Beat> {
        let me = me.clone();
        self.call(|reply| Op::Lease(LeaseOp::Heartbeat { me, held, reply }))
            .await
    }

    /// Drops every lease we hold (orderly exit); returns how many.
    pub async fn release_all_leases(&self, me: &Holder) -> Result<usize> {
        let me = me.clone();
        self.call(|reply| Op::Lease(LeaseOp::ReleaseAll { me, reply }))
            .await
    }

    /// The events after each `(thread, seq)`, at most `limit` per thread, for subscriptions.
    pub async fn poll_events(&self, since: Vec<(String, i64)>, limit: u32) -> Result<Vec<Event>> {
        self.call(|reply| Op::Poll {
            since,
            limit,
            reply,
        })
        .await
    }

    /// Checkpoints the WAL into the main file (orderly shutdown).
    pub async fn flush(&self) -> Result<()> {
        self.call(Op::Flush).await
    }
}

/// [`Store::default_path`] with its environment passed in, so it can be tested without mutating
/// the process environment.
fn default_path_from(xdg_data_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    // The XDG spec says relative values are invalid and must be ignored.
    let base = xdg_data_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(base.join("baton").join("baton.db"))
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod lease_tests;
