//! `baton-bench app-server`: a stand-in for `codex app-server` that only streams, so the micro
//! benchmark measures baton's own path (provider line in -> event persisted -> framed bytes out)
//! and nothing of codex or the model. It speaks the lines the recorded codex 0.169 transcripts
//! show (tests/fixtures/codex-0.169.0) for initialize, thread/start and a text turn.
//!
//! A turn whose text is `BURST <n>` streams n deltas back to back; `PACED <n> <per_second>`
//! streams them at that rate. Every delta's text is `t<wall-clock ns>;`, the moment it was
//! written, so the reader can tell each event's latency.

use std::io::{BufRead, BufWriter, Write};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use crate::proc::wall_ns;

pub fn run() -> Result<()> {
    let stdin = std::io::stdin();
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut next = 0u64;
    for line in stdin.lock().lines() {
        let line = line?;
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let (Some(id), Some(method)) = (msg.get("id"), msg.get("method").and_then(Value::as_str))
        else {
            continue;
        };
        next += 1;
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        let result = match method {
            "initialize" => json!({"userAgent": "baton-bench/0", "codexHome": "/nonexistent",
                                   "platformFamily": "unix", "platformOs": "linux"}),
            "thread/start" | "thread/resume" => json!({
                "thread": {"id": format!("fake-thread-{next}"), "path": null, "turns": [],
                           "status": {"type": "idle"}},
                "model": "fake-model", "modelProvider": "fake"}),
            "turn/start" => {
                let thread = params.get("threadId").and_then(Value::as_str).unwrap_or("");
                let text = params
                    .pointer("/input/0/text")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let turn = format!("fake-turn-{next}");
                respond(
                    &mut out,
                    id,
                    json!({"turn": {"id": turn, "items": [], "status": "inProgress", "error": null}}),
                )?;
                stream(&mut out, thread, &turn, text)?;
                continue;
            }
            _ => json!({}),
        };
        respond(&mut out, id, result)?;
    }
    Ok(())
}

fn respond(out: &mut impl Write, id: &Value, result: Value) -> Result<()> {
    writeln!(out, "{}", json!({"id": id, "result": result}))?;
    out.flush()?;
    Ok(())
}

fn stream(out: &mut impl Write, thread: &str, turn: &str, text: &str) -> Result<()> {
    let mut words = text.split_whitespace();
    let mode = words.next().unwrap_or("");
    let n: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(4);
    let rate: u64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1000)
        .max(1);
    let paced = mode == "PACED";
    writeln!(
        out,
        "{}",
        json!({"method": "turn/started", "params": {"threadId": thread, "turn": {"id": turn, "items": [], "status": "inProgress", "error": null}}})
    )?;
    writeln!(
        out,
        "{}",
        json!({"method": "item/started", "params": {"threadId": thread, "turnId": turn,
               "item": {"type": "agentMessage", "id": "msg_1", "text": ""}}})
    )?;
    out.flush()?;
    let start = Instant::now();
    let gap = Duration::from_nanos(1_000_000_000 / rate);
    for i in 0..n {
        if paced {
            let due = start + gap * u32::try_from(i).unwrap_or(u32::MAX);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        // The same shape as codex's own delta notifications.
        writeln!(
            out,
            "{{\"method\":\"item/agentMessage/delta\",\"params\":{{\"threadId\":\"{thread}\",\"turnId\":\"{turn}\",\"itemId\":\"msg_1\",\"delta\":\"t{};\"}},\"emittedAtMs\":0}}",
            wall_ns()
        )?;
        if paced {
            out.flush()?;
        }
    }
    writeln!(
        out,
        "{}",
        json!({"method": "item/completed", "params": {"threadId": thread, "turnId": turn,
               "item": {"type": "agentMessage", "id": "msg_1", "text": "done"}}})
    )?;
    writeln!(
        out,
        "{}",
        json!({"method": "turn/completed", "params": {"threadId": thread,
               "turn": {"id": turn, "items": [], "status": "completed", "error": null}}})
    )?;
    out.flush()?;
    Ok(())
}
