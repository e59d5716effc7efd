//! The recorded ACP transcripts (`tests/fixtures/acp/*.jsonl`, written by
//! `scripts/record-acp-transcripts` against the real agents) replayed through the adapter's
//! mapping: every message is named by the coverage tables, and the events each transcript maps to
//! equal `tests/fixtures/expected/acp/<agent>.txt` (`UPDATE_EXPECT=1 cargo test -p baton --bin
//! baton acp::fixture_tests` rewrites them after a deliberate change).
//!
//! Updates arriving while a `session/load` is in flight are replay (nothing may come of them);
//! each `session/prompt` answer ends its turn as the session's task does.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::fmt::Write as _;

use agent_client_protocol_schema::v1::RequestPermissionRequest;
use serde_json::Value;

use super::coverage::{CLIENT_METHODS, UPDATES};
use super::mapping::{Mapper, turn_completed, update_kind};
use crate::provider::ProviderEvent;
use crate::provider::coverage;
use crate::provider::mapping_tests::fixtures_root;
use baton_protocol::schema::sorted;

/// Every transcript: (file stem, records `{dir, msg, process}`).
fn transcripts() -> Vec<(String, Vec<Value>)> {
    let dir = fixtures_root().join("acp");
    let mut out: Vec<(String, Vec<Value>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let records = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                records,
            )
        })
        .collect();
    assert!(
        out.len() >= 3,
        "{}: the three agents' transcripts",
        dir.display()
    );
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn line(ev: &ProviderEvent) -> Option<String> {
    let ProviderEvent::Event { body, item_id, .. } = ev else {
        return None;
    };
    let v = serde_json::to_value(body).unwrap();
    let mut s = v["type"].as_str().unwrap().to_string();
    if let Some(i) = item_id {
        let _ = write!(s, " item={i}");
    }
    if let Some(d) = v.get("data").filter(|d| !d.is_null()) {
        let text = sorted(d.clone()).to_string();
        let cut: String = text.chars().take(400).collect();
        let _ = write!(s, " {cut}");
    }
    Some(s)
}

/// The transcript as the adapter sees it, with the events it yields.
fn replay(records: &[Value]) -> String {
    let mut out = String::new();
    let mut mappers: HashMap<String, Mapper> = HashMap::new();
    // Request id (per process) -> (method, session) of what baton sent.
    let mut sent: HashMap<(u64, String), (String, String)> = HashMap::new();
    let mut loading: HashMap<String, bool> = HashMap::new();
    let mut ids = 0;
    for r in records {
        let process = r["process"].as_u64().unwrap_or(0);
        let msg = &r["msg"];
        let method = msg["method"].as_str();
        let id = msg.get("id").map(|i| (process, i.to_string()));
        let session = msg["params"]["sessionId"]
            .as_str()
            .unwrap_or("")
            .to_string();
        match (r["dir"].as_str().unwrap(), method) {
            ("in", Some(m)) => {
                let _ = writeln!(out, ">> {m}");
                if let Some(id) = id {
                    sent.insert(id, (m.to_string(), session.clone()));
                }
                if m == "session/load" {
                    loading.insert(session, true);
                }
            }
            ("in", None) => {
                let _ = writeln!(out, ">> reply {}", sorted(msg["result"].clone()));
            }
            ("out", Some("session/update")) => {
                let kind = update_kind(&msg["params"]).unwrap_or("?");
                let replay = loading.get(&session).copied().unwrap_or(false);
                let _ = writeln!(out, "<< {kind}{}", if replay { " (replay)" } else { "" });
                let mapper = mappers.entry(session).or_insert_with(|| {
                    Mapper::new(Box::new(move || {
                        ids += 1;
                        format!("#{ids}")
                    }))
                });
                for ev in mapper.map(&msg["params"], replay) {
                    if let Some(l) = line(&ev) {
                        let _ = writeln!(out, "    {l}");
                    }
                }
            }
            ("out", Some("session/request_permission")) => {
                let _ = writeln!(out, "<< session/request_permission");
                // As the session's task does: the request's fields join the tool call.
                if let (Some(mapper), Ok(req)) = (
                    mappers.get_mut(&session),
                    serde_json::from_value::<RequestPermissionRequest>(msg["params"].clone()),
                ) {
                    let ask = super::permission::ask(mapper.permission_item(&req.tool_call));
                    let _ = writeln!(out, "    approval {:?} {:?}", ask.kind, ask.title);
                }
            }
            ("out", Some(m)) => {
                let _ = writeln!(out, "<< {m}");
            }
            ("out", None) => {
                let Some((m, session)) = id.and_then(|id| sent.remove(&id)) else {
                    continue;
                };
                let error = msg.get("error").map(|e| e["message"].to_string());
                let _ = writeln!(
                    out,
                    "<< reply to {m}{}",
                    error
                        .as_deref()
                        .map(|e| format!(" error {e}"))
                        .unwrap_or_default()
                );
                if m == "session/load" {
                    loading.insert(session.clone(), false);
                }
                if m == "session/prompt" {
                    if let Some(mapper) = mappers.get_mut(&session) {
                        for ev in mapper.end_turn(false) {
                            if let Some(l) = line(&ev) {
                                let _ = writeln!(out, "    {l}");
                            }
                        }
                    }
                    if let Some(stop) = msg["result"].get("stopReason") {
                        let done = turn_completed(&serde_json::from_value(stop.clone()).unwrap());
                        let _ = writeln!(
                            out,
                            "    turn.completed {}",
                            sorted(serde_json::to_value(done).unwrap())
                        );
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn acp_transcripts_map_to_the_expected_events() {
    for (name, records) in transcripts() {
        let path = fixtures_root()
            .join("expected/acp")
            .join(format!("{name}.txt"));
        expect_test::expect_file![path].assert_eq(&replay(&records));
    }
}

#[test]
fn acp_transcripts_name_nothing_unknown() {
    for (name, records) in transcripts() {
        for r in records.iter().filter(|r| r["dir"] == "out") {
            let Some(method) = r["msg"]["method"].as_str() else {
                continue;
            };
            // Extension methods (`_…`) are the agent's own; baton ignores them by the protocol.
            if method.starts_with('_') {
                continue;
            }
            assert!(
                coverage::find(CLIENT_METHODS, method).is_some(),
                "{name}: {method} has no row"
            );
            if method == "session/update" {
                let kind = update_kind(&r["msg"]["params"]).unwrap();
                assert!(
                    coverage::find(UPDATES, kind).is_some(),
                    "{name}: update {kind} has no row"
                );
            }
        }
    }
}
