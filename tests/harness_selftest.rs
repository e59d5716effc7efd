//! Tests of the test harness itself (`tests/common`), so that a failing integration test points
//! at baton and not at its scaffolding: the codex config `TestEnv` writes really drives the pinned
//! `codex app-server` against the mock model, the stdout framing parser is exact, the process
//! helpers see grandchildren, and the client round-trips with the real binary in both framings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{Api, Baton, Framing, TestEnv, codex_bin, descendants, process_alive, read_frame};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const T: Duration = Duration::from_secs(30);

/// A minimal JSONL client for `codex app-server`, independent of baton.
struct Codex {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    seen: Vec<Value>,
}

impl Codex {
    async fn send(&mut self, msg: Value) {
        let mut line = serde_json::to_vec(&msg).unwrap();
        line.push(b'\n');
        self.stdin.write_all(&line).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Reads messages until one satisfies `pred`; panics with everything seen on timeout.
    async fn until(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            // Lines::next_line is cancel-safe, so a timeout loses nothing.
            let line = match tokio::time::timeout(left, self.lines.next_line()).await {
                Ok(Ok(Some(line))) => line,
                other => panic!(
                    "codex: no {what} ({other:?}); seen:\n{}",
                    self.seen
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            };
            let msg: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("codex wrote a non-JSON line ({e}): {line}"));
            self.seen.push(msg.clone());
            if pred(&msg) {
                return msg;
            }
        }
    }
}

#[tokio::test]
async fn test_env_config_drives_codex_against_the_mock() {
    let env = TestEnv::new().await;
    let mut child = Command::new(codex_bin())
        .arg("app-server")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.baton_env())
        .current_dir(&env.work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(env.root.path().join("codex.stderr")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut codex = Codex {
        stdin: child.stdin.take().unwrap(),
        lines: BufReader::new(child.stdout.take().unwrap()).lines(),
        child,
        seen: Vec::new(),
    };

    codex
        .send(json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "baton-selftest", "version": "0.0.0"}}}))
        .await;
    let init = codex.until("initialize result", |m| m["id"] == 1).await;
    assert!(init["result"]["userAgent"].is_string(), "{init}");
    assert_eq!(
        init["result"]["codexHome"],
        env.codex_home.to_str().unwrap(),
        "codex must use the test's CODEX_HOME"
    );
    codex.send(json!({"method": "initialized"})).await;

    // A whole turn proves the config reaches the mock: model, provider, wire API, no login.
    let cwd = env.work.to_str().unwrap();
    codex
        .send(json!({"id": 2, "method": "thread/start", "params": {"cwd": cwd}}))
        .await;
    let started = codex.until("thread/start result", |m| m["id"] == 2).await;
    let thread = started["result"]["thread"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no thread id: {started}"))
        .to_string();
    assert_eq!(started["result"]["thread"]["modelProvider"], "mock");
    codex
        .send(json!({"id": 3, "method": "turn/start", "params": {"threadId": thread, "input": [{"type": "text", "text": "harness selftest ping"}]}}))
        .await;
    let done = codex
        .until("turn/completed", |m| m["method"] == "turn/completed")
        .await;
    assert_eq!(done["params"]["turn"]["status"], "completed", "{done}");
    let reply = codex
        .seen
        .iter()
        .find(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage")
        .unwrap_or_else(|| panic!("no agentMessage item: {:?}", codex.seen));
    assert_eq!(
        reply["params"]["item"]["text"],
        "mock reply to: harness selftest ping"
    );
    let requests = env.mock.requests_to(Api::Responses);
    assert!(!requests.is_empty(), "codex never called the mock");
    assert_eq!(
        requests.last().unwrap().last_user_text(),
        "harness selftest ping"
    );

    // EOF on stdin ends the server cleanly.
    drop(codex.stdin);
    let status = tokio::time::timeout(T, codex.child.wait())
        .await
        .expect("codex did not exit after EOF")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn descendants_sees_grandchildren_and_process_alive_sees_them_die() {
    // sh is our child; the sleep it starts in the background is our grandchild.
    let mut sh = Command::new("sh")
        .args(["-c", "sleep 60 & echo $!; wait"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let sh_pid = sh.id().unwrap();
    let mut out = BufReader::new(sh.stdout.take().unwrap()).lines();
    let sleep_pid: u32 = tokio::time::timeout(T, out.next_line())
        .await
        .expect("sh did not report the sleep pid")
        .unwrap()
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let ours = descendants(std::process::id());
    assert!(ours.contains(&sh_pid), "{ours:?} lacks sh {sh_pid}");
    assert!(
        ours.contains(&sleep_pid),
        "{ours:?} lacks sleep {sleep_pid}"
    );
    assert_eq!(descendants(sh_pid), vec![sleep_pid]);
    assert!(process_alive(sleep_pid));
    assert!(descendants(sleep_pid).is_empty());

    // Killing the grandchild lets sh's `wait` return, so sh exits too.
    std::process::Command::new("kill")
        .args(["-9", &sleep_pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(T, sh.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status}");
    let deadline = tokio::time::Instant::now() + T;
    while process_alive(sleep_pid) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sleep {sleep_pid} still alive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!process_alive(sh_pid));
    assert!(!descendants(std::process::id()).contains(&sleep_pid));
}

#[tokio::test]
async fn read_frame_parses_both_framings_and_waits_out_split_writes() {
    let (mut w, r) = tokio::io::duplex(64);
    let reader = tokio::spawn(async move {
        let mut r = BufReader::new(r);
        let mut frames = Vec::new();
        while let Some(f) = read_frame(&mut r).await.unwrap() {
            frames.push(f);
        }
        frames
    });
    let body =
        br#"{"jsonrpc":"2.0","id":1,"result":{"text":"a message longer than the pipe buffer"}}"#;
    let mut lsp = format!(
        "Content-Length: {}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n",
        body.len()
    )
    .into_bytes();
    lsp.extend_from_slice(body);
    // Half a message, a pause longer than a short read timeout, then the rest.
    let (a, b) = lsp.split_at(30);
    w.write_all(a).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.write_all(b).await.unwrap();
    w.write_all(b"\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n")
        .await
        .unwrap();
    drop(w);
    let frames = tokio::time::timeout(T, reader).await.unwrap().unwrap();
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0].0, Framing::Lsp);
    assert_eq!(frames[0].1, body.to_vec());
    assert_eq!(frames[1].0, Framing::Ndjson);
    assert_eq!(frames[1].1, br#"{"jsonrpc":"2.0","method":"x"}"#.to_vec());

    // A body cut short by end of file is an error, not a silent truncation.
    let (mut w, r) = tokio::io::duplex(64);
    w.write_all(b"Content-Length: 50\r\n\r\n{\"id\":1}")
        .await
        .unwrap();
    drop(w);
    let mut r = BufReader::new(r);
    assert!(read_frame(&mut r).await.is_err());
}

#[tokio::test]
async fn client_round_trips_with_baton_in_both_framings() {
    for framing in [Framing::Lsp, Framing::Ndjson] {
        let env = TestEnv::new().await;
        let mut b = Baton::spawn(&env, &[], framing).await;
        assert!(b.pid() > 0);
        let init = b.initialize().await;
        assert!(init.is_object(), "{framing:?}: {init}");
        let err = b.request("no/such/method", json!({})).await.unwrap_err();
        assert_eq!(err["code"], -32601, "{framing:?}: {err}");
        // A short read that times out must not disturb the next exchange.
        let _ = b.read_message(Duration::from_millis(50)).await;
        assert!(b.request("thread/list", json!({})).await.is_ok());
        b.close_stdin().await;
        assert_eq!(b.wait_exit(T).await, Some(0), "{}", b.stderr_tail());
    }
}
