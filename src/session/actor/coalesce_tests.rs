#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use baton_protocol::{ContentDelta, Stream};

use super::*;

fn delta(generation: u64, item: &str, stream: Stream, text: &str) -> (u64, ProviderEvent) {
    (
        generation,
        ProviderEvent::Event {
            body: EventBody::ContentDelta(ContentDelta {
                stream,
                delta: text.into(),
            }),
            native_turn: Some("n1".into()),
            item_id: Some(item.into()),
            raw: None,
        },
    )
}

fn text(ev: &(u64, ProviderEvent)) -> &str {
    match ev {
        (
            _,
            ProviderEvent::Event {
                body: EventBody::ContentDelta(d),
                ..
            },
        ) => &d.delta,
        _ => panic!("not a delta"),
    }
}

/// A run that has relayed `n` events of item `i1`.
fn run_of(n: usize) -> DeltaRun {
    let mut run = DeltaRun::default();
    for _ in 0..n {
        run.relayed(Some("i1"));
    }
    run
}

#[test]
fn an_item_first_events_are_never_joined() {
    let run = run_of(JOIN_AFTER - 1);
    let mut held = delta(1, "i1", Stream::Assistant, "a");
    let next = delta(1, "i1", Stream::Assistant, "b");
    assert!(join(&run, &mut held, next).is_some());
    assert_eq!(text(&held), "a");
}

#[test]
fn queued_deltas_of_a_long_stream_join_in_order() {
    let run = run_of(JOIN_AFTER);
    let mut held = delta(1, "i1", Stream::Assistant, "a");
    for t in ["b", "c", "é\"\n"] {
        assert!(join(&run, &mut held, delta(1, "i1", Stream::Assistant, t)).is_none());
    }
    assert_eq!(text(&held), "abcé\"\n");
}

#[test]
fn a_run_restarts_with_each_item() {
    let mut run = run_of(JOIN_AFTER);
    run.relayed(Some("i2"));
    let mut held = delta(1, "i2", Stream::Assistant, "a");
    assert!(join(&run, &mut held, delta(1, "i2", Stream::Assistant, "b")).is_some());
    // ... and a delta of the long-streaming item after one of another does not join either.
    let mut held = delta(1, "i1", Stream::Assistant, "a");
    assert!(join(&run, &mut held, delta(1, "i1", Stream::Assistant, "b")).is_some());
}

#[test]
fn only_deltas_of_the_same_generation_turn_item_and_stream_join() {
    let run = run_of(JOIN_AFTER);
    let held = || delta(1, "i1", Stream::Assistant, "a");
    let mut other_turn = delta(1, "i1", Stream::Assistant, "b");
    if let (_, ProviderEvent::Event { native_turn, .. }) = &mut other_turn {
        *native_turn = Some("n2".into());
    }
    let mut with_raw = delta(1, "i1", Stream::Assistant, "b");
    if let (_, ProviderEvent::Event { raw, .. }) = &mut with_raw {
        *raw = Some(serde_json::json!({"native": 1}));
    }
    let others = [
        delta(2, "i1", Stream::Assistant, "b"),
        delta(1, "i2", Stream::Assistant, "b"),
        delta(1, "i1", Stream::Reasoning, "b"),
        other_turn,
        with_raw,
        (1, ProviderEvent::Activity),
    ];
    for next in others {
        let mut h = held();
        assert!(join(&run, &mut h, next).is_some());
        assert_eq!(text(&h), "a");
    }
    // A held event with its raw message does not take others either.
    let mut h = held();
    if let (_, ProviderEvent::Event { raw, .. }) = &mut h {
        *raw = Some(serde_json::json!({"native": 1}));
    }
    assert!(join(&run, &mut h, delta(1, "i1", Stream::Assistant, "b")).is_some());
}

#[test]
fn a_joined_delta_stops_growing_at_the_cap() {
    let run = run_of(JOIN_AFTER);
    let mut held = delta(
        1,
        "i1",
        Stream::Assistant,
        &"x".repeat(MAX_JOINED_BYTES - 1),
    );
    assert!(join(&run, &mut held, delta(1, "i1", Stream::Assistant, "y")).is_none());
    assert!(join(&run, &mut held, delta(1, "i1", Stream::Assistant, "z")).is_some());
    assert_eq!(text(&held).len(), MAX_JOINED_BYTES);
}
