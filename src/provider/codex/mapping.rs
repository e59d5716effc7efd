//! Codex `app-server` notifications -> baton's event taxonomy.
//!
//! Pure functions over JSON so they can be tested on recorded transcripts. What is not mapped is
//! named in [`super::coverage`] with the reason; it maps to [`ProviderEvent::Activity`], which
//! proves the session is alive but carries nothing for the editor.

use baton_protocol::{
    ContentDelta, EventBody, FileChange, InputQuestion, Item, ItemProgress, ItemType,
    ModelRerouted, PlanStep, PlanStepStatus, RateLimit, RateLimitUpdated, RuntimeError,
    RuntimeWarning, Stream, TurnCompleted, TurnDiff, TurnPlan, TurnStarted, TurnState,
    UsageUpdated,
};
use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::coverage;
use crate::provider::ProviderEvent;
use crate::scan;

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

/// Maps one notification to the events it carries (often none: `Activity`). A method no
/// coverage table names is logged once and counted as activity.
pub fn map_notification(method: &str, params: &Value) -> Vec<ProviderEvent> {
    if let Some(events) = map_known(method, params) {
        return events;
    }
    if crate::provider::coverage::find(coverage::NOTIFICATIONS, method).is_none() {
        crate::provider::coverage::unknown("codex", method);
    }
    vec![ProviderEvent::Activity]
}

fn one(body: EventBody, params: &Value, item_id: Option<String>) -> Option<Vec<ProviderEvent>> {
    Some(vec![event(body, params, item_id)])
}

fn warning(message: String, params: &Value) -> Option<Vec<ProviderEvent>> {
    one(
        EventBody::RuntimeWarning(RuntimeWarning { message }),
        params,
        None,
    )
}

fn progress(message: String, params: &Value) -> Option<Vec<ProviderEvent>> {
    one(
        EventBody::ItemProgress(ItemProgress { message }),
        params,
        s(params, "itemId"),
    )
}

fn summary_with_details(params: &Value, prefix: &str) -> String {
    let summary = s(params, "summary").unwrap_or_default();
    match s(params, "details").filter(|d| !d.is_empty()) {
        Some(details) => format!("{prefix}{summary} ({details})"),
        None => format!("{prefix}{summary}"),
    }
}

/// The notifications baton maps, by method; `None` for every other method. The coverage test
/// checks this against the `mapped` rows of [`coverage::NOTIFICATIONS`].
pub fn map_known(method: &str, params: &Value) -> Option<Vec<ProviderEvent>> {
    match method {
        "turn/started" => one(
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
            one(
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
            one(body, params, id)
        }
        "item/agentMessage/delta"
        | "item/reasoning/textDelta"
        | "item/reasoning/summaryTextDelta"
        | "item/plan/delta"
        | "item/commandExecution/outputDelta"
        | "item/fileChange/outputDelta" => delta(delta_stream(method)?, params),
        "item/reasoning/summaryPartAdded" => {
            // A new summary part: separate it from the previous one like a paragraph.
            let index = params
                .get("summaryIndex")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if index == 0 {
                return Some(vec![ProviderEvent::Activity]);
            }
            one(
                EventBody::ContentDelta(ContentDelta {
                    stream: Stream::ReasoningSummary,
                    delta: "\n\n".into(),
                }),
                params,
                s(params, "itemId"),
            )
        }
        "item/commandExecution/terminalInteraction" => progress(
            format!("input: {}", s(params, "stdin").unwrap_or_default()),
            params,
        ),
        "item/fileChange/patchUpdated" => {
            let paths: Vec<String> = file_changes(params.get("changes"))
                .into_iter()
                .map(|c| c.path)
                .collect();
            progress(format!("editing {}", paths.join(", ")), params)
        }
        "item/mcpToolCall/progress" => match s(params, "message") {
            Some(message) => progress(message, params),
            None => Some(vec![ProviderEvent::Activity]),
        },
        "turn/diff/updated" => one(
            EventBody::TurnDiff(TurnDiff {
                unified_diff: s(params, "diff").unwrap_or_default(),
            }),
            params,
            None,
        ),
        "turn/plan/updated" => {
            let steps = params
                .get("plan")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|step| PlanStep {
                    text: s(step, "step").unwrap_or_default(),
                    status: match step.get("status").and_then(Value::as_str) {
                        Some("completed") => PlanStepStatus::Completed,
                        Some("inProgress" | "in_progress") => PlanStepStatus::InProgress,
                        _ => PlanStepStatus::Pending,
                    },
                })
                .collect();
            one(
                EventBody::TurnPlan(TurnPlan {
                    steps,
                    explanation: s(params, "explanation").filter(|e| !e.is_empty()),
                }),
                params,
                None,
            )
        }
        "thread/tokenUsage/updated" => {
            let usage = params.get("tokenUsage").cloned().unwrap_or(Value::Null);
            let total = usage.get("total").cloned().unwrap_or(Value::Null);
            let last = usage.get("last").cloned().unwrap_or(Value::Null);
            let n = |k: &str| total.get(k).and_then(Value::as_i64).unwrap_or(0);
            let opt = |k: &str| total.get(k).and_then(Value::as_i64);
            one(
                EventBody::UsageUpdated(UsageUpdated {
                    input_tokens: n("inputTokens"),
                    output_tokens: n("outputTokens"),
                    total_tokens: n("totalTokens"),
                    cached_input_tokens: opt("cachedInputTokens"),
                    reasoning_tokens: opt("reasoningOutputTokens"),
                    context_tokens: last.get("totalTokens").and_then(Value::as_i64),
                    context_window: usage.get("modelContextWindow").and_then(Value::as_i64),
                    cost_usd: None,
                }),
                params,
                None,
            )
        }
        "account/rateLimits/updated" => {
            let limits = params.get("rateLimits").cloned().unwrap_or(Value::Null);
            let windows: Vec<RateLimit> = ["primary", "secondary"]
                .iter()
                .filter_map(|name| {
                    let w = limits.get(*name).filter(|w| w.is_object())?;
                    Some(RateLimit {
                        name: (*name).to_string(),
                        used_percent: w.get("usedPercent").and_then(Value::as_f64),
                        window_minutes: w.get("windowDurationMins").and_then(Value::as_i64),
                        resets_at: w.get("resetsAt").and_then(Value::as_i64),
                    })
                })
                .collect();
            let reached = s(&limits, "rateLimitReachedType");
            if windows.is_empty() && reached.is_none() {
                // A rolling update with nothing in it (e.g. an API-key provider): no news.
                return Some(vec![ProviderEvent::Activity]);
            }
            one(
                EventBody::RateLimitUpdated(RateLimitUpdated {
                    limits: windows,
                    status: reached.map(|r| format!("reached: {r}")),
                }),
                params,
                None,
            )
        }
        "model/rerouted" => one(
            EventBody::ModelRerouted(ModelRerouted {
                from_model: s(params, "fromModel"),
                to_model: s(params, "toModel"),
                reason: s(params, "reason"),
            }),
            params,
            None,
        ),
        "model/verification" => {
            let kinds: Vec<String> = params
                .get("verifications")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            warning(
                format!(
                    "the model asks for account verification: {}",
                    kinds.join(", ")
                ),
                params,
            )
        }
        "thread/status/changed" => {
            let status = params.get("status").and_then(|st| st.get("type"));
            if status.and_then(Value::as_str) == Some("systemError") {
                one(
                    EventBody::RuntimeError(RuntimeError {
                        message: "codex reports a system error on this thread".into(),
                        class: "provider".into(),
                    }),
                    params,
                    None,
                )
            } else {
                // idle/active: baton tracks the thread's status from its own turns.
                Some(vec![ProviderEvent::Activity])
            }
        }
        "mcpServer/startupStatus/updated" => {
            if s(params, "status").as_deref() != Some("failed") {
                return Some(vec![ProviderEvent::Activity]);
            }
            let name = s(params, "name").unwrap_or_default();
            let error = s(params, "error").unwrap_or_else(|| "no reason given".into());
            warning(
                format!("MCP server {name} failed to start: {error}"),
                params,
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
            one(body, params, None)
        }
        "warning" | "guardianWarning" => match s(params, "message") {
            Some(message) => warning(message, params),
            None => Some(vec![ProviderEvent::Activity]),
        },
        "configWarning" => warning(summary_with_details(params, "codex config: "), params),
        "deprecationNotice" => warning(summary_with_details(params, "deprecated: "), params),
        "windows/worldWritableWarning" => {
            let paths: Vec<String> = params
                .get("samplePaths")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect();
            warning(
                format!("directories writable by everyone: {}", paths.join(", ")),
                params,
            )
        }
        _ => None,
    }
}

/// The thread a notification names, read from its params' text.
#[derive(Deserialize)]
pub struct ThreadKey<'a> {
    #[serde(rename = "threadId", borrow, default)]
    pub thread_id: Option<Cow<'a, str>>,
}

/// The `threadId` of params whose text starts with it, as Codex writes every notification of a
/// thread: found without parsing the rest. `None` when it is not the first member or its
/// value holds an escape (then [`ThreadKey`] reads it).
pub fn leading_thread_id(text: &str) -> Option<&str> {
    let rest = text
        .trim_start()
        .strip_prefix('{')?
        .trim_start()
        .strip_prefix("\"threadId\"")?
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let end = scan::find_quote_or_backslash(rest.as_bytes())?;
    // The text is valid JSON (the reader checked it), so a string without escapes ends at
    // its first quote.
    (rest.as_bytes()[end] == b'"').then(|| &rest[..end])
}

/// A streamed delta's params, read from their text (the relay's hot path; see [`delta_event`]).
#[derive(Deserialize)]
pub struct DeltaView<'a> {
    #[serde(rename = "threadId", borrow, default)]
    pub thread_id: Option<Cow<'a, str>>,
    #[serde(rename = "itemId", borrow, default)]
    pub item_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub delta: Cow<'a, str>,
}

/// The stream of a delta notification's text; `None` for every other method.
pub fn delta_stream(method: &str) -> Option<Stream> {
    match method {
        "item/agentMessage/delta" => Some(Stream::Assistant),
        "item/reasoning/textDelta" => Some(Stream::Reasoning),
        "item/reasoning/summaryTextDelta" => Some(Stream::ReasoningSummary),
        "item/plan/delta" => Some(Stream::Plan),
        "item/commandExecution/outputDelta" => Some(Stream::CommandOutput),
        "item/fileChange/outputDelta" => Some(Stream::ToolOutput),
        _ => None,
    }
}

/// What [`map_notification`] makes of a delta whose params read as a [`DeltaView`], but for its
/// native turn id, which the actor reads only from a turn's start and end.
pub fn delta_event(stream: Stream, view: DeltaView<'_>) -> ProviderEvent {
    ProviderEvent::Event {
        body: EventBody::ContentDelta(ContentDelta {
            stream,
            delta: view.delta.into_owned(),
        }),
        native_turn: None,
        item_id: view.item_id.map(Cow::into_owned),
        raw: None,
    }
}

fn delta(stream: Stream, params: &Value) -> Option<Vec<ProviderEvent>> {
    match s(params, "delta") {
        Some(delta) => one(
            EventBody::ContentDelta(ContentDelta { stream, delta }),
            params,
            s(params, "itemId"),
        ),
        None => Some(vec![ProviderEvent::Activity]),
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
        "mcpToolCall" => Item {
            server: s(item, "server"),
            tool: s(item, "tool"),
            text: item
                .get("arguments")
                .filter(|a| !a.is_null())
                .map(Value::to_string),
            output: item
                .get("result")
                .filter(|r| !r.is_null())
                .map(mcp_result_text),
            error: item.get("error").and_then(error_text),
            status: s(item, "status"),
            ..Item::new(ItemType::McpToolCall)
        },
        "dynamicToolCall" => Item {
            tool: match (s(item, "namespace"), s(item, "tool")) {
                (Some(ns), Some(tool)) => Some(format!("{ns}/{tool}")),
                (_, tool) => tool,
            },
            text: item
                .get("arguments")
                .filter(|a| !a.is_null())
                .map(Value::to_string),
            output: join_text(item.get("contentItems")),
            status: s(item, "status"),
            ..Item::new(ItemType::ToolCall)
        },
        "functionCallOutput" => Item {
            tool: s(item, "name"),
            output: item.get("output").map(|o| match o {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            }),
            ..Item::new(ItemType::ToolCall)
        },
        "collabAgentToolCall" => Item {
            tool: s(item, "tool"),
            text: s(item, "prompt"),
            status: s(item, "status"),
            ..Item::new(ItemType::Subagent)
        },
        "subAgentActivity" => Item {
            tool: s(item, "kind"),
            text: s(item, "agentPath"),
            ..Item::new(ItemType::Subagent)
        },
        "webSearch" => Item {
            text: s(item, "query").filter(|q| !q.is_empty()).or_else(|| {
                let action = item.get("action")?;
                s(action, "query").or_else(|| s(action, "url"))
            }),
            ..Item::new(ItemType::WebSearch)
        },
        "plan" => Item {
            text: s(item, "text"),
            ..Item::new(ItemType::Plan)
        },
        "contextCompaction" => Item::new(ItemType::Compaction),
        "imageView" => Item {
            tool: Some(kind.to_string()),
            text: s(item, "path"),
            ..Item::new(ItemType::Other)
        },
        "imageGeneration" => Item {
            tool: Some(kind.to_string()),
            text: s(item, "revisedPrompt"),
            output: s(item, "savedPath"),
            error: s(item, "failure"),
            status: s(item, "status"),
            ..Item::new(ItemType::Other)
        },
        "enteredReviewMode" | "exitedReviewMode" => Item {
            tool: Some(kind.to_string()),
            text: s(item, "review"),
            ..Item::new(ItemType::Other)
        },
        _ => {
            if crate::provider::coverage::find(coverage::ITEMS, kind).is_none() {
                crate::provider::coverage::unknown("codex item", kind);
            }
            Item {
                tool: (!kind.is_empty()).then(|| kind.to_string()),
                ..Item::new(ItemType::Other)
            }
        }
    }
}

/// The text of an MCP tool result (`{content:[{type:"text",text}], structuredContent?}`).
fn mcp_result_text(result: &Value) -> String {
    join_text(result.get("content")).unwrap_or_else(|| result.to_string())
}

/// Codex `ToolRequestUserInputQuestion`s as baton questions.
pub fn input_questions(questions: Option<&Value>) -> Vec<InputQuestion> {
    questions
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, q)| {
            let flag = |k: &str| q.get(k).and_then(Value::as_bool).unwrap_or(false);
            InputQuestion {
                id: s(q, "id").unwrap_or_else(|| format!("q{i}")),
                question: s(q, "question").unwrap_or_default(),
                header: s(q, "header"),
                options: crate::provider::input_options(q.get("options")),
                multi_select: false,
                allow_other: flag("isOther"),
                secret: flag("isSecret"),
            }
        })
        .collect()
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

    fn bodies(method: &str, params: Value) -> Vec<EventBody> {
        map_notification(method, &params)
            .into_iter()
            .filter_map(|e| match e {
                ProviderEvent::Event { body, .. } => Some(body),
                _ => None,
            })
            .collect()
    }

    /// The relay's typed reading of a delta (no `Value`) maps it as `map_notification` does:
    /// every delta of the recorded transcripts, and text that needs unescaping.
    #[test]
    fn delta_views_map_like_values() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codex-0.169.0");
        let mut lines = vec![
            json!({"method": "item/agentMessage/delta", "params": {"threadId": "t", "turnId": "u",
                   "itemId": "i\"1", "delta": "quote \" nl \n é \u{1}"}}),
            json!({"method": "item/plan/delta", "params": {"threadId": "t", "delta": ""}}),
        ];
        for file in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            for rec in text
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
            {
                if let Some(msg) = rec["line"]
                    .as_str()
                    .and_then(|l| serde_json::from_str(l).ok())
                {
                    lines.push(msg);
                }
            }
        }
        let mut checked = 0;
        for msg in lines {
            let Some(stream) = msg["method"].as_str().and_then(delta_stream) else {
                continue;
            };
            let text = serde_json::to_string(&msg["params"]).unwrap();
            let span = 0..text.len();
            let params = crate::rpc::Params::from_text(text, span);
            let view = params.view::<DeltaView>().unwrap();
            let fast = vec![delta_event(stream, view)];
            let mut slow = map_notification(msg["method"].as_str().unwrap(), &msg["params"]);
            // The native turn of a delta is not read (only a turn's start and end carry it).
            for ev in &mut slow {
                if let ProviderEvent::Event { native_turn, .. } = ev {
                    *native_turn = None;
                }
            }
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{msg}");
            checked += 1;
        }
        assert!(checked > 50, "only {checked} deltas in {}", dir.display());
    }

    #[test]
    fn a_leading_thread_id_is_read_without_parsing() {
        let id = leading_thread_id;
        assert_eq!(id(r#"{"threadId":"t-1","delta":"x"}"#), Some("t-1"));
        assert_eq!(id(r#" { "threadId" : "t 2" , "x": 1}"#), Some("t 2"));
        // Not first, escaped, not a string, nested: left to the parser.
        assert_eq!(id(r#"{"x":1,"threadId":"t"}"#), None);
        assert_eq!(id(r#"{"threadId":"t\"q"}"#), None);
        assert_eq!(id(r#"{"threadId":null}"#), None);
        assert_eq!(id(r#"{"item":{"threadId":"t"}}"#), None);
        assert_eq!(id(r#"{"threadIdX":"t"}"#), None);
        // Whatever it finds, the parser agrees with.
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codex-0.169.0");
        let mut found = 0;
        for file in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
            for rec in text
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
            {
                let Some(msg) = rec["line"]
                    .as_str()
                    .and_then(|l| serde_json::from_str::<Value>(l).ok())
                else {
                    continue;
                };
                let Some(params) = msg.get("params") else {
                    continue;
                };
                let text = serde_json::to_string(params).unwrap();
                if let Some(fast) = leading_thread_id(&text) {
                    assert_eq!(Some(fast), params["threadId"].as_str());
                    found += 1;
                }
            }
        }
        assert!(found > 100, "only {found}");
    }

    // Diffs, usage, rate limits, deltas, commands and interrupted turns are covered by the
    // recorded transcripts (src/provider/mapping_tests.rs); what the mock cannot make codex send
    // (a completed plan step, a reroute, an MCP call, an empty option description) is here.
    #[test]
    fn completed_plan_steps_and_reroutes_map_to_their_events() {
        let plan = bodies(
            "turn/plan/updated",
            json!({"threadId":"t","turnId":"u","explanation":"why","plan":[
                {"step":"a","status":"completed"},{"step":"b","status":"inProgress"},{"step":"c","status":"pending"}]}),
        );
        assert_eq!(
            plan,
            vec![EventBody::TurnPlan(TurnPlan {
                steps: vec![
                    PlanStep {
                        text: "a".into(),
                        status: PlanStepStatus::Completed
                    },
                    PlanStep {
                        text: "b".into(),
                        status: PlanStepStatus::InProgress
                    },
                    PlanStep {
                        text: "c".into(),
                        status: PlanStepStatus::Pending
                    },
                ],
                explanation: Some("why".into()),
            })]
        );
        let reroute = bodies(
            "model/rerouted",
            json!({"threadId":"t","turnId":"u","fromModel":"a","toModel":"b","reason":"highRiskCyberActivity"}),
        );
        assert!(
            matches!(&reroute[..], [EventBody::ModelRerouted(m)] if m.to_model.as_deref() == Some("b"))
        );
    }

    #[test]
    fn user_input_questions_keep_options_and_flags() {
        let q = input_questions(Some(
            &json!([{"id":"confirm","header":"Confirm","question":"Proceed?",
            "isOther":true,"isSecret":false,"options":[{"label":"Yes","description":"go on"},{"label":"No","description":""}]}]),
        ));
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].id, "confirm");
        assert!(q[0].allow_other && !q[0].secret);
        assert_eq!(q[0].options[0].description.as_deref(), Some("go on"));
        assert_eq!(q[0].options[1].description, None);
    }

    #[test]
    fn mcp_tool_call_items_name_their_server() {
        let item = map_item(
            &json!({"type":"mcpToolCall","id":"m","server":"docs","tool":"search",
            "status":"completed","arguments":{"q":"x"},"result":{"content":[{"type":"text","text":"found"}]},"error":null}),
        );
        assert_eq!(item.item_type, ItemType::McpToolCall);
        assert_eq!(item.server.as_deref(), Some("docs"));
        assert_eq!(item.output.as_deref(), Some("found"));
        assert_eq!(item.error, None);
    }
}
