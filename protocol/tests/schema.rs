//! The committed schema must equal what the types generate.
#![allow(clippy::unwrap_used)]

#[test]
fn committed_schema_is_fresh() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(baton_protocol::schema::SCHEMA_PATH);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = baton_protocol::schema::generate();
    assert!(
        committed == generated,
        "protocol/schema/baton.schema.json is stale; regenerate it with:\n    cargo run -p baton-protocol --bin baton-schema"
    );
}

#[test]
fn event_wire_shape() {
    use baton_protocol::*;
    let ev = Event {
        thread_id: "t1".into(),
        seq: 3,
        provider: ProviderId::codex(),
        at: 1,
        turn_id: Some("u1".into()),
        item_id: None,
        body: EventBody::ContentDelta(ContentDelta {
            stream: Stream::Assistant,
            delta: "hi".into(),
        }),
    };
    let v = serde_json::to_value(&ev).unwrap();
    pretty_assertions::assert_eq!(
        v,
        serde_json::json!({"threadId":"t1","seq":3,"provider":"codex","at":1,"turnId":"u1",
            "type":"content.delta","data":{"stream":"assistant","delta":"hi"}})
    );
    let back: Event = serde_json::from_value(v).unwrap();
    assert_eq!(back, ev);
}
