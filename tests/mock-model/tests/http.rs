//! The mock's HTTP surface without any CLI: wire shapes of both APIs, the scripted keywords,
//! request recording, the control endpoints of the binary, and that a stream whose client went
//! away stops.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use mock_model::{Api, MockServer};
use serde_json::{Value, json};
use support::{http, http_raw, sse_events};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

fn responses_body(user: &str) -> String {
    json!({"model": "mock-model", "stream": true, "instructions": "be helpful",
           "input": [
               {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev notes"}]},
               {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>cwd</environment_context>"}]},
               {"type": "message", "role": "user", "content": [{"type": "input_text", "text": user}]}]})
    .to_string()
}

fn messages_body(user: &str) -> String {
    json!({"model": "claude-x", "stream": true, "system": [{"type": "text", "text": "system prompt"}],
           "messages": [
               {"role": "user", "content": [{"type": "text", "text": "<system-reminder>noise</system-reminder>"}, {"type": "text", "text": "earlier question"}]},
               {"role": "assistant", "content": [{"type": "text", "text": "earlier answer"}]},
               {"role": "system", "content": "a mid-list system entry"},
               {"role": "user", "content": user}]})
    .to_string()
}

fn deltas(events: &[(String, Value)], name: &str, field: &str) -> Vec<String> {
    events
        .iter()
        .filter(|(n, _)| n == name)
        .filter_map(|(_, d)| d.pointer(field).and_then(Value::as_str).map(str::to_string))
        .collect()
}

#[tokio::test]
async fn responses_default_text_streams_in_pieces_with_usage() {
    let mock = MockServer::start().await.unwrap();
    let (status, body) = http(
        mock.port(),
        "POST",
        "/v1/responses",
        &responses_body("hello there"),
    )
    .await;
    assert_eq!(status, 200);
    let events = sse_events(&body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"response.created"));
    assert_eq!(names.last(), Some(&"response.completed"));
    let pieces = deltas(&events, "response.output_text.delta", "/delta");
    assert!(pieces.len() >= 3, "{pieces:?}");
    assert_eq!(pieces.concat(), "mock reply to: hello there");
    let usage = &events.last().unwrap().1["response"]["usage"];
    for k in ["input_tokens", "output_tokens", "total_tokens"] {
        assert!(usage[k].as_u64().is_some(), "usage lacks {k}: {usage}");
    }

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].api, Api::Responses);
    assert_eq!(reqs[0].path, "/v1/responses");
    assert_eq!(reqs[0].last_user_text(), "hello there");
    // Instructions, developer notes and codex's environment context are not conversation.
    let conv = reqs[0].conversation_text();
    assert_eq!(conv, "hello there");
}

#[tokio::test]
async fn messages_default_text_streams_in_pieces_with_usage_and_tolerates_system_entries() {
    let mock = MockServer::start().await.unwrap();
    let long = "x".repeat(100);
    let (status, body) = http(
        mock.port(),
        "POST",
        "/v1/messages?beta=true",
        &messages_body(&long),
    )
    .await;
    assert_eq!(status, 200);
    let events = sse_events(&body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    let pieces = deltas(&events, "content_block_delta", "/delta/text");
    assert!(pieces.len() >= 3, "{pieces:?}");
    assert_eq!(
        pieces.concat(),
        format!("mock reply to: {}", "x".repeat(60))
    );
    assert!(events[0].1.pointer("/message/usage/input_tokens").is_some());
    let delta = events.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "end_turn");
    assert!(delta.1.pointer("/usage/output_tokens").is_some());

    let req = mock.requests().pop().unwrap();
    assert_eq!(req.api, Api::Messages);
    assert_eq!(req.last_user_text(), long);
    let conv = req.conversation_text();
    assert!(
        conv.contains("earlier question") && conv.contains("earlier answer"),
        "{conv}"
    );
    assert!(
        !conv.contains("system prompt") && !conv.contains("noise"),
        "{conv}"
    );
}

#[tokio::test]
async fn messages_without_stream_get_one_json_message() {
    let mock = MockServer::start().await.unwrap();
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let (status, body) = http(mock.port(), "POST", "/v1/messages", &body).await;
    assert_eq!(status, 200);
    let msg: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(msg["content"][0]["text"], "mock reply to: hi");
    assert!(msg["usage"]["output_tokens"].as_u64().is_some());
}

#[tokio::test]
async fn tool_calls_and_their_follow_ups() {
    let mock = MockServer::start().await.unwrap();
    let port = mock.port();

    // Messages: RUN_CMD is a Bash tool_use, WRITE_FILE a Write tool_use.
    let (_, body) = http(
        port,
        "POST",
        "/v1/messages",
        &messages_body("RUN_CMD: touch x.txt\nthanks"),
    )
    .await;
    let events = sse_events(&body);
    let start = events
        .iter()
        .find(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .unwrap();
    assert_eq!(start.1["content_block"]["name"], "Bash");
    let input: Value = serde_json::from_str(
        &deltas(&events, "content_block_delta", "/delta/partial_json").concat(),
    )
    .unwrap();
    assert_eq!(input["command"], "touch x.txt");
    let stop = events.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(stop.1["delta"]["stop_reason"], "tool_use");

    let (_, body) = http(
        port,
        "POST",
        "/v1/messages",
        &messages_body("WRITE_FILE: /tmp/a b.txt hello world"),
    )
    .await;
    let events = sse_events(&body);
    let input: Value = serde_json::from_str(
        &deltas(&events, "content_block_delta", "/delta/partial_json").concat(),
    )
    .unwrap();
    assert_eq!(
        input,
        json!({"file_path": "/tmp/a", "content": "b.txt hello world"})
    );

    // The follow-ups read the tool result.
    let follow = |user: &str, result: &str, is_error: bool| {
        json!({"model": "m", "messages": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": result, "is_error": is_error}]}]})
        .to_string()
    };
    let text = |body: &str| -> String {
        let v: Value = serde_json::from_str(body).unwrap();
        v["content"][0]["text"].as_str().unwrap().to_string()
    };
    let (_, b) = http(
        port,
        "POST",
        "/v1/messages",
        &follow("RUN_CMD: echo hi", "hi\nmore", false),
    )
    .await;
    assert_eq!(text(&b), "command finished: hi");
    let (_, b) = http(
        port,
        "POST",
        "/v1/messages",
        &follow(
            "RUN_CMD: rm -rf x",
            "The user doesn't want to proceed with this tool use. The tool use was rejected.",
            true,
        ),
    )
    .await;
    assert!(text(&b).starts_with("command rejected:"), "{}", text(&b));
    let (_, b) = http(
        port,
        "POST",
        "/v1/messages",
        &follow(
            "WRITE_FILE: /tmp/x y",
            "File created successfully at: /tmp/x",
            false,
        ),
    )
    .await;
    assert_eq!(text(&b), "file written");
    let (_, b) = http(
        port,
        "POST",
        "/v1/messages",
        &follow(
            "WRITE_FILE: /tmp/x y",
            "The user doesn't want to proceed with this tool use.",
            true,
        ),
    )
    .await;
    assert_eq!(text(&b), "file not written");

    // Responses: the follow-up carries a function_call_output; codex's exec output has a header.
    let body = json!({"model": "m", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "RUN_CMD: echo created"}]},
        {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "Chunk ID: 1a2b3c\nWall time: 0.0010 seconds\nProcess exited with code 0\nOriginal token count: 2\nOutput:\ncreated\n"}]})
    .to_string();
    let (_, b) = http(port, "POST", "/v1/responses", &body).await;
    let events = sse_events(&b);
    assert_eq!(
        deltas(&events, "response.output_text.delta", "/delta").concat(),
        "command finished: created"
    );
}

#[tokio::test]
async fn failures_and_compaction() {
    let mock = MockServer::start().await.unwrap();
    let port = mock.port();
    let (status, body) = http(
        port,
        "POST",
        "/v1/messages",
        &messages_body("please FAIL_529"),
    )
    .await;
    assert_eq!(status, 529);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "overloaded_error");
    let (status, body) = http(
        port,
        "POST",
        "/v1/responses",
        &responses_body("please FAIL_529"),
    )
    .await;
    assert_eq!(status, 500);
    assert!(serde_json::from_str::<Value>(&body).unwrap()["error"]["message"].is_string());

    let body = json!({"model": "m", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "remember ALPHA"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "and BRAVO"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "You are performing a CONTEXT CHECKPOINT COMPACTION. Create a handoff summary."}]}]})
    .to_string();
    let (_, b) = http(port, "POST", "/v1/responses", &body).await;
    let text = deltas(&sse_events(&b), "response.output_text.delta", "/delta").concat();
    assert!(
        text.starts_with("MOCK SUMMARY: 2 earlier user messages; last: and BRAVO;"),
        "{text}"
    );
    assert!(text.contains("remember ALPHA"), "{text}");

    let body = json!({"model": "m", "messages": [
        {"role": "user", "content": "remember CHARLIE"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "Your task is to create a detailed summary of the conversation so far."}]}]})
    .to_string();
    let (_, b) = http(port, "POST", "/v1/messages", &body).await;
    let v: Value = serde_json::from_str(&b).unwrap();
    let text = v["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("MOCK SUMMARY: 1 earlier user messages; last: remember CHARLIE"),
        "{text}"
    );
}

#[tokio::test]
async fn other_requests_are_harmless_and_recorded() {
    let mock = MockServer::start().await.unwrap();
    let port = mock.port();
    let (status, body) = http(
        port,
        "POST",
        "/v1/messages/count_tokens?beta=true",
        &messages_body("hi"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["input_tokens"],
        10
    );
    let (status, body) = http(port, "HEAD", "/", "").await;
    assert_eq!((status, body.as_str()), (200, ""));
    let (status, _) = http(port, "GET", "/v1/models", "").await;
    assert_eq!(status, 404);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs.iter().all(|r| r.api == Api::Other));
    assert_eq!(reqs[0].path, "/v1/messages/count_tokens?beta=true");
    mock.clear_requests();
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn chunked_request_bodies_are_read() {
    let mock = MockServer::start().await.unwrap();
    let body = responses_body("chunky");
    let (a, b) = body.split_at(10);
    let request = format!(
        "POST /v1/responses HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let (status, body) = http_raw(mock.port(), request.as_bytes()).await;
    assert_eq!(status, 200);
    assert_eq!(
        deltas(&sse_events(&body), "response.output_text.delta", "/delta").concat(),
        "mock reply to: chunky"
    );
}

/// Waits (bounded) until the mock has no response in progress.
async fn until_idle(mock: &MockServer, within: Duration) {
    let deadline = Instant::now() + within;
    while mock.active_responses() > 0 {
        assert!(
            Instant::now() < deadline,
            "the mock kept writing a response for {within:?} after its client disconnected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn slow_and_hang_stop_when_the_client_disconnects() {
    let mock = MockServer::start().await.unwrap();
    for (path, body) in [
        ("/v1/responses", responses_body("SLOW")),
        ("/v1/messages", messages_body("SLOW")),
        ("/v1/messages", messages_body("HANG")),
    ] {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", mock.port()))
            .await
            .unwrap();
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let started = Instant::now();
        if body.contains("SLOW") {
            // Read a few events: they arrive ~100 ms apart, so the stream is far from done.
            let mut buf = vec![0u8; 4096];
            let mut got = String::new();
            while got.matches("delta\ndata:").count() < 5 {
                let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
                    .await
                    .unwrap()
                    .unwrap();
                assert!(n > 0, "the stream ended early: {got}");
                got.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            assert!(
                started.elapsed() >= Duration::from_millis(300),
                "deltas are not paced"
            );
        } else {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        assert_eq!(mock.active_responses(), 1);
        drop(s);
        until_idle(&mock, Duration::from_secs(2)).await;
    }
}

#[tokio::test]
async fn the_binary_prints_its_port_and_serves_the_control_endpoints() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mock-model"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("mock-model did not print its port in time")
        .unwrap()
        .unwrap();
    let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
        .as_u64()
        .unwrap() as u16;

    http(port, "POST", "/v1/responses", &responses_body("one")).await;
    http(port, "POST", "/v1/messages", &messages_body("two")).await;
    let (status, body) = http(port, "GET", "/_mock/requests", "").await;
    assert_eq!(status, 200);
    let all: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["api"], "Responses");
    assert_eq!(all[1]["api"], "Messages");
    assert_eq!(all[1]["path"], "/v1/messages");
    assert_eq!(all[1]["body"]["messages"][3]["content"], "two");
    let (status, _) = http(port, "POST", "/_mock/reset", "").await;
    assert_eq!(status, 200);
    let (_, body) = http(port, "GET", "/_mock/requests", "").await;
    assert_eq!(body, "[]");

    // Closing stdin stops it.
    drop(child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("mock-model did not exit after stdin closed")
        .unwrap();
    assert!(status.success());
}

/// The response head (status line and headers, lower-cased) of one exchange.
async fn response_head(port: u16, path: &str, body: &str) -> String {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tokio::time::timeout(Duration::from_secs(30), async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        text.split_once("\r\n\r\n")
            .map(|(h, _)| h.to_ascii_lowercase())
            .unwrap_or_default()
    })
    .await
    .expect("the mock did not answer in time")
}

#[tokio::test]
async fn rate_limit_adds_headers_to_both_apis() {
    let mock = MockServer::start().await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let head = response_head(
        mock.port(),
        "/v1/responses",
        &responses_body("RATE_LIMIT hi"),
    )
    .await;
    assert!(
        head.contains("x-codex-primary-used-percent: 42\r\n"),
        "{head}"
    );
    assert!(
        head.contains("x-codex-primary-window-minutes: 300\r\n"),
        "{head}"
    );
    let reset: u64 = head
        .split("x-codex-primary-reset-at: ")
        .nth(1)
        .and_then(|r| r.lines().next())
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or_else(|| panic!("{head}"));
    assert!(reset >= now + 3600 && reset < now + 3700, "{head}");
    let head = response_head(mock.port(), "/v1/messages", &messages_body("RATE_LIMIT hi")).await;
    assert!(
        head.contains("anthropic-ratelimit-unified-status: allowed_warning\r\n"),
        "{head}"
    );
    assert!(
        head.contains("anthropic-ratelimit-unified-5h-utilization: 0.9\r\n"),
        "{head}"
    );
    assert!(
        head.contains("anthropic-ratelimit-unified-reset: "),
        "{head}"
    );
    // Without the keyword there are none.
    let head = response_head(mock.port(), "/v1/responses", &responses_body("hi")).await;
    assert!(!head.contains("x-codex-"), "{head}");
    let head = response_head(mock.port(), "/v1/messages", &messages_body("hi")).await;
    assert!(!head.contains("anthropic-ratelimit"), "{head}");
}

#[tokio::test]
async fn reason_streams_reasoning_then_text_on_both_apis() {
    let mock = MockServer::start().await.unwrap();
    let (_, body) = http(
        mock.port(),
        "POST",
        "/v1/responses",
        &responses_body("REASON: deep thought"),
    )
    .await;
    let events = sse_events(&body);
    let summary = deltas(&events, "response.reasoning_summary_text.delta", "/delta");
    assert_eq!(summary.concat(), "deep thought");
    let done: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "response.output_item.done")
        .map(|(_, d)| &d["item"])
        .collect();
    assert_eq!(done[0]["type"], "reasoning");
    assert_eq!(done[0]["summary"][0]["text"], "deep thought");
    assert_eq!(done[1]["type"], "message");

    let (_, body) = http(
        mock.port(),
        "POST",
        "/v1/messages",
        &messages_body("REASON: deep thought"),
    )
    .await;
    let events = sse_events(&body);
    let thinking = deltas(&events, "content_block_delta", "/delta/thinking");
    assert_eq!(thinking.concat(), "deep thought");
    let starts: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| &d["content_block"]["type"])
        .collect();
    assert_eq!(starts, [&json!("thinking"), &json!("text")]);
    assert_eq!(
        deltas(&events, "content_block_delta", "/delta/signature").len(),
        1
    );
}
