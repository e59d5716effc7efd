//! JSON Schema generation for the whole protocol: one document whose `definitions` name every
//! params, result and notification type, and whose `methods` table maps each method to them.

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use crate::*;

/// Path of the committed schema, relative to the `protocol/` crate.
pub const SCHEMA_PATH: &str = "schema/baton.schema.json";

fn def<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    generator.subschema_for::<T>().to_value()
}

/// `v` with every object's keys in sorted order. serde_json keeps insertion order when another
/// crate in the build turns on its `preserve_order` feature (the ACP schema crate does), so the
/// document is sorted explicitly to come out the same in every build (and so are test snapshots
/// that print JSON values).
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The complete schema document, pretty-printed with a trailing newline.
pub fn generate() -> String {
    let settings = SchemaSettings::draft07();
    let mut generator = SchemaGenerator::new(settings);
    let mut methods = Map::new();
    let mut add = |name: &str, dir: &str, params: Value, result: Option<Value>| {
        let mut m = Map::new();
        m.insert("direction".into(), json!(dir));
        m.insert("params".into(), params);
        if let Some(r) = result {
            m.insert("result".into(), r);
        }
        methods.insert(name.into(), Value::Object(m));
    };
    let g = &mut generator;
    add(
        "initialize",
        "request",
        def::<InitializeParams>(g),
        Some(def::<InitializeResult>(g)),
    );
    add(
        "initialized",
        "notification",
        json!({"type": "object"}),
        None,
    );
    add(
        "shutdown",
        "request",
        json!({"type": "null"}),
        Some(json!({"type": "null"})),
    );
    add("exit", "notification", json!({"type": "null"}), None);
    add(
        "$/cancelRequest",
        "notification",
        def::<CancelParams>(g),
        None,
    );
    add(
        "provider/list",
        "request",
        def::<ProviderListParams>(g),
        Some(def::<ProviderListResponse>(g)),
    );
    add(
        "thread/start",
        "request",
        def::<ThreadStartParams>(g),
        Some(def::<ThreadResponse>(g)),
    );
    add(
        "thread/list",
        "request",
        def::<ThreadListParams>(g),
        Some(def::<ThreadListResponse>(g)),
    );
    add(
        "thread/read",
        "request",
        def::<ThreadReadParams>(g),
        Some(def::<ThreadReadResponse>(g)),
    );
    add(
        "thread/update",
        "request",
        def::<ThreadUpdateParams>(g),
        Some(def::<ThreadResponse>(g)),
    );
    add(
        "thread/stop",
        "request",
        def::<ThreadStopParams>(g),
        Some(def::<ThreadResponse>(g)),
    );
    add(
        "thread/delete",
        "request",
        def::<ThreadDeleteParams>(g),
        Some(def::<EmptyResponse>(g)),
    );
    add(
        "thread/compact/start",
        "request",
        def::<ThreadCompactStartParams>(g),
        Some(def::<EmptyResponse>(g)),
    );
    add(
        "thread/switch",
        "request",
        def::<ThreadSwitchParams>(g),
        Some(def::<ThreadSwitchResponse>(g)),
    );
    add(
        "turn/start",
        "request",
        def::<TurnStartParams>(g),
        Some(def::<TurnStartResponse>(g)),
    );
    add(
        "turn/interrupt",
        "request",
        def::<TurnInterruptParams>(g),
        Some(def::<EmptyResponse>(g)),
    );
    add(
        "thread/takeover",
        "request",
        def::<ThreadTakeoverParams>(g),
        Some(def::<ThreadResponse>(g)),
    );
    add(
        "thread/subscribe",
        "request",
        def::<ThreadSubscribeParams>(g),
        Some(def::<ThreadResponse>(g)),
    );
    add(
        "thread/unsubscribe",
        "request",
        def::<ThreadUnsubscribeParams>(g),
        Some(def::<EmptyResponse>(g)),
    );
    add("thread/event", "notification", def::<Event>(g), None);
    add(
        "approval/request",
        "serverRequest",
        def::<ApprovalRequestParams>(g),
        Some(def::<ApprovalResponse>(g)),
    );
    add(
        "input/request",
        "serverRequest",
        def::<InputRequestParams>(g),
        Some(def::<InputResponse>(g)),
    );
    // Error data is not tied to a method: name it so that it lands in `definitions`.
    let leased = def::<ThreadLeasedData>(&mut generator);
    let definitions = generator.take_definitions(true);
    let doc = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "baton protocol",
        "description": "JSON-RPC 2.0 methods of baton, protocol version 1. `methods` maps each method to its params and result; `definitions` holds the types.",
        "protocolVersion": PROTOCOL_VERSION,
        "methods": Value::Object(methods),
        "errorData": {"-32016": leased},
        "definitions": Value::Object(definitions),
    });
    let mut out = serde_json::to_string_pretty(&sorted(doc)).unwrap_or_default();
    out.push('\n');
    out
}
