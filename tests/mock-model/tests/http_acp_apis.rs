//! The wire shapes of the two APIs the ACP agents call, without any agent: OpenAI chat
//! completions (opencode) and Gemini (gemini-cli) — streamed text, tool calls with their
//! arguments, thoughts, follow-ups, failures, title requests and what gets recorded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use mock_model::{Api, MockServer};
use serde_json::{Value, json};
use support::{http, http_raw, sse_events};

fn chat_body(messages: Value) -> String {
    json!({"model": "mock-model", "stream": true, "stream_options": {"include_usage": true},
           "tools": [{"type": "function", "function": {"name": "bash"}}, {"type": "function", "function": {"name": "write"}}],
           "messages": messages})
    .to_string()
}

fn chat_user(text: &str) -> String {
    chat_body(json!([
        {"role": "system", "content": "You are opencode"},
        {"role": "user", "content": [{"type": "text", "text": text}]}
    ]))
}

fn datas(body: &str) -> Vec<Value> {
    sse_events(body).into_iter().map(|(_, d)| d).collect()
}

/// The `choices[0].delta` of each chunk that has one.
fn deltas(chunks: &[Value]) -> Vec<Value> {
    chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta").cloned())
        .collect()
}

#[tokio::test]
async fn chat_text_streams_in_deltas_then_finish_usage_and_done() {
    let mock = MockServer::start().await.unwrap();
    let (status, body) = http(
        mock.port(),
        "POST",
        "/v1/chat/completions",
        &chat_user("hello there"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    let chunks = datas(&body);
    let d = deltas(&chunks);
    assert_eq!(d[0]["role"], "assistant");
    let pieces: Vec<&str> = d
        .iter()
        .filter_map(|d| d["content"].as_str())
        .filter(|s| !s.is_empty())
        .collect();
    assert!(pieces.len() >= 3, "{pieces:?}");
    assert_eq!(pieces.concat(), "mock reply to: hello there");
    let finishes: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/finish_reason"))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, vec![&json!("stop")]);
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 12);
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "mock-model")
    );
    let recorded = mock.requests_to(Api::ChatCompletions);
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].conversation_text(), "hello there");
    assert_eq!(recorded[0].last_user_text(), "hello there");
}

#[tokio::test]
async fn chat_tool_calls_stream_their_arguments() {
    let mock = MockServer::start().await.unwrap();
    for (prompt, name, args) in [
        (
            "WRITE_FILE: notes/a.txt hi there",
            "write",
            json!({"filePath": "notes/a.txt", "content": "hi there"}),
        ),
        (
            "RUN_CMD: touch x",
            "bash",
            json!({"command": "touch x", "description": "run the requested command"}),
        ),
        (
            "PLAN: one; two",
            "todowrite",
            json!({"todos": [
            {"content": "one", "status": "in_progress", "priority": "medium"},
            {"content": "two", "status": "pending", "priority": "medium"}]}),
        ),
    ] {
        let (_, body) = http(
            mock.port(),
            "POST",
            "/v1/chat/completions",
            &chat_user(prompt),
        )
        .await;
        let chunks = datas(&body);
        let calls: Vec<Value> = deltas(&chunks)
            .iter()
            .filter_map(|d| d["tool_calls"][0].as_object().cloned())
            .map(Value::Object)
            .collect();
        assert!(calls.len() >= 3, "{prompt}: {calls:?}");
        assert_eq!(calls[0]["function"]["name"], name);
        assert_eq!(calls[0]["type"], "function");
        assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
        let arguments: String = calls
            .iter()
            .filter_map(|c| c["function"]["arguments"].as_str())
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&arguments).unwrap(),
            args,
            "{prompt}"
        );
        let finish = chunks
            .iter()
            .filter_map(|c| c.pointer("/choices/0/finish_reason"))
            .find(|f| !f.is_null());
        assert_eq!(finish, Some(&json!("tool_calls")));
        assert!(body.trim_end().ends_with("data: [DONE]"));
    }
}

#[tokio::test]
async fn chat_follow_ups_read_the_tool_message() {
    let mock = MockServer::start().await.unwrap();
    let call = json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]});
    for (prompt, result, reply) in [
        ("RUN_CMD: echo hey", "hey\n", "command finished: hey"),
        (
            "RUN_CMD: touch x",
            "The user rejected permission to use this specific tool call.",
            "command rejected: The user rejected permission to use this specific tool call.",
        ),
        (
            "WRITE_FILE: a.txt x",
            "Wrote file successfully.",
            "file written",
        ),
        ("PLAN: a; b", "[]", "plan noted"),
    ] {
        let body = chat_body(json!([
            {"role": "user", "content": prompt},
            call,
            {"role": "tool", "tool_call_id": "call_1", "content": result}
        ]));
        let (_, body) = http(mock.port(), "POST", "/v1/chat/completions", &body).await;
        let text: String = deltas(&datas(&body))
            .iter()
            .filter_map(|d| d["content"].as_str())
            .collect();
        assert_eq!(text, reply);
    }
}

#[tokio::test]
async fn chat_reasoning_title_failure_and_plain_json() {
    let mock = MockServer::start().await.unwrap();
    let (_, body) = http(
        mock.port(),
        "POST",
        "/v1/chat/completions",
        &chat_user("REASON: hmm ok"),
    )
    .await;
    let d = deltas(&datas(&body));
    let thought: String = d
        .iter()
        .filter_map(|d| d["reasoning_content"].as_str())
        .collect();
    assert_eq!(thought, "hmm ok");
    let text: String = d.iter().filter_map(|d| d["content"].as_str()).collect();
    assert_eq!(text, "mock reply to: REASON: hmm ok");

    // opencode's title request: a title, whatever the user asked for.
    let title = json!({"model": "mock-model", "stream": true, "messages": [
        {"role": "system", "content": "You are a title generator. You output ONLY a thread title."},
        {"role": "user", "content": "Generate a title for this conversation:\n"},
        {"role": "user", "content": "RUN_CMD: rm -rf x"}]});
    let (_, body) = http(
        mock.port(),
        "POST",
        "/v1/chat/completions",
        &title.to_string(),
    )
    .await;
    let text: String = deltas(&datas(&body))
        .iter()
        .filter_map(|d| d["content"].as_str())
        .collect();
    assert_eq!(text, "Mock title");
    assert_eq!(
        mock.requests_to(Api::ChatCompletions)[1].conversation_text(),
        "RUN_CMD: rm -rf x"
    );

    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}",
        chat_user("FAIL_529").len(),
        chat_user("FAIL_529")
    );
    let (status, body) = http_raw(mock.port(), request.as_bytes()).await;
    assert_eq!(status, 500);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["type"],
        "server_error"
    );

    // Without `stream`, one chat.completion object.
    let plain = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let (status, body) = http(mock.port(), "POST", "/v1/chat/completions", &plain).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "mock reply to: hi");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
}

const GEMINI_PATH: &str = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";

fn gemini_body(contents: Value) -> String {
    json!({"contents": contents, "systemInstruction": {"parts": [{"text": "You are gemini"}]},
           "tools": [{"functionDeclarations": [{"name": "run_shell_command"}, {"name": "write_file"}]}],
           "generationConfig": {"temperature": 1}})
    .to_string()
}

fn gemini_user(text: &str) -> String {
    gemini_body(json!([{"role": "user", "parts": [
        {"text": "<session_context>\nThis is the Gemini CLI.\n</session_context>"},
        {"text": text}]}]))
}

fn parts(chunks: &[Value]) -> Vec<Value> {
    chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn gemini_text_streams_candidates_with_usage() {
    let mock = MockServer::start().await.unwrap();
    let (status, body) = http(
        mock.port(),
        "POST",
        GEMINI_PATH,
        &gemini_user("hello there"),
    )
    .await;
    assert_eq!(status, 200);
    let chunks = datas(&body);
    assert!(chunks.len() >= 3, "{body}");
    let text: String = parts(&chunks)
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect();
    assert_eq!(text, "mock reply to: hello there");
    for c in &chunks {
        assert_eq!(c["candidates"][0]["content"]["role"], "model");
        assert_eq!(c["modelVersion"], "gemini-2.5-flash");
        assert_eq!(c["usageMetadata"]["candidatesTokenCount"], 12);
    }
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c["candidates"][0].get("finishReason").is_none())
    );
    let recorded = mock.requests_to(Api::Gemini);
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].path, GEMINI_PATH);
    assert_eq!(recorded[0].conversation_text(), "hello there");
    let (_, listed) = http(mock.port(), "GET", "/_mock/requests", "").await;
    assert_eq!(
        serde_json::from_str::<Value>(&listed).unwrap()[0]["api"],
        "Gemini"
    );
}

#[tokio::test]
async fn gemini_function_calls_and_follow_ups() {
    let mock = MockServer::start().await.unwrap();
    for (prompt, name, args) in [
        (
            "RUN_CMD: touch x",
            "run_shell_command",
            json!({"command": "touch x", "description": "run the requested command"}),
        ),
        (
            "WRITE_FILE: a.txt hi",
            "write_file",
            json!({"file_path": "a.txt", "content": "hi"}),
        ),
        (
            "PLAN: one; two",
            "write_todos",
            json!({"todos": [
            {"description": "one", "status": "in_progress"}, {"description": "two", "status": "pending"}]}),
        ),
    ] {
        let (_, body) = http(mock.port(), "POST", GEMINI_PATH, &gemini_user(prompt)).await;
        let chunks = datas(&body);
        assert_eq!(chunks.len(), 1, "{body}");
        let call = &parts(&chunks)[0]["functionCall"];
        assert_eq!(call["name"], name);
        assert_eq!(call["args"], args);
        assert_eq!(chunks[0]["candidates"][0]["finishReason"], "STOP");
    }
    for (prompt, response, reply) in [
        (
            "RUN_CMD: echo hey",
            json!({"output": "<untrusted_context>\nOutput: hey\nProcess Group PGID: 1\n</untrusted_context>"}),
            "command finished: hey",
        ),
        (
            "RUN_CMD: touch x",
            json!({"error": "Tool \"run_shell_command\" was canceled by the user."}),
            "command rejected: ERROR: Tool \"run_shell_command\" was canceled by the user.",
        ),
        (
            "WRITE_FILE: a.txt hi",
            json!({"output": "Successfully created and wrote to new file: /w/a.txt."}),
            "file written",
        ),
    ] {
        let body = gemini_body(json!([
            {"role": "user", "parts": [{"text": prompt}]},
            {"role": "model", "parts": [{"functionCall": {"name": "x", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"id": "x_1", "name": "x", "response": response}}]}
        ]));
        let (_, body) = http(mock.port(), "POST", GEMINI_PATH, &body).await;
        let text: String = parts(&datas(&body))
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect();
        assert_eq!(text, reply);
    }
}

#[tokio::test]
async fn gemini_thoughts_history_failure_and_unstreamed() {
    let mock = MockServer::start().await.unwrap();
    let (_, body) = http(
        mock.port(),
        "POST",
        GEMINI_PATH,
        &gemini_user("REASON: hmm ok"),
    )
    .await;
    let all = parts(&datas(&body));
    assert_eq!(all[0], json!({"text": "hmm ok", "thought": true}));
    let text: String = all[1..].iter().filter_map(|p| p["text"].as_str()).collect();
    assert_eq!(text, "mock reply to: REASON: hmm ok");

    // Earlier turns, model thoughts left out.
    let body = gemini_body(json!([
        {"role": "user", "parts": [{"text": "<session_context>x</session_context>"}, {"text": "first"}]},
        {"role": "model", "parts": [{"text": "thinking", "thought": true}, {"text": "mock reply to: first"}]},
        {"role": "user", "parts": [{"text": "second"}]}
    ]));
    http(mock.port(), "POST", GEMINI_PATH, &body).await;
    assert_eq!(
        mock.requests_to(Api::Gemini)
            .last()
            .unwrap()
            .conversation_text(),
        "first\nmock reply to: first\nsecond"
    );

    let (status, body) = http(mock.port(), "POST", GEMINI_PATH, &gemini_user("FAIL_529")).await;
    assert_eq!(status, 500);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["status"],
        "INTERNAL"
    );

    let path = "/v1beta/models/gemini-2.5-flash:generateContent";
    let (status, body) = http(mock.port(), "POST", path, &gemini_user("hi")).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "mock reply to: hi"
    );
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    let (status, body) = http(
        mock.port(),
        "POST",
        "/v1beta/models/gemini-2.5-flash:countTokens",
        "{}",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, r#"{"totalTokens":10}"#));
}

#[tokio::test]
async fn messages_title_requests_get_json_titles() {
    let mock = MockServer::start().await.unwrap();
    let body = json!({"model": "claude", "stream": false,
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object", "properties": {"title": {"type": "string"}}}}},
        "messages": [{"role": "user", "content": "<session>\nRUN_CMD: touch x\n</session>\n\nWrite the title"}]});
    let (status, body) = http(mock.port(), "POST", "/v1/messages", &body.to_string()).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["content"][0]["text"], r#"{"title":"Mock title"}"#);
}
