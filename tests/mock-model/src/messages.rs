//! The Anthropic Messages API (`POST /v1/messages`), as `claude` uses it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::Api;
use crate::http::{Sse, hang, json_response, unix_in};
use crate::script::{self, Plan, chunks};

static NEXT: AtomicU64 = AtomicU64::new(1);

fn next_id(prefix: &str) -> String {
    format!("{prefix}_mock{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The title the mock gives claude-agent-acp's sessions.
pub const TITLE: &str = "Mock title";

/// Whether this is a structured-output request for a session title.
fn is_title_request(body: &Value) -> bool {
    body.pointer("/output_config/format/schema/properties/title")
        .is_some()
}

/// The signature of the mock's thinking blocks (the real API's is opaque too).
const MOCK_SIGNATURE: &str = "bW9jay1zaWduYXR1cmU=";

pub async fn respond(stream: &mut TcpStream, body: &Value) -> anyhow::Result<()> {
    let conv = script::conversation(Api::Messages, body);
    // claude-agent-acp names its sessions with a tool-less request whose output format is a JSON
    // schema with a `title`: answer it with such JSON, whatever the session said.
    let plan = if is_title_request(body) {
        Plan::Text(json!({"title": TITLE}).to_string())
    } else {
        script::plan(&conv)
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_string();
    let input_tokens = (body.to_string().len() / 4) as u64;
    match &plan {
        Plan::Fail => {
            return json_response(
                stream,
                529,
                &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded (mock FAIL_529)"}}),
            )
            .await;
        }
        Plan::Hang => {
            hang(stream, Duration::from_secs(60)).await;
            return Ok(());
        }
        _ => {}
    }
    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let (blocks, stop_reason) = match &plan {
        Plan::Text(t) => (vec![json!({"type": "text", "text": t})], "end_turn"),
        Plan::Slow => (
            vec![json!({"type": "text", "text": "slow ".repeat(100)})],
            "end_turn",
        ),
        Plan::Flood { deltas, .. } => (
            vec![json!({"type": "text", "text": "f".repeat(*deltas)})],
            "end_turn",
        ),
        Plan::Shell(cmd) => (
            vec![
                json!({"type": "tool_use", "id": next_id("toolu"), "name": "Bash", "input": {"command": cmd, "description": "run the requested command"}}),
            ],
            "tool_use",
        ),
        Plan::WriteFile { path, content } => (
            vec![
                json!({"type": "tool_use", "id": next_id("toolu"), "name": "Write", "input": {"file_path": path, "content": content}}),
            ],
            "tool_use",
        ),
        Plan::Steps(steps) => {
            let todos: Vec<Value> = steps
                .iter()
                .enumerate()
                .map(|(i, step)| {
                    let status = if i == 0 { "in_progress" } else { "pending" };
                    json!({"content": step, "status": status, "activeForm": step})
                })
                .collect();
            (
                vec![
                    json!({"type": "tool_use", "id": next_id("toolu"), "name": "TodoWrite", "input": {"todos": todos}}),
                ],
                "tool_use",
            )
        }
        Plan::AskUser { question, options } => {
            let options: Vec<Value> = options
                .iter()
                .map(|o| json!({"label": o, "description": o}))
                .collect();
            (
                vec![
                    json!({"type": "tool_use", "id": next_id("toolu"), "name": "AskUserQuestion",
                           "input": {"questions": [{"question": question, "header": "Question", "options": options, "multiSelect": false}]}}),
                ],
                "tool_use",
            )
        }
        Plan::Reason { thought, text } => (
            vec![
                json!({"type": "thinking", "thinking": thought, "signature": MOCK_SIGNATURE}),
                json!({"type": "text", "text": text}),
            ],
            "end_turn",
        ),
        Plan::Fail | Plan::Hang => return Ok(()),
    };
    let id = next_id("msg");
    if !streaming {
        let msg = json!({"id": id, "type": "message", "role": "assistant", "model": model, "content": blocks,
                         "stop_reason": stop_reason, "stop_sequence": null,
                         "usage": {"input_tokens": input_tokens, "output_tokens": 12}});
        return json_response(stream, 200, &msg).await;
    }
    let headers = if script::rate_limited(&conv) {
        vec![
            (
                "anthropic-ratelimit-unified-status",
                "allowed_warning".to_string(),
            ),
            (
                "anthropic-ratelimit-unified-5h-status",
                "allowed_warning".to_string(),
            ),
            (
                "anthropic-ratelimit-unified-5h-utilization",
                "0.9".to_string(),
            ),
            (
                "anthropic-ratelimit-unified-5h-reset",
                unix_in(3600).to_string(),
            ),
            (
                "anthropic-ratelimit-unified-5h-surpassed-threshold",
                "0.75".to_string(),
            ),
            (
                "anthropic-ratelimit-unified-representative-claim",
                "five_hour".to_string(),
            ),
            (
                "anthropic-ratelimit-unified-reset",
                unix_in(3600).to_string(),
            ),
        ]
    } else {
        Vec::new()
    };
    let mut sse = Sse::start(stream, &headers).await?;
    sse.event(
        "message_start",
        &json!({"type": "message_start", "message": {"id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
    )
    .await?;
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
    for (index, block) in blocks.iter().enumerate() {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                sse.event("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})).await?;
                for piece in chunks(text, pieces) {
                    if !gap.is_zero() {
                        sse.pause(gap).await?;
                    }
                    sse.event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})).await?;
                }
            }
            Some("thinking") => {
                let thought = block.get("thinking").and_then(Value::as_str).unwrap_or("");
                sse.event("content_block_start", &json!({"type": "content_block_start", "index": index, "content_block": {"type": "thinking", "thinking": "", "signature": ""}})).await?;
                for piece in chunks(thought, 3) {
                    sse.event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": piece}})).await?;
                }
                sse.event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": MOCK_SIGNATURE}})).await?;
            }
            _ => {
                let mut start = block.clone();
                start["input"] = json!({});
                sse.event(
                    "content_block_start",
                    &json!({"type": "content_block_start", "index": index, "content_block": start}),
                )
                .await?;
                let input = block.get("input").cloned().unwrap_or(json!({})).to_string();
                for piece in chunks(&input, 3) {
                    sse.event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})).await?;
                }
            }
        }
        sse.event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        )
        .await?;
    }
    sse.event(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": 12}}),
    )
    .await?;
    sse.event("message_stop", &json!({"type": "message_stop"}))
        .await?;
    Ok(())
}
