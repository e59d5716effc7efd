//! The OpenAI Responses API (`POST /v1/responses`, streamed), as `codex` uses it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::Api;
use crate::http::{Sse, hang, json_response, unix_in};
use crate::script::{self, Plan, chunks};

static NEXT: AtomicU64 = AtomicU64::new(1);

fn next_id(prefix: &str) -> String {
    format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn tool<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body.get("tools")?.as_array()?.iter().find(|t| {
        t.get("name").and_then(Value::as_str) == Some(name)
            || t.get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                == Some(name)
    })
}

fn usage(body: &Value) -> Value {
    let input = (body.to_string().len() / 4) as u64;
    json!({"input_tokens": input, "output_tokens": 12, "total_tokens": input + 12,
           "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}})
}

pub async fn respond(stream: &mut TcpStream, body: &Value) -> anyhow::Result<()> {
    let conv = script::conversation(Api::Responses, body);
    let plan = script::plan(&conv);
    match plan {
        Plan::Fail => {
            return json_response(stream, 500, &json!({"error": {"message": "mock model failure (FAIL_529)", "type": "server_error"}})).await;
        }
        Plan::Hang => {
            hang(stream, Duration::from_secs(60)).await;
            return Ok(());
        }
        _ => {}
    }
    let resp_id = next_id("resp");
    let headers = if script::rate_limited(&conv) {
        vec![
            ("x-codex-primary-used-percent", "42".to_string()),
            ("x-codex-primary-window-minutes", "300".to_string()),
            ("x-codex-primary-reset-at", unix_in(3600).to_string()),
        ]
    } else {
        Vec::new()
    };
    let mut sse = Sse::start(stream, &headers).await?;
    sse.event(
        "response.created",
        &json!({"type": "response.created", "response": {"id": resp_id}}),
    )
    .await?;
    let item = match plan {
        Plan::Text(text) => message(&mut sse, 0, &text, 4, Duration::ZERO).await?,
        Plan::Slow => {
            let text = "slow ".repeat(100);
            message(&mut sse, 0, &text, 100, Duration::from_millis(100)).await?
        }
        Plan::Flood { deltas, paced } => {
            let text = "f".repeat(deltas);
            let gap = if paced {
                Duration::from_millis(1)
            } else {
                Duration::ZERO
            };
            message(&mut sse, 0, &text, deltas, gap).await?
        }
        Plan::Shell(cmd) => {
            let call_id = next_id("call");
            let item = if tool(body, "exec_command").is_some() || tool(body, "shell").is_none() {
                json!({"type": "function_call", "id": next_id("fc"), "call_id": call_id, "name": "exec_command",
                       "arguments": json!({"cmd": cmd}).to_string()})
            } else {
                json!({"type": "function_call", "id": next_id("fc"), "call_id": call_id, "name": "shell",
                       "arguments": json!({"command": ["bash", "-lc", cmd]}).to_string()})
            };
            function_item(&mut sse, item).await?
        }
        Plan::WriteFile { path, content } => {
            let patch =
                format!("*** Begin Patch\n*** Add File: {path}\n+{content}\n*** End Patch\n");
            let call_id = next_id("call");
            let custom = tool(body, "apply_patch")
                .and_then(|t| t.get("type"))
                .and_then(Value::as_str)
                == Some("custom");
            let item = if custom {
                json!({"type": "custom_tool_call", "id": next_id("ctc"), "call_id": call_id, "name": "apply_patch", "input": patch})
            } else if tool(body, "apply_patch").is_some() {
                json!({"type": "function_call", "id": next_id("fc"), "call_id": call_id, "name": "apply_patch",
                       "arguments": json!({"input": patch}).to_string()})
            } else {
                json!({"type": "function_call", "id": next_id("fc"), "call_id": call_id, "name": "exec_command",
                       "arguments": json!({"cmd": format!("apply_patch <<'EOF'\n{patch}EOF")}).to_string()})
            };
            function_item(&mut sse, item).await?
        }
        Plan::Steps(steps) => {
            let plan: Vec<Value> = steps
                .iter()
                .enumerate()
                .map(|(i, step)| {
                    let status = if i == 0 { "in_progress" } else { "pending" };
                    json!({"step": step, "status": status})
                })
                .collect();
            let item = json!({"type": "function_call", "id": next_id("fc"), "call_id": next_id("call"), "name": "update_plan",
                              "arguments": json!({"explanation": "mock plan", "plan": plan}).to_string()});
            function_item(&mut sse, item).await?
        }
        Plan::AskUser { question, options } => {
            let options: Vec<Value> = options
                .iter()
                .map(|o| json!({"label": o, "description": o}))
                .collect();
            let questions = json!([{"id": "q1", "header": "Question", "question": question, "options": options}]);
            let item = json!({"type": "function_call", "id": next_id("fc"), "call_id": next_id("call"), "name": "request_user_input",
                              "arguments": json!({"questions": questions}).to_string()});
            function_item(&mut sse, item).await?
        }
        Plan::Reason { thought, text } => {
            reasoning(&mut sse, 0, &thought).await?;
            message(&mut sse, 1, &text, 4, Duration::ZERO).await?
        }
        Plan::Fail | Plan::Hang => return Ok(()),
    };
    let _ = item;
    sse.event(
        "response.completed",
        &json!({"type": "response.completed", "response": {"id": resp_id, "usage": usage(body)}}),
    )
    .await?;
    Ok(())
}

/// A `reasoning` output item whose summary is `thought`, streamed in a few deltas.
async fn reasoning(sse: &mut Sse<'_>, index: usize, thought: &str) -> anyhow::Result<Value> {
    let id = next_id("rs");
    sse.event(
        "response.output_item.added",
        &json!({"type": "response.output_item.added", "output_index": index,
                "item": {"type": "reasoning", "id": id, "summary": []}}),
    )
    .await?;
    sse.event(
        "response.reasoning_summary_part.added",
        &json!({"type": "response.reasoning_summary_part.added", "item_id": id, "output_index": index,
                "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
    )
    .await?;
    for piece in chunks(thought, 3) {
        sse.event(
            "response.reasoning_summary_text.delta",
            &json!({"type": "response.reasoning_summary_text.delta", "item_id": id, "output_index": index,
                    "summary_index": 0, "delta": piece}),
        )
        .await?;
    }
    sse.event(
        "response.reasoning_summary_text.done",
        &json!({"type": "response.reasoning_summary_text.done", "item_id": id, "output_index": index,
                "summary_index": 0, "text": thought}),
    )
    .await?;
    sse.event(
        "response.reasoning_summary_part.done",
        &json!({"type": "response.reasoning_summary_part.done", "item_id": id, "output_index": index,
                "summary_index": 0, "part": {"type": "summary_text", "text": thought}}),
    )
    .await?;
    let item = json!({"type": "reasoning", "id": id, "summary": [{"type": "summary_text", "text": thought}]});
    sse.event(
        "response.output_item.done",
        &json!({"type": "response.output_item.done", "output_index": index, "item": item}),
    )
    .await?;
    Ok(item)
}

async fn message(
    sse: &mut Sse<'_>,
    index: usize,
    text: &str,
    pieces: usize,
    gap: Duration,
) -> anyhow::Result<Value> {
    let id = next_id("msg");
    sse.event(
        "response.output_item.added",
        &json!({"type": "response.output_item.added", "output_index": index,
                "item": {"type": "message", "role": "assistant", "id": id, "content": []}}),
    )
    .await?;
    for piece in chunks(text, pieces) {
        if !gap.is_zero() {
            sse.pause(gap).await?;
        }
        sse.event(
            "response.output_text.delta",
            &json!({"type": "response.output_text.delta", "item_id": id, "output_index": index, "content_index": 0, "delta": piece}),
        )
        .await?;
    }
    let item = json!({"type": "message", "role": "assistant", "id": id,
                      "content": [{"type": "output_text", "text": text, "annotations": []}]});
    sse.event(
        "response.output_item.done",
        &json!({"type": "response.output_item.done", "output_index": index, "item": item}),
    )
    .await?;
    Ok(item)
}

async fn function_item(sse: &mut Sse<'_>, item: Value) -> anyhow::Result<Value> {
    sse.event(
        "response.output_item.added",
        &json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
    )
    .await?;
    sse.event(
        "response.output_item.done",
        &json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
    )
    .await?;
    Ok(item)
}
