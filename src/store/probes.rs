//! SQL of the `provider_probes` table: what `<binary> --version` said, keyed by the binary's
//! path, size and modification time, so that `initialize` can answer without running any
//! provider binary (a Node start costs ~100 ms). The probes are refreshed in the background.

use rusqlite::{Connection, params};

use super::{ProbeRecord, Result};

/// Every cached probe.
pub fn all(c: &Connection) -> Result<Vec<ProbeRecord>> {
    let mut stmt = c.prepare_cached(
        "SELECT path, size, mtime_ns, version, error, probed_at FROM provider_probes",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ProbeRecord {
                path: r.get(0)?,
                size: r.get(1)?,
                mtime_ns: r.get(2)?,
                version: r.get(3)?,
                error: r.get(4)?,
                probed_at: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Records a probe, replacing the one of the same path.
pub fn put(c: &Connection, p: &ProbeRecord) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO provider_probes (path, size, mtime_ns, version, error, probed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
           version = excluded.version, error = excluded.error, probed_at = excluded.probed_at",
    )?
    .execute(params![
        p.path,
        p.size,
        p.mtime_ns,
        p.version,
        p.error,
        p.probed_at
    ])?;
    Ok(())
}
