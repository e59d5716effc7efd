//! Bad input against the real `baton` binary: a bounded fuzz run (proptest strategies, fixed
//! seed per run from proptest's runner) of garbage, truncated, non-UTF-8, batch, wrong-typed,
//! unknown-id and invalid-id messages in both framings, each followed by a valid request that
//! must be answered; oversized messages under a small `--max-message-bytes`; broken LSP headers;
//! duplicate request ids. Every test prints what it tried (the figures in TESTING.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::time::Duration;

use common::{Baton, Framing, TestEnv};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(30);

/// Fuzz cases per framing: a few seconds against a debug build.
const CASES: usize = 300;

/// One bad message and what baton must do with it.
#[derive(Debug, Clone)]
enum Bad {
    /// Bytes that are not a JSON-RPC message (garbage, non-UTF-8, truncated JSON, batches,
    /// non-objects, bad ids, unknown response ids). At most one id-less error comes back.
    Bytes(&'static str, Vec<u8>),
    /// A well-formed request (fresh id) with params of any shape: exactly one answer.
    Request(String, Value),
}

fn methods() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "thread/start",
        "thread/list",
        "thread/read",
        "thread/stop",
        "thread/delete",
        "thread/compact/start",
        "thread/switch",
        "turn/start",
        "turn/interrupt",
        "provider/list",
        "no/such/method",
        "initialize",
    ])
    .prop_map(str::to_string)
}

/// Any JSON value, small.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "threadId",
                    "cwd",
                    "provider",
                    "input",
                    "limit",
                    "cursor",
                    "sinceSeq",
                    "model",
                    "detach",
                    "handoff",
                    "approvalPolicy",
                    "x",
                ])
                .prop_map(str::to_string),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn bad() -> impl Strategy<Value = Bad> {
    let request = r#"{"jsonrpc":"2.0","id":1,"method":"thread/list","params":{"limit":5}}"#;
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..300).prop_map(|b| Bad::Bytes("random bytes", b)),
        (0..request.len())
            .prop_map(move |n| Bad::Bytes("truncated JSON", request.as_bytes()[..n].to_vec())),
        (prop::collection::vec(any::<u8>(), 1..40), 0..40usize).prop_map(|(junk, at)| {
            // Invalid UTF-8 inside a string of an otherwise valid request.
            let mut b =
                br#"{"jsonrpc":"2.0","id":"u","method":"thread/read","params":{"threadId":""#
                    .to_vec();
            let at = at.min(junk.len());
            b.extend(&junk[..at]);
            b.push(0xff);
            b.extend(&junk[at..]);
            b.extend(br#""}}"#);
            Bad::Bytes("non-UTF-8", b)
        }),
        prop::collection::vec(json_value(), 0..4)
            .prop_map(|v| Bad::Bytes("batch", serde_json::to_vec(&Value::Array(v)).unwrap())),
        json_value()
            .prop_filter("not an object", |v| !v.is_object())
            .prop_map(|v| Bad::Bytes("not an object", serde_json::to_vec(&v).unwrap())),
        json_value()
            .prop_filter("not a valid id", |v| !(v.is_i64()
                || v.is_string()
                || v.is_null()))
            .prop_map(|id| Bad::Bytes(
                "invalid id",
                serde_json::to_vec(&json!({"jsonrpc":"2.0","id":id,"method":"thread/list"}))
                    .unwrap()
            )),
        (any::<i64>(), json_value()).prop_map(|(id, r)| Bad::Bytes(
            "response to an unknown id",
            serde_json::to_vec(&json!({"jsonrpc":"2.0","id":id,"result":r})).unwrap()
        )),
        json_value().prop_map(|id| Bad::Bytes(
            "cancel of an unknown id",
            serde_json::to_vec(
                &json!({"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":id}})
            )
            .unwrap()
        )),
        (methods(), json_value()).prop_map(|(m, p)| Bad::Request(m, p)),
    ]
}

/// Frames a body; NDJSON bodies have their newlines blanked (a newline would end the line).
fn frame(framing: Framing, body: &[u8]) -> Vec<u8> {
    match framing {
        Framing::Lsp => {
            let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
            out.extend(body);
            out
        }
        Framing::Ndjson => {
            let mut out: Vec<u8> = body
                .iter()
                .map(|b| if *b == b'\n' { b' ' } else { *b })
                .collect();
            out.push(b'\n');
            out
        }
    }
}

/// Reads until the response with this id; every other message is returned too.
async fn response_to(b: &mut Baton, id: &Value) -> (Value, Vec<Value>) {
    let mut others = Vec::new();
    loop {
        let msg = b.read_message(T).await.unwrap_or_else(|| {
            panic!("no response to {id}; after {others:?}\n{}", b.stderr_tail())
        });
        if &msg["id"] == id && msg.get("method").is_none() {
            return (msg, others);
        }
        // A fresh database has no provider probes cached: the background probe after
        // `initialize` reports its result whenever it finishes. It answers nothing sent here.
        if msg["method"] == "provider/changed" {
            continue;
        }
        others.push(msg);
    }
}

/// baton's peak resident set, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// `CASES` bad messages, each followed by a valid `thread/list` that must be answered.
async fn fuzz(framing: Framing) {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &["--max-message-bytes", "4096"], framing).await;
    b.initialize().await;
    let mut runner = TestRunner::new(Config::default());
    let strategy = bad();
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut errors_back = 0;
    for i in 0..CASES {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        match &case {
            Bad::Bytes(kind, bytes) => {
                *kinds.entry(kind).or_default() += 1;
                b.send_raw(&frame(framing, bytes)).await;
            }
            Bad::Request(method, params) => {
                *kinds.entry("well-formed request, any params").or_default() += 1;
                let id = json!(format!("fuzz-{i}"));
                let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
                b.send_raw(&frame(framing, &serde_json::to_vec(&msg).unwrap()))
                    .await;
                let (reply, _) = response_to(&mut b, &id).await;
                // thread/start may succeed only with a real provider and directory, which random
                // params never name.
                if let Some(e) = reply.get("error") {
                    let code = e["code"].as_i64().unwrap();
                    assert!(
                        [-32600, -32601, -32602, -32010].contains(&code),
                        "case {i} {case:?}: {reply}"
                    );
                } else {
                    assert!(
                        ["thread/list", "provider/list"].contains(&method.as_str()),
                        "case {i} {case:?} succeeded: {reply}"
                    );
                }
            }
        }
        let id = json!(i as i64);
        let check = json!({"jsonrpc": "2.0", "id": id, "method": "thread/list", "params": {}});
        b.send_raw(&frame(framing, &serde_json::to_vec(&check).unwrap()))
            .await;
        let (reply, others) = response_to(&mut b, &id).await;
        assert!(
            reply["result"]["threads"].is_array(),
            "case {i} {case:?}: {reply}"
        );
        for o in &others {
            // Whatever came back for the bad message is an error answer, never a result.
            assert!(o.get("error").is_some(), "case {i} {case:?}: {o}");
            errors_back += 1;
        }
        assert!(others.len() <= 1, "case {i} {case:?}: {others:?}");
    }
    let stderr = b.stderr_tail();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let rss = peak_rss_kib(b.pid());
    b.close_stdin().await;
    assert_eq!(b.wait_exit(Duration::from_secs(10)).await, Some(0));
    println!(
        "bad input {framing:?}: {CASES} cases {kinds:?}; {errors_back} error answers; {CASES} of {CASES} follow-up requests answered; peak RSS {rss} KiB; exit 0"
    );
}

#[tokio::test]
async fn fuzzed_bad_ndjson_lines_never_break_the_connection() {
    fuzz(Framing::Ndjson).await;
}

#[tokio::test]
async fn fuzzed_bad_lsp_bodies_never_break_the_connection() {
    fuzz(Framing::Lsp).await;
}

/// Messages over `--max-message-bytes`: a request is answered -32600 with its own id, a
/// notification with an id-less error, memory stays bounded, and the next request works.
#[tokio::test]
async fn oversized_messages_are_refused_with_bounded_memory() {
    const LIMIT: usize = 1024 * 1024;
    const BIG: usize = 64 * 1024 * 1024;
    let env = TestEnv::new().await;
    for framing in [Framing::Ndjson, Framing::Lsp] {
        let mut b = Baton::spawn(&env, &["--max-message-bytes", &LIMIT.to_string()], framing).await;
        b.initialize().await;
        let before = peak_rss_kib(b.pid());
        let mut sent = 0;
        for (n, size) in [LIMIT + 1, 8 * LIMIT, BIG].into_iter().enumerate() {
            let id = json!(format!("big-{n}"));
            let msg = json!({"jsonrpc": "2.0", "id": id, "method": "turn/start",
                "params": {"threadId": "t", "input": [{"type": "text", "text": "x".repeat(size)}]}});
            b.send_raw(&frame(framing, &serde_json::to_vec(&msg).unwrap()))
                .await;
            sent += size;
            let (reply, others) = response_to(&mut b, &id).await;
            assert!(others.is_empty(), "{others:?}");
            assert_eq!(reply["error"]["code"], -32600, "{reply}");
            let text = reply["error"]["message"].as_str().unwrap();
            assert!(text.contains(&format!("limit is {LIMIT} bytes")), "{text}");
            assert_eq!(reply["error"]["data"]["limit"], LIMIT);
        }
        // A big notification: nothing to answer it with but an id-less error.
        let note = json!({"jsonrpc": "2.0", "method": "note", "params": "x".repeat(2 * LIMIT)});
        b.send_raw(&frame(framing, &serde_json::to_vec(&note).unwrap()))
            .await;
        let reply = b.read_message(T).await.unwrap();
        assert_eq!(
            (&reply["id"], &reply["error"]["code"]),
            (&json!(null), &json!(-32600))
        );
        // The connection carries on.
        assert!(b.request("thread/list", json!({})).await.is_ok());
        let peak = peak_rss_kib(b.pid());
        // The biggest message is 64 MiB; baton never holds more than the 1 MiB limit of it.
        assert!(
            peak < before + 32 * 1024,
            "peak RSS {peak} KiB, before {before} KiB"
        );
        let log = b.stderr_tail();
        assert!(
            log.contains("--max-message-bytes"),
            "the log names the limit"
        );
        b.close_stdin().await;
        assert_eq!(b.wait_exit(Duration::from_secs(10)).await, Some(0));
        println!(
            "oversized {framing:?}: 4 messages ({} MiB in all) over a {LIMIT}-byte limit refused; peak RSS {peak} KiB (at start {before} KiB); connection kept",
            (sent + 2 * LIMIT) / (1024 * 1024)
        );
    }
}

/// Broken LSP headers cannot be resynchronised: baton says why (-32700, id null) and ends the
/// connection cleanly. A huge declared length is refused as soon as its head arrived.
#[tokio::test]
async fn broken_lsp_headers_are_reported_then_the_connection_ends() {
    let env = TestEnv::new().await;
    let cases: [(&str, Vec<u8>); 6] = [
        ("negative", b"Content-Length: -5\r\n\r\n{}".to_vec()),
        ("not a number", b"Content-Length: five\r\n\r\n{}".to_vec()),
        (
            "overflowing",
            b"Content-Length: 999999999999999999999999\r\n\r\n{}".to_vec(),
        ),
        ("missing", b"Content-Type: x\r\n\r\n{}".to_vec()),
        ("not a header", b"hello\r\n\r\n".to_vec()),
        ("header line of 100 KiB", {
            let mut v = b"X-Junk: ".to_vec();
            v.extend(vec![b'a'; 100 * 1024]);
            v.extend(b"\r\n\r\n{}");
            v
        }),
    ];
    let n = cases.len();
    for (what, bytes) in cases {
        let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
        b.initialize().await;
        b.send_raw(&bytes).await;
        let reply = b
            .read_message(T)
            .await
            .unwrap_or_else(|| panic!("{what}: no answer"));
        assert_eq!(reply["error"]["code"], -32700, "{what}: {reply}");
        assert_eq!(reply["id"], Value::Null, "{what}");
        assert_eq!(
            b.wait_exit(Duration::from_secs(10)).await,
            Some(0),
            "{what}"
        );
        let log = b.stderr_tail();
        assert!(!log.contains("panicked"), "{what}: {log}");
    }
    // A length of a petabyte: the editor hears at once, not after a petabyte.
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let mut bytes = b"Content-Length: 1000000000000000\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"thread/list\",\"params\":\"".to_vec();
    bytes.extend(vec![b'x'; 8192]);
    b.send_raw(&bytes).await;
    let (reply, _) = response_to(&mut b, &json!(9)).await;
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
    b.close_stdin().await;
    assert!(b.wait_exit(Duration::from_secs(10)).await.is_some());
    println!(
        "broken LSP headers: {n} kinds, each answered -32700 then a clean exit; a 1 PB Content-Length refused at once"
    );
}

/// Truncated LSP bodies: EOF inside a body ends the connection without a panic; a body shorter
/// than its Content-Length swallows the next message's bytes, which then fail to parse.
#[tokio::test]
async fn truncated_lsp_bodies_end_cleanly() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    b.send_raw(b"Content-Length: 100\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,")
        .await;
    b.close_stdin().await;
    assert_eq!(b.wait_exit(Duration::from_secs(10)).await, Some(0));
    let log = b.stderr_tail();
    assert!(log.contains("EOF inside an LSP body"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// A second request under the id of one still in progress is refused; the first is answered.
#[tokio::test]
async fn duplicate_in_flight_request_ids_are_refused() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize().await;
    let cwd = env.work.to_str().unwrap();
    // thread/start spawns codex (hundreds of milliseconds): the duplicate lands while it runs.
    let start = json!({"jsonrpc": "2.0", "id": 42, "method": "thread/start", "params": {"provider": "codex", "cwd": cwd}});
    let dup = json!({"jsonrpc": "2.0", "id": 42, "method": "thread/list", "params": {}});
    let mut bytes = frame(Framing::Ndjson, &serde_json::to_vec(&start).unwrap());
    bytes.extend(frame(Framing::Ndjson, &serde_json::to_vec(&dup).unwrap()));
    b.send_raw(&bytes).await;
    let (first, _) = response_to(&mut b, &json!(42)).await;
    let (second, _) = response_to(&mut b, &json!(42)).await;
    assert_eq!(first["error"]["code"], -32600, "{first}");
    assert!(
        first["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{first}"
    );
    assert!(second["result"]["thread"]["id"].is_string(), "{second}");
    // The id is free again once answered.
    let again = json!({"jsonrpc": "2.0", "id": 42, "method": "thread/list", "params": {}});
    b.send_raw(&frame(
        Framing::Ndjson,
        &serde_json::to_vec(&again).unwrap(),
    ))
    .await;
    let (third, _) = response_to(&mut b, &json!(42)).await;
    assert_eq!(
        third["result"]["threads"].as_array().unwrap().len(),
        1,
        "{third}"
    );
    println!(
        "duplicate ids: 1 duplicate refused while the first ran; the first answered; the id reusable after"
    );
}

/// A `thread/start` cancelled with `$/cancelRequest` answers -32800 and leaves nothing behind:
/// no thread in `thread/list`, no live session (codex, whose process lives while any session
/// uses it, exits on its own once idle). Sessions are never reaped here (idleTimeoutSecs 0), so a
/// leaked session would keep codex running.
#[tokio::test]
async fn cancelled_thread_starts_leave_no_thread_and_no_session() {
    const ROUNDS: i64 = 5;
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &["--idle-timeout", "2"], Framing::Lsp).await;
    b.initialize_with(json!({"idleTimeoutSecs": 0})).await;
    let cwd = env.work.to_str().unwrap();
    let mut saw_codex = false;
    let mut cancelled = 0;
    for round in 0..ROUNDS {
        let id = 700 + round;
        let start = json!({"jsonrpc": "2.0", "id": id, "method": "thread/start", "params": {"provider": "codex", "cwd": cwd}});
        let cancel = json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": id}});
        b.send_raw(&frame(Framing::Lsp, &serde_json::to_vec(&start).unwrap()))
            .await;
        // The cancel lands at a different point of the start each round (before it began, while
        // codex spawns, while the native thread starts); under load, timing shifts, so every
        // round is checked for whichever outcome it got.
        tokio::time::sleep(Duration::from_millis([0, 30, 80, 150, 250][round as usize])).await;
        saw_codex |= !common::native_pids(b.pid(), "app-server").is_empty();
        b.send_raw(&frame(Framing::Lsp, &serde_json::to_vec(&cancel).unwrap()))
            .await;
        let (reply, _) = response_to(&mut b, &json!(id)).await;
        let list = b.request("thread/list", json!({})).await.unwrap();
        let threads = list["threads"].as_array().unwrap();
        if reply["error"]["code"] == -32800 {
            cancelled += 1;
            assert_eq!(
                threads.len(),
                0,
                "round {round}: a cancelled start left a thread: {list}"
            );
        } else {
            // The start finished before the cancel arrived: answered, so it stands.
            let thread = &reply["result"]["thread"]["id"];
            assert!(thread.is_string(), "round {round}: {reply}");
            assert_eq!(threads.len(), 1, "round {round}: {list}");
            b.request("thread/delete", json!({"threadId": thread}))
                .await
                .unwrap();
        }
    }
    println!(
        "cancelled thread/start: {cancelled} of {ROUNDS} rounds cancelled, codex reached: {saw_codex}"
    );
    assert!(
        cancelled > 0,
        "no round was cancelled, so nothing was tested"
    );
    assert!(
        saw_codex,
        "the starts never reached codex, so nothing was tested"
    );
    // Nothing uses codex any more: it exits after its 2 s idle timeout.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !common::native_pids(b.pid(), "app-server").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "codex still running 20 s after the cancelled starts: a session was left behind\n{}",
            b.stderr_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The next start works.
    let thread = common::start_thread(&mut b, &env, "codex", json!({})).await;
    assert_eq!(thread["status"], "idle");
    println!(
        "cancelled thread/start: {cancelled} of {ROUNDS} answered -32800 (the others finished first and were deleted); threads left 0; codex exited once idle; the next start worked"
    );
}
