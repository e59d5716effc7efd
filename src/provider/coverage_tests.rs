//! Coverage of the providers' message sets, proven against the providers' own declarations:
//! - Codex: the JSON Schema the pinned binary generates (`codex app-server generate-json-schema
//!   --experimental`, run here at test time);
//! - Claude Code: the `StdoutMessage` and `SDKControlRequestInner` unions in the pinned Claude
//!   Agent SDK's `sdk.d.ts` (installed by `scripts/install-tools`);
//! - both: every transcript recorded from the pinned CLIs in `tests/fixtures/`
//!   (`scripts/record-transcripts`).
//!
//! A message type a table does not name, or a row naming something the provider no longer
//! declares, fails with its name.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::claude::coverage as claude_cov;
use super::claude::mapping as claude_map;
use super::codex::coverage as codex_cov;
use super::codex::mapping as codex_map;
use super::coverage::{Entry, Handling};
use super::mapping_tests::transcripts;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn names(table: &[Entry]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for e in table {
        assert!(
            seen.insert(e.name.to_string()),
            "{} is listed twice",
            e.name
        );
    }
    seen
}

/// Fails naming what one side has and the other lacks.
fn diff(what: &str, declared: &BTreeSet<String>, table: &BTreeSet<String>) {
    let missing: Vec<&String> = declared.difference(table).collect();
    let stale: Vec<&String> = table.difference(declared).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "{what}: not accounted for by baton's table: {missing:?}; in the table but no longer declared: {stale:?}"
    );
}

fn codex_bin() -> PathBuf {
    std::env::var_os("BATON_CODEX_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".tools/npm/node_modules/.bin/codex"))
}

fn schema_methods(file: &Path) -> BTreeSet<String> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    v["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no oneOf", file.display()))
        .iter()
        .map(|m| {
            m["properties"]["method"]["enum"][0]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn codex_tables_match_the_schema_the_pinned_binary_generates() {
    let bin = codex_bin();
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(&bin)
        .args([
            "app-server",
            "generate-json-schema",
            "--experimental",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/install-tools)", bin.display()));
    assert!(
        status.status.success(),
        "generate-json-schema failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let notifications = schema_methods(&out.path().join("ServerNotification.json"));
    let requests = schema_methods(&out.path().join("ServerRequest.json"));
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("ServerNotification.json")).unwrap(),
    )
    .unwrap();
    let items: BTreeSet<String> = v["definitions"]["ThreadItem"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["properties"]["type"]["enum"][0]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(notifications.len() > 50 && requests.len() > 5 && items.len() > 10);
    diff(
        "codex notifications",
        &notifications,
        &names(codex_cov::NOTIFICATIONS),
    );
    diff(
        "codex server requests",
        &requests,
        &names(codex_cov::REQUESTS),
    );
    diff("codex thread items", &items, &names(codex_cov::ITEMS));
    let (m, i) = counts(codex_cov::NOTIFICATIONS);
    eprintln!(
        "codex coverage: {} notifications ({m} mapped, {i} ignored), {} requests, {} item types",
        notifications.len(),
        requests.len(),
        items.len()
    );
}

fn counts(table: &[Entry]) -> (usize, usize) {
    let ignored = table
        .iter()
        .filter(|e| matches!(e.handling, Handling::Ignored(_)))
        .count();
    (table.len() - ignored, ignored)
}

/// A tiny reader of TypeScript declarations: enough for the SDK's `declare type X = …;` unions
/// of object types with literal `type` / `subtype` fields.
struct Dts(String);

impl Dts {
    fn load(path: &Path) -> Dts {
        let src = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{}: {e} (run scripts/install-tools)", path.display()));
        // Doc comments hold apostrophes and brackets; drop them.
        let mut out = String::with_capacity(src.len());
        let mut rest = src.as_str();
        while let Some(i) = rest.find("/*") {
            out.push_str(&rest[..i]);
            rest = match rest[i..].find("*/") {
                Some(j) => &rest[i + j + 2..],
                None => "",
            };
        }
        out.push_str(rest);
        Dts(out)
    }

    /// The right-hand side of `declare type NAME = …;`.
    fn body(&self, name: &str) -> &str {
        let key = format!("declare type {name} = ");
        let start = self
            .0
            .find(&key)
            .map(|i| i + key.len())
            .unwrap_or_else(|| panic!("sdk.d.ts declares no type {name}"));
        let bytes = self.0.as_bytes();
        let mut depth = 0i32;
        let mut j = start;
        while j < bytes.len() {
            match bytes[j] {
                b'{' | b'(' | b'[' | b'<' => depth += 1,
                b'>' if j > 0 && bytes[j - 1] == b'=' => {}
                b'}' | b')' | b']' | b'>' => depth -= 1,
                b';' if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        &self.0[start..j]
    }

    /// The object types a union name stands for, recursively.
    fn leaves(&self, name: &str, out: &mut Vec<(String, String)>) {
        let body = self.body(name).trim();
        if !body.starts_with('{') && body.contains('|') && !body.contains('{') {
            for part in body.split('|') {
                let part = part.trim();
                let short = part.rsplit('.').next().unwrap_or(part);
                self.leaves(short, out);
            }
        } else {
            out.push((name.to_string(), body.to_string()));
        }
    }

    /// String literals of a top-level field (`    field: 'a' | 'b';`) of an object type.
    fn literals(body: &str, field: &str) -> Vec<String> {
        let key = format!("\n    {field}: ");
        let Some(i) = body.find(&key) else {
            return Vec::new();
        };
        let rest = &body[i + key.len()..];
        let line = rest.split(';').next().unwrap_or("");
        line.split('\'')
            .enumerate()
            .filter(|(k, _)| k % 2 == 1)
            .map(|(_, s)| s.to_string())
            .collect()
    }
}

fn sdk_dts() -> PathBuf {
    std::env::var_os("BATON_CLAUDE_SDK_DTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            workspace().join(".tools/npm/node_modules/@anthropic-ai/claude-agent-sdk/sdk.d.ts")
        })
}

#[test]
fn claude_tables_match_the_pinned_sdk_declarations() {
    let path = sdk_dts();
    let pkg: Value = serde_json::from_str(
        &std::fs::read_to_string(path.with_file_name("package.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        pkg["claudeCodeVersion"], "2.1.328",
        "the SDK must be the one built for the pinned claude-code"
    );
    let dts = Dts::load(&path);
    let mut leaves = Vec::new();
    dts.leaves("StdoutMessage", &mut leaves);
    let mut messages = BTreeSet::new();
    for (name, body) in &leaves {
        let ty = Dts::literals(body, "type");
        let ty = ty
            .first()
            .unwrap_or_else(|| panic!("{name} has no literal type"));
        let subs = Dts::literals(body, "subtype");
        if subs.is_empty() {
            messages.insert(ty.clone());
        } else {
            messages.extend(subs.iter().map(|s| format!("{ty}/{s}")));
        }
    }
    let mut controls = Vec::new();
    dts.leaves("SDKControlRequestInner", &mut controls);
    let subtypes: BTreeSet<String> = controls
        .iter()
        .flat_map(|(_, body)| Dts::literals(body, "subtype"))
        .collect();
    assert!(messages.len() > 30 && subtypes.len() > 20);
    diff(
        "claude stdout messages",
        &messages,
        &names(claude_cov::MESSAGES),
    );
    diff(
        "claude control requests",
        &subtypes,
        &names(claude_cov::CONTROL_REQUESTS),
    );
    let (m, i) = counts(claude_cov::MESSAGES);
    eprintln!(
        "claude coverage: {} stdout messages ({m} mapped or answered, {i} ignored), {} control requests",
        messages.len(),
        subtypes.len()
    );
}

/// The code agrees with the tables: every `mapped` row has a mapping arm, every `ignored` row
/// has none (so a row cannot claim a mapping the code lacks, or hide one it has).
#[test]
fn mapped_rows_have_mapping_code_and_ignored_rows_have_none() {
    for e in codex_cov::NOTIFICATIONS {
        let known = codex_map::map_known(e.name, &json!({})).is_some();
        match e.handling {
            Handling::Mapped(_) => assert!(known, "codex {} is mapped in the table only", e.name),
            _ => assert!(
                !known,
                "codex {} is mapped but the table says otherwise",
                e.name
            ),
        }
    }
    for e in codex_cov::ITEMS {
        let item = codex_map::map_item(&json!({"type": e.name, "id": "x"}));
        let ty = serde_json::to_value(item.item_type).unwrap();
        let Handling::Mapped([expected]) = e.handling else {
            panic!("item {} must map to exactly one item type", e.name)
        };
        assert_eq!(ty, *expected, "codex item {}", e.name);
    }
    for e in claude_cov::MESSAGES {
        let msg = match e.name.split_once('/') {
            Some((ty, sub)) => json!({"type": ty, "subtype": sub}),
            None => json!({"type": e.name}),
        };
        let mut state = claude_map::TurnState::default();
        let known = claude_map::map_known(&msg, &mut state).is_some();
        match e.handling {
            Handling::Mapped(_) => assert!(known, "claude {} is mapped in the table only", e.name),
            Handling::Ignored(_) => {
                assert!(
                    !known,
                    "claude {} is mapped but the table says ignored",
                    e.name
                )
            }
            Handling::Answered(_) => {}
        }
    }
}

/// Every message Codex sent in the recorded transcripts is a known notification / request /
/// item, and the notifications that carry content become events.
#[test]
fn codex_transcripts_replay_with_nothing_unknown() {
    let mut unknown = Vec::new();
    let (mut messages, mut events) = (0, 0);
    for (file, records) in transcripts("codex-0.169.0") {
        for rec in records.iter().filter(|r| r.dir == "<<") {
            let Some(msg) = rec.json() else {
                continue;
            };
            let Some(method) = msg["method"].as_str() else {
                continue; // a response to the probe's own request
            };
            messages += 1;
            let table = if msg.get("id").is_some() {
                codex_cov::REQUESTS
            } else {
                codex_cov::NOTIFICATIONS
            };
            if super::coverage::find(table, method).is_none() {
                unknown.push(format!("{file}: {method}"));
            }
            if let Some(kind) = msg["params"]["item"]["type"].as_str()
                && super::coverage::find(codex_cov::ITEMS, kind).is_none()
            {
                unknown.push(format!("{file}: item {kind}"));
            }
            if msg.get("id").is_none() {
                let mapped = codex_map::map_notification(method, &msg["params"]);
                events += mapped
                    .iter()
                    .filter(|e| matches!(e, super::ProviderEvent::Event { .. }))
                    .count();
            }
        }
    }
    assert!(unknown.is_empty(), "unknown codex messages: {unknown:?}");
    assert!(
        messages > 200 && events > 100,
        "{messages} messages, {events} events"
    );
    eprintln!("codex transcripts: {messages} messages replayed, {events} events, 0 unknown");
}

/// Every stdout line Claude printed in the recorded transcripts is a known message (control
/// requests by subtype), every result ends a turn, and no assistant message maps to nothing.
#[test]
fn claude_transcripts_replay_with_nothing_unknown() {
    let mut unknown = Vec::new();
    let (mut messages, mut completed) = (0, 0);
    for (file, records) in transcripts("claude-code-2.1.328") {
        let mut state = claude_map::TurnState::default();
        for rec in records.iter().filter(|r| r.dir == "out") {
            let Some(msg) = rec.json() else {
                continue;
            };
            messages += 1;
            let key = claude_map::message_key(&msg);
            if super::coverage::find(claude_cov::MESSAGES, &key).is_none() {
                unknown.push(format!("{file}: {key}"));
            }
            if key == "control_request" {
                let sub = msg["request"]["subtype"].as_str().unwrap_or("");
                if super::coverage::find(claude_cov::CONTROL_REQUESTS, sub).is_none() {
                    unknown.push(format!("{file}: control_request {sub}"));
                }
                continue;
            }
            let events = claude_map::map_line(&msg, &mut state);
            let ends = events
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        super::ProviderEvent::Event {
                            body: baton_protocol::EventBody::TurnCompleted(_),
                            ..
                        }
                    )
                })
                .count();
            // Every result ends a turn; assistant content is never dropped as mere activity.
            if msg["type"] == "result" {
                assert_eq!(ends, 1, "{file}: {msg}");
            }
            if msg["type"] == "assistant" {
                assert!(
                    events
                        .iter()
                        .all(|e| matches!(e, super::ProviderEvent::Event { .. })),
                    "{file}: {msg}"
                );
            }
            completed += ends;
        }
    }
    assert!(unknown.is_empty(), "unknown claude messages: {unknown:?}");
    assert!(
        messages > 100 && completed >= 10,
        "{messages} messages, {completed} turns"
    );
    eprintln!("claude transcripts: {messages} messages replayed, {completed} turns, 0 unknown");
}
