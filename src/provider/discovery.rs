//! Finding the provider binaries and their versions, for `provider/list`, `initialize` and `doctor`.

use std::time::Duration;

use baton_protocol::{ProviderCapabilities, ProviderId, ProviderInfo, ProviderKind};
use tokio::process::Command;

use super::ProviderSettings;
use super::process::resolve_bin;

/// Probes every provider concurrently.
pub async fn list(settings: &ProviderSettings) -> Vec<ProviderInfo> {
    let (codex, claude) = tokio::join!(
        probe(
            ProviderId::codex(),
            ProviderKind::Codex,
            settings.codex_bin.as_deref(),
            "codex"
        ),
        probe(
            ProviderId::claude(),
            ProviderKind::Claude,
            settings.claude_bin.as_deref(),
            "claude"
        ),
    );
    vec![codex, claude]
}

fn capabilities(kind: ProviderKind) -> ProviderCapabilities {
    match kind {
        ProviderKind::Codex => ProviderCapabilities {
            compact: true,
            resume: true,
            interrupt: true,
            approvals: true,
            in_session_model_switch: true,
        },
        ProviderKind::Claude | ProviderKind::Acp => ProviderCapabilities {
            compact: true,
            resume: true,
            interrupt: true,
            approvals: true,
            in_session_model_switch: true,
        },
    }
}

async fn probe(
    id: ProviderId,
    kind: ProviderKind,
    explicit: Option<&str>,
    name: &str,
) -> ProviderInfo {
    let mut info = ProviderInfo {
        id,
        kind,
        available: false,
        version: None,
        path: None,
        error: None,
        capabilities: capabilities(kind),
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
