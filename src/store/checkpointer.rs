//! WAL checkpoints off the committing thread.
//!
//! The worker's connection never checkpoints by itself (`wal_autocheckpoint` is off): copying
//! the WAL into the main file and syncing it would hold up every commit behind it. Instead the
//! worker nudges a thread of its own every so many appends, which runs a passive checkpoint on a
//! second connection. That thread starts at the first nudge, not when the store opens: most
//! editor sessions start, read a few threads and end, and a thread spawned at startup would add
//! to the time before `initialize` is answered for nothing.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use rusqlite::Connection;

use super::schema;

/// The worker's side: where nudges go.
pub struct Checkpointer {
    path: PathBuf,
    state: State,
}

enum State {
    NotStarted,
    Running(SyncSender<()>),
    /// The thread could not start, or its connection could not open: the worker checkpoints.
    Inline,
}

impl Checkpointer {
    pub fn new(path: PathBuf) -> Checkpointer {
        Checkpointer {
            path,
            state: State::NotStarted,
        }
    }

    /// Asks for a passive checkpoint. Starts the thread at the first call; when it cannot
    /// start, or its connection could not open, the worker checkpoints on `conn` itself from
    /// then on, so the WAL never grows without end.
    pub fn nudge(&mut self, conn: &Connection) {
        if matches!(self.state, State::NotStarted) {
            self.state = self.spawn();
        }
        if let State::Running(tx) = &self.state {
            // Full: a nudge is already waiting, which is as good.
            if !matches!(tx.try_send(()), Err(TrySendError::Disconnected(()))) {
                return;
            }
            self.state = State::Inline;
        }
        passive(conn, "inline");
    }

    fn spawn(&self) -> State {
        let (tx, rx) = sync_channel(1);
        let path = self.path.clone();
        let started = std::thread::Builder::new()
            .name("baton-checkpoint".into())
            .spawn(move || match schema::open_checkpointer(&path) {
                Ok(conn) => run(&conn, &rx),
                Err(e) => tracing::warn!("cannot open the checkpointer's connection: {e}"),
            });
        match started {
            Ok(_) => State::Running(tx),
            Err(e) => {
                tracing::warn!("cannot start the checkpointer thread: {e}");
                State::Inline
            }
        }
    }
}

/// The thread's loop: a passive checkpoint per nudge. Ends with the worker (its sender gone).
fn run(conn: &Connection, nudges: &Receiver<()>) {
    while nudges.recv().is_ok() {
        passive(conn, "background");
    }
}

/// PASSIVE never waits for the writer; what it cannot copy now, the next one will.
fn passive(conn: &Connection, which: &str) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::debug!("{which} checkpoint failed: {e}");
    }
}

#[cfg(test)]
#[path = "checkpointer_tests.rs"]
mod tests;
