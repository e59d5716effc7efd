//! The whole server (editor protocol, session actors, store) driving the in-process fake ACP
//! agent: lifecycle, approvals, stop and resume, handoffs between ACP providers, idle reaping.
//! Each test runs in milliseconds; the real agents are exercised by `tests/acp.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::AcpProvider;
use super::fake::{Fake, FakeCaps};
use super::tests::{entry, settings};
use crate::config::FsCapabilities;
use crate::provider::Providers;
use crate::rpc::{self, Incoming, Peer, PeerOptions};

const T: Duration = Duration::from_secs(5);

struct Editor {
    peer: Peer,
    events: mpsc::Receiver<Value>,
    _dir: tempfile::TempDir,
    cwd: String,
}

/// A server with the given fake ACP providers, and an editor that answers approvals with
/// `decision` and collects `thread/event` notifications.
async fn server(fakes: &[(&str, &Fake)], decision: &'static str, init: Value) -> Editor {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::store::Store::open(&dir.path().join("baton.db")).unwrap();
    let s = settings();
    let include_raw = s.include_raw.clone();
    let providers = Providers::new((*s).clone());
    for (id, fake) in fakes {
        providers.insert_acp(AcpProvider::with_launcher(
            entry(id, FsCapabilities::default()),
            s.clone(),
            fake.launcher(),
        ));
    }
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let (sr, sw) = tokio::io::split(theirs);
    let config = crate::server::ServerConfig {
        store,
        providers,
        include_raw,
        idle_timeout: Duration::from_secs(0),
        max_live_sessions: 0,
        turn_inactivity_timeout: Duration::from_secs(0),
    };
    tokio::spawn(crate::server::run(config, sr, sw));
    let (r, w) = tokio::io::split(ours);
    let (peer, mut incoming) = rpc::spawn(r, w, PeerOptions::provider("test-editor"));
    let (tx, events) = mpsc::channel(1024);
    let answer = peer.clone();
    tokio::spawn(async move {
        while let Some(msg) = incoming.recv().await {
            match msg {
                Incoming::Notification { method, params } if method == "thread/event" => {
                    let _ = tx.send(params.into_value()).await;
                }
                Incoming::Request { id, method, .. } if method == "approval/request" => {
                    let _ = answer.respond(id, Ok(json!({"decision": decision}))).await;
                }
                Incoming::Request { id, method, .. } => {
                    let _ = answer
                        .respond(id, Err(rpc::RpcError::method_not_found(&method)))
                        .await;
                }
                _ => {}
            }
        }
    });
    let cwd = dir.path().canonicalize().unwrap().display().to_string();
    let mut params = json!({"processId": null});
    if !init.is_null() {
        params["initializationOptions"] = init;
    }
    peer.request("initialize", params).await.unwrap();
    Editor {
        peer,
        events,
        _dir: dir,
        cwd,
    }
}

impl Editor {
    async fn call(&self, method: &str, params: Value) -> Value {
        tokio::time::timeout(T, self.peer.request(method, params))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{method}: {}", e.message))
    }

    /// Event types up to and including the first of type `until`.
    async fn until(&mut self, until: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let ev = tokio::time::timeout(T, self.events.recv())
                .await
                .unwrap()
                .unwrap();
            let done = ev["type"] == until;
            out.push(ev);
            if done {
                return out;
            }
        }
    }

    async fn start(&mut self, provider: &str) -> String {
        let r = self
            .call(
                "thread/start",
                json!({"provider": provider, "cwd": self.cwd}),
            )
            .await;
        self.until("session.started").await;
        r["thread"]["id"].as_str().unwrap().to_string()
    }

    async fn turn(&mut self, thread: &str, text: &str) -> Vec<Value> {
        self.call(
            "turn/start",
            json!({"threadId": thread, "input": [{"type": "text", "text": text}]}),
        )
        .await;
        self.until("turn.completed").await
    }
}

fn types(evs: &[Value]) -> Vec<&str> {
    evs.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn answer(evs: &[Value]) -> String {
    evs.iter()
        .filter(|e| e["type"] == "item.completed" && e["data"]["itemType"] == "assistant_message")
        .map(|e| e["data"]["text"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("|")
}

#[tokio::test]
async fn a_thread_on_an_acp_agent_lives_stops_and_resumes() {
    let fake = Fake::new(FakeCaps::default());
    let mut ed = server(&[("fake", &fake)], "accept", Value::Null).await;
    let list = ed.call("provider/list", json!({})).await;
    let fake_info = list["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "fake")
        .unwrap()
        .clone();
    assert_eq!(
        (fake_info["kind"].as_str(), fake_info["available"].as_bool()),
        (Some("acp"), Some(false)),
        "{fake_info}"
    );
    let thread = ed.start("fake").await;
    let evs = ed.turn(&thread, "write a.txt approved").await;
    let t = types(&evs);
    assert!(
        t.contains(&"approval.requested") && t.contains(&"approval.resolved"),
        "{t:?}"
    );
    assert_eq!(answer(&evs), "write completed");
    assert_eq!(
        std::fs::read_to_string(format!("{}/a.txt", ed.cwd)).unwrap(),
        "approved"
    );
    let done = evs.last().unwrap();
    assert_eq!(done["data"]["state"], "completed");
    assert!(done["turnId"].is_string());

    ed.call("thread/stop", json!({"threadId": thread})).await;
    ed.until("session.exited").await;
    assert!(fake.methods().contains(&"session/close".to_string()));
    // The next turn resumes the same ACP session (session/load), without replaying it.
    ed.call(
        "turn/start",
        json!({"threadId": thread, "input": [{"type": "text", "text": "hello"}]}),
    )
    .await;
    let evs = ed.until("turn.completed").await;
    let started = evs.iter().find(|e| e["type"] == "session.started").unwrap();
    assert_eq!(started["data"]["resumed"], true);
    assert_eq!(answer(&evs), "Hi there");
    assert_eq!(
        fake.launches.load(Ordering::SeqCst),
        1,
        "one agent process for the thread's life"
    );
    let read = ed.call("thread/read", json!({"threadId": thread})).await;
    let logged = read["events"].as_array().unwrap();
    let answers: Vec<&str> = logged
        .iter()
        .filter(|e| e["type"] == "item.completed" && e["data"]["itemType"] == "assistant_message")
        .map(|e| e["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        answers,
        ["write completed", "Hi there"],
        "the load's replay is not logged again"
    );
}

#[tokio::test]
async fn a_declined_approval_writes_nothing_and_interrupt_ends_the_turn() {
    let fake = Fake::new(FakeCaps::default());
    let mut ed = server(&[("fake", &fake)], "decline", Value::Null).await;
    let thread = ed.start("fake").await;
    let evs = ed.turn(&thread, "write b.txt no").await;
    assert_eq!(answer(&evs), "write failed");
    assert!(!std::path::Path::new(&format!("{}/b.txt", ed.cwd)).exists());

    ed.call(
        "turn/start",
        json!({"threadId": thread, "input": [{"type": "text", "text": "wait"}]}),
    )
    .await;
    ed.until("content.delta").await;
    ed.call("turn/interrupt", json!({"threadId": thread})).await;
    let evs = ed.until("turn.completed").await;
    assert_eq!(evs.last().unwrap()["data"]["state"], "interrupted");
}

#[tokio::test]
async fn handoffs_between_acp_agents_carry_the_conversation() {
    let plain = Fake::new(FakeCaps {
        compact: false,
        ..FakeCaps::default()
    });
    let compacting = Fake::new(FakeCaps::default());
    let mut ed = server(
        &[("plain", &plain), ("compacting", &compacting)],
        "accept",
        Value::Null,
    )
    .await;
    let thread = ed.start("plain").await;
    ed.turn(&thread, "my name is Ada").await;
    // plain offers no /compact: the handoff is baton's transcript.
    let r = ed
        .call(
            "thread/switch",
            json!({"threadId": thread, "provider": "compacting"}),
        )
        .await;
    assert_eq!(r["handoff"]["strategy"], "transcript", "{r}");
    ed.turn(&thread, "what is my name").await;
    let prompts: Vec<String> = compacting
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, _)| m == "session/prompt")
        .map(|(_, p)| p["prompt"][0]["text"].as_str().unwrap().to_string())
        .collect();
    let first = prompts
        .iter()
        .find(|p| p.contains("what is my name"))
        .unwrap();
    assert!(
        first.contains("my name is Ada"),
        "the handoff block carries the earlier turn: {first}"
    );
    // compacting has /compact: back to plain goes through its summary.
    let r = ed
        .call(
            "thread/switch",
            json!({"threadId": thread, "provider": "plain", "handoff": "compact"}),
        )
        .await;
    assert_eq!(r["handoff"]["strategy"], "compact", "{r}");
    ed.turn(&thread, "and now").await;
    let last = plain
        .log
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(m, _)| m == "session/prompt")
        .map(|(_, p)| p["prompt"][0]["text"].as_str().unwrap().to_string())
        .unwrap();
    assert!(
        last.contains("summary of the session") && last.contains("and now"),
        "{last}"
    );
}

#[tokio::test]
async fn an_idle_session_is_reaped_softly() {
    let fake = Fake::new(FakeCaps::default());
    let mut ed = server(&[("fake", &fake)], "accept", json!({"idleTimeoutSecs": 1})).await;
    let thread = ed.start("fake").await;
    ed.turn(&thread, "hello").await;
    let evs = ed.until("session.exited").await;
    let exited = evs.last().unwrap();
    assert_eq!(
        (
            exited["data"]["reason"].as_str(),
            exited["data"]["recoverable"].as_bool()
        ),
        (Some("idle"), Some(true))
    );
    assert!(fake.methods().contains(&"session/close".to_string()));
}
