//! Opening the database file and its versioned migrations (`PRAGMA user_version`).

use std::path::Path;

use rusqlite::Connection;

use super::Result;

/// Each entry migrates from version `index` to `index + 1`. Never edit a shipped entry: append.
const MIGRATIONS: &[&str] = &[r#"
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
"#];

/// Opens the file with restrictive permissions and brings its schema up to date.
pub fn open(path: &Path) -> Result<Connection> {
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        std::fs::create_dir_all(dir)?;
        set_mode(dir, 0o700)?;
    }
    let existed = path.exists();
    let mut conn = Connection::open(path)?;
    if !existed {
        set_mode(path, 0o600)?;
    }
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Applies the migrations the file has not seen yet, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))?
        .try_into()
        .unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// The schema version this build writes.
#[cfg(test)]
pub fn latest() -> usize {
    MIGRATIONS.len()
}
