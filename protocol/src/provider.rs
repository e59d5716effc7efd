//! `provider/list`: which agent providers baton can drive, and what each can do.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A provider id: the name of a configured agent behind a thread (`codex`, `claude`, or any id a
/// config file declares, e.g. `gemini`). On the wire it is a plain string.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
// Shared text: cloning an id (every event carries one) copies nothing.
pub struct ProviderId(Arc<str>);

impl ProviderId {
    /// The built-in Codex provider (`codex app-server`).
    pub const CODEX: &'static str = "codex";
    /// The built-in Claude Code provider (`claude -p` stream-json).
    pub const CLAUDE: &'static str = "claude";

    /// A provider id from its wire name.
    pub fn new(id: impl Into<String>) -> Self {
        ProviderId(Arc::from(id.into()))
    }

    /// The built-in Codex provider.
    pub fn codex() -> Self {
        ProviderId::new(Self::CODEX)
    }

    /// The built-in Claude Code provider.
    pub fn claude() -> Self {
        ProviderId::new(Self::CLAUDE)
    }

    /// The wire name of the provider.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses a wire name: any non-empty id of letters, digits, `-`, `_` and `.`.
    pub fn parse(s: &str) -> Option<Self> {
        let valid = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        valid.then(|| ProviderId::new(s))
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for ProviderId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for ProviderId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// How baton talks to a provider: the adapter behind its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// `codex app-server` (JSON-RPC over JSONL, one shared process).
    Codex,
    /// `claude -p` stream-json (one process per live session).
    Claude,
    /// Any Agent Client Protocol agent (one process per provider id, sessions multiplexed).
    Acp,
}

impl ProviderKind {
    /// The wire name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Codex => "codex",
            ProviderKind::Claude => "claude",
            ProviderKind::Acp => "acp",
        }
    }
}

/// Params of `provider/list` (none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderListParams {}

/// Result of `provider/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderListResponse {
    pub providers: Vec<ProviderInfo>,
    /// Problems in the config file or in `initializationOptions.providers`, as in `initialize`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_errors: Vec<String>,
}

/// Params of the `provider/changed` notification (baton -> editor): a background probe of the
/// provider binaries found something other than what `initialize` (or `provider/list`)
/// reported, e.g. a CLI that was upgraded, removed or broken since the last probe. Carries the
/// whole list, as `provider/list` would return it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderChangedParams {
    pub providers: Vec<ProviderInfo>,
}

/// One provider, as found on this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderInfo {
    pub id: ProviderId,
    /// The adapter behind the id.
    pub kind: ProviderKind,
    /// Whether the binary was found and answered `--version`.
    pub available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The binary baton runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why the provider is unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub capabilities: ProviderCapabilities,
}

/// What a provider supports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderCapabilities {
    pub compact: bool,
    pub resume: bool,
    pub interrupt: bool,
    pub approvals: bool,
    pub in_session_model_switch: bool,
}
