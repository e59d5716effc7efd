//! The OpenAI chat-completions API (`POST /v1/chat/completions`, streamed), as `opencode` uses
//! it through its OpenAI-compatible provider.
//!
//! Tools are opencode's: `bash {command, description}`, `write {filePath, content}` and
//! `todowrite {todos:[{content, status, priority}]}`. opencode also asks for a session title
//! with a tool-less request whose system prompt says "title generator"; that request always gets
//! the plain answer [`TITLE`], whatever the user wrote, so keywords act only on the real turn.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::http::{Sse, hang, json_response, json_response_with};
use crate::script::{self, Msg, Plan, chunks, text_of};

static NEXT: AtomicU64 = AtomicU64::new(1);

/// What the mock answers to opencode's title-generation request.
pub const TITLE: &str = "Mock title";

fn next_id(prefix: &str) -> String {
    format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Whether this is opencode's title request rather than a turn of the conversation.
pub fn is_title_request(body: &Value) -> bool {
    messages(body).any(|m| {
        m.get("role").and_then(Value::as_str) == Some("system")
            && text_of(m.get("content").unwrap_or(&Value::Null)).contains("title generator")
    })
}

fn messages(body: &Value) -> impl Iterator<Item = &Value> {
    body.get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The conversation of a chat-completions request: system messages and opencode's
/// "Generate a title for this conversation:" preamble left out; each text part of a user message
/// is its own message; `role:"tool"` messages are tool results.
pub fn conversation(body: &Value) -> Vec<Msg> {
    let mut out = Vec::new();
    for m in messages(body) {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let content = m.get("content").unwrap_or(&Value::Null);
        match role {
            "user" => {
                let parts = match content {
                    Value::Array(parts) => parts.clone(),
                    other => vec![other.clone()],
                };
                for p in &parts {
                    let text = text_of(&Value::Array(vec![p.clone()]));
                    if !text.trim().is_empty()
                        && !text.starts_with("Generate a title for this conversation")
                    {
                        out.push(Msg {
                            role: "user".into(),
                            text,
                        });
                    }
                }
            }
            "assistant" => {
                let text = text_of(content);
                if !text.is_empty() {
                    out.push(Msg {
                        role: "assistant".into(),
                        text,
                    });
                }
            }
            "tool" => out.push(Msg {
                role: "tool".into(),
                text: text_of(content),
            }),
            _ => {}
        }
    }
    out
}

fn usage(body: &Value) -> Value {
    let input = (body.to_string().len() / 4) as u64;
    json!({"prompt_tokens": input, "completion_tokens": 12, "total_tokens": input + 12})
}

/// The tool call the plan makes, as (name, arguments), if it makes one.
fn tool_call(plan: &Plan) -> Option<(&'static str, Value)> {
    match plan {
        Plan::Shell(cmd) => Some((
            "bash",
            json!({"command": cmd, "description": "run the requested command"}),
        )),
        Plan::WriteFile { path, content } => {
            Some(("write", json!({"filePath": path, "content": content})))
        }
        Plan::Steps(steps) => {
            let todos: Vec<Value> = steps
                .iter()
                .enumerate()
                .map(|(i, step)| {
                    let status = if i == 0 { "in_progress" } else { "pending" };
                    json!({"content": step, "status": status, "priority": "medium"})
                })
                .collect();
            Some(("todowrite", json!({"todos": todos})))
        }
        _ => None,
    }
}

pub async fn respond(stream: &mut TcpStream, body: &Value) -> anyhow::Result<()> {
    let plan = if is_title_request(body) {
        Plan::Text(TITLE.into())
    } else {
        script::plan(&conversation(body))
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_string();
    match &plan {
        Plan::Fail => {
            // opencode retries a 500 (its AI SDK three times, then its own loop once more):
            // `retry-after-ms: 0` makes those retries immediate instead of a minute of backoff.
            return json_response_with(
                stream,
                500,
                &[("retry-after-ms", "0")],
                &json!({"error": {"message": "mock model failure (FAIL_529)", "type": "server_error", "code": null}}),
            )
            .await;
        }
        Plan::Hang => {
            hang(stream, Duration::from_secs(60)).await;
            return Ok(());
        }
        _ => {}
    }
    // No question tool in opencode's default set: the question comes back as text.
    let (thought, text) = match &plan {
        Plan::Text(t) => (None, t.clone()),
        Plan::Slow => (None, "slow ".repeat(100)),
        Plan::Flood { deltas, .. } => (None, "f".repeat(*deltas)),
        Plan::Reason { thought, text } => (Some(thought.clone()), text.clone()),
        Plan::AskUser { question, .. } => (None, format!("mock question: {question}")),
        _ => (None, String::new()),
    };
    let call = tool_call(&plan);
    let id = next_id("chatcmpl");
    let created = crate::http::unix_in(0);
    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if !streaming {
        let message = match &call {
            Some((name, args)) => json!({"role": "assistant", "content": null,
                "tool_calls": [{"id": next_id("call"), "type": "function", "function": {"name": name, "arguments": args.to_string()}}]}),
            None => json!({"role": "assistant", "content": text}),
        };
        let finish = if call.is_some() { "tool_calls" } else { "stop" };
        return json_response(
            stream,
            200,
            &json!({"id": id, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage(body)}),
        )
        .await;
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut sse = Sse::start(stream, &[]).await?;
    sse.data(&chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ))
    .await?;
    if let Some(thought) = thought {
        for piece in chunks(&thought, 3) {
            sse.data(&chunk(json!({"reasoning_content": piece}), Value::Null))
                .await?;
        }
    }
    let finish = match call {
        Some((name, args)) => {
            let first = json!({"tool_calls": [{"index": 0, "id": next_id("call"), "type": "function",
                                               "function": {"name": name, "arguments": ""}}]});
            sse.data(&chunk(first, Value::Null)).await?;
            for piece in chunks(&args.to_string(), 3) {
                let delta = json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]});
                sse.data(&chunk(delta, Value::Null)).await?;
            }
            "tool_calls"
        }
        None => {
            let (pieces, gap) = match plan {
                Plan::Slow => (100, Duration::from_millis(100)),
                Plan::Flood { deltas, paced } => (
                    deltas,
                    if paced {
                        Duration::from_millis(1)
                    } else {
                        Duration::ZERO
                    },
                ),
                _ => (4, Duration::ZERO),
            };
            for piece in chunks(&text, pieces) {
                if !gap.is_zero() {
                    sse.pause(gap).await?;
                }
                sse.data(&chunk(json!({"content": piece}), Value::Null))
                    .await?;
            }
            "stop"
        }
    };
    sse.data(&chunk(json!({}), json!(finish))).await?;
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if include_usage {
        sse.data(
            &json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                         "choices": [], "usage": usage(body)}),
        )
        .await?;
    }
    sse.done().await
}
