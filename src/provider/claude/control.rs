//! In-session controls of a Claude session beyond turns: model changes and compaction.
//!
//! Claude has no control request for compaction: `/compact [instructions]` is sent as a user
//! message, and its progress and summary come back on stdout (see [`super::mapping`]).

use serde_json::json;

use super::ClaudeSession;
use crate::provider::ProviderError;

impl ClaudeSession {
    /// Changes the model of the live session (`set_model` control request).
    pub async fn set_model(&self, model: &str) -> Result<(), ProviderError> {
        self.control(json!({"subtype": "set_model", "model": model}))
            .await
            .map(|_| ())
            .map_err(ProviderError::Failed)
    }

    /// Starts a compaction with `/compact [instructions]`.
    pub async fn compact(&self, instructions: Option<String>) -> Result<(), ProviderError> {
        self.inner
            .interrupted
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.inner
            .compact_requested
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // Like Codex, the compaction runs as a turn of its own, so the thread shows it running.
        let started =
            baton_protocol::EventBody::TurnStarted(baton_protocol::TurnStarted { model: None });
        self.inner.sink.send(super::event(started, None)).await;
        let command = match instructions.filter(|i| !i.trim().is_empty()) {
            Some(i) => format!("/compact {i}"),
            None => "/compact".to_string(),
        };
        self.write(json!({
            "type": "user",
            "message": {"role": "user", "content": command},
            "parent_tool_use_id": null,
            "session_id": "",
        }))
        .await
    }
}
