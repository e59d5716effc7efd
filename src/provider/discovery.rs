//! Finding the provider binaries and their versions, for `provider/list`, `initialize` and `doctor`.
//!
//! Running `<cli> --version` costs a process start (a Node start for Claude Code, ~100 ms), so
//! `initialize` never does it: [`from_cache`] answers from earlier probes, kept by the caller
//! keyed by the binary's path, size and modification time ([`FileKey`]), and names the files
//! whose probe is missing or stale; [`probe_file`] probes one of them in the background.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_protocol::{ProviderCapabilities, ProviderId, ProviderInfo, ProviderKind};
use tokio::process::Command;

/// One provider to probe: its id, adapter, capabilities and where its binary may be.
pub struct Probe {
    pub id: ProviderId,
    pub kind: ProviderKind,
    pub capabilities: ProviderCapabilities,
    /// A configured path (or name), if any.
    pub explicit: Option<String>,
    /// The name looked up on PATH otherwise.
    pub name: &'static str,
}

/// Probes every provider concurrently.
pub async fn list(probes: Vec<Probe>) -> Vec<ProviderInfo> {
    let tasks: Vec<_> = probes.into_iter().map(|p| tokio::spawn(probe(p))).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(info) = t.await {
            out.push(info);
        }
    }
    out
}

/// Resolves a binary: an explicit path (from an env var or flag) wins, else a search of PATH.
pub fn resolve_bin(explicit: Option<&str>, name: &str) -> Option<PathBuf> {
    if let Some(p) = explicit.filter(|p| !p.is_empty()) {
        let path = PathBuf::from(p);
        if path.components().count() > 1 {
            return path.is_file().then_some(path);
        }
        return search_path(p);
    }
    search_path(name)
}

fn search_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A binary as it is on disk now; a cached probe of it is valid while this stays the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKey {
    pub path: String,
    pub size: i64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

impl FileKey {
    /// The key of the file at `bin` (symlinks followed), `None` when it cannot be read.
    pub fn of(bin: &Path) -> Option<FileKey> {
        let meta = std::fs::metadata(bin).ok()?;
        let mtime_ns = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Some(FileKey {
            path: bin.display().to_string(),
            size: i64::try_from(meta.len()).unwrap_or(i64::MAX),
            mtime_ns,
        })
    }
}

/// What `--version` said about one file: the version, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    pub version: Option<String>,
    pub error: Option<String>,
}

/// The providers as far as can be told without running anything: each binary is located (a
/// few `stat`s) and its version taken from `known`, the cached probe of a [`FileKey`]. Returns
/// every provider's info and, where `known` had nothing, the file still to probe. A binary that
/// was never probed is reported available, with no version, until its probe says otherwise.
pub fn from_cache(
    probes: Vec<Probe>,
    known: impl Fn(&FileKey) -> Option<Probed>,
) -> Vec<(ProviderInfo, Option<FileKey>)> {
    probes
        .into_iter()
        .map(|p| {
            let (mut info, bin) = locate(p);
            let Some(bin) = bin else {
                return (info, None);
            };
            let Some(key) = FileKey::of(&bin) else {
                info.available = false;
                info.error = Some(format!("cannot read {}", bin.display()));
                return (info, None);
            };
            match known(&key) {
                Some(probed) => {
                    apply(&mut info, probed);
                    (info, None)
                }
                None => {
                    info.available = true;
                    (info, Some(key))
                }
            }
        })
        .collect()
}

/// Runs `<file> --version` on a blocking thread: spawning a process stalls the spawning thread
/// (vfork) for as long as the kernel takes, which must not be a runtime worker that is about to
/// write the answer of `initialize`.
pub async fn probe_file(key: &FileKey) -> Probed {
    let bin = PathBuf::from(&key.path);
    let shown = key.path.clone();
    tokio::task::spawn_blocking(move || version_blocking(&bin))
        .await
        .unwrap_or_else(|e| Probed {
            version: None,
            error: Some(format!("probing {shown} failed: {e}")),
        })
}

/// [`version_of`] without the runtime, bounded by the same 10 s.
fn version_blocking(bin: &Path) -> Probed {
    use std::process::{Command, Stdio};
    let child = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return Probed {
                version: None,
                error: Some(format!("cannot run {}: {e}", bin.display())),
            };
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Probed {
                    version: None,
                    error: Some(format!("`{} --version` timed out", bin.display())),
                };
            }
        }
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => Probed {
            version: parse_version(&String::from_utf8_lossy(&out.stdout)),
            error: None,
        },
        Ok(out) => Probed {
            version: None,
            error: Some(format!(
                "`{} --version` failed ({}): {}",
                bin.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        },
        Err(e) => Probed {
            version: None,
            error: Some(format!("cannot run {}: {e}", bin.display())),
        },
    }
}

/// Sets what a probe said on an info.
pub fn apply(info: &mut ProviderInfo, probed: Probed) {
    info.available = probed.error.is_none();
    info.version = probed.version;
    info.error = probed.error;
}

/// The info of a provider with its binary located (`None` and an error when it is missing).
fn locate(p: Probe) -> (ProviderInfo, Option<PathBuf>) {
    let (explicit, name) = (p.explicit.as_deref(), p.name);
    let mut info = ProviderInfo {
        id: p.id,
        kind: p.kind,
        available: false,
        version: None,
        path: None,
        error: None,
        capabilities: p.capabilities,
    };
    let Some(bin) = resolve_bin(explicit, name) else {
        info.error = Some(match explicit {
            Some(p) => format!("{p} does not exist"),
            None => format!("`{name}` not found on PATH"),
        });
        return (info, None);
    };
    info.path = Some(bin.display().to_string());
    (info, Some(bin))
}

async fn probe(p: Probe) -> ProviderInfo {
    let (mut info, bin) = locate(p);
    if let Some(bin) = bin {
        apply(&mut info, version_of(&bin).await);
    }
    info
}

async fn version_of(bin: &Path) -> Probed {
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        Command::new(bin)
            .arg("--version")
            .kill_on_drop(true)
            .output(),
    )
    .await;
    let (mut version, mut error) = (None, None);
    match out {
        Ok(Ok(out)) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            version = parse_version(&text);
        }
        Ok(Ok(out)) => {
            error = Some(format!(
                "`{} --version` failed ({}): {}",
                bin.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Err(e)) => error = Some(format!("cannot run {}: {e}", bin.display())),
        Err(_) => error = Some(format!("`{} --version` timed out", bin.display())),
    }
    Probed { version, error }
}

/// Picks the first token that looks like a version number out of `--version` output
/// (`codex-cli 0.169.0`, `2.1.328 (Claude Code)`).
pub fn parse_version(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_parsed_from_both_clis() {
        assert_eq!(
            parse_version("codex-cli 0.169.0\n").as_deref(),
            Some("0.169.0")
        );
        assert_eq!(
            parse_version("2.1.328 (Claude Code)\n").as_deref(),
            Some("2.1.328")
        );
        assert_eq!(parse_version("nothing here"), None);
    }
}
