#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;

/// A store file with WAL frames not yet copied into it; returns the worker-like connection.
fn written(path: &Path) -> Connection {
    let conn = schema::open(path).unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    for i in 0..200 {
        conn.execute(
            "INSERT INTO threads (id, provider, cwd, status, created_at, updated_at, last_seen_at)
             VALUES (?1, 'codex', '/w', 'stopped', 0, 0, 0)",
            [format!("thread-{i:04}-{}", "x".repeat(200))],
        )
        .unwrap();
    }
    conn
}

/// A temporary store with WAL frames to copy: its folder, path, connection and main file size.
fn store_with_wal() -> (tempfile::TempDir, PathBuf, Connection, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let conn = written(&path);
    let before = main_file_len(&path);
    (dir, path, conn, before)
}

fn main_file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// Polls `done` every 5 ms for up to 10 s.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_thread_starts_at_the_first_nudge_and_copies_the_wal() {
    let (_dir, path, conn, before) = store_with_wal();
    let mut c = Checkpointer::new(path.clone());
    assert!(
        matches!(c.state, State::NotStarted),
        "nothing runs before a nudge"
    );
    c.nudge(&conn);
    assert!(matches!(c.state, State::Running(_)));
    wait_until("the WAL was never copied", || main_file_len(&path) > before);
}

#[test]
fn without_its_connection_the_worker_checkpoints_itself() {
    let (dir, path, conn, before) = store_with_wal();
    // A file in a directory that does not exist cannot be opened.
    let mut c = Checkpointer::new(dir.path().join("missing").join("baton.db"));
    c.nudge(&conn);
    // The thread started; it ends once its connection failed, and the next nudge sees that.
    wait_until("the failed thread was never noticed", || {
        c.nudge(&conn);
        matches!(c.state, State::Inline)
    });
    assert!(
        main_file_len(&path) > before,
        "the inline checkpoint copied the WAL"
    );
}
