//! `initialize`, `initialized`, `shutdown`, `exit`: the LSP-style lifecycle.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::provider::ProviderInfo;

/// Params of `initialize`. LSP `InitializeParams` are accepted as they are; unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    /// The editor's process id, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_id: Option<i64>,
    /// Who the editor is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_info: Option<ClientInfo>,
    /// LSP root URI; informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_uri: Option<String>,
    /// LSP client capabilities; baton does not depend on any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Value>,
    /// baton's own options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialization_options: Option<InitializationOptions>,
}

/// Name and version of the editor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Options an editor may pass in `initialize.initializationOptions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitializationOptions {
    /// Attach the provider's raw message under `data.raw` of live `thread/event` notifications.
    /// Raw messages are not persisted, so `thread/read` never carries them.
    #[serde(default)]
    pub include_raw: bool,
    /// Soft-stop provider sessions idle longer than this many seconds (default: `--idle-timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_secs: Option<u64>,
    /// At most this many live provider sessions (processes or shared-process threads): beyond
    /// it the least recently used idle ones are soft-stopped, keeping their binding and resume
    /// cursor (default: `--max-live-sessions`, 8; 0 = no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_live_sessions: Option<u32>,
    /// Treat an approval the editor has not answered within this many seconds as declined
    /// (default: wait forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_timeout_secs: Option<u64>,
    /// Fail a running turn when its provider sends nothing for this many seconds, while no
    /// approval or question is pending (default: `--turn-inactivity-timeout`, 600; 0 = never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_inactivity_timeout_secs: Option<u64>,
    /// Provider entries that add to or override the config file's `[providers]` for this editor
    /// session: an object of `{<id>: {kind?, command?, env?, fs?}}`, the same shape as the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<Value>,
}

/// Result of `initialize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitializeResult {
    pub server_info: ServerInfo,
    /// The baton protocol version; see `PROTOCOL_VERSION`.
    pub protocol_version: u32,
    /// Reserved for future capability flags; always an object.
    pub capabilities: ServerCapabilities,
    /// The providers baton knows, with their availability.
    pub providers: Vec<ProviderInfo>,
    /// Problems in the config file or in `initializationOptions.providers` (file, line, key and
    /// message, one per string); the valid providers are served all the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_errors: Vec<String>,
}

/// Name and version of the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
}

/// Server capabilities; empty in protocol version 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerCapabilities {}

/// Params of `$/cancelRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CancelParams {
    /// The id of the request to cancel.
    pub id: Value,
}
