//! Finding the provider binaries and their versions, for `provider/list`, `initialize` and `doctor`.

use std::path::PathBuf;
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

async fn probe(p: Probe) -> ProviderInfo {
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
        return info;
    };
    info.path = Some(bin.display().to_string());
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        Command::new(&bin)
            .arg("--version")
            .kill_on_drop(true)
            .output(),
    )
    .await;
    match out {
        Ok(Ok(out)) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            info.version = parse_version(&text);
            info.available = true;
        }
        Ok(Ok(out)) => {
            info.error = Some(format!(
                "`{} --version` failed ({}): {}",
                bin.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Err(e)) => info.error = Some(format!("cannot run {}: {e}", bin.display())),
        Err(_) => info.error = Some(format!("`{} --version` timed out", bin.display())),
    }
    info
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
