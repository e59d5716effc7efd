#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use baton_protocol::{ContentDelta, Event, EventBody, ProviderId, Stream};
use serde_json::{Value, json};

use super::EventFrame;
use crate::provider::ProviderEvent;
use crate::provider::codex::mapping::map_notification;
use crate::store::{EncodedEvent, Stamp};

/// What serde makes of the event's notification, the way the awaited path sends it.
fn expected(event: &Event, raw: Option<&Value>) -> Vec<u8> {
    let mut params = serde_json::to_value(event).unwrap();
    if let Some(raw) = raw {
        params["data"]
            .as_object_mut()
            .unwrap()
            .insert("raw".into(), raw.clone());
    }
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "method": "thread/event", "params": params}))
        .unwrap()
}

fn check(thread_id: &str, seq: i64, ev: &EncodedEvent, body: &EventBody, raw: Option<&Value>) {
    let stamp = Stamp {
        seq,
        at: 1_764_000_000_000 + seq % 1000,
    };
    let framed = EventFrame::new(thread_id, ev, raw).unwrap().stamped(stamp);
    let event = ev.clone().into_event(thread_id, stamp, body.clone());
    assert_eq!(
        String::from_utf8(framed).unwrap(),
        String::from_utf8(expected(&event, raw)).unwrap()
    );
}

/// Every event the recorded Codex transcripts map to, framed with and without ids and raw
/// messages, is byte for byte what serde makes of it.
#[test]
fn frames_equal_serde_for_every_fixture_event() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codex-0.169.0");
    let mut bodies = 0;
    for file in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        for line in text.lines() {
            let rec: Value = serde_json::from_str(line).unwrap();
            if rec["dir"] != "<<" {
                continue;
            }
            let Ok(msg) = serde_json::from_str::<Value>(rec["line"].as_str().unwrap()) else {
                continue;
            };
            let (Some(method), Some(params)) = (msg["method"].as_str(), msg.get("params")) else {
                continue;
            };
            for pe in map_notification(method, params) {
                let ProviderEvent::Event { body, .. } = pe else {
                    continue;
                };
                bodies += 1;
                let turn = (bodies % 2 == 0).then(|| format!("turn-{bodies}"));
                let item = (bodies % 3 == 0).then(|| "item \"q\"\n".to_string());
                let ev = EncodedEvent::new(ProviderId::codex(), turn, item, &body).unwrap();
                check("thread-1", bodies, &ev, &body, None);
                check("thread-1", i64::MAX - bodies, &ev, &body, Some(&msg));
            }
        }
    }
    assert!(
        bodies > 100,
        "only {bodies} events mapped from {}",
        dir.display()
    );
}

#[test]
fn frames_escape_text_and_carry_negative_and_large_seqs() {
    let body = EventBody::ContentDelta(ContentDelta {
        stream: Stream::Assistant,
        delta: "quote \" backslash \\ newline \n tab \t nul \u{0} é 🎉".into(),
    });
    let ev = EncodedEvent::new(
        ProviderId::parse("my-agent").unwrap(),
        Some("t\"1".into()),
        None,
        &body,
    )
    .unwrap();
    for seq in [0, 1, 9, 10, 12345678901234, -1, i64::MIN, i64::MAX] {
        check("th\"read", seq, &ev, &body, None);
        check(
            "th\"read",
            seq,
            &ev,
            &body,
            Some(&json!({"a": [1, "\u{1}"]})),
        );
    }
}

/// A body whose data is not an object goes out without `raw` rather than malformed.
#[test]
fn raw_is_left_out_of_data_that_is_not_an_object() {
    let body = EventBody::ContentDelta(ContentDelta {
        stream: Stream::Assistant,
        delta: "x".into(),
    });
    let mut ev = EncodedEvent::new(ProviderId::codex(), None, None, &body).unwrap();
    ev.data = "[1,2]".into();
    let framed = EventFrame::new("t", &ev, Some(&json!({"m": 1})))
        .unwrap()
        .stamped(Stamp { seq: 3, at: -5 });
    let v: Value = serde_json::from_slice(&framed).unwrap();
    assert_eq!(v["params"]["data"], json!([1, 2]));
    assert_eq!(v["params"]["seq"], 3);
    assert_eq!(v["params"]["at"], -5);
}
