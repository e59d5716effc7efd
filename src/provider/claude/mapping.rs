//! Claude Code stream-json stdout lines -> baton's event taxonomy.
//!
//! Pure functions over JSON plus a little per-session state ([`TurnState`]): which tool uses are
//! open (so a `tool_result` completes the right item) and whether the running turn was
//! interrupted (Claude reports an interrupted turn as an error result).

use std::collections::HashMap;

use baton_protocol::{
    CompactionCompleted, CompactionFailed, CompactionStarted, CompactionTrigger, ContentDelta,
    EventBody, Item, ItemProgress, ItemType, ModelRerouted, RateLimit, RateLimitUpdated,
    RuntimeError, RuntimeWarning, Stream, TurnCompleted, TurnState as Ending, UsageUpdated,
};
use serde_json::Value;

use super::coverage;
pub use super::tools::{ask_user_questions, tool_item};
use super::tools::{bash_exit_code, todo_plan, tool_result_text};
use crate::provider::ProviderEvent;

/// What the mapping remembers between lines of one session.
#[derive(Debug, Default)]
pub struct TurnState {
    /// Open tool uses by id: the item they started.
    pub tools: HashMap<String, Item>,
    /// Set by `interrupt`; the next `result` is reported as interrupted.
    pub interrupted: bool,
    /// Set when baton sent `/compact`: the compaction that follows is manual.
    pub compact_requested: bool,
    /// A compaction is running (status `compacting` seen, no outcome yet).
    pub compacting: bool,
    /// `compact_boundary` seen: the summary arrives in the next synthetic user message.
    pub boundary: Option<(CompactionTrigger, Option<i64>, Option<i64>)>,
    /// Tokens in the context after the latest assistant message (its request's input + output).
    pub context_tokens: Option<i64>,
}

pub(super) fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn ev(body: EventBody, item_id: Option<String>) -> ProviderEvent {
    ProviderEvent::Event {
        body,
        native_turn: None,
        item_id,
        raw: None,
    }
}

/// The coverage-table key of a stdout message: `type`, or `type/subtype` when it has one.
pub fn message_key(msg: &Value) -> String {
    let ty = msg.get("type").and_then(Value::as_str).unwrap_or("");
    match msg.get("subtype").and_then(Value::as_str) {
        Some(sub) if ty == "system" || ty == "result" => format!("{ty}/{sub}"),
        _ => ty.to_string(),
    }
}

/// Maps one stdout message (anything but control messages, which the session handles). A
/// message no coverage table names is logged once and counted as activity.
pub fn map_line(msg: &Value, state: &mut TurnState) -> Vec<ProviderEvent> {
    if let Some(events) = map_known(msg, state) {
        return events;
    }
    let key = message_key(msg);
    if crate::provider::coverage::find(coverage::MESSAGES, &key).is_none() {
        crate::provider::coverage::unknown("claude", &key);
    }
    vec![ProviderEvent::Activity]
}

fn warn(message: String) -> Option<Vec<ProviderEvent>> {
    Some(vec![ev(
        EventBody::RuntimeWarning(RuntimeWarning { message }),
        None,
    )])
}

fn progress(message: String, item_id: Option<String>) -> Option<Vec<ProviderEvent>> {
    Some(vec![ev(
        EventBody::ItemProgress(ItemProgress { message }),
        item_id,
    )])
}

/// The messages baton maps; `None` for the rest. The coverage test checks this against the
/// `mapped` rows of [`coverage::MESSAGES`].
pub fn map_known(msg: &Value, state: &mut TurnState) -> Option<Vec<ProviderEvent>> {
    let ty = msg.get("type").and_then(Value::as_str).unwrap_or("");
    let sub = msg.get("subtype").and_then(Value::as_str).unwrap_or("");
    let text = |k: &str| s(msg, k).unwrap_or_default();
    let out = match ty {
        "stream_event" => {
            let event = msg.get("event").cloned().unwrap_or(Value::Null);
            if event.get("type").and_then(Value::as_str) != Some("content_block_delta") {
                return Some(vec![ProviderEvent::Activity]);
            }
            let delta = event.get("delta").cloned().unwrap_or(Value::Null);
            let item_id = s(msg, "api_message_id");
            match delta.get("type").and_then(Value::as_str) {
                Some("text_delta") => match s(&delta, "text") {
                    Some(d) => vec![ev(
                        EventBody::ContentDelta(ContentDelta {
                            stream: Stream::Assistant,
                            delta: d,
                        }),
                        item_id,
                    )],
                    None => vec![ProviderEvent::Activity],
                },
                Some("thinking_delta") => match s(&delta, "thinking") {
                    Some(d) => vec![ev(
                        EventBody::ContentDelta(ContentDelta {
                            stream: Stream::Reasoning,
                            delta: d,
                        }),
                        item_id,
                    )],
                    None => vec![ProviderEvent::Activity],
                },
                _ => vec![ProviderEvent::Activity],
            }
        }
        "assistant" => {
            let message = msg.get("message").cloned().unwrap_or(Value::Null);
            let id = s(&message, "id");
            if let Some(u) = message.get("usage").filter(|u| u.is_object()) {
                let n = |k: &str| u.get(k).and_then(Value::as_i64).unwrap_or(0);
                state.context_tokens = Some(
                    n("input_tokens")
                        + n("cache_creation_input_tokens")
                        + n("cache_read_input_tokens")
                        + n("output_tokens"),
                );
            }
            let mut out = Vec::new();
            for block in message
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => out.push(ev(
                        EventBody::ItemCompleted(Item {
                            text: s(block, "text"),
                            ..Item::new(ItemType::AssistantMessage)
                        }),
                        id.clone(),
                    )),
                    Some("thinking") => out.push(ev(
                        EventBody::ItemCompleted(Item {
                            text: s(block, "thinking"),
                            ..Item::new(ItemType::Reasoning)
                        }),
                        id.clone(),
                    )),
                    Some("tool_use") => {
                        let tool_id = s(block, "id").unwrap_or_default();
                        let name = s(block, "name").unwrap_or_default();
                        let input = block.get("input").unwrap_or(&Value::Null);
                        let item = tool_item(&name, input);
                        state.tools.insert(tool_id.clone(), item.clone());
                        out.push(ev(EventBody::ItemStarted(item), Some(tool_id)));
                        if name == coverage::PLAN_TOOL {
                            out.push(ev(EventBody::TurnPlan(todo_plan(input)), None));
                        }
                    }
                    _ => {}
                }
            }
            if out.is_empty() {
                vec![ProviderEvent::Activity]
            } else {
                out
            }
        }
        "user" if state.boundary.is_some() && continuation_summary(msg).is_some() => {
            let summary = continuation_summary(msg).unwrap_or_default();
            let (trigger, pre_tokens, post_tokens) =
                state
                    .boundary
                    .take()
                    .unwrap_or((CompactionTrigger::Auto, None, None));
            state.compacting = false;
            vec![ev(
                EventBody::CompactionCompleted(CompactionCompleted {
                    summary,
                    trigger,
                    pre_tokens,
                    post_tokens,
                }),
                None,
            )]
        }
        "user" => {
            let content = msg
                .get("message")
                .and_then(|m| m.get("content"))
                .cloned()
                .unwrap_or(Value::Null);
            let mut out = Vec::new();
            for block in content.as_array().into_iter().flatten() {
                if block.get("type").and_then(Value::as_str) != Some("tool_result") {
                    continue;
                }
                let tool_id = s(block, "tool_use_id").unwrap_or_default();
                let mut item = state
                    .tools
                    .remove(&tool_id)
                    .unwrap_or_else(|| Item::new(ItemType::ToolCall));
                let is_error = block.get("is_error").and_then(Value::as_bool) == Some(true);
                item.output = Some(tool_result_text(block));
                item.status = Some(if is_error {
                    "failed".into()
                } else {
                    "completed".into()
                });
                if item.item_type == ItemType::Command {
                    item.exit_code = bash_exit_code(msg.get("tool_use_result"), is_error);
                }
                out.push(ev(EventBody::ItemCompleted(item), Some(tool_id)));
            }
            if out.is_empty() {
                vec![ProviderEvent::Activity]
            } else {
                out
            }
        }
        "system" => match msg.get("subtype").and_then(Value::as_str) {
            Some("status") if msg.get("status").and_then(Value::as_str) == Some("compacting") => {
                state.compacting = true;
                let trigger = if state.compact_requested {
                    CompactionTrigger::Manual
                } else {
                    CompactionTrigger::Auto
                };
                vec![ev(
                    EventBody::CompactionStarted(CompactionStarted { trigger }),
                    None,
                )]
            }
            Some("status")
                if msg.get("compact_result").and_then(Value::as_str) == Some("failed") =>
            {
                state.compacting = false;
                let error = s(msg, "compact_error")
                    .unwrap_or_else(|| "claude could not compact the conversation".into());
                vec![ev(
                    EventBody::CompactionFailed(CompactionFailed { error }),
                    None,
                )]
            }
            Some("compact_boundary") => {
                let meta = msg.get("compact_metadata").cloned().unwrap_or(Value::Null);
                let trigger = match meta.get("trigger").and_then(Value::as_str) {
                    Some("manual") => CompactionTrigger::Manual,
                    _ => CompactionTrigger::Auto,
                };
                let n = |k: &str| meta.get(k).and_then(Value::as_i64);
                state.boundary = Some((trigger, n("pre_tokens"), n("post_tokens")));
                vec![ProviderEvent::Activity]
            }
            Some("api_retry") => {
                let attempt = msg.get("attempt").and_then(Value::as_i64).unwrap_or(0);
                let max = msg.get("max_retries").and_then(Value::as_i64).unwrap_or(0);
                let error = s(msg, "error").unwrap_or_default();
                vec![ev(
                    EventBody::RuntimeWarning(RuntimeWarning {
                        message: format!("claude API error ({error}); retry {attempt} of {max}"),
                    }),
                    None,
                )]
            }
            Some("status") => vec![ProviderEvent::Activity],
            Some("model_refusal_fallback") => vec![ev(
                EventBody::ModelRerouted(ModelRerouted {
                    from_model: s(msg, "original_model"),
                    to_model: s(msg, "fallback_model"),
                    reason: s(msg, "api_refusal_category").or_else(|| Some("refusal".into())),
                }),
                None,
            )],
            Some("model_refusal_no_fallback") => {
                return warn(format!("claude refused the request: {}", text("content")));
            }
            Some("local_command_output") => vec![ev(
                EventBody::ItemCompleted(Item {
                    text: s(msg, "content"),
                    tool: Some("local_command".into()),
                    ..Item::new(ItemType::Other)
                }),
                s(msg, "uuid"),
            )],
            Some("task_started" | "task_updated" | "task_progress" | "task_notification") => {
                let what = s(msg, "summary")
                    .filter(|x| !x.is_empty())
                    .or_else(|| s(msg, "description"))
                    .unwrap_or_default();
                let stage = match sub {
                    "task_started" => "task started".to_string(),
                    "task_notification" => format!("task {}", text("status")),
                    "task_progress" => match s(msg, "last_tool_name") {
                        Some(tool) => format!("task running ({tool})"),
                        None => "task running".to_string(),
                    },
                    _ => "task updated".to_string(),
                };
                let item = s(msg, "tool_use_id").or_else(|| s(msg, "task_id"));
                return progress(format!("{stage}: {what}"), item);
            }
            Some("notification") => return warn(text("text")),
            Some("informational") => return warn(text("content")),
            Some("permission_denied") => {
                return warn(format!(
                    "claude denied {}: {}",
                    text("tool_name"),
                    text("message")
                ));
            }
            Some("mirror_error") => {
                return warn(format!(
                    "claude could not mirror the session: {}",
                    text("error")
                ));
            }
            Some("session_writes_lost") => vec![ev(
                EventBody::RuntimeError(RuntimeError {
                    message: format!(
                        "claude could not save the session ({}): the disk is full or over quota",
                        text("error_code")
                    ),
                    class: "provider".into(),
                }),
                None,
            )],
            _ => return None,
        },
        "tool_progress" => {
            let secs = msg
                .get("elapsed_time_seconds")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            return progress(
                format!("{} running for {secs:.0}s", text("tool_name")),
                s(msg, "tool_use_id"),
            );
        }
        "tool_use_summary" => {
            let last = msg
                .get("preceding_tool_use_ids")
                .and_then(Value::as_array)
                .and_then(|ids| ids.last())
                .and_then(Value::as_str)
                .map(str::to_string);
            return progress(text("summary"), last);
        }
        "auth_status" => match s(msg, "error") {
            Some(error) => vec![ev(
                EventBody::RuntimeError(RuntimeError {
                    message: format!("claude authentication: {error}"),
                    class: "provider".into(),
                }),
                None,
            )],
            None => vec![ProviderEvent::Activity],
        },
        "rate_limit_event" => {
            let info = msg.get("rate_limit_info").cloned().unwrap_or(Value::Null);
            let limit = RateLimit {
                name: s(&info, "rateLimitType").unwrap_or_else(|| "claude".into()),
                used_percent: info
                    .get("utilization")
                    .and_then(Value::as_f64)
                    .map(|u| (u * 100.0).round()),
                window_minutes: None,
                resets_at: info.get("resetsAt").and_then(Value::as_i64),
            };
            vec![ev(
                EventBody::RateLimitUpdated(RateLimitUpdated {
                    limits: vec![limit],
                    status: s(&info, "status"),
                }),
                None,
            )]
        }
        "conversation_reset" => {
            return warn(format!(
                "claude started a new conversation ({})",
                s(msg, "trigger").unwrap_or_else(|| "reset".into())
            ));
        }
        "result" => {
            let usage = msg.get("usage").cloned().unwrap_or(Value::Null);
            let n = |k: &str| usage.get(k).and_then(Value::as_i64).unwrap_or(0);
            let input =
                n("input_tokens") + n("cache_creation_input_tokens") + n("cache_read_input_tokens");
            let output = n("output_tokens");
            let context_window = msg
                .get("modelUsage")
                .and_then(Value::as_object)
                .and_then(|m| {
                    m.values()
                        .find_map(|u| u.get("contextWindow").and_then(Value::as_i64))
                });
            let usage_ev = ev(
                EventBody::UsageUpdated(UsageUpdated {
                    input_tokens: input,
                    output_tokens: output,
                    total_tokens: input + output,
                    context_window,
                    cost_usd: msg.get("total_cost_usd").and_then(Value::as_f64),
                    cached_input_tokens: usage
                        .get("cache_read_input_tokens")
                        .and_then(Value::as_i64),
                    reasoning_tokens: None,
                    context_tokens: state.context_tokens,
                }),
                None,
            );
            let is_error = msg.get("is_error").and_then(Value::as_bool) == Some(true);
            let (state_end, error) = if std::mem::take(&mut state.interrupted) {
                (Ending::Interrupted, None)
            } else if is_error {
                (Ending::Failed, Some(result_error(msg)))
            } else {
                (Ending::Completed, None)
            };
            state.tools.clear();
            let mut out = Vec::new();
            if std::mem::take(&mut state.compacting)
                || state.compact_requested && state.boundary.is_none() && is_error
            {
                // A compaction that ended without a summary (e.g. "No messages to compact").
                let error = result_error(msg);
                out.push(ev(
                    EventBody::CompactionFailed(CompactionFailed { error }),
                    None,
                ));
            }
            state.boundary = None;
            state.compact_requested = false;
            out.push(usage_ev);
            out.push(ev(
                EventBody::TurnCompleted(TurnCompleted {
                    state: state_end,
                    error,
                }),
                None,
            ));
            out
        }
        _ => return None,
    };
    Some(out)
}

/// The summary carried by the synthetic "This session is being continued …" user message.
fn continuation_summary(msg: &Value) -> Option<String> {
    let content = msg.get("message")?.get("content")?;
    let text = match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => return None,
    };
    if !text.starts_with("This session is being continued") {
        return None;
    }
    let after = text.split_once("Summary:").map(|(_, a)| a).unwrap_or(&text);
    let summary = after
        .split("\n\nIf you need specific details")
        .next()
        .unwrap_or(after)
        .trim();
    Some(summary.to_string())
}

/// The error text of a failed result: its `result`, its `errors`, or its terminal reason.
fn result_error(msg: &Value) -> String {
    if let Some(r) = s(msg, "result").filter(|r| !r.is_empty()) {
        return r;
    }
    if let Some(errors) = msg.get("errors").and_then(Value::as_array) {
        let text: Vec<String> = errors
            .iter()
            .map(|e| {
                e.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string())
            })
            .collect();
        if !text.is_empty() {
            return text.join("; ");
        }
    }
    let reason = s(msg, "terminal_reason")
        .or_else(|| s(msg, "subtype"))
        .unwrap_or_else(|| "error".into());
    match msg.get("api_error_status").and_then(Value::as_i64) {
        Some(status) => format!("claude turn failed: {reason} (HTTP {status})"),
        None => format!("claude turn failed: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn body(e: &ProviderEvent) -> &EventBody {
        match e {
            ProviderEvent::Event { body, .. } => body,
            other => panic!("not an event: {other:?}"),
        }
    }

    // Deltas, tool items, results and a real `/compact` are covered by the recorded transcripts
    // (src/provider/mapping_tests.rs); this one keeps the older continuation format with a
    // `Summary:` heading, which 2.1.328 no longer prints.
    #[test]
    fn manual_compaction_reports_start_and_summary() {
        let mut st = TurnState {
            compact_requested: true,
            ..TurnState::default()
        };
        let started = map_line(
            &json!({"type":"system","subtype":"status","status":"compacting"}),
            &mut st,
        );
        assert_eq!(
            body(&started[0]),
            &EventBody::CompactionStarted(CompactionStarted {
                trigger: CompactionTrigger::Manual
            })
        );
        map_line(
            &json!({"type":"system","subtype":"compact_boundary","compact_metadata":{"trigger":"manual","pre_tokens":15,"post_tokens":25}}),
            &mut st,
        );
        let done = map_line(
            &json!({"type":"user","message":{"role":"user","content":"This session is being continued from a previous conversation.\n\nSummary:\nMOCK SUMMARY: hi.\n\nIf you need specific details, read it."}}),
            &mut st,
        );
        assert_eq!(
            body(&done[0]),
            &EventBody::CompactionCompleted(CompactionCompleted {
                summary: "MOCK SUMMARY: hi.".into(),
                trigger: CompactionTrigger::Manual,
                pre_tokens: Some(15),
                post_tokens: Some(25)
            })
        );
        let end = map_line(
            &json!({"type":"result","is_error":false,"usage":{}}),
            &mut st,
        );
        assert!(matches!(body(&end[1]), EventBody::TurnCompleted(_)));
        assert_eq!(end.len(), 2, "no failure after a summary");
    }
}
