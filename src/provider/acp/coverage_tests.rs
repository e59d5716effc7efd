//! The ACP coverage tables against the schema crate's own types, in both directions: every
//! `sessionUpdate` tag of `SessionUpdate` (read from its JSON Schema) and every method of
//! `CLIENT_METHOD_NAMES` has a row, and every row names something the crate declares. Mapped
//! rows must have mapping code, ignored rows must have none.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;

use agent_client_protocol_schema::v1::{CLIENT_METHOD_NAMES, SessionUpdate};
use serde_json::{Value, json};

use super::coverage::{CLIENT_METHODS, UPDATES};
use super::mapping::Mapper;
use crate::provider::ProviderEvent;
use crate::provider::coverage::{Entry, Handling};

fn names(table: &[Entry]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for e in table {
        assert!(seen.insert(e.name.to_string()), "{} has two rows", e.name);
    }
    seen
}

fn diff(what: &str, declared: &BTreeSet<String>, table: &BTreeSet<String>) {
    let missing: Vec<_> = declared.difference(table).collect();
    let stale: Vec<_> = table.difference(declared).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "{what}: declared by the schema crate but not in the table: {missing:?}; \
         in the table but not declared: {stale:?}"
    );
}

/// Every `const` value of a `sessionUpdate` property anywhere in the schema.
fn tags(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(tag) = map
                .get("properties")
                .and_then(|p| p.get("sessionUpdate"))
                .and_then(|s| s.get("const"))
                .and_then(Value::as_str)
            {
                out.insert(tag.to_string());
            }
            map.values().for_each(|x| tags(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| tags(x, out)),
        _ => {}
    }
}

#[test]
fn update_table_matches_the_schema_crate() {
    let schema = serde_json::to_value(schemars::schema_for!(SessionUpdate)).unwrap();
    let mut declared = BTreeSet::new();
    tags(&schema, &mut declared);
    assert!(declared.len() >= 15, "too few tags read: {declared:?}");
    diff("session/update kinds", &declared, &names(UPDATES));
}

#[test]
fn client_method_table_matches_the_schema_crate() {
    let declared: BTreeSet<String> = serde_json::to_value(CLIENT_METHOD_NAMES)
        .unwrap()
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(declared.contains("session/request_permission"));
    diff("agent->client methods", &declared, &names(CLIENT_METHODS));
}

/// A minimal valid update of each kind, so that the mapping can be probed row by row.
fn sample(kind: &str) -> Value {
    let text = json!({"type": "text", "text": "x"});
    match kind {
        "user_message_chunk" | "agent_message_chunk" | "agent_thought_chunk" => {
            json!({"content": text})
        }
        "tool_call" => json!({"toolCallId": "t", "title": "t", "status": "completed"}),
        "tool_call_update" => json!({"toolCallId": "t", "status": "completed"}),
        "plan" => json!({"entries": [{"content": "a", "priority": "low", "status": "pending"}]}),
        "usage_update" => json!({"used": 1, "size": 2}),
        "compaction_update" => json!({"compactionId": "c", "status": "completed"}),
        "compaction_summary_chunk" => json!({"compactionId": "c", "content": text}),
        "available_commands_update" => json!({"availableCommands": []}),
        "config_option_update" => json!({"configOptions": []}),
        _ => json!({}),
    }
}

#[test]
fn mapped_rows_have_mapping_code_and_ignored_rows_have_none() {
    for e in UPDATES {
        let mut update = sample(e.name);
        update["sessionUpdate"] = json!(e.name);
        let mut m = Mapper::default();
        let out = m.map(&json!({"sessionId": "s", "update": update}), false);
        let events: Vec<String> = out
            .iter()
            .filter_map(|ev| match ev {
                ProviderEvent::Event { body, .. } => serde_json::to_value(body)
                    .ok()
                    .and_then(|v| v["type"].as_str().map(str::to_string)),
                _ => None,
            })
            .collect();
        match e.handling {
            Handling::Mapped([]) => {
                assert!(
                    events.is_empty(),
                    "{} is kept, not shown: {events:?}",
                    e.name
                )
            }
            Handling::Mapped(expected) => {
                // The summary chunk is shown with the compaction that ends it.
                if e.name == "compaction_summary_chunk" {
                    continue;
                }
                assert!(!events.is_empty(), "{} is mapped in the table only", e.name);
                for ev in &events {
                    assert!(
                        expected.contains(&ev.as_str()),
                        "{}: {ev} not in its row",
                        e.name
                    );
                }
            }
            Handling::Ignored(_) | Handling::Answered(_) => {
                assert!(
                    events.is_empty(),
                    "{} is ignored but mapped: {events:?}",
                    e.name
                )
            }
        }
    }
}
