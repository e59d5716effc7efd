//! Load, end to end through the real `baton` binary and the real `codex app-server`:
//! - 20 threads with turns running at once in one baton: every turn completes, every event is
//!   in the log (`thread/read` equals what was notified), seqs are gapless per thread;
//! - an editor that stops reading stdout while a turn streams 100 000 deltas (mock keyword
//!   `FLOOD:<n>`), then reads again: nothing is lost or reordered (every delta, in order, equal
//!   to `thread/read`), and baton's resident memory stays bounded (its peak, VmHWM, is printed).
//!
//! Each test prints a line of figures for TESTING.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Baton, Framing, TestEnv, read_frame};
use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout, Command};

const THREADS: usize = 20;
const DELTAS: usize = 100_000;
/// baton's resident memory may not exceed this, however far behind the editor is.
const RSS_LIMIT_KB: u64 = 200 * 1024;

fn lsp(msg: &Value) -> Vec<u8> {
    let body = msg.to_string();
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// Sends a request without waiting for its answer.
async fn send_request(b: &mut Baton, id: i64, method: &str, params: Value) {
    b.send_raw(&lsp(
        &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
    ))
    .await;
}

/// Reads until the responses to all of `ids` arrived; returns their results by id.
async fn responses(b: &mut Baton, ids: &[i64], timeout: Duration) -> HashMap<i64, Value> {
    let deadline = Instant::now() + timeout;
    let mut out = HashMap::new();
    while out.len() < ids.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = b
            .read_message(left)
            .await
            .unwrap_or_else(|| panic!("{} of {} responses", out.len(), ids.len()));
        if msg.get("method").is_some() {
            continue;
        }
        let id = msg["id"].as_i64().unwrap();
        if ids.contains(&id) {
            assert!(msg.get("error").is_none(), "{msg}");
            out.insert(id, msg["result"].clone());
        }
    }
    out
}

/// The value (kB) of a field of /proc/<pid>/status, e.g. `VmHWM`.
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn twenty_threads_with_concurrent_turns_lose_nothing() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let cwd = env.work.to_str().unwrap().to_string();
    let started = Instant::now();
    let start_ids: Vec<i64> = (1..=THREADS as i64).collect();
    for id in &start_ids {
        send_request(
            &mut b,
            *id,
            "thread/start",
            json!({"provider": "codex", "cwd": cwd, "approvalPolicy": "never"}),
        )
        .await;
    }
    let threads: Vec<String> = responses(&mut b, &start_ids, Duration::from_secs(120))
        .await
        .into_values()
        .map(|r| r["thread"]["id"].as_str().unwrap().to_string())
        .collect();
    let start_time = started.elapsed();
    let turns_started = Instant::now();
    let turn_ids: Vec<i64> = (101..101 + THREADS as i64).collect();
    for (id, thread) in turn_ids.iter().zip(&threads) {
        let text = format!("{thread} REASON: thinking hard");
        send_request(
            &mut b,
            *id,
            "turn/start",
            json!({"threadId": thread, "input": [{"type": "text", "text": text}]}),
        )
        .await;
    }
    let turns: Vec<String> = responses(&mut b, &turn_ids, Duration::from_secs(120))
        .await
        .into_values()
        .map(|r| r["turnId"].as_str().unwrap().to_string())
        .collect();
    for t in &turns {
        let t = t.clone();
        let done = b
            .wait_event(Duration::from_secs(180), move |e| {
                e["type"] == "turn.completed" && e["turnId"] == t.as_str()
            })
            .await;
        assert_eq!(done["data"]["state"], "completed", "{done}");
    }
    let turn_time = turns_started.elapsed();
    // Every thread's log equals what was notified, with gapless seqs, and holds its own answer.
    let mut events = 0;
    for thread in &threads {
        let read = b
            .request("thread/read", json!({"threadId": thread}))
            .await
            .unwrap();
        let stored = read["events"].as_array().unwrap();
        // Events appended after the read ran may already have been notified: compare up to
        // the read's end.
        let live: Vec<Value> = b
            .events()
            .into_iter()
            .filter(|e| {
                e["threadId"] == thread.as_str() && e["seq"].as_i64() <= Some(stored.len() as i64)
            })
            .collect();
        assert_eq!(&stored[..live.len()], &live[..], "{thread}");
        let seqs: Vec<i64> = stored.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
        let answer: String = stored
            .iter()
            .filter(|e| e["type"] == "content.delta" && e["data"]["stream"] == "assistant")
            .map(|e| e["data"]["delta"].as_str().unwrap())
            .collect();
        assert!(answer.contains(thread.as_str()), "{thread}: {answer}");
        assert!(
            stored
                .iter()
                .any(|e| e["type"] == "item.completed" && e["data"]["itemType"] == "reasoning"),
            "{thread}: its reasoning is logged"
        );
        events += stored.len();
    }
    let codex = common::native_pids(b.pid(), "app-server");
    assert_eq!(codex.len(), 1, "one codex process serves all threads");
    println!(
        "load: {THREADS} codex threads started at once in {:.1} s, {THREADS} concurrent turns completed in {:.1} s, {events} events, all in the log, seqs gapless, 0 lost; baton peak RSS {} MiB",
        start_time.as_secs_f64(),
        turn_time.as_secs_f64(),
        status_kb(b.pid(), "VmHWM") / 1024
    );
}

/// A bare client that reads baton's stdout only when told to.
struct Client {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Client {
    async fn send(&mut self, msg: Value) {
        self.stdin.write_all(&lsp(&msg)).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn next(&mut self) -> Value {
        let frame = tokio::time::timeout(Duration::from_secs(120), read_frame(&mut self.stdout))
            .await
            .expect("baton said nothing for 120 s")
            .unwrap()
            .expect("baton closed stdout");
        serde_json::from_slice(&frame.1).unwrap()
    }

    /// Reads until the response to `id`, handing every other message to `other`.
    async fn response(&mut self, id: i64, mut other: impl FnMut(Value)) -> Value {
        loop {
            let msg = self.next().await;
            if msg["id"] == id && msg.get("method").is_none() {
                assert!(msg.get("error").is_none(), "{msg}");
                return msg["result"].clone();
            }
            other(msg);
        }
    }
}

#[tokio::test]
async fn an_editor_that_stops_reading_loses_nothing_and_memory_stays_bounded() {
    let env = TestEnv::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .envs(env.baton_env())
        .env("RUST_LOG", "baton=info")
        .current_dir(&env.work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut c = Client {
        stdin: child.stdin.take().unwrap(),
        stdout: BufReader::new(child.stdout.take().unwrap()),
    };
    c.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": null, "clientInfo": {"name": "load"}, "capabilities": {}}}))
        .await;
    c.response(1, |_| {}).await;
    c.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        .await;
    c.send(json!({"jsonrpc": "2.0", "id": 2, "method": "thread/start", "params": {"provider": "codex", "cwd": env.work.to_str().unwrap()}}))
        .await;
    let thread = c.response(2, |_| {}).await["thread"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rss_before = status_kb(pid, "VmRSS");
    let mut live: Vec<Value> = Vec::new();
    c.send(json!({"jsonrpc": "2.0", "id": 3, "method": "turn/start", "params": {"threadId": thread, "input": [{"type": "text", "text": format!("FLOOD:{DELTAS}")}]}}))
        .await;
    let turn = c
        .response(3, |m| {
            if m["method"] == "thread/event" {
                live.push(m["params"].clone())
            }
        })
        .await["turnId"]
        .as_str()
        .unwrap()
        .to_string();

    // The editor stops reading while the model floods; baton must hold back, not pile up.
    let stall = Duration::from_secs(15);
    let stalled = Instant::now();
    let mut rss_stalled_max = 0;
    while stalled.elapsed() < stall {
        rss_stalled_max = rss_stalled_max.max(status_kb(pid, "VmRSS"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let active = env.mock.active_responses();

    // Reading again: everything arrives.
    let resumed = Instant::now();
    loop {
        let msg = c.next().await;
        if msg["method"] != "thread/event" {
            continue;
        }
        let ev = msg["params"].clone();
        let end = ev["type"] == "turn.completed" && ev["turnId"] == turn.as_str();
        live.push(ev);
        if end {
            break;
        }
    }
    let drain = resumed.elapsed();
    let hwm = status_kb(pid, "VmHWM");
    let deltas: Vec<&Value> = live
        .iter()
        .filter(|e| e["type"] == "content.delta" && e["data"]["stream"] == "assistant")
        .collect();
    let text: String = deltas
        .iter()
        .map(|e| e["data"]["delta"].as_str().unwrap())
        .collect();
    // The flood's deltas are one character each; baton joins those it reads together (after
    // the item's first 32), so the text, not the number of events, counts them.
    assert_eq!(text, "f".repeat(DELTAS), "every delta arrived");
    assert!(
        deltas[..32].iter().all(|e| e["data"]["delta"] == "f"),
        "the item's first deltas go out one by one"
    );
    assert!(deltas.len() <= DELTAS);
    let seqs: Vec<i64> = live.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "the live events come in order with no gap"
    );
    assert_eq!(
        live.last().unwrap()["data"]["state"],
        "completed",
        "{}",
        live.last().unwrap()
    );
    let final_text = live
        .iter()
        .find(|e| e["type"] == "item.completed" && e["data"]["itemType"] == "assistant_message")
        .map(|e| e["data"]["text"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(text, final_text, "the deltas add up to the final text");

    // The log holds exactly what was notified, page by page.
    let mut stored: Vec<Value> = Vec::new();
    let mut next_id = 10;
    loop {
        next_id += 1;
        let since = stored
            .last()
            .map(|e| e["seq"].as_i64().unwrap())
            .unwrap_or(0);
        c.send(json!({"jsonrpc": "2.0", "id": next_id, "method": "thread/read", "params": {"threadId": thread, "sinceSeq": since, "limit": 20000}}))
            .await;
        let page = c.response(next_id, |_| {}).await;
        let events = page["events"].as_array().unwrap().clone();
        if events.is_empty() {
            break;
        }
        stored.extend(events);
    }
    let first = live[0]["seq"].as_i64().unwrap() as usize;
    assert_eq!(
        &stored[first - 1..first - 1 + live.len()],
        &live[..],
        "thread/read == live"
    );
    assert!(
        hwm < RSS_LIMIT_KB,
        "baton's peak RSS {} MiB is over {} MiB",
        hwm / 1024,
        RSS_LIMIT_KB / 1024
    );
    println!(
        "load: editor stalled {} s during a {DELTAS}-delta turn (the model had sent it all by then: {}; the backlog waited in codex and the pipes, not in baton), then drained {} events in {:.1} s; {DELTAS} of {DELTAS} deltas in order ({} `content.delta` events), equal to thread/read, 0 lost; baton RSS {} MiB before, at most {} MiB while stalled, peak (VmHWM) {} MiB (limit {} MiB)",
        stall.as_secs(),
        active == 0,
        live.len(),
        drain.as_secs_f64(),
        deltas.len(),
        rss_before / 1024,
        rss_stalled_max / 1024,
        hwm / 1024,
        RSS_LIMIT_KB / 1024
    );
    drop(c);
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
}
