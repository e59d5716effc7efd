//! Snapshot tests of the providers' mappings: every recorded transcript under `tests/fixtures/`
//! (written by `scripts/record-transcripts`) is replayed through the mapping the adapter runs,
//! and the events it yields, one compact line each, must equal the committed file
//! `tests/fixtures/expected/<agent dir>/<transcript>.txt`. A change in mapping shows as a diff of
//! those files; `UPDATE_EXPECT=1 cargo test -p baton --bin baton mapping_tests` rewrites them.
//!
//! Lines starting with `>>` (sent to the agent), `<<` (received, shown for context) or `--`
//! (process start, exit, stderr) say where the events come from; indented lines are the events:
//! `<type> [turn=..] [item=..] <data>`, items as `<type> <item type> <fields>`. The fake UUIDs of
//! the fixtures are shortened to `#N`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::path::PathBuf;

use baton_protocol::EventBody;
use serde_json::{Value, json};

use super::ProviderEvent;
use super::claude::mapping as claude_map;
use super::codex::mapping as codex_map;

/// One record of a transcript: its direction (`>>`, `<<`, `in`, `out`, `err`, `cmd`, `exit`)
/// and the raw line.
pub(super) struct Record {
    pub dir: String,
    pub line: String,
}

impl Record {
    /// The line as JSON, when it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.line).ok()
    }
}

pub(crate) fn fixtures_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every `*.jsonl` transcript of `tests/fixtures/<dir>`, sorted by name. A missing or empty
/// directory fails the test: a clone without its fixtures must not pass by replaying nothing.
pub(super) fn transcripts(dir: &str) -> Vec<(String, Vec<Record>)> {
    let path = fixtures_root().join(dir);
    let entries = std::fs::read_dir(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the fixtures are committed; re-record them with scripts/record-transcripts)",
            path.display()
        )
    });
    let mut out = Vec::new();
    for entry in entries {
        let file = entry.unwrap().path();
        if file.extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let records = text
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}: {e}: {l}", file.display()));
                Record {
                    dir: v["dir"].as_str().unwrap().to_string(),
                    line: v["line"].as_str().unwrap().to_string(),
                }
            })
            .collect();
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        out.push((name, records));
    }
    assert!(
        !out.is_empty(),
        "{}: no *.jsonl transcripts (re-record them with scripts/record-transcripts)",
        path.display()
    );
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `00000000-0000-4000-8000-000000000012` -> `#12`: the recorder's fake UUIDs, made short.
fn shorten(text: &str) -> String {
    const FAKE: &str = "00000000-0000-4000-8000-";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(FAKE) {
        out.push_str(&rest[..i]);
        let tail = &rest[i + FAKE.len()..];
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        if digits == 12 {
            out.push('#');
            out.push_str(tail[..12].trim_start_matches('0'));
            rest = &tail[12..];
        } else {
            out.push_str(FAKE);
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// At most `n` characters of `s`, marked when cut (keeps long outputs readable).
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let head: String = s.chars().take(n).collect();
    format!("{head}…")
}

/// One event as a line; `None` for activity (the provider was alive, nothing to show).
fn event_line(ev: &ProviderEvent) -> Option<String> {
    let ProviderEvent::Event {
        body,
        native_turn,
        item_id,
        ..
    } = ev
    else {
        return match ev {
            ProviderEvent::Activity => None,
            other => Some(format!("{other:?}")),
        };
    };
    let v = serde_json::to_value(body).unwrap();
    let mut line = v["type"].as_str().unwrap().to_string();
    if let Some(t) = native_turn {
        let _ = write!(line, " turn={t}");
    }
    if let Some(i) = item_id {
        let _ = write!(line, " item={i}");
    }
    let mut data = v.get("data").cloned().unwrap_or(Value::Null);
    if let (EventBody::ItemStarted(_) | EventBody::ItemCompleted(_), Some(obj)) =
        (body, data.as_object_mut())
    {
        let kind = obj.remove("itemType").unwrap_or(Value::Null);
        let _ = write!(line, " {}", kind.as_str().unwrap_or("?"));
    }
    if !data.is_null() && data != json!({}) {
        // Sorted keys, whether or not serde_json preserves insertion order in this build.
        let data = baton_protocol::schema::sorted(data);
        let _ = write!(line, " {}", cut(&data.to_string(), 600));
    }
    Some(line)
}

fn push_events(out: &mut String, events: &[ProviderEvent]) {
    for line in events.iter().filter_map(event_line) {
        let _ = writeln!(out, "    {line}");
    }
}

/// Replays a Codex transcript as baton's Codex adapter maps it: every notification through
/// [`codex_map::map_notification`]; the user-input request through
/// [`codex_map::input_questions`]; the rest is context.
fn codex_replay(records: &[Record]) -> String {
    let mut out = String::new();
    for rec in records {
        match rec.dir.as_str() {
            "cmd" | "exit" => {
                let _ = writeln!(out, "-- {} {}", rec.dir, rec.line);
            }
            ">>" => {
                let Some(msg) = rec.json() else { continue };
                match msg["method"].as_str() {
                    Some("turn/start") => {
                        let mode = msg["params"]["collaborationMode"]["mode"]
                            .as_str()
                            .map(|m| format!(" ({m} mode)"))
                            .unwrap_or_default();
                        let _ = writeln!(
                            out,
                            ">> turn/start{mode} {}",
                            msg["params"]["input"][0]["text"]
                        );
                    }
                    Some(m) => {
                        let _ = writeln!(out, ">> {m}");
                    }
                    None => {
                        let _ = writeln!(out, ">> reply {}", msg["result"]);
                    }
                }
            }
            "<<" => {
                let Some(msg) = rec.json() else { continue };
                let Some(method) = msg["method"].as_str() else {
                    if let Some(err) = msg.get("error") {
                        let _ = writeln!(out, "<< error {}", cut(&err["message"].to_string(), 200));
                    }
                    continue;
                };
                if msg.get("id").is_some() {
                    let _ = writeln!(out, "<< request {method}");
                    if method == "item/tool/requestUserInput" {
                        let q = codex_map::input_questions(msg["params"].get("questions"));
                        let _ =
                            writeln!(out, "    questions {}", serde_json::to_string(&q).unwrap());
                    }
                    continue;
                }
                push_events(
                    &mut out,
                    &codex_map::map_notification(method, &msg["params"]),
                );
            }
            _ => {}
        }
    }
    shorten(&out)
}

/// Replays a Claude transcript as baton's Claude session maps it: one [`claude_map::TurnState`]
/// per process, the interrupt and `/compact` flags set when baton sent them, nothing mapped
/// before the initialize handshake answered, control messages as context.
fn claude_replay(records: &[Record]) -> String {
    let mut out = String::new();
    let mut state = claude_map::TurnState::default();
    let (mut ready, mut interrupted, mut compact_requested) = (false, false, false);
    for rec in records {
        match rec.dir.as_str() {
            "cmd" => {
                state = claude_map::TurnState::default();
                (ready, interrupted, compact_requested) = (false, false, false);
                let _ = writeln!(out, "-- cmd {}", rec.line);
            }
            "exit" | "err" => {
                let _ = writeln!(out, "-- {} {}", rec.dir, cut(&rec.line, 200));
            }
            "in" => {
                let Some(msg) = rec.json() else { continue };
                match msg["type"].as_str() {
                    Some("user") => {
                        let text = &msg["message"]["content"];
                        interrupted = false;
                        compact_requested |=
                            text.as_str().is_some_and(|t| t.starts_with("/compact"));
                        let _ = writeln!(out, ">> user {text}");
                    }
                    Some("control_request") => {
                        let sub = msg["request"]["subtype"].as_str().unwrap_or("");
                        interrupted |= sub == "interrupt";
                        let mode = msg["request"]["mode"]
                            .as_str()
                            .map(|m| format!(" {m}"))
                            .unwrap_or_default();
                        let _ = writeln!(out, ">> control_request {sub}{mode}");
                    }
                    Some("control_response") => {
                        let r = &msg["response"]["response"];
                        let _ = writeln!(
                            out,
                            ">> control_response {}",
                            r["behavior"].as_str().unwrap_or("?")
                        );
                    }
                    other => {
                        let _ = writeln!(out, ">> {}", other.unwrap_or("?"));
                    }
                }
            }
            "out" => {
                let Some(msg) = rec.json() else {
                    let _ = writeln!(out, "<< not JSON: {}", cut(&rec.line, 100));
                    continue;
                };
                match msg["type"].as_str() {
                    Some("control_response") => {
                        ready = true;
                        continue;
                    }
                    Some("control_request") => {
                        let r = &msg["request"];
                        let sub = r["subtype"].as_str().unwrap_or("");
                        let tool = r["tool_name"].as_str().unwrap_or("");
                        let _ = writeln!(out, "<< control_request {sub} {tool}");
                        if tool == "AskUserQuestion" {
                            let q = claude_map::ask_user_questions(&r["input"]);
                            let _ = writeln!(
                                out,
                                "    questions {}",
                                serde_json::to_string(&q).unwrap()
                            );
                        }
                        continue;
                    }
                    _ if !ready => {
                        let _ = writeln!(
                            out,
                            "<< before the handshake: {}",
                            claude_map::message_key(&msg)
                        );
                        continue;
                    }
                    _ => {}
                }
                state.interrupted = interrupted;
                if std::mem::take(&mut compact_requested) {
                    state.compact_requested = true;
                }
                let events = claude_map::map_line(&msg, &mut state);
                if msg["type"] == "result" {
                    interrupted = false;
                }
                push_events(&mut out, &events);
            }
            _ => {}
        }
    }
    shorten(&out)
}

fn check(dir: &str, replay: fn(&[Record]) -> String) {
    let expected_dir = fixtures_root().join("expected").join(dir);
    let fixtures = transcripts(dir);
    let names: Vec<&str> = fixtures.iter().map(|(n, _)| n.as_str()).collect();
    // An expected file without its transcript is a leftover of a renamed or dropped scenario.
    if let Ok(entries) = std::fs::read_dir(&expected_dir) {
        for e in entries {
            let path = e.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                names.contains(&stem.as_str()),
                "{} has no transcript {dir}/{stem}.jsonl",
                path.display()
            );
        }
    }
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::create_dir_all(&expected_dir).unwrap();
    }
    for (name, records) in &fixtures {
        let text = replay(records);
        assert!(
            text.lines().any(|l| l.starts_with("    ")),
            "{dir}/{name}: no events"
        );
        expect_test::expect_file![expected_dir.join(format!("{name}.txt"))].assert_eq(&text);
    }
}

#[test]
fn codex_transcripts_map_to_the_expected_events() {
    check("codex-0.169.0", codex_replay);
}

#[test]
fn claude_transcripts_map_to_the_expected_events() {
    check("claude-code-2.1.328", claude_replay);
}

#[test]
fn fake_uuids_are_shortened() {
    assert_eq!(
        shorten("a 00000000-0000-4000-8000-000000000012 b 00000000-0000-4000-8000-00000000001x"),
        "a #12 b 00000000-0000-4000-8000-00000000001x"
    );
}
