//! Items and their content: the leaf types that events, approvals and turns share.
//!
//! Kept apart from `event.rs` so that `approval.rs` (which names file changes) and `event.rs`
//! (which names approvals) do not import each other.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which stream a delta belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// The answer's text.
    Assistant,
    /// Raw reasoning text.
    Reasoning,
    /// The provider's summary of its reasoning.
    ReasoningSummary,
    /// Output of a running command.
    CommandOutput,
    /// Output of another tool (e.g. a patch being applied).
    ToolOutput,
    /// A proposed plan being written (plan mode).
    Plan,
}

impl Stream {
    /// The wire name of the stream.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Assistant => "assistant",
            Stream::Reasoning => "reasoning",
            Stream::ReasoningSummary => "reasoning_summary",
            Stream::CommandOutput => "command_output",
            Stream::ToolOutput => "tool_output",
            Stream::Plan => "plan",
        }
    }
}

/// `content.delta`: concatenating the deltas of an item gives its text. One event may carry
/// several of the agent's deltas, joined when baton read them together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentDelta {
    pub stream: Stream,
    pub delta: String,
}

/// The kind of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemType {
    UserMessage,
    AssistantMessage,
    Reasoning,
    Command,
    FileChange,
    ToolCall,
    /// A call of a tool of an MCP server (`server` names it).
    McpToolCall,
    /// Work delegated to a sub-agent.
    Subagent,
    WebSearch,
    Plan,
    Compaction,
    Other,
}

/// `item.started` / `item.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub item_type: ItemType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// Output of a command, when complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<FileChange>>,
    /// Tool name for `tool_call`, `mcp_tool_call` and `subagent` items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// MCP server of an `mcp_tool_call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Why the item failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Provider status of the item (e.g. `completed`, `failed`, `declined`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl Item {
    /// An item of the given type with no content yet.
    pub fn new(item_type: ItemType) -> Self {
        Item {
            item_type,
            text: None,
            command: None,
            cwd: None,
            exit_code: None,
            output: None,
            changes: None,
            tool: None,
            server: None,
            error: None,
            status: None,
        }
    }
}

/// One file touched by a file-change item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileChange {
    pub path: String,
    /// `add`, `delete` or `update`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_are_their_wire_names() {
        use Stream::*;
        for s in [
            Assistant,
            Reasoning,
            ReasoningSummary,
            CommandOutput,
            ToolOutput,
            Plan,
        ] {
            assert_eq!(
                serde_json::to_string(&s).ok(),
                Some(format!("\"{}\"", s.as_str()))
            );
        }
    }
}
