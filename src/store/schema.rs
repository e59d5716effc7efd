//! Opening the database file and its versioned migrations (`PRAGMA user_version`).
//!
//! The file holds whole conversations, so it is created private (0600, in a 0700 directory)
//! before SQLite ever writes to it; SQLite gives its `-wal` and `-shm` files the same mode.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::{Result, StoreError};

/// Entry `i` migrates a file from version `i` to `i + 1`. Never edit an entry that has shipped:
/// append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE threads (
    id                 TEXT PRIMARY KEY,
    provider           TEXT NOT NULL,
    model              TEXT,
    cwd                TEXT NOT NULL,
    title              TEXT,
    status             TEXT NOT NULL,
    provider_thread_id TEXT,
    approval_policy    TEXT,
    sandbox            TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    last_seq           INTEGER NOT NULL DEFAULT 0,
    last_seen_at       INTEGER NOT NULL,
    active_turn_id     TEXT
);
CREATE INDEX threads_by_update ON threads (updated_at DESC, id DESC);
CREATE TABLE native_threads (
    thread_id  TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    provider   TEXT NOT NULL,
    native_id  TEXT NOT NULL,
    model      TEXT,
    last_seq   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (thread_id, provider)
);
CREATE TABLE events (
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    type      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    provider  TEXT NOT NULL,
    turn_id   TEXT,
    item_id   TEXT,
    data      TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
) WITHOUT ROWID;
"#,
    // Editors list the threads of their workspace: `thread/list {cwd}` pages through this index
    // instead of scanning every thread.
    r#"
CREATE INDEX threads_by_cwd ON threads (cwd, updated_at DESC, id DESC);
"#,
    // A provider switch prepends its handoff block to the next user message, once; it is kept
    // here so a baton restart between the switch and that turn does not lose it.
    r#"
ALTER TABLE threads ADD COLUMN pending_handoff TEXT;
"#,
    // Which baton process last drove the thread: two editors may each run a baton on the same
    // database, and one's startup recovery must not close the other's live turns.
    r#"
ALTER TABLE threads ADD COLUMN owner_pid INTEGER;
"#,
    // Leases: the baton process that drives a thread (live session, running turn, pending
    // approval), so that two editor windows can never drive one thread at once. They replace
    // `owner_pid`, which could not tell a reused pid from the baton that wrote it. A takeover
    // request is a column the holder polls with its heartbeat.
    r#"
CREATE TABLE leases (
    thread_id         TEXT PRIMARY KEY REFERENCES threads (id) ON DELETE CASCADE,
    pid               INTEGER NOT NULL,
    start_time        INTEGER NOT NULL,
    scope             TEXT NOT NULL,
    client            TEXT,
    acquired_at       INTEGER NOT NULL,
    heartbeat_at      INTEGER NOT NULL,
    takeover_pid      INTEGER,
    takeover_start    INTEGER,
    takeover_scope    TEXT,
    takeover_client   TEXT,
    takeover_at       INTEGER
) WITHOUT ROWID;
CREATE INDEX leases_by_holder ON leases (pid, start_time);
ALTER TABLE threads DROP COLUMN owner_pid;
"#,
    // What each provider binary's `--version` said, keyed by (path, size, mtime): `initialize`
    // answers from here instead of running the binaries, which are re-probed in the background.
    r#"
CREATE TABLE provider_probes (
    path      TEXT PRIMARY KEY,
    size      INTEGER NOT NULL,
    mtime_ns  INTEGER NOT NULL,
    version   TEXT,
    error     TEXT,
    probed_at INTEGER NOT NULL
);
"#,
];

/// How long a statement waits for another process (a second editor's baton) holding the lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the file with restrictive permissions, configures the connection and brings the schema
/// up to date.
pub fn open(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    create_private_file(path)?;
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Some file systems (network mounts) cannot share memory; the store still works, only
        // with readers and the writer blocking each other.
        tracing::warn!(journal_mode = %mode, "SQLite refused WAL mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // The `REFERENCES threads` clauses document the schema; the store keeps them itself: an
    // append claims its seq from the thread's row, a lease and a native binding are written
    // only for a thread that exists, and a delete removes a thread's rows explicitly
    // (`threads::delete`), all in the worker's transaction. Enforcing them as well would cost
    // every streamed event a second B-tree seek, into `threads`.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// A second connection to an open store's file, for the checkpointer thread.
pub fn open_checkpointer(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Creates `dir` and any missing parents with mode 0700; an existing directory is left as the
/// user set it up.
fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        // The umask may have taken bits away from the mode; the directory must still be usable.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    builder.create(dir)?;
    Ok(())
}

/// Creates an empty database file with mode 0600 unless it exists, so the file is never
/// readable by others, not even for the moment before a `chmod`.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        // Another process (or an earlier run) created it: keep its permissions.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Applies the migrations the file has not seen yet, all in one immediate transaction so that
/// two batons opening the same new file do not both migrate it.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(version)
        .map_err(|_| StoreError::Corrupt(format!("negative schema version {version}")))?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {version}, newer than this baton's {}; \
             use a newer baton or another --db",
            MIGRATIONS.len()
        )));
    }
    if version == MIGRATIONS.len() {
        return Ok(());
    }
    for sql in &MIGRATIONS[version..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", latest() as i64)?;
    tx.commit()?;
    tracing::info!(from = version, to = latest(), "migrated the database");
    Ok(())
}

/// The schema version this build writes.
pub fn latest() -> usize {
    MIGRATIONS.len()
}

/// Applies only the first `n` migrations, to test upgrades from an older file.
#[cfg(test)]
pub fn migrate_to(conn: &Connection, n: usize) -> Result<()> {
    for sql in &MIGRATIONS[..n] {
        conn.execute_batch(sql)?;
    }
    conn.pragma_update(None, "user_version", n as i64)?;
    Ok(())
}
