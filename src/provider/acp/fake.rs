//! An in-process fake ACP agent over `tokio::io::duplex`, for unit tests of the adapter and of
//! the session actor through it: milliseconds instead of the seconds a real agent takes.
//!
//! It speaks ACP with baton's own peer and answers by the prompt's text:
//! - `hello` streams "Hi" + " there" and ends the turn;
//! - `write <file> <text>` announces an edit, asks permission, and on `allow_*` writes through
//!   `fs/write_text_file` (a reject fails the tool call);
//! - `read <path>` reads through `fs/read_text_file` and answers with the content or the error;
//! - `wait` runs until `session/cancel` (then `cancelled`);
//! - `/compact ...` reports a compaction with a summary;
//! - anything else is echoed back as `echo: <text>`.
//!
//! Sessions keep their history, so `session/load` replays it; every message the fake receives is
//! logged for assertions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::provider::host::{Launcher, Transport};
use crate::rpc::{self, Incoming, Peer, PeerOptions};

/// What the fake advertises.
#[derive(Debug, Clone, Copy)]
pub struct FakeCaps {
    pub load: bool,
    pub resume: bool,
    pub close: bool,
    pub compact: bool,
}

impl Default for FakeCaps {
    fn default() -> Self {
        FakeCaps {
            load: true,
            resume: false,
            close: true,
            compact: true,
        }
    }
}

#[derive(Default)]
struct State {
    /// sessionId -> (user text, answer text) of each turn.
    history: HashMap<String, Vec<(String, String)>>,
    model: HashMap<String, String>,
    next: usize,
}

/// The fake agent "binary": each launch is a new process with the same sessions on "disk".
#[derive(Clone)]
pub struct Fake {
    pub caps: FakeCaps,
    /// Every message received (method, params), in order, across launches.
    pub log: Arc<Mutex<Vec<(String, Value)>>>,
    pub launches: Arc<AtomicUsize>,
    state: Arc<Mutex<State>>,
    cancel: Arc<Notify>,
}

impl Fake {
    pub fn new(caps: FakeCaps) -> Self {
        Fake {
            caps,
            log: Arc::default(),
            launches: Arc::default(),
            state: Arc::default(),
            cancel: Arc::new(Notify::new()),
        }
    }

    /// The methods received so far.
    pub fn methods(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// Forgets every session (as if the agent's store was wiped).
    pub fn forget_sessions(&self) {
        self.state.lock().unwrap().history.clear();
    }

    pub fn launcher(&self) -> Launcher {
        let fake = self.clone();
        Arc::new(move || {
            let (ours, theirs) = tokio::io::duplex(1 << 20);
            let (r, w) = tokio::io::split(ours);
            let (tr, tw) = tokio::io::split(theirs);
            let (peer, incoming) = rpc::spawn(tr, tw, PeerOptions::provider("fake-acp"));
            fake.launches.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(fake.clone().serve(peer, incoming));
            Ok(Transport {
                reader: Box::new(r),
                writer: Box::new(w),
                child: None,
            })
        })
    }

    async fn serve(self, peer: Peer, mut incoming: tokio::sync::mpsc::Receiver<Incoming>) {
        while let Some(msg) = incoming.recv().await {
            match msg {
                Incoming::Notification { method, params } => {
                    self.log
                        .lock()
                        .unwrap()
                        .push((method.clone(), params.into_value()));
                    if method == "session/cancel" {
                        self.cancel.notify_waiters();
                    }
                }
                Incoming::Request { id, method, params } => {
                    self.log
                        .lock()
                        .unwrap()
                        .push((method.clone(), params.value().clone()));
                    let me = self.clone();
                    let peer = peer.clone();
                    tokio::spawn(async move {
                        let result = me.request(&peer, &method, params.into_value()).await;
                        let _ = peer.respond(id, result).await;
                    });
                }
            }
        }
    }

    fn options(&self, session: &str) -> Value {
        let current = self
            .state
            .lock()
            .unwrap()
            .model
            .get(session)
            .cloned()
            .unwrap_or_else(|| "fast".into());
        json!([{"id": "model", "name": "Model", "category": "model", "type": "select",
                "currentValue": current,
                "options": [{"value": "fast", "name": "Fast"}, {"value": "smart", "name": "Smart"}]}])
    }

    async fn update(peer: &Peer, session: &str, update: Value) {
        let _ = peer
            .notify(
                "session/update",
                json!({"sessionId": session, "update": update}),
            )
            .await;
    }

    async fn commands(&self, peer: &Peer, session: &str) {
        let mut cmds = vec![json!({"name": "init", "description": "Init"})];
        if self.caps.compact {
            cmds.push(json!({"name": "compact", "description": "Compact"}));
        }
        Fake::update(
            peer,
            session,
            json!({"sessionUpdate": "available_commands_update", "availableCommands": cmds}),
        )
        .await;
    }

    async fn request(&self, peer: &Peer, method: &str, p: Value) -> Result<Value, rpc::RpcError> {
        let sid = p["sessionId"].as_str().unwrap_or_default().to_string();
        match method {
            "initialize" => {
                let mut session = json!({});
                if self.caps.resume {
                    session["resume"] = json!({});
                }
                if self.caps.close {
                    session["close"] = json!({});
                }
                Ok(json!({"protocolVersion": 1,
                    "agentCapabilities": {"loadSession": self.caps.load, "sessionCapabilities": session},
                    "authMethods": [], "agentInfo": {"name": "fake-acp", "version": "9.9.9"}}))
            }
            "session/new" => {
                let id = {
                    let mut s = self.state.lock().unwrap();
                    s.next += 1;
                    let id = format!("fake-{}", s.next);
                    s.history.insert(id.clone(), Vec::new());
                    id
                };
                let me = self.clone();
                let peer2 = peer.clone();
                let id2 = id.clone();
                // Like real agents: the commands follow right after the answer.
                tokio::spawn(async move { me.commands(&peer2, &id2).await });
                Ok(json!({"sessionId": id, "configOptions": self.options(&id)}))
            }
            "session/load" | "session/resume" => {
                let Some(history) = self.state.lock().unwrap().history.get(&sid).cloned() else {
                    return Err(rpc::RpcError::new(
                        -32002,
                        format!("Resource not found: {sid}"),
                    ));
                };
                if method == "session/load" {
                    for (user, answer) in history {
                        Fake::update(peer, &sid, json!({"sessionUpdate": "user_message_chunk", "content": {"type": "text", "text": user}})).await;
                        Fake::update(peer, &sid, json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": answer}})).await;
                    }
                }
                self.commands(peer, &sid).await;
                Ok(json!({"configOptions": self.options(&sid)}))
            }
            "session/set_config_option" => {
                let value = p["value"].as_str().unwrap_or_default().to_string();
                self.state.lock().unwrap().model.insert(sid.clone(), value);
                Ok(json!({"configOptions": self.options(&sid)}))
            }
            "session/close" => Ok(json!({})),
            "session/prompt" => self.prompt(peer, &sid, &p).await,
            other => Err(rpc::RpcError::method_not_found(other)),
        }
    }

    async fn prompt(&self, peer: &Peer, sid: &str, p: &Value) -> Result<Value, rpc::RpcError> {
        let text = p["prompt"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let say = |t: &str| json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": t}});
        let mut answer = String::new();
        let mut stop = "end_turn";
        let words: Vec<&str> = text.splitn(3, ' ').collect();
        match words.as_slice() {
            ["hello"] => {
                Fake::update(peer, sid, json!({"sessionUpdate": "agent_thought_chunk", "content": {"type": "text", "text": "greeting"}})).await;
                for t in ["Hi", " there"] {
                    Fake::update(peer, sid, say(t)).await;
                }
                answer = "Hi there".into();
            }
            ["write", file, content] => {
                let path = format!("{}/{file}", p_cwd(&self.log, sid));
                let call = json!({"sessionUpdate": "tool_call", "toolCallId": "w1", "title": format!("Write {file}"),
                    "kind": "edit", "status": "pending",
                    "content": [{"type": "diff", "path": path, "oldText": null, "newText": content}]});
                Fake::update(peer, sid, call).await;
                let ask = json!({"sessionId": sid, "toolCall": {"toolCallId": "w1"},
                    "options": [{"optionId": "yes", "name": "Allow", "kind": "allow_once"},
                                {"optionId": "always", "name": "Always", "kind": "allow_always"},
                                {"optionId": "no", "name": "Reject", "kind": "reject_once"}]});
                let outcome = peer.request("session/request_permission", ask).await;
                let allowed = outcome
                    .as_ref()
                    .ok()
                    .and_then(|o| o["outcome"]["optionId"].as_str())
                    .is_some_and(|id| id == "yes" || id == "always");
                let cancelled = outcome
                    .as_ref()
                    .ok()
                    .is_some_and(|o| o["outcome"]["outcome"] == "cancelled");
                let status = if allowed {
                    let w = peer
                        .request(
                            "fs/write_text_file",
                            json!({"sessionId": sid, "path": path, "content": content}),
                        )
                        .await;
                    if w.is_ok() { "completed" } else { "failed" }
                } else {
                    "failed"
                };
                Fake::update(peer, sid, json!({"sessionUpdate": "tool_call_update", "toolCallId": "w1", "status": status})).await;
                if cancelled {
                    stop = "cancelled";
                } else {
                    answer = format!("write {status}");
                    Fake::update(peer, sid, say(&answer)).await;
                }
            }
            ["read", path] => {
                let r = peer
                    .request("fs/read_text_file", json!({"sessionId": sid, "path": path}))
                    .await;
                answer = match r {
                    Ok(v) => format!("content: {}", v["content"].as_str().unwrap_or_default()),
                    Err(e) => format!("error: {}", e.message),
                };
                Fake::update(peer, sid, say(&answer)).await;
            }
            ["wait"] => {
                Fake::update(peer, sid, say("working")).await;
                self.cancel.notified().await;
                stop = "cancelled";
            }
            [cmd, ..] if *cmd == "/compact" => {
                let upd = |status: &str| json!({"sessionUpdate": "compaction_update", "compactionId": "c1", "status": status});
                Fake::update(peer, sid, upd("in_progress")).await;
                Fake::update(
                    peer,
                    sid,
                    json!({"sessionUpdate": "compaction_summary_chunk", "compactionId": "c1",
                    "content": {"type": "text", "text": "summary of the session"}}),
                )
                .await;
                Fake::update(peer, sid, upd("completed")).await;
            }
            _ => {
                answer = format!("echo: {text}");
                Fake::update(peer, sid, say(&answer)).await;
            }
        }
        if let Some(h) = self.state.lock().unwrap().history.get_mut(sid) {
            h.push((text, answer));
        }
        Ok(json!({"stopReason": stop}))
    }
}

/// The cwd a session was opened with (from the log of `session/new`/`load`/`resume`).
fn p_cwd(log: &Mutex<Vec<(String, Value)>>, _sid: &str) -> String {
    log.lock()
        .unwrap()
        .iter()
        .rev()
        .find_map(|(_, p)| p["cwd"].as_str().map(str::to_string))
        .unwrap_or_else(|| "/".into())
}
