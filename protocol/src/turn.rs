//! Turns: `turn/start`, `turn/interrupt`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One piece of user input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum InputItem {
    Text { text: String },
}

/// Params of `turn/start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnStartParams {
    pub thread_id: String,
    pub input: Vec<InputItem>,
    /// When it differs from the thread's provider, the thread is switched first (as `thread/switch`
    /// with `handoff: "auto"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<crate::ProviderId>,
    /// When it differs from the thread's model, the model is changed first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `plan`: the agent plans (and may ask questions with `input/request`) instead of acting.
    /// Codex: collaboration mode `plan`; Claude Code: permission mode `plan`. Absent = `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<TurnMode>,
}

/// How the agent works in a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TurnMode {
    /// The agent acts (subject to approvals).
    #[default]
    Default,
    /// The agent only plans and asks.
    Plan,
}

/// Result of `turn/start`: the turn runs on; its events follow as notifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnStartResponse {
    pub turn_id: String,
}

/// Params of `turn/interrupt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnInterruptParams {
    pub thread_id: String,
}
