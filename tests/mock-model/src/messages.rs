//! The Anthropic Messages API (`POST /v1/messages`), as `claude` uses it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::Api;
use crate::http::{Sse, hang, json_response};
use crate::script::{self, Plan, chunks};

static NEXT: AtomicU64 = AtomicU64::new(1);

fn next_id(prefix: &str) -> String {
    format!("{prefix}_mock{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub async fn respond(stream: &mut TcpStream, body: &Value) -> anyhow::Result<()> {
    let conv = script::conversation(Api::Messages, body);
    let plan = script::plan(&conv);
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
        Plan::Flood => (
            vec![json!({"type": "text", "text": "f".repeat(3000)})],
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
        Plan::Fail | Plan::Hang => return Ok(()),
    };
    let id = next_id("msg");
    if !streaming {
        let msg = json!({"id": id, "type": "message", "role": "assistant", "model": model, "content": blocks,
                         "stop_reason": stop_reason, "stop_sequence": null,
                         "usage": {"input_tokens": input_tokens, "output_tokens": 12}});
        return json_response(stream, 200, &msg).await;
    }
    let mut sse = Sse::start(stream).await?;
    sse.event(
        "message_start",
        &json!({"type": "message_start", "message": {"id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
    )
    .await?;
    let (pieces, gap) = match plan {
        Plan::Slow => (100, Duration::from_millis(100)),
        Plan::Flood => (3000, Duration::from_millis(1)),
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
