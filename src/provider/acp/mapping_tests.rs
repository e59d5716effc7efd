#![allow(clippy::unwrap_used, clippy::panic)]

use baton_protocol::{EventBody, ItemType, Stream, TurnState};
use serde_json::{Value, json};

use super::super::tools::unified_diff;
use super::*;

fn mapper() -> Mapper {
    let mut n = 0;
    Mapper::new(Box::new(move || {
        n += 1;
        format!("m{n}")
    }))
}

fn upd(update: Value) -> Value {
    json!({"sessionId": "s1", "update": update})
}

fn bodies(m: &mut Mapper, update: Value) -> Vec<(EventBody, Option<String>)> {
    m.map(&upd(update), false)
        .into_iter()
        .filter_map(|e| match e {
            ProviderEvent::Event { body, item_id, .. } => Some((body, item_id)),
            _ => None,
        })
        .collect()
}

fn chunk(kind: &str, text: &str) -> Value {
    json!({"sessionUpdate": kind, "content": {"type": "text", "text": text}})
}

#[test]
fn chunks_stream_and_end_as_one_item_per_message() {
    let mut m = mapper();
    let a = bodies(&mut m, chunk("agent_thought_chunk", "think"));
    assert!(
        matches!(&a[..], [(EventBody::ContentDelta(d), Some(id))] if d.stream == Stream::Reasoning && id == "m1")
    );
    // The first answer chunk ends the thought.
    let b = bodies(&mut m, chunk("agent_message_chunk", "Hel"));
    match &b[..] {
        [
            (EventBody::ItemCompleted(i), Some(id1)),
            (EventBody::ContentDelta(d), Some(id2)),
        ] => {
            assert_eq!(
                (i.item_type, i.text.as_deref(), id1.as_str()),
                (ItemType::Reasoning, Some("think"), "m1")
            );
            assert_eq!(
                (d.stream, d.delta.as_str(), id2.as_str()),
                (Stream::Assistant, "Hel", "m2")
            );
        }
        other => panic!("{other:?}"),
    }
    bodies(&mut m, chunk("agent_message_chunk", "lo"));
    let end = m.end_turn(false);
    let [
        ProviderEvent::Event {
            body: EventBody::ItemCompleted(i),
            item_id,
            ..
        },
    ] = &end[..]
    else {
        panic!("{end:?}");
    };
    assert_eq!(
        (i.item_type, i.text.as_deref(), item_id.as_deref()),
        (ItemType::AssistantMessage, Some("Hello"), Some("m2"))
    );
    assert!(m.end_turn(false).is_empty(), "nothing is completed twice");
}

#[test]
fn a_new_message_id_starts_a_new_item() {
    let mut m = mapper();
    let mut c = chunk("agent_message_chunk", "one");
    c["messageId"] = json!("a");
    bodies(&mut m, c);
    let mut c = chunk("agent_message_chunk", "two");
    c["messageId"] = json!("b");
    let out = bodies(&mut m, c);
    assert!(
        matches!(&out[0], (EventBody::ItemCompleted(i), Some(id)) if i.text.as_deref() == Some("one") && id == "a")
    );
    assert!(matches!(&out[1], (EventBody::ContentDelta(_), Some(id)) if id == "b"));
}

#[test]
fn tool_kinds_become_commands_file_changes_and_tool_calls() {
    let mut m = mapper();
    let started = bodies(
        &mut m,
        json!({"sessionUpdate": "tool_call", "toolCallId": "t1", "title": "touch x", "kind": "execute",
               "status": "pending", "rawInput": {"command": ["touch", "x"], "cwd": "/w"}}),
    );
    let [(EventBody::ItemStarted(i), Some(id))] = &started[..] else {
        panic!("{started:?}")
    };
    assert_eq!(
        (
            i.item_type,
            i.command.as_deref(),
            i.cwd.as_deref(),
            id.as_str()
        ),
        (ItemType::Command, Some("touch x"), Some("/w"), "t1")
    );
    let done = bodies(
        &mut m,
        json!({"sessionUpdate": "tool_call_update", "toolCallId": "t1", "status": "completed",
               "content": [{"type": "content", "content": {"type": "text", "text": "ok"}}]}),
    );
    let [(EventBody::ItemCompleted(i), _)] = &done[..] else {
        panic!("{done:?}")
    };
    assert_eq!(
        (i.output.as_deref(), i.status.as_deref()),
        (Some("ok"), Some("completed"))
    );

    let edit = bodies(
        &mut m,
        json!({"sessionUpdate": "tool_call", "toolCallId": "t2", "title": "Write a.txt", "kind": "edit",
               "status": "completed",
               "content": [{"type": "diff", "path": "/w/a.txt", "oldText": "1\n2\n3\n", "newText": "1\nX\n3\n"}]}),
    );
    let [
        (EventBody::ItemStarted(_), _),
        (EventBody::ItemCompleted(i), _),
    ] = &edit[..]
    else {
        panic!("{edit:?}")
    };
    let ch = &i.changes.as_ref().unwrap()[0];
    assert_eq!(
        (i.item_type, ch.path.as_str(), ch.kind.as_str()),
        (ItemType::FileChange, "/w/a.txt", "update")
    );
    assert_eq!(
        ch.diff.as_deref(),
        Some("--- a/w/a.txt\n+++ b/w/a.txt\n@@ -2,1 +2,1 @@\n-2\n+X\n")
    );

    let failed = bodies(
        &mut m,
        json!({"sessionUpdate": "tool_call_update", "toolCallId": "t3", "kind": "search", "title": "grep",
               "status": "failed", "content": [{"type": "content", "content": {"type": "text", "text": "boom"}}]}),
    );
    // An update for a call never announced still starts and ends an item.
    let [
        (EventBody::ItemStarted(_), _),
        (EventBody::ItemCompleted(i), _),
    ] = &failed[..]
    else {
        panic!("{failed:?}")
    };
    assert_eq!(
        (i.item_type, i.tool.as_deref(), i.error.as_deref()),
        (ItemType::ToolCall, Some("search"), Some("boom"))
    );
}

#[test]
fn plans_usage_and_compaction() {
    let mut m = mapper();
    let plan = bodies(
        &mut m,
        json!({"sessionUpdate": "plan", "entries": [
            {"content": "a", "priority": "high", "status": "completed"},
            {"content": "b", "priority": "low", "status": "in_progress"}]}),
    );
    let [(EventBody::TurnPlan(p), None)] = &plan[..] else {
        panic!("{plan:?}")
    };
    assert_eq!(p.steps.len(), 2);
    let usage = bodies(
        &mut m,
        json!({"sessionUpdate": "usage_update", "used": 1200, "size": 200000,
                                      "cost": {"amount": 0.5, "currency": "USD"}}),
    );
    let [(EventBody::UsageUpdated(u), None)] = &usage[..] else {
        panic!("{usage:?}")
    };
    assert_eq!(
        (u.context_tokens, u.context_window, u.cost_usd),
        (Some(1200), Some(200000), Some(0.5))
    );
    m.manual_compaction = true;
    let started = bodies(
        &mut m,
        json!({"sessionUpdate": "compaction_update", "compactionId": "c", "status": "in_progress"}),
    );
    assert!(
        matches!(&started[..], [(EventBody::CompactionStarted(s), None)] if s.trigger == CompactionTrigger::Manual)
    );
    bodies(
        &mut m,
        json!({"sessionUpdate": "compaction_summary_chunk", "compactionId": "c", "content": {"type": "text", "text": "sum"}}),
    );
    let done = bodies(
        &mut m,
        json!({"sessionUpdate": "compaction_update", "compactionId": "c", "status": "completed"}),
    );
    assert!(matches!(&done[..], [(EventBody::CompactionCompleted(c), None)] if c.summary == "sum"));
    let failed = bodies(
        &mut m,
        json!({"sessionUpdate": "compaction_update", "compactionId": "d", "status": "failed", "error": "no"}),
    );
    assert!(matches!(&failed[..], [(EventBody::CompactionFailed(c), None)] if c.error == "no"));
}

#[test]
fn commands_and_options_are_kept_and_replays_emit_nothing() {
    let mut m = mapper();
    let out = m.map(
        &upd(
            json!({"sessionUpdate": "available_commands_update", "availableCommands": [
            {"name": "compact", "description": "Compact"}, {"name": "/init", "description": "x"}]}),
        ),
        true,
    );
    assert!(matches!(&out[..], [ProviderEvent::Activity]));
    assert_eq!(m.commands, ["compact", "init"]);
    let replay = m.map(&upd(chunk("agent_message_chunk", "old")), true);
    assert!(matches!(&replay[..], [ProviderEvent::Activity]));
    assert!(
        m.end_turn(false).is_empty(),
        "a replayed message leaves nothing open"
    );
}

#[test]
fn unknown_and_malformed_updates_are_only_activity() {
    let mut m = mapper();
    for u in [
        json!({"sessionUpdate": "brand_new_kind"}),
        json!({"sessionUpdate": "tool_call", "status": 3}),
        json!({}),
    ] {
        assert!(matches!(
            &m.map(&upd(u), false)[..],
            [ProviderEvent::Activity]
        ));
    }
}

#[test]
fn stop_reasons() {
    let s = |v: &str| turn_completed(&serde_json::from_value(json!(v)).unwrap());
    assert_eq!(s("end_turn").state, TurnState::Completed);
    assert_eq!(s("cancelled").state, TurnState::Interrupted);
    let r = s("refusal");
    assert_eq!(
        (r.state, r.error.as_deref()),
        (TurnState::Completed, Some("the agent stopped: refusal"))
    );
    assert_eq!(
        s("max_tokens").error.as_deref(),
        Some("the agent stopped: max_tokens")
    );
}

#[test]
fn diffs_of_new_files_and_deletions() {
    assert_eq!(
        unified_diff("n.txt", None, "a\nb\n"),
        "--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1,2 @@\n+a\n+b\n"
    );
    assert_eq!(
        unified_diff("f", Some("a\nb\n"), "a\n"),
        "--- a/f\n+++ b/f\n@@ -2,1 +1,0 @@\n-b\n"
    );
}

#[test]
fn a_compact_turn_without_updates_takes_its_answer_as_the_summary() {
    let mut m = mapper();
    assert!(matches!(
        m.begin_compaction(),
        EventBody::CompactionStarted(_)
    ));
    // The agent's own in_progress after baton announced the compaction is not repeated.
    assert!(bodies(&mut m, json!({"sessionUpdate": "compaction_update", "compactionId": "c", "status": "in_progress"})).is_empty());
    bodies(&mut m, chunk("agent_message_chunk", "the summary"));
    let end = m.end_turn(true);
    assert!(
        matches!(&end[1], ProviderEvent::Event { body: EventBody::CompactionCompleted(c), .. } if c.summary == "the summary" && c.trigger == CompactionTrigger::Manual),
        "{end:?}"
    );
    m.begin_compaction();
    let end = m.end_turn(true);
    assert!(
        matches!(
            &end[..],
            [ProviderEvent::Event {
                body: EventBody::CompactionFailed(_),
                ..
            }]
        ),
        "{end:?}"
    );
    // When the agent reports the end itself, nothing is added.
    m.begin_compaction();
    bodies(
        &mut m,
        json!({"sessionUpdate": "compaction_update", "compactionId": "c", "status": "completed", "summary": [{"type": "text", "text": "s"}]}),
    );
    assert!(m.end_turn(true).is_empty());
}

#[test]
fn a_compaction_without_a_summary_fails_and_is_remembered() {
    let mut m = mapper();
    m.begin_compaction();
    let out = bodies(
        &mut m,
        json!({"sessionUpdate": "compaction_update", "compactionId": "c", "status": "completed"}),
    );
    assert!(
        matches!(&out[..], [(EventBody::CompactionFailed(f), None)] if f.error.contains("no summary")),
        "{out:?}"
    );
    assert!(m.no_summary);
}
