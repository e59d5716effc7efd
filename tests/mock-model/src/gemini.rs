//! The Gemini API (`POST /v1beta/models/<model>:streamGenerateContent?alt=sse`, and the
//! unstreamed `:generateContent`), as `gemini-cli` uses it.
//!
//! Tools are gemini-cli's: `run_shell_command {command, description}`, `write_file {file_path,
//! content}` and `write_todos {todos:[{description, status}]}`. Reasoning goes out as parts with
//! `thought: true`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::http::{Sse, hang, json_response};
use crate::script::{self, Msg, Plan, chunks};

static NEXT: AtomicU64 = AtomicU64::new(1);

fn next_id(prefix: &str) -> String {
    format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The text of a `functionResponse.response`: its `output` (a shell result's
/// `<untrusted_context>` wrapper and `Output: ` label removed) or `ERROR: <error>`, else its JSON.
fn response_text(response: &Value) -> String {
    if let Some(s) = response.get("error").and_then(Value::as_str) {
        return format!("ERROR: {s}");
    }
    let Some(s) = response.get("output").and_then(Value::as_str) else {
        return response.to_string();
    };
    let inner = s
        .trim()
        .strip_prefix("<untrusted_context>")
        .and_then(|r| r.strip_suffix("</untrusted_context>"))
        .unwrap_or(s)
        .trim();
    match inner.strip_prefix("Output: ") {
        Some(output) => output.to_string(),
        None => inner.to_string(),
    }
}

/// The conversation of a Gemini request: user text parts (gemini-cli's `<session_context>`
/// part left out), model text parts that are not thoughts, and `functionResponse` parts as tool
/// results.
pub fn conversation(body: &Value) -> Vec<Msg> {
    let mut out = Vec::new();
    for c in body
        .get("contents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        for p in c
            .get("parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(r) = p.get("functionResponse") {
                out.push(Msg {
                    role: "tool".into(),
                    text: response_text(r.get("response").unwrap_or(&Value::Null)),
                });
                continue;
            }
            let Some(text) = p.get("text").and_then(Value::as_str) else {
                continue;
            };
            let thought = p.get("thought").and_then(Value::as_bool).unwrap_or(false);
            if text.trim().is_empty() || thought {
                continue;
            }
            match role {
                "user" if !text.trim_start().starts_with("<session_context>") => out.push(Msg {
                    role: "user".into(),
                    text: text.to_string(),
                }),
                "model" => out.push(Msg {
                    role: "assistant".into(),
                    text: text.to_string(),
                }),
                _ => {}
            }
        }
    }
    out
}

/// The model name in a `/v1beta/models/<model>:<method>` path.
fn model_of(path: &str) -> String {
    path.split("/models/")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or("mock-model")
        .to_string()
}

fn usage(body: &Value) -> Value {
    let input = (body.to_string().len() / 4) as u64;
    json!({"promptTokenCount": input, "candidatesTokenCount": 12, "totalTokenCount": input + 12})
}

/// The `functionCall` part the plan makes, if it makes one.
fn function_call(plan: &Plan) -> Option<Value> {
    let (name, args) = match plan {
        Plan::Shell(cmd) => (
            "run_shell_command",
            json!({"command": cmd, "description": "run the requested command"}),
        ),
        Plan::WriteFile { path, content } => {
            ("write_file", json!({"file_path": path, "content": content}))
        }
        Plan::Steps(steps) => {
            let todos: Vec<Value> = steps
                .iter()
                .enumerate()
                .map(|(i, step)| {
                    let status = if i == 0 { "in_progress" } else { "pending" };
                    json!({"description": step, "status": status})
                })
                .collect();
            ("write_todos", json!({"todos": todos}))
        }
        _ => return None,
    };
    Some(json!({"functionCall": {"name": name, "args": args}}))
}

pub async fn respond(stream: &mut TcpStream, path: &str, body: &Value) -> anyhow::Result<()> {
    let plan = script::plan(&conversation(body));
    let model = model_of(path);
    match &plan {
        Plan::Fail => {
            return json_response(
                stream,
                500,
                &json!({"error": {"code": 500, "message": "mock model failure (FAIL_529)", "status": "INTERNAL"}}),
            )
            .await;
        }
        Plan::Hang => {
            hang(stream, Duration::from_secs(60)).await;
            return Ok(());
        }
        _ => {}
    }
    let (thought, text) = match &plan {
        Plan::Text(t) => (None, t.clone()),
        Plan::Slow => (None, "slow ".repeat(100)),
        Plan::Flood { deltas, .. } => (None, "f".repeat(*deltas)),
        Plan::Reason { thought, text } => (Some(thought.clone()), text.clone()),
        Plan::AskUser { question, .. } => (None, format!("mock question: {question}")),
        _ => (None, String::new()),
    };
    let call = function_call(&plan);
    let id = next_id("resp");
    let candidate = |parts: Vec<Value>, finish: Option<&str>| {
        let mut c = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(f) = finish {
            c["finishReason"] = json!(f);
        }
        json!({"candidates": [c], "usageMetadata": usage(body), "modelVersion": model, "responseId": id})
    };
    if !path.contains(":streamGenerateContent") {
        let mut parts = Vec::new();
        if let Some(t) = &thought {
            parts.push(json!({"text": t, "thought": true}));
        }
        match call {
            Some(c) => parts.push(c),
            None => parts.push(json!({"text": text})),
        }
        return json_response(stream, 200, &candidate(parts, Some("STOP"))).await;
    }
    let mut sse = Sse::start(stream, &[]).await?;
    // One part: gemini-cli turns every thought part into a `**subject**\ndescription` chunk.
    if let Some(thought) = thought {
        sse.data(&candidate(
            vec![json!({"text": thought, "thought": true})],
            None,
        ))
        .await?;
    }
    match call {
        Some(c) => sse.data(&candidate(vec![c], Some("STOP"))).await?,
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
            let pieces = chunks(&text, pieces);
            let last = pieces.len().saturating_sub(1);
            for (i, piece) in pieces.into_iter().enumerate() {
                if !gap.is_zero() {
                    sse.pause(gap).await?;
                }
                let finish = (i == last).then_some("STOP");
                sse.data(&candidate(vec![json!({"text": piece})], finish))
                    .await?;
            }
        }
    }
    Ok(())
}
