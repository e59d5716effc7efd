//! `input/request`: a server -> client request asking the user questions on the agent's behalf
//! (Codex `item/tool/requestUserInput`, Claude Code's `AskUserQuestion` tool).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One choice offered for a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputOption {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One question the agent asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputQuestion {
    /// Key of this question in the answer's `answers`.
    pub id: String,
    /// The question text.
    pub question: String,
    /// A short label (a chip or a title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Choices; empty means free text.
    #[serde(default)]
    pub options: Vec<InputOption>,
    /// More than one option may be picked.
    #[serde(default)]
    pub multi_select: bool,
    /// Free text is accepted besides the options.
    #[serde(default)]
    pub allow_other: bool,
    /// The answer is a secret: do not echo or store it in the editor.
    #[serde(default)]
    pub secret: bool,
}

/// Params of the server -> client request `input/request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputRequestParams {
    pub thread_id: String,
    pub turn_id: String,
    /// baton's id for this request; it appears in `input.requested` / `input.resolved`.
    pub request_id: String,
    pub questions: Vec<InputQuestion>,
}

/// Result of `input/request`: the answers by question id (option labels or free text).
/// `cancelled: true`, no answer at all, an error reply, a disconnect or a timeout cancels: the
/// agent is told the user declined to answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputResponse {
    #[serde(default)]
    pub answers: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
}

impl InputResponse {
    /// A cancellation.
    pub fn cancel() -> Self {
        InputResponse {
            answers: BTreeMap::new(),
            cancelled: true,
        }
    }

    /// True when the user answered nothing.
    pub fn is_cancel(&self) -> bool {
        self.cancelled || self.answers.values().all(Vec::is_empty)
    }
}
