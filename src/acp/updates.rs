//! baton events -> ACP `session/update`s.
//!
//! One [`Mapper`] per attached session turns each `thread/event` into zero or more
//! [`SessionUpdate`]s. It is used live (deltas stream as message and thought chunks, the user's
//! own messages are not echoed because the client already shows them) and for `session/load`
//! (deltas are gathered per item and sent as one chunk, and user messages are replayed as
//! `user_message_chunk`, so the client can redraw the whole conversation).
//!
//! Compaction and handoff progress become `compaction_update`s for clients that advertised
//! `clientCapabilities.session.compaction`, and agent-message chunks starting with `[baton]`
//! (with `_meta.baton.kind`) for the others.

use std::collections::HashSet;

use agent_client_protocol_schema::v1::{
    CompactionStatus, CompactionUpdate, ContentBlock, ContentChunk, Cost, Meta, Notice,
    NoticeSeverity, Plan, PlanEntry, PlanEntryPriority, PlanEntryStatus, SessionUpdate,
    UsageUpdate,
};
use baton_protocol::{
    ContentDelta, Event, EventBody, Item, ItemType, PlanStepStatus, Stream, TurnState,
};
use serde_json::{Value, json};

use super::{ClientCaps, tools};

/// How the mapper is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Live,
    Replay,
}

/// Per-session mapping state.
pub struct Mapper {
    mode: Mode,
    /// The client renders `compaction_update`.
    compaction: bool,
    /// The client renders `notice` (`clientCapabilities.session.notices`).
    notices: bool,
    /// Live: items whose text was streamed as deltas (their completed text is not sent again).
    streamed: HashSet<String>,
    /// Replay: text gathered per item until the item completes.
    pending: Vec<(String, Stream, String)>,
    /// Tool items a `tool_call` was sent for.
    tools: HashSet<String>,
    compaction_id: Option<String>,
    handoff_id: Option<String>,
    counter: u64,
    /// The model the provider reported last (`session.started`, `turn.started`).
    pub model: Option<String>,
    /// The provider of the last event.
    pub provider: Option<String>,
}

/// The wire name of a value that serialises to a string (provider ids).
pub fn wire_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// A `[baton]` note for clients, as an agent-message chunk tagged in `_meta`.
pub fn note(kind: &str, text: &str) -> SessionUpdate {
    let mut meta = Meta::new();
    meta.insert("baton".into(), json!({ "kind": kind }));
    SessionUpdate::AgentMessageChunk(
        ContentChunk::new(ContentBlock::from(format!("\n[baton] {text}\n"))).meta(meta),
    )
}

fn chunk(stream: Stream, text: String) -> Option<SessionUpdate> {
    if text.is_empty() {
        return None;
    }
    let c = ContentChunk::new(ContentBlock::from(text));
    match stream {
        Stream::Assistant | Stream::Plan => Some(SessionUpdate::AgentMessageChunk(c)),
        Stream::Reasoning | Stream::ReasoningSummary => Some(SessionUpdate::AgentThoughtChunk(c)),
        Stream::CommandOutput | Stream::ToolOutput => None,
    }
}

/// Removes the `<provider_handoff …>…</provider_handoff>` block baton prepends to the first
/// user message after a switch: the user did not type it, and the handoff is shown separately.
pub fn strip_handoff(text: &str) -> &str {
    let t = text.trim_start();
    if t.starts_with("<provider_handoff")
        && let Some(end) = t.find("</provider_handoff>")
    {
        return t[end + "</provider_handoff>".len()..].trim_start();
    }
    text
}

impl Mapper {
    pub fn new(mode: Mode, caps: &ClientCaps) -> Self {
        Mapper {
            mode,
            compaction: caps.compaction,
            notices: caps.notices,
            streamed: HashSet::new(),
            pending: Vec::new(),
            tools: HashSet::new(),
            compaction_id: None,
            handoff_id: None,
            counter: 0,
            model: None,
            provider: None,
        }
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{}", self.counter)
    }

    /// Replay: the gathered text of every unfinished item, in order.
    pub fn flush(&mut self) -> Vec<SessionUpdate> {
        std::mem::take(&mut self.pending)
            .into_iter()
            .filter_map(|(_, stream, text)| chunk(stream, text))
            .collect()
    }

    fn take_pending(&mut self, item: &str) -> Option<String> {
        let i = self.pending.iter().position(|(id, _, _)| id == item)?;
        Some(self.pending.remove(i).2)
    }

    /// The updates one event becomes.
    pub fn map(&mut self, ev: &Event) -> Vec<SessionUpdate> {
        self.provider = Some(wire_name(&ev.provider));
        let item_id = ev.item_id.clone().unwrap_or_default();
        match &ev.body {
            EventBody::SessionStarted(s) => {
                if s.model.is_some() {
                    self.model = s.model.clone();
                }
                vec![]
            }
            EventBody::TurnStarted(t) => {
                if t.model.is_some() {
                    self.model = t.model.clone();
                }
                vec![]
            }
            EventBody::ContentDelta(d) => self.delta(item_id, d),
            EventBody::ItemStarted(item) => self.item_started(item_id, item),
            EventBody::ItemCompleted(item) => self.item_completed(item_id, item),
            EventBody::TurnPlan(p) => vec![SessionUpdate::Plan(Plan::new(
                p.steps
                    .iter()
                    .map(|s| {
                        let status = match s.status {
                            PlanStepStatus::Pending => PlanEntryStatus::Pending,
                            PlanStepStatus::InProgress => PlanEntryStatus::InProgress,
                            PlanStepStatus::Completed => PlanEntryStatus::Completed,
                        };
                        PlanEntry::new(s.text.clone(), PlanEntryPriority::Medium, status)
                    })
                    .collect(),
            ))],
            EventBody::UsageUpdated(u) => match u.context_window {
                Some(size) if size > 0 => {
                    // The context fill; cumulative totals can exceed the window, so clamp.
                    let used = u.context_tokens.unwrap_or(u.total_tokens).clamp(0, size);
                    let mut update = UsageUpdate::new(used as u64, size as u64);
                    if let Some(cost) = u.cost_usd {
                        update = update.cost(Cost::new(cost, "USD"));
                    }
                    vec![SessionUpdate::UsageUpdate(update)]
                }
                // ACP's usage_update needs the context size; without it there is nothing to show.
                _ => vec![],
            },
            EventBody::TurnCompleted(t) => {
                let mut out = self.flush();
                self.streamed.clear();
                self.tools.clear();
                if self.mode == Mode::Replay {
                    match t.state {
                        TurnState::Failed => out.push(note(
                            "turn",
                            &format!(
                                "The turn failed: {}",
                                t.error.as_deref().unwrap_or("unknown error")
                            ),
                        )),
                        TurnState::Interrupted => out.push(note("turn", "The turn was cancelled.")),
                        TurnState::Completed => {}
                    }
                }
                out
            }
            EventBody::CompactionStarted(_) => {
                let id = self.next_id("compaction");
                self.compaction_id = Some(id.clone());
                self.progress(
                    id,
                    CompactionStatus::InProgress,
                    None,
                    "compaction",
                    "Compacting the conversation…".into(),
                )
            }
            EventBody::CompactionCompleted(c) => {
                let id = self
                    .compaction_id
                    .take()
                    .unwrap_or_else(|| self.next_id("compaction"));
                let text = format!(
                    "Compaction completed: the context is now a summary of {} characters.",
                    c.summary.chars().count()
                );
                self.progress(
                    id,
                    CompactionStatus::Completed,
                    Some(c.summary.clone()),
                    "compaction",
                    text,
                )
            }
            EventBody::CompactionFailed(c) => {
                let id = self
                    .compaction_id
                    .take()
                    .unwrap_or_else(|| self.next_id("compaction"));
                let update =
                    CompactionUpdate::new(id, CompactionStatus::Failed).error(c.error.clone());
                self.compaction_or_note(
                    update,
                    "compaction",
                    &format!("Compaction failed: {}", c.error),
                )
            }
            EventBody::HandoffStarted(h) => {
                let id = self.next_id("handoff");
                self.handoff_id = Some(id.clone());
                let (from, to) = (wire_name(&h.from), wire_name(&h.to));
                let strategy = wire_name(&h.strategy);
                self.progress(
                    id,
                    CompactionStatus::InProgress,
                    None,
                    "handoff",
                    format!("Handing the conversation over from {from} to {to} ({strategy})…"),
                )
            }
            EventBody::HandoffCompleted(h) => {
                let id = self
                    .handoff_id
                    .take()
                    .unwrap_or_else(|| self.next_id("handoff"));
                let (from, to) = (wire_name(&h.from), wire_name(&h.to));
                let text = format!(
                    "Handed over from {from} to {to} ({}, {} characters); the conversation continues on {to}.",
                    wire_name(&h.strategy),
                    h.summary_chars
                );
                self.progress(
                    id,
                    CompactionStatus::Completed,
                    Some(text.clone()),
                    "handoff",
                    text,
                )
            }
            EventBody::HandoffFailed(h) => {
                let id = self
                    .handoff_id
                    .take()
                    .unwrap_or_else(|| self.next_id("handoff"));
                let text = format!(
                    "The handoff from {} to {} failed: {}",
                    wire_name(&h.from),
                    wire_name(&h.to),
                    h.error
                );
                let update =
                    CompactionUpdate::new(id, CompactionStatus::Failed).error(text.clone());
                self.compaction_or_note(update, "handoff", &text)
            }
            EventBody::RuntimeWarning(w) => {
                self.notice(NoticeSeverity::Warning, "warning", &w.message)
            }
            EventBody::RuntimeError(e) => self.notice(NoticeSeverity::Error, "error", &e.message),
            // Approvals and questions arrive as requests (see permission.rs); status, session
            // lifecycle, diffs (the tool calls carry them), rate limits and reroutes have no ACP
            // counterpart a client would show.
            _ => vec![],
        }
    }

    /// Warnings and errors: live events, not history, so they are not replayed.
    fn notice(&self, severity: NoticeSeverity, kind: &str, text: &str) -> Vec<SessionUpdate> {
        match (self.mode, self.notices) {
            (Mode::Replay, _) => vec![],
            (Mode::Live, true) => vec![SessionUpdate::Notice(Notice::new(
                severity,
                text.to_string(),
            ))],
            (Mode::Live, false) => vec![note(kind, &format!("{kind}: {text}"))],
        }
    }

    fn progress(
        &mut self,
        id: String,
        status: CompactionStatus,
        summary: Option<String>,
        kind: &str,
        text: String,
    ) -> Vec<SessionUpdate> {
        let mut update = CompactionUpdate::new(id, status);
        if let Some(s) = summary {
            update = update.summary(vec![ContentBlock::from(s)]);
        }
        if kind == "handoff" {
            let mut meta = Meta::new();
            meta.insert("baton".into(), json!({ "kind": "handoff" }));
            update = update.meta(meta);
        }
        self.compaction_or_note(update, kind, &text)
    }

    fn compaction_or_note(
        &self,
        update: CompactionUpdate,
        kind: &str,
        text: &str,
    ) -> Vec<SessionUpdate> {
        if self.compaction {
            vec![SessionUpdate::CompactionUpdate(update)]
        } else {
            vec![note(kind, text)]
        }
    }

    fn delta(&mut self, item: String, d: &ContentDelta) -> Vec<SessionUpdate> {
        match self.mode {
            Mode::Live => {
                let out = chunk(d.stream, d.delta.clone());
                if out.is_some() {
                    self.streamed.insert(item);
                }
                out.into_iter().collect()
            }
            Mode::Replay => {
                if chunk(d.stream, "x".into()).is_some() {
                    match self
                        .pending
                        .iter_mut()
                        .find(|(id, s, _)| *id == item && *s == d.stream)
                    {
                        Some((_, _, text)) => text.push_str(&d.delta),
                        None => self.pending.push((item, d.stream, d.delta.clone())),
                    }
                }
                vec![]
            }
        }
    }

    fn item_started(&mut self, id: String, item: &Item) -> Vec<SessionUpdate> {
        if !tools::is_tool(item.item_type) {
            return vec![];
        }
        self.tools.insert(id.clone());
        vec![SessionUpdate::ToolCall(tools::started(&id, item))]
    }

    fn item_completed(&mut self, id: String, item: &Item) -> Vec<SessionUpdate> {
        let stream = match item.item_type {
            ItemType::UserMessage => {
                return match (self.mode, item.text.as_deref()) {
                    (Mode::Replay, Some(text)) => {
                        let text = strip_handoff(text).to_string();
                        if text.is_empty() {
                            vec![]
                        } else {
                            vec![SessionUpdate::UserMessageChunk(ContentChunk::new(
                                ContentBlock::from(text),
                            ))]
                        }
                    }
                    _ => vec![],
                };
            }
            ItemType::AssistantMessage | ItemType::Plan => Stream::Assistant,
            ItemType::Reasoning => Stream::Reasoning,
            ItemType::Compaction => return vec![],
            _ => {
                let update = if self.tools.remove(&id) {
                    SessionUpdate::ToolCallUpdate(tools::completed(&id, item))
                } else {
                    SessionUpdate::ToolCall(tools::finished(&id, item))
                };
                return vec![update];
            }
        };
        let gathered = self.take_pending(&id);
        if self.mode == Mode::Live && self.streamed.remove(&id) {
            return vec![];
        }
        let text = item.text.clone().filter(|t| !t.is_empty()).or(gathered);
        text.and_then(|t| chunk(stream, t)).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use pretty_assertions::assert_eq;

    fn ev(seq: i64, item: Option<&str>, body: Value) -> Event {
        let mut v = json!({
            "threadId": "t1", "seq": seq, "provider": "codex", "at": 0,
        });
        if let Some(i) = item {
            v["itemId"] = json!(i);
        }
        for (k, val) in body.as_object().unwrap() {
            v[k] = val.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    fn conversation() -> Vec<Event> {
        vec![
            ev(
                1,
                None,
                json!({"type": "session.started", "data": {"resumed": false, "providerThreadId": "n1", "model": "gpt-x"}}),
            ),
            ev(
                2,
                Some("u1"),
                json!({"type": "item.completed", "data": {"itemType": "user_message", "text": "<provider_handoff from=\"claude\" to=\"codex\">ctx</provider_handoff>\n\nhi"}}),
            ),
            ev(
                3,
                Some("m1"),
                json!({"type": "content.delta", "data": {"stream": "assistant", "delta": "hel"}}),
            ),
            ev(
                4,
                Some("m1"),
                json!({"type": "content.delta", "data": {"stream": "assistant", "delta": "lo"}}),
            ),
            ev(
                5,
                Some("m1"),
                json!({"type": "item.completed", "data": {"itemType": "assistant_message", "text": "hello"}}),
            ),
            ev(
                6,
                Some("c1"),
                json!({"type": "item.started", "data": {"itemType": "command", "command": "ls"}}),
            ),
            ev(
                7,
                Some("c1"),
                json!({"type": "item.completed", "data": {"itemType": "command", "command": "ls", "exitCode": 0, "output": "a.txt"}}),
            ),
            ev(
                8,
                Some("r1"),
                json!({"type": "content.delta", "data": {"stream": "reasoning_summary", "delta": "thinking"}}),
            ),
            ev(
                9,
                None,
                json!({"type": "turn.completed", "data": {"state": "interrupted"}}),
            ),
        ]
    }

    fn kinds(updates: &[SessionUpdate]) -> Vec<String> {
        updates
            .iter()
            .map(|u| {
                serde_json::to_value(u).unwrap()["sessionUpdate"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn live_streams_deltas_and_does_not_echo_the_user() {
        let mut m = Mapper::new(Mode::Live, &ClientCaps::default());
        let out: Vec<SessionUpdate> = conversation().iter().flat_map(|e| m.map(e)).collect();
        assert_eq!(
            kinds(&out),
            [
                "agent_message_chunk",
                "agent_message_chunk",
                "tool_call",
                "tool_call_update",
                "agent_thought_chunk"
            ]
        );
        assert_eq!(m.model.as_deref(), Some("gpt-x"));
    }

    #[test]
    fn replay_gathers_deltas_and_replays_user_messages() {
        let mut m = Mapper::new(Mode::Replay, &ClientCaps::default());
        let out: Vec<SessionUpdate> = conversation().iter().flat_map(|e| m.map(e)).collect();
        let v: Vec<Value> = out
            .iter()
            .map(|u| serde_json::to_value(u).unwrap())
            .collect();
        assert_eq!(
            kinds(&out),
            [
                "user_message_chunk",
                "agent_message_chunk",
                "tool_call",
                "tool_call_update",
                "agent_thought_chunk",
                "agent_message_chunk"
            ]
        );
        assert_eq!(
            v[0]["content"]["text"], "hi",
            "the handoff block is not the user's"
        );
        assert_eq!(v[1]["content"]["text"], "hello");
        assert_eq!(
            v[4]["content"]["text"], "thinking",
            "an unfinished item is flushed"
        );
        assert_eq!(v[5]["_meta"]["baton"]["kind"], "turn");
    }

    #[test]
    fn compaction_is_an_update_or_a_note() {
        let events = [
            ev(
                1,
                None,
                json!({"type": "compaction.started", "data": {"trigger": "manual"}}),
            ),
            ev(
                2,
                None,
                json!({"type": "compaction.completed", "data": {"summary": "S", "trigger": "manual"}}),
            ),
        ];
        let caps = ClientCaps {
            compaction: true,
            notices: false,
        };
        let mut m = Mapper::new(Mode::Live, &caps);
        let out: Vec<Value> = events
            .iter()
            .flat_map(|e| m.map(e))
            .map(|u| serde_json::to_value(u).unwrap())
            .collect();
        assert_eq!(
            out[0],
            json!({"sessionUpdate": "compaction_update", "compactionId": "compaction-1", "status": "in_progress"})
        );
        assert_eq!(out[1]["status"], "completed");
        assert_eq!(out[1]["summary"], json!([{"type": "text", "text": "S"}]));
        let mut plain = Mapper::new(Mode::Live, &ClientCaps::default());
        let notes: Vec<Value> = events
            .iter()
            .flat_map(|e| plain.map(e))
            .map(|u| serde_json::to_value(u).unwrap())
            .collect();
        assert_eq!(notes[0]["sessionUpdate"], "agent_message_chunk");
        assert!(
            notes[1]["content"]["text"]
                .as_str()
                .unwrap()
                .contains("[baton] Compaction completed")
        );
    }

    #[test]
    fn warnings_are_notices_when_the_client_takes_them() {
        let w = ev(
            1,
            None,
            json!({"type": "runtime.warning", "data": {"message": "careful"}}),
        );
        let caps = ClientCaps {
            compaction: false,
            notices: true,
        };
        let out = Mapper::new(Mode::Live, &caps).map(&w);
        assert_eq!(
            serde_json::to_value(&out[0]).unwrap(),
            json!({"sessionUpdate": "notice", "severity": "warning", "title": "careful"})
        );
        assert!(Mapper::new(Mode::Replay, &caps).map(&w).is_empty());
    }
}
