//! The store: the only module that touches SQLite.
//!
//! Threads with their provider binding, the native threads each provider has for a baton thread,
//! and the append-only event log live in one SQLite file (bundled SQLite, WAL). One dedicated
//! thread owns the connection ([`worker`]); async callers send it commands over a bounded channel
//! and get replies on oneshots. Commands that arrive together share one transaction (group
//! commit), and a reply is sent only after its transaction committed.

mod schema;
mod worker;

use std::path::{Path, PathBuf};

use baton_protocol::{
    ApprovalPolicy, Event, EventBody, ProviderId, SandboxMode, Thread, ThreadStatus,
};
use tokio::sync::{mpsc, oneshot};

use worker::Op;

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
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    #[error("corrupt data: {0}")]
    Corrupt(String),
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
}

/// A thread plus the binding fields that are not on the wire.
#[derive(Debug, Clone)]
pub struct Binding {
    pub thread: Thread,
    pub active_turn_id: Option<String>,
}

/// A provider's native thread for a baton thread.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeThread {
    pub thread_id: String,
    pub provider: ProviderId,
    pub native_id: String,
    pub model: Option<String>,
    /// The seq of the baton log up to which this native thread has seen the conversation.
    pub last_seq: i64,
    pub updated_at: i64,
}

/// What `recover` did to one thread.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    pub thread_id: String,
    pub closed_turn: Option<String>,
}

/// The async handle to the store.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Op>,
}

const CHANNEL_CAPACITY: usize = 256;

impl Store {
    /// `$XDG_DATA_HOME/baton/baton.db`, else `$HOME/.local/share/baton/baton.db`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".local/share"))
            })?;
        Some(base.join("baton").join("baton.db"))
    }

    /// Opens (creating if needed, directory 0700 and file 0600) and migrates the database, and
    /// starts the worker thread.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = schema::open(path)?;
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        std::thread::Builder::new()
            .name("baton-store".into())
            .spawn(move || worker::run(conn, rx))?;
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

    /// Most recently updated first; `cursor` is the `nextCursor` of the previous page.
    pub async fn list_threads(
        &self,
        cursor: Option<String>,
        limit: u32,
        cwd: Option<String>,
    ) -> Result<(Vec<Thread>, Option<String>)> {
        self.call(|r| Op::ListThreads {
            cursor,
            limit,
            cwd,
            reply: r,
        })
        .await
    }

    pub async fn update_thread(&self, id: &str, u: ThreadUpdate) -> Result<Thread> {
        let id = id.to_string();
        self.call(|r| Op::UpdateThread(id, u, r)).await
    }

    /// Appends an event: seq = last_seq + 1, at = now; returns it once committed.
    pub async fn append_event(
        &self,
        thread_id: &str,
        provider: ProviderId,
        turn_id: Option<String>,
        item_id: Option<String>,
        body: EventBody,
    ) -> Result<Event> {
        let thread_id = thread_id.to_string();
        self.call(|r| Op::Append {
            thread_id,
            provider,
            turn_id,
            item_id,
            body,
            reply: r,
        })
        .await
    }

    pub async fn read_events(
        &self,
        thread_id: &str,
        since_seq: i64,
        limit: Option<u32>,
    ) -> Result<Vec<Event>> {
        let thread_id = thread_id.to_string();
        self.call(|r| Op::ReadEvents {
            thread_id,
            since_seq,
            limit,
            reply: r,
        })
        .await
    }

    pub async fn delete_thread(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.call(|r| Op::Delete(id, r)).await
    }

    pub async fn upsert_native_thread(&self, n: NativeThread) -> Result<()> {
        self.call(|r| Op::UpsertNative(n, r)).await
    }

    // Read back by provider switching, which hands a thread back to a provider's earlier native thread.
    #[cfg_attr(not(test), allow(dead_code))]
    pub async fn native_threads(&self, thread_id: &str) -> Result<Vec<NativeThread>> {
        let id = thread_id.to_string();
        self.call(|r| Op::NativeThreads(id, r)).await
    }

    /// Run once at startup: threads a dead baton left idle/running become stopped, and an open
    /// turn is closed with `turn.completed {failed, "baton restarted"}`. Cursors are kept.
    pub async fn recover(&self) -> Result<Vec<Recovered>> {
        self.call(Op::Recover).await
    }

    /// Checkpoints the WAL into the main file.
    pub async fn flush(&self) -> Result<()> {
        self.call(Op::Flush).await
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
