//! Codex `app-server` notifications -> baton's event taxonomy.
//!
//! Pure functions over JSON so they can be tested on recorded transcripts. Anything not listed maps
//! to [`ProviderEvent::Activity`]: it proves the session is alive but carries nothing for the editor.

use baton_protocol::{
    ContentDelta, EventBody, FileChange, Item, ItemType, RuntimeError, RuntimeWarning, Stream,
    TurnCompleted, TurnStarted, TurnState, UsageUpdated,
};
use serde_json::Value;

use crate::provider::ProviderEvent;

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn event(body: EventBody, params: &Value, item_id: Option<String>) -> ProviderEvent {
    let native_turn = s(params, "turnId").or_else(|| params.get("turn").and_then(|t| s(t, "id")));
    ProviderEvent::Event {
        body,
        native_turn,
        item_id,
        raw: None,
    }
}

/// Maps one notification. `params` is the notification's params.
pub fn map_notification(method: &str, params: &Value) -> ProviderEvent {
    match method {
        "turn/started" => event(
            EventBody::TurnStarted(TurnStarted { model: None }),
            params,
            None,
        ),
        "turn/completed" => {
            let turn = params.get("turn").cloned().unwrap_or(Value::Null);
            let state = match turn.get("status").and_then(Value::as_str) {
                Some("interrupted") => TurnState::Interrupted,
                Some("failed") => TurnState::Failed,
                _ => TurnState::Completed,
            };
            let error = turn.get("error").and_then(error_text);
            event(
                EventBody::TurnCompleted(TurnCompleted { state, error }),
                params,
                None,
            )
        }
        "item/started" | "item/completed" => {
            let item = params.get("item").cloned().unwrap_or(Value::Null);
            let id = s(&item, "id");
            let mapped = map_item(&item);
            let body = if method == "item/started" {
                EventBody::ItemStarted(mapped)
            } else {
                EventBody::ItemCompleted(mapped)
            };
            event(body, params, id)
        }
        "item/agentMessage/delta" => delta(Stream::Assistant, params),
        "item/reasoning/textDelta" | "item/reasoning/summaryTextDelta" => {
            delta(Stream::Reasoning, params)
        }
        "item/commandExecution/outputDelta" => delta(Stream::CommandOutput, params),
        "thread/tokenUsage/updated" => {
            let usage = params.get("tokenUsage").cloned().unwrap_or(Value::Null);
            let total = usage.get("total").cloned().unwrap_or(Value::Null);
            let n = |k: &str| total.get(k).and_then(Value::as_i64).unwrap_or(0);
            event(
                EventBody::UsageUpdated(UsageUpdated {
                    input_tokens: n("inputTokens"),
                    output_tokens: n("outputTokens"),
                    total_tokens: n("totalTokens"),
                    context_window: usage.get("modelContextWindow").and_then(Value::as_i64),
                    cost_usd: None,
                    ..Default::default()
                }),
                params,
                None,
            )
        }
        "error" => {
            let message = params
                .get("error")
                .and_then(error_text)
                .unwrap_or_else(|| "codex reported an error".into());
            let will_retry = params.get("willRetry").and_then(Value::as_bool) == Some(true);
            let body = if will_retry {
                EventBody::RuntimeWarning(RuntimeWarning {
                    message: format!("{message} (retrying)"),
                })
            } else {
                EventBody::RuntimeError(RuntimeError {
                    message,
                    class: "provider".into(),
                })
            };
            event(body, params, None)
        }
        "warning" => match s(params, "message") {
            Some(message) => event(
                EventBody::RuntimeWarning(RuntimeWarning { message }),
                params,
                None,
            ),
            None => ProviderEvent::Activity,
        },
        _ => ProviderEvent::Activity,
    }
}

fn delta(stream: Stream, params: &Value) -> ProviderEvent {
    match s(params, "delta") {
        Some(delta) => event(
            EventBody::ContentDelta(ContentDelta { stream, delta }),
            params,
            s(params, "itemId"),
        ),
        None => ProviderEvent::Activity,
    }
}

fn error_text(err: &Value) -> Option<String> {
    match err {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) => s(err, "message").or_else(|| Some(err.to_string())),
        _ => None,
    }
}

fn join_text(parts: Option<&Value>) -> Option<String> {
    let arr = parts?.as_array()?;
    let text: Vec<&str> = arr
        .iter()
        .filter_map(|p| p.as_str().or_else(|| p.get("text").and_then(Value::as_str)))
        .collect();
    (!text.is_empty()).then(|| text.join("\n"))
}

/// Maps a Codex `ThreadItem` to a baton item.
pub fn map_item(item: &Value) -> Item {
    let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "userMessage" => Item {
            text: join_text(item.get("content")),
            ..Item::new(ItemType::UserMessage)
        },
        "agentMessage" => Item {
            text: s(item, "text"),
            ..Item::new(ItemType::AssistantMessage)
        },
        "reasoning" => Item {
            text: join_text(item.get("summary")).or_else(|| join_text(item.get("content"))),
            ..Item::new(ItemType::Reasoning)
        },
        "commandExecution" => Item {
            command: s(item, "command"),
            cwd: s(item, "cwd"),
            exit_code: item.get("exitCode").and_then(Value::as_i64),
            output: s(item, "aggregatedOutput"),
            status: s(item, "status"),
            ..Item::new(ItemType::Command)
        },
        "fileChange" => Item {
            changes: Some(file_changes(item.get("changes"))),
            status: s(item, "status"),
            ..Item::new(ItemType::FileChange)
        },
        "mcpToolCall" | "dynamicToolCall" | "collabAgentToolCall" => Item {
            tool: match (s(item, "server"), s(item, "tool")) {
                (Some(server), Some(tool)) => Some(format!("{server}/{tool}")),
                (_, tool) => tool,
            },
            status: s(item, "status"),
            ..Item::new(ItemType::ToolCall)
        },
        "webSearch" => Item {
            text: s(item, "query"),
            ..Item::new(ItemType::WebSearch)
        },
        "plan" => Item {
            text: s(item, "text"),
            ..Item::new(ItemType::Plan)
        },
        "contextCompaction" => Item::new(ItemType::Compaction),
        _ => Item {
            tool: (!kind.is_empty()).then(|| kind.to_string()),
            ..Item::new(ItemType::Other)
        },
    }
}

/// Maps Codex file changes (`[{path, kind:{type}, diff}]`).
pub fn file_changes(changes: Option<&Value>) -> Vec<FileChange> {
    changes
        .and_then(Value::as_array)
        .map(|arr| {
            arr.iter()
                .filter_map(|c| {
                    Some(FileChange {
                        path: s(c, "path")?,
                        kind: c
                            .get("kind")
                            .and_then(|k| k.get("type").and_then(Value::as_str).or(k.as_str()))
                            .unwrap_or("update")
                            .to_string(),
                        diff: s(c, "diff"),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    #[test]
    fn agent_message_delta_maps_to_assistant_stream() {
        let ev = map_notification(
            "item/agentMessage/delta",
            &json!({"threadId":"t","turnId":"u","itemId":"i","delta":"he"}),
        );
        let ProviderEvent::Event {
            body,
            native_turn,
            item_id,
            ..
        } = ev
        else {
            panic!()
        };
        assert_eq!(native_turn.as_deref(), Some("u"));
        assert_eq!(item_id.as_deref(), Some("i"));
        assert_eq!(
            body,
            EventBody::ContentDelta(ContentDelta {
                stream: Stream::Assistant,
                delta: "he".into()
            })
        );
    }

    #[test]
    fn command_item_keeps_exit_code_and_output() {
        let item = map_item(
            &json!({"type":"commandExecution","id":"c","command":"ls","cwd":"/w",
            "status":"completed","aggregatedOutput":"a\n","exitCode":0}),
        );
        assert_eq!(item.item_type, ItemType::Command);
        assert_eq!(item.exit_code, Some(0));
        assert_eq!(item.output.as_deref(), Some("a\n"));
    }

    #[test]
    fn turn_completed_interrupted() {
        let ev = map_notification(
            "turn/completed",
            &json!({"threadId":"t","turn":{"id":"u","status":"interrupted","error":null}}),
        );
        let ProviderEvent::Event {
            body, native_turn, ..
        } = ev
        else {
            panic!()
        };
        assert_eq!(native_turn.as_deref(), Some("u"));
        assert_eq!(
            body,
            EventBody::TurnCompleted(TurnCompleted {
                state: TurnState::Interrupted,
                error: None
            })
        );
    }

    /// Every notification in the recorded Codex transcripts maps without panicking, and the ones
    /// that carry content are not swallowed as mere activity.
    #[test]
    fn recorded_transcripts_map() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/reference/transcripts/codex-0.169.0");
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (shared/ must sit beside the repository)",
                dir.display()
            )
        });
        let mut mapped = 0;
        for entry in entries.flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            for line in text.lines() {
                let rec: Value = serde_json::from_str(line).unwrap();
                if rec["dir"] != "<<" {
                    continue;
                }
                let Ok(msg) = serde_json::from_str::<Value>(rec["line"].as_str().unwrap()) else {
                    continue;
                };
                let (Some(method), None) = (msg["method"].as_str(), msg.get("id")) else {
                    continue;
                };
                let ev = map_notification(method, &msg["params"]);
                let content = matches!(
                    method,
                    "item/agentMessage/delta"
                        | "item/completed"
                        | "turn/completed"
                        | "turn/started"
                );
                if content {
                    assert!(
                        matches!(ev, ProviderEvent::Event { .. }),
                        "{method} was dropped"
                    );
                    mapped += 1;
                }
            }
        }
        assert!(
            mapped > 10,
            "transcripts should contain content notifications"
        );
    }
}
