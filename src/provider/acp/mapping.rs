//! ACP `session/update` notifications -> baton events, per session.
//!
//! Message and thought chunks stream as `content.delta` and end as one `item.completed` with the
//! whole text (when the next kind of update begins, a new `messageId` appears, or the turn ends).
//! Tool calls become `item.started` / `item.completed` (`execute` -> command, `edit`/`delete`/
//! `move` -> file change with the diff, anything else -> tool call). The kind of every update is
//! looked up in the coverage table first: a kind no row names is logged once and only counts as
//! activity, so a newer agent than the schema crate never breaks a session.

use std::collections::HashMap;

use agent_client_protocol_schema::v1::{
    CompactionStatus, ContentBlock, PlanEntryStatus, SessionUpdate, StopReason, ToolCall,
    ToolCallStatus, ToolCallUpdate, ToolCallUpdateFields, ToolKind,
};
use baton_protocol::{
    CompactionCompleted, CompactionFailed, CompactionStarted, CompactionTrigger, ContentDelta,
    EventBody, Item, ItemType, PlanStep, PlanStepStatus, Stream, TurnCompleted, TurnPlan,
    TurnState, UsageUpdated,
};
use serde_json::Value;

use super::coverage::UPDATES;
use super::tools::{Tool, merge_content, tool_item};
use crate::provider::{ProviderEvent, coverage};

/// A message or thought being streamed.
struct Open {
    stream: Stream,
    item_id: String,
    message_id: Option<String>,
    text: String,
}

/// The mapping state of one ACP session.
pub struct Mapper {
    open: Option<Open>,
    tools: HashMap<String, Tool>,
    /// Names of the agent's slash commands (`available_commands_update`), without the slash.
    pub commands: Vec<String>,
    /// The session's config options as last reported (`config_option_update`).
    pub config_options: Option<Value>,
    /// Summary text streamed per compaction id (`compaction_summary_chunk`).
    summaries: HashMap<String, String>,
    /// Set while baton itself asked for a compaction, so its events say `manual`.
    pub manual_compaction: bool,
    /// A compaction was announced (`compaction.started`) and has not ended.
    compaction_open: bool,
    /// The agent itself reported the end of a compaction since baton asked for one.
    compaction_reported: bool,
    /// A compaction of this session ended without a summary baton could hand over.
    pub no_summary: bool,
    /// The answer text of the current turn (a `/compact` turn's answer is its summary when the
    /// agent sends no compaction updates).
    turn_text: String,
    next_id: Box<dyn FnMut() -> String + Send>,
}

impl Default for Mapper {
    fn default() -> Self {
        Mapper::new(Box::new(|| uuid::Uuid::now_v7().to_string()))
    }
}

fn event(body: EventBody, item_id: Option<String>) -> ProviderEvent {
    ProviderEvent::Event {
        body,
        native_turn: None,
        item_id,
        raw: None,
    }
}

/// The text of a content block (non-text blocks are named, not dropped silently).
pub fn block_text(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(t) => t.text.clone(),
        ContentBlock::Image(_) => "[image]".into(),
        ContentBlock::Audio(_) => "[audio]".into(),
        ContentBlock::ResourceLink(l) => format!("[{}]({})", l.name, l.uri),
        ContentBlock::Resource(_) => "[resource]".into(),
        _ => String::new(),
    }
}

/// The `sessionUpdate` tag of a `session/update`'s params.
pub fn update_kind(params: &Value) -> Option<&str> {
    params.get("update")?.get("sessionUpdate")?.as_str()
}

impl Mapper {
    /// A mapper naming its items with `next_id` (tests pass a counter).
    pub fn new(next_id: Box<dyn FnMut() -> String + Send>) -> Self {
        Mapper {
            open: None,
            tools: HashMap::new(),
            commands: Vec::new(),
            config_options: None,
            summaries: HashMap::new(),
            manual_compaction: false,
            compaction_open: false,
            compaction_reported: false,
            no_summary: false,
            turn_text: String::new(),
            next_id,
        }
    }

    /// Maps the params of one `session/update`. With `replay` (the history `session/load`
    /// streams back) nothing is emitted: only the session's own state (commands, options) is
    /// kept, because the events were logged when they first happened.
    pub fn map(&mut self, params: &Value, replay: bool) -> Vec<ProviderEvent> {
        let Some(kind) = update_kind(params) else {
            tracing::debug!("session/update without a sessionUpdate tag");
            return vec![ProviderEvent::Activity];
        };
        if coverage::find(UPDATES, kind).is_none() {
            coverage::unknown("acp", kind);
            return vec![ProviderEvent::Activity];
        }
        let update = match params
            .get("update")
            .cloned()
            .map(serde_json::from_value::<SessionUpdate>)
        {
            Some(Ok(u)) => u,
            Some(Err(e)) => {
                tracing::debug!(kind, "session/update does not parse: {e}");
                return vec![ProviderEvent::Activity];
            }
            None => return vec![ProviderEvent::Activity],
        };
        let out = self.map_update(update, replay);
        if replay || out.is_empty() {
            return vec![ProviderEvent::Activity];
        }
        out
    }

    fn map_update(&mut self, update: SessionUpdate, replay: bool) -> Vec<ProviderEvent> {
        let mut out = Vec::new();
        match update {
            SessionUpdate::AvailableCommandsUpdate(u) => {
                self.commands = u
                    .available_commands
                    .iter()
                    .map(|c| c.name.trim_start_matches('/').to_string())
                    .collect();
            }
            SessionUpdate::ConfigOptionUpdate(u) => {
                self.config_options = serde_json::to_value(&u.config_options).ok();
            }
            _ if replay => {}
            SessionUpdate::AgentMessageChunk(c) => {
                let id = c.message_id.as_ref().map(|m| m.to_string());
                self.chunk(Stream::Assistant, id, block_text(&c.content), &mut out);
            }
            SessionUpdate::AgentThoughtChunk(c) => {
                let id = c.message_id.as_ref().map(|m| m.to_string());
                self.chunk(Stream::Reasoning, id, block_text(&c.content), &mut out);
            }
            SessionUpdate::ToolCall(tc) => {
                self.close(&mut out);
                self.tool_call(tc, &mut out);
            }
            SessionUpdate::ToolCallUpdate(u) => {
                self.close(&mut out);
                self.tool_update(u.tool_call_id.to_string(), u.fields, &mut out);
            }
            SessionUpdate::Plan(p) => {
                self.close(&mut out);
                let steps = p
                    .entries
                    .iter()
                    .map(|e| PlanStep {
                        text: e.content.clone(),
                        status: match e.status {
                            PlanEntryStatus::InProgress => PlanStepStatus::InProgress,
                            PlanEntryStatus::Completed => PlanStepStatus::Completed,
                            _ => PlanStepStatus::Pending,
                        },
                    })
                    .collect();
                out.push(event(
                    EventBody::TurnPlan(TurnPlan {
                        steps,
                        explanation: None,
                    }),
                    None,
                ));
            }
            SessionUpdate::UsageUpdate(u) => {
                let used = i64::try_from(u.used).unwrap_or(i64::MAX);
                let cost_usd = u
                    .cost
                    .as_ref()
                    .filter(|c| c.currency.eq_ignore_ascii_case("USD"))
                    .map(|c| c.amount);
                // ACP reports the context fill, not cumulative token counts.
                out.push(event(
                    EventBody::UsageUpdated(UsageUpdated {
                        context_tokens: Some(used),
                        context_window: i64::try_from(u.size).ok(),
                        cost_usd,
                        ..Default::default()
                    }),
                    None,
                ));
            }
            SessionUpdate::CompactionSummaryChunk(c) => {
                self.summaries
                    .entry(c.compaction_id.to_string())
                    .or_default()
                    .push_str(&block_text(&c.content));
            }
            SessionUpdate::CompactionUpdate(c) => {
                self.close(&mut out);
                let trigger = if self.manual_compaction {
                    CompactionTrigger::Manual
                } else {
                    CompactionTrigger::Auto
                };
                let id = c.compaction_id.to_string();
                let body = match c.status {
                    CompactionStatus::InProgress if self.compaction_open => return out,
                    CompactionStatus::InProgress => {
                        self.compaction_open = true;
                        EventBody::CompactionStarted(CompactionStarted { trigger })
                    }
                    CompactionStatus::Completed => {
                        self.manual_compaction = false;
                        self.compaction_open = false;
                        self.compaction_reported = true;
                        let streamed = self.summaries.remove(&id).unwrap_or_default();
                        let summary: String = match c.summary.take() {
                            Some(blocks) => blocks.iter().map(block_text).collect(),
                            None => streamed,
                        };
                        self.summary_event(summary, trigger)
                    }
                    other => {
                        self.manual_compaction = false;
                        self.compaction_open = false;
                        self.compaction_reported = true;
                        self.summaries.remove(&id);
                        let error = c.error.take().unwrap_or_else(|| match other {
                            CompactionStatus::Cancelled => "compaction cancelled".into(),
                            _ => "compaction failed".into(),
                        });
                        EventBody::CompactionFailed(CompactionFailed { error })
                    }
                };
                out.push(event(body, None));
            }
            // Rows marked ignored in the coverage table.
            _ => {}
        }
        out
    }

    fn chunk(
        &mut self,
        stream: Stream,
        message_id: Option<String>,
        text: String,
        out: &mut Vec<ProviderEvent>,
    ) {
        let same = self.open.as_ref().is_some_and(|o| {
            o.stream == stream && (message_id.is_none() || o.message_id == message_id)
        });
        if !same {
            self.close(out);
            let item_id = message_id.clone().unwrap_or_else(|| (self.next_id)());
            self.open = Some(Open {
                stream,
                item_id,
                message_id,
                text: String::new(),
            });
        }
        if text.is_empty() {
            return;
        }
        if stream == Stream::Assistant {
            self.turn_text.push_str(&text);
        }
        if let Some(open) = self.open.as_mut() {
            open.text.push_str(&text);
            out.push(event(
                EventBody::ContentDelta(ContentDelta {
                    stream,
                    delta: text,
                }),
                Some(open.item_id.clone()),
            ));
        }
    }

    /// Ends the message or thought being streamed with its whole text.
    fn close(&mut self, out: &mut Vec<ProviderEvent>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let item_type = match open.stream {
            Stream::Reasoning => ItemType::Reasoning,
            _ => ItemType::AssistantMessage,
        };
        let mut item = Item::new(item_type);
        item.text = Some(open.text);
        out.push(event(EventBody::ItemCompleted(item), Some(open.item_id)));
    }

    fn tool_call(&mut self, tc: ToolCall, out: &mut Vec<ProviderEvent>) {
        let id = tc.tool_call_id.to_string();
        let tool = Tool {
            kind: tc.kind,
            title: tc.title,
            name: tc.name,
            raw_input: tc.raw_input,
            content: tc.content,
            started: false,
        };
        self.tools.insert(id.clone(), tool);
        self.start_tool(&id, out);
        if matches!(
            tc.status,
            ToolCallStatus::Completed | ToolCallStatus::Failed
        ) {
            self.end_tool(&id, tc.status, tc.raw_output, out);
        }
    }

    fn tool_update(&mut self, id: String, f: ToolCallUpdateFields, out: &mut Vec<ProviderEvent>) {
        let tool = self.tools.entry(id.clone()).or_insert_with(|| Tool {
            kind: ToolKind::Other,
            title: String::new(),
            name: None,
            raw_input: None,
            content: Vec::new(),
            started: false,
        });
        if let Some(k) = f.kind {
            tool.kind = k;
        }
        if let Some(t) = f.title {
            tool.title = t;
        }
        if f.name.is_some() {
            tool.name = f.name;
        }
        if f.raw_input.is_some() {
            tool.raw_input = f.raw_input;
        }
        if let Some(c) = f.content {
            merge_content(&mut tool.content, c);
        }
        self.start_tool(&id, out);
        if let Some(status @ (ToolCallStatus::Completed | ToolCallStatus::Failed)) = f.status {
            self.end_tool(&id, status, f.raw_output, out);
        }
    }

    fn start_tool(&mut self, id: &str, out: &mut Vec<ProviderEvent>) {
        let Some(tool) = self.tools.get_mut(id) else {
            return;
        };
        if tool.started {
            return;
        }
        tool.started = true;
        out.push(event(
            EventBody::ItemStarted(tool_item(tool, None)),
            Some(id.to_string()),
        ));
    }

    fn end_tool(
        &mut self,
        id: &str,
        status: ToolCallStatus,
        raw_output: Option<Value>,
        out: &mut Vec<ProviderEvent>,
    ) {
        let Some(tool) = self.tools.remove(id) else {
            return;
        };
        let mut item = tool_item(&tool, raw_output.as_ref());
        if status == ToolCallStatus::Failed {
            item.status = Some("failed".into());
            item.error = item
                .output
                .clone()
                .or_else(|| Some("tool call failed".into()));
        } else {
            item.status = Some("completed".into());
        }
        out.push(event(EventBody::ItemCompleted(item), Some(id.to_string())));
    }

    /// The item a permission request is about: what the tool call announced so far, updated with
    /// the fields the request carries (kept, so the item's end shows them too: some agents send
    /// the diff only with the permission request).
    pub fn permission_item(&mut self, update: &ToolCallUpdate) -> Item {
        let f = &update.fields;
        let tool = self
            .tools
            .entry(update.tool_call_id.to_string())
            .or_insert_with(|| Tool {
                kind: ToolKind::Other,
                title: String::new(),
                name: None,
                raw_input: None,
                content: Vec::new(),
                started: false,
            });
        if let Some(k) = f.kind {
            tool.kind = k;
        }
        if let Some(t) = f.title.clone().filter(|t| !t.is_empty()) {
            tool.title = t;
        }
        if f.name.is_some() {
            tool.name = f.name.clone();
        }
        if f.raw_input.is_some() {
            tool.raw_input = f.raw_input.clone();
        }
        if let Some(c) = f.content.clone() {
            merge_content(&mut tool.content, c);
        }
        tool_item(tool, None)
    }

    /// A turn begins: its answer text starts empty.
    pub fn begin_turn(&mut self) {
        self.turn_text.clear();
    }

    /// baton asks for a compaction (the agent's `/compact`); returns the `compaction.started` to
    /// announce it.
    pub fn begin_compaction(&mut self) -> EventBody {
        self.begin_turn();
        self.manual_compaction = true;
        self.compaction_open = true;
        self.compaction_reported = false;
        EventBody::CompactionStarted(CompactionStarted {
            trigger: CompactionTrigger::Manual,
        })
    }

    /// Closes what is still open at the end of a turn. After a `/compact` turn of an agent that
    /// sent no compaction updates, its answer is the summary (none at all is a failure).
    pub fn end_turn(&mut self, compaction: bool) -> Vec<ProviderEvent> {
        let mut out = Vec::new();
        self.close(&mut out);
        if compaction && !self.compaction_reported {
            self.manual_compaction = false;
            self.compaction_open = false;
            let summary = std::mem::take(&mut self.turn_text);
            let body = self.summary_event(summary, CompactionTrigger::Manual);
            out.push(event(body, None));
        }
        out
    }

    /// The end of a compaction with this summary. An agent that compacts its own context but
    /// shows no summary (claude-agent-acp) leaves nothing to hand over: that is a failure for
    /// baton, and remembered so that handoffs from it use the transcript.
    fn summary_event(&mut self, summary: String, trigger: CompactionTrigger) -> EventBody {
        if summary.trim().is_empty() {
            self.no_summary = true;
            return EventBody::CompactionFailed(CompactionFailed {
                error: "the agent compacted its context but shared no summary".into(),
            });
        }
        EventBody::CompactionCompleted(CompactionCompleted {
            summary,
            trigger,
            pre_tokens: None,
            post_tokens: None,
        })
    }
}

/// `session/prompt`'s stop reason as the end of the turn.
pub fn turn_completed(stop: &StopReason) -> TurnCompleted {
    match stop {
        StopReason::Cancelled => TurnCompleted {
            state: TurnState::Interrupted,
            error: None,
        },
        StopReason::EndTurn => TurnCompleted {
            state: TurnState::Completed,
            error: None,
        },
        StopReason::MaxTokens => TurnCompleted {
            state: TurnState::Completed,
            error: Some("the agent stopped: max_tokens".into()),
        },
        StopReason::MaxTurnRequests => TurnCompleted {
            state: TurnState::Completed,
            error: Some("the agent stopped: max_turn_requests".into()),
        },
        StopReason::Refusal => TurnCompleted {
            state: TurnState::Completed,
            error: Some("the agent stopped: refusal".into()),
        },
        _ => TurnCompleted {
            state: TurnState::Completed,
            error: None,
        },
    }
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
