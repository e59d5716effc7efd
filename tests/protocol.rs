//! The JSON-RPC surface of the real `baton` binary: framing, lifecycle and every error code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Baton, Framing, TestEnv};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(30);

fn code(err: &Value) -> i64 {
    err["code"].as_i64().unwrap_or_default()
}

#[tokio::test]
async fn handshake_over_lsp_framing() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    let init = b.initialize().await;
    assert_eq!(init["serverInfo"]["name"], "baton");
    assert_eq!(init["protocolVersion"], 1);
    assert!(init["capabilities"].is_object());
    let providers = init["providers"].as_array().unwrap();
    let codex = providers.iter().find(|p| p["id"] == "codex").unwrap();
    assert_eq!(codex["available"], true, "{codex}");
    // A new database has no probe cached: initialize runs no binary and reports no version,
    // then the background probe tells the editor.
    assert!(codex.get("version").is_none(), "{codex}");
    let changed = provider_changed(&mut b)
        .await
        .expect("provider/changed after the probe");
    let codex = changed["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "codex")
        .unwrap();
    assert_eq!(codex["version"], "0.169.0");
    assert_eq!(codex["available"], true);
    assert_eq!(
        b.request("shutdown", Value::Null).await.unwrap(),
        Value::Null
    );
    b.notify("exit", Value::Null).await;
    assert_eq!(b.wait_exit(Duration::from_secs(5)).await, Some(0));
}

/// The next `provider/changed` notification, if one comes within 30 s.
async fn provider_changed(b: &mut Baton) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let msg = b.read_message(left).await?;
        if msg["method"] == "provider/changed" {
            return Some(msg["params"].clone());
        }
    }
}

#[tokio::test]
async fn initialize_answers_from_the_probe_cache() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize().await;
    provider_changed(&mut b)
        .await
        .expect("the first start probes");
    b.close_stdin().await;
    assert_eq!(b.wait_exit(Duration::from_secs(5)).await, Some(0));
    // Same database, same binaries: the versions come from the cache and nothing changes.
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    let init = b.initialize().await;
    for p in init["providers"].as_array().unwrap() {
        assert!(p["version"].is_string(), "cached version expected: {p}");
    }
    let later = b.read_message(Duration::from_secs(2)).await;
    assert!(later.is_none(), "nothing to report: {later:?}");
}

#[tokio::test]
async fn handshake_over_ndjson_and_lsp_initialize_params() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    // A full LSP InitializeParams with fields baton does not know must be accepted.
    let init = b
        .request(
            "initialize",
            json!({"processId": 1, "clientInfo": {"name": "test", "version": "1"}, "rootUri": "file:///tmp",
                   "capabilities": {"textDocument": {}}, "trace": "off", "workspaceFolders": null,
                   "initializationOptions": {"includeRaw": false}}),
        )
        .await
        .unwrap();
    assert_eq!(init["serverInfo"]["name"], "baton");
    b.notify("initialized", json!({})).await;
    let list = b.request("provider/list", json!({})).await.unwrap();
    assert_eq!(list["providers"].as_array().unwrap().len(), 2);
    // exit without shutdown is exit code 1.
    b.notify("exit", Value::Null).await;
    assert_eq!(b.wait_exit(Duration::from_secs(5)).await, Some(1));
}

#[tokio::test]
async fn requests_before_initialize_are_refused() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    let err = b.request("thread/list", json!({})).await.unwrap_err();
    assert_eq!(code(&err), -32002);
    b.initialize().await;
    let err = b.request("initialize", json!({})).await.unwrap_err();
    assert_eq!(code(&err), -32600, "initialize twice");
    assert!(b.request("thread/list", json!({})).await.is_ok());
}

#[tokio::test]
async fn every_error_code() {
    let env = TestEnv::new().await;
    for framing in [Framing::Lsp, Framing::Ndjson] {
        let is_lsp = matches!(framing, Framing::Lsp);
        let mut b = Baton::spawn(&env, &[], framing).await;
        b.initialize().await;
        // -32700: invalid JSON, with intact framing; the connection survives.
        let body = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":";
        if is_lsp {
            let mut msg = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
            msg.extend_from_slice(body);
            b.send_raw(&msg).await;
        } else {
            let mut msg = body.to_vec();
            msg.push(b'\n');
            b.send_raw(&msg).await;
        }
        let reply = b.read_message(T).await.expect("parse error reply");
        assert_eq!(reply["error"]["code"], -32700, "{reply}");
        assert_eq!(reply["id"], Value::Null);
        assert_eq!(reply["jsonrpc"], "2.0");
        // -32600: a batch.
        let batch = br#"[{"jsonrpc":"2.0","id":2,"method":"thread/list"}]"#;
        send_body(&mut b, is_lsp, batch).await;
        let reply = b.read_message(T).await.expect("batch reply");
        assert_eq!(reply["error"]["code"], -32600, "{reply}");
        // -32600: an object that is not a request.
        send_body(&mut b, is_lsp, br#"{"jsonrpc":"2.0","id":3}"#).await;
        let reply = b.read_message(T).await.expect("invalid request reply");
        assert_eq!(reply["error"]["code"], -32600, "{reply}");
        // -32601.
        let err = b.request("no/such/method", json!({})).await.unwrap_err();
        assert_eq!(code(&err), -32601);
        // -32602, naming the field.
        let err = b
            .request("turn/start", json!({"threadId": "x"}))
            .await
            .unwrap_err();
        assert_eq!(code(&err), -32602);
        assert!(err["message"].as_str().unwrap().contains("input"), "{err}");
        assert_eq!(err["data"]["field"], "input");
        let err = b
            .request(
                "thread/start",
                json!({"provider": "codex", "cwd": "relative/dir"}),
            )
            .await
            .unwrap_err();
        assert_eq!(code(&err), -32602);
        assert_eq!(err["data"]["field"], "cwd");
        let err = b
            .request("thread/start", json!({"provider": "nope", "cwd": "/"}))
            .await
            .unwrap_err();
        assert_eq!(code(&err), -32602, "{err}");
        // -32010: unknown thread.
        let err = b
            .request(
                "turn/start",
                json!({"threadId": "missing", "input": [{"type": "text", "text": "hi"}]}),
            )
            .await
            .unwrap_err();
        assert_eq!(code(&err), -32010);
        // After all that, the connection still works.
        assert!(b.request("thread/list", json!({})).await.is_ok());
        b.close_stdin().await;
        assert_eq!(b.wait_exit(Duration::from_secs(5)).await, Some(0));
    }
}

async fn send_body(b: &mut Baton, lsp: bool, body: &[u8]) {
    let mut msg = if lsp {
        format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes()
    } else {
        Vec::new()
    };
    msg.extend_from_slice(body);
    if !lsp {
        msg.push(b'\n');
    }
    b.send_raw(&msg).await;
}

/// `$/cancelRequest` cancels an in-flight request: `thread/start` has to spawn and initialise
/// codex (hundreds of milliseconds), so a cancel sent right behind it lands while it runs.
#[tokio::test]
async fn cancel_request_answers_request_cancelled() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let cwd = env.work.to_str().unwrap();
    let start = json!({"jsonrpc": "2.0", "id": 777, "method": "thread/start", "params": {"provider": "codex", "cwd": cwd}});
    let cancel = json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 777}});
    let mut bytes = Vec::new();
    for m in [start, cancel] {
        let body = serde_json::to_vec(&m).unwrap();
        bytes.extend(format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes());
        bytes.extend(body);
    }
    b.send_raw(&bytes).await;
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let msg = b
            .read_message(deadline - tokio::time::Instant::now())
            .await
            .expect("reply to 777");
        if msg["id"] == 777 {
            assert_eq!(msg["error"]["code"], -32800, "{msg}");
            break;
        }
    }
}
