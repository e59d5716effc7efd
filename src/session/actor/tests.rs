//! The actor without a provider. The generation guard: events stamped with an earlier session
//! generation (a replaced or stopped session's late exit, a late turn completion) must change
//! nothing — no thread state, no log entry, no notification. Retirement: an actor that is
//! stopped and idle, or whose thread is deleted, leaves the registry, and the registry spawns a
//! fresh one for the next command.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use baton_protocol::{
    EventBody, ExitReason, Item, ItemType, ProviderId, ThreadStatus, TurnCompleted, TurnState,
    errors,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::*;
use crate::editor::{Editor, EditorSettings};
use crate::provider::{ProviderSettings, Providers};
use crate::store::{NewThread, Store};

/// A context whose providers cannot start (their binaries do not exist), with one thread "t".
async fn context(dir: &std::path::Path) -> (Context, Thread, tokio::io::DuplexStream) {
    let store = Store::open(&dir.join("baton.db")).unwrap();
    let thread = store
        .create_thread(NewThread {
            id: "t".into(),
            provider: ProviderId::codex(),
            model: None,
            cwd: "/".into(),
            title: None,
            approval_policy: None,
            sandbox: None,
        })
        .await
        .unwrap();
    let (ours, editor_side) = tokio::io::duplex(1 << 20);
    let (r, w) = tokio::io::split(ours);
    let (peer, _incoming) = crate::rpc::spawn(r, w, crate::rpc::PeerOptions::editor());
    let include_raw = Arc::new(AtomicBool::new(false));
    let ctx = Context {
        store,
        editor: Editor::new(peer, Arc::new(EditorSettings::default())),
        providers: Providers::new(ProviderSettings {
            codex_bin: Some("/nonexistent".into()),
            claude_bin: Some("/nonexistent".into()),
            process_idle_timeout: Duration::from_secs(60),
            include_raw,
            codex_extra: Default::default(),
            claude_extra: Default::default(),
        }),
        idle_timeout: Arc::new(0.into()),
        turn_inactivity_timeout: Arc::new(0.into()),
    };
    (ctx, thread, editor_side)
}

async fn actor(dir: &std::path::Path) -> (Actor, tokio::io::DuplexStream) {
    let (ctx, thread, editor_side) = context(dir).await;
    let sessions = Sessions::new(ctx.clone());
    let (self_tx, _rx) = mpsc::channel(8);
    let (events_tx, _events_rx) = mpsc::channel(8);
    let actor = Actor {
        ctx,
        sessions,
        self_tx,
        key: std::sync::Arc::from(thread.id.as_str()),
        thread,
        session: None,
        generation: 2,
        events_tx,
        active_turn: Some(ActiveTurn {
            id: "turn-1".into(),
            native: Some("native-1".into()),
            ..Default::default()
        }),
        approvals: HashMap::new(),
        inputs: HashMap::new(),
        last_activity: Instant::now(),
        delta_run: Default::default(),
        pending_handoff: None,
        last_compaction: None,
        liveness: crate::session::budget::Liveness::None,
        leased: false,
        exit_message: None,
    };
    (actor, editor_side)
}

fn event(body: EventBody) -> ProviderEvent {
    ProviderEvent::Event {
        body,
        native_turn: Some("native-1".into()),
        item_id: None,
        raw: None,
    }
}

#[tokio::test]
async fn late_events_of_an_earlier_generation_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, _editor) = actor(dir.path()).await;
    let before = a.thread.clone();
    // The old session's turn completion and exit arrive after the session was replaced.
    a.provider_event(
        1,
        event(EventBody::TurnCompleted(TurnCompleted {
            state: TurnState::Failed,
            error: Some("late".into()),
        })),
    )
    .await;
    a.provider_event(
        1,
        ProviderEvent::Exited {
            reason: ExitReason::Crashed,
            message: Some("old process exited".into()),
        },
    )
    .await;
    assert!(
        a.active_turn.is_some(),
        "a stale completion must not end the running turn"
    );
    assert_eq!(a.thread, before, "no state change");
    assert!(
        a.ctx
            .store
            .read_events("t", 0, None)
            .await
            .unwrap()
            .is_empty(),
        "no log entry"
    );

    // The same events from the current generation do take effect.
    a.provider_event(
        2,
        event(EventBody::ItemCompleted(Item {
            text: Some("hi".into()),
            ..Item::new(ItemType::AssistantMessage)
        })),
    )
    .await;
    a.provider_event(
        2,
        event(EventBody::TurnCompleted(TurnCompleted {
            state: TurnState::Completed,
            error: None,
        })),
    )
    .await;
    assert!(a.active_turn.is_none());
    let log = a.ctx.store.read_events("t", 0, None).await.unwrap();
    let types: Vec<&str> = log.iter().map(|e| e.body.type_name()).collect();
    assert_eq!(types, ["item.completed", "turn.completed"]);
    assert_eq!(log[1].turn_id.as_deref(), Some("turn-1"));
    assert_eq!(a.thread.status, ThreadStatus::Stopped);
}

/// Waits (bounded) until the registry no longer holds the thread's actor.
async fn retired(sessions: &Sessions, thread_id: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while sessions.is_live(thread_id) {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

#[tokio::test]
async fn a_stopped_idle_actor_retires_and_the_next_command_respawns_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _thread, _editor) = context(dir.path()).await;
    let store = ctx.store.clone();
    store
        .update_thread(
            "t",
            ThreadUpdate {
                provider_thread_id: Some(Some("cursor-1".into())),
                pending_handoff: Some(Some("handoff block".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let sessions = Sessions::new(ctx);
    assert!(!sessions.is_live("t"));

    // A soft stop of a thread without a session: nothing live is left, so the actor retires.
    let t = sessions
        .call("t", |reply| Command::Stop {
            detach: false,
            reply,
        })
        .await
        .unwrap();
    assert_eq!(t.provider_thread_id.as_deref(), Some("cursor-1"));
    assert!(
        retired(&sessions, "t").await,
        "the registry still holds the actor"
    );

    // The next command gets a fresh actor, spawned from the persisted binding.
    let t = sessions
        .call("t", |reply| Command::Stop {
            detach: true,
            reply,
        })
        .await
        .unwrap();
    assert_eq!(
        t.provider_thread_id, None,
        "the respawned actor applied the detach"
    );
    assert!(retired(&sessions, "t").await);

    // A start that fails leaves nothing live either: an error, and the actor retires.
    let e = sessions
        .call("t", |reply| Command::Start { reply })
        .await
        .unwrap_err();
    assert_eq!(e.code, errors::PROVIDER_UNAVAILABLE, "{}", e.message);
    assert!(retired(&sessions, "t").await);
    let binding = store.get_binding("t").await.unwrap().unwrap();
    assert_eq!(binding.thread.status, ThreadStatus::Error);
    assert_eq!(
        binding.pending_handoff.as_deref(),
        Some("handoff block"),
        "what a retired actor held stays persisted"
    );
}

#[tokio::test]
async fn a_deleted_thread_retires_its_actor() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _thread, _editor) = context(dir.path()).await;
    let store = ctx.store.clone();
    let sessions = Sessions::new(ctx);
    sessions
        .call("t", |reply| Command::Delete { reply })
        .await
        .unwrap();
    assert!(
        retired(&sessions, "t").await,
        "the registry still holds the actor"
    );
    assert!(store.get_binding("t").await.unwrap().is_none());
    let e = sessions
        .call("t", |reply| Command::Interrupt { reply })
        .await
        .unwrap_err();
    assert_eq!(e.code, errors::THREAD_NOT_FOUND);
    assert!(
        !sessions.is_live("t"),
        "no actor is spawned for a deleted thread"
    );
}

#[tokio::test]
async fn a_command_sent_to_a_retired_actor_reaches_a_fresh_one() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, _thread, _editor) = context(dir.path()).await;
    let sessions = Sessions::new(ctx);
    let stale = sessions.get("t").await.unwrap();
    let e = stale
        .call(|reply| Command::Interrupt { reply })
        .await
        .unwrap_err();
    assert_eq!(e.code, errors::NO_ACTIVE_TURN);
    assert!(retired(&sessions, "t").await);
    // A caller that looked the actor up before it retired still holds its handle: the closed
    // inbox gives the command back and the registry delivers it to a fresh actor.
    sessions.actors().insert("t".into(), stale.clone());
    assert!(stale.tx.is_closed());
    let t = sessions
        .call("t", |reply| Command::Stop {
            detach: false,
            reply,
        })
        .await
        .unwrap();
    assert_eq!(t.id, "t");
    assert!(retired(&sessions, "t").await);
}

/// A long stream of deltas already queued when the actor takes them: the item's first events
/// go out one per delta, the rest are joined, and the log holds the whole text, in order, with
/// gapless seqs.
#[tokio::test]
async fn queued_deltas_of_a_long_stream_are_joined_into_fewer_events() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, _editor) = actor(dir.path()).await;
    let store = a.ctx.store.clone();
    let (events_tx, events_rx) = mpsc::channel(1024);
    a.events_tx = events_tx.clone();
    const DELTAS: usize = 500;
    let mut expected = String::new();
    for i in 0..DELTAS {
        let piece = format!("{};", i);
        expected.push_str(&piece);
        let mut ev = event(EventBody::ContentDelta(baton_protocol::ContentDelta {
            stream: baton_protocol::Stream::Assistant,
            delta: piece,
        }));
        if let ProviderEvent::Event { item_id, .. } = &mut ev {
            *item_id = Some("item-1".into());
        }
        events_tx.send((2, ev)).await.unwrap();
    }
    events_tx
        .send((
            2,
            event(EventBody::TurnCompleted(TurnCompleted {
                state: TurnState::Completed,
                error: None,
            })),
        ))
        .await
        .unwrap();
    let (_cmd_tx, cmd_rx) = mpsc::channel(8);
    let task = tokio::spawn(a.run(cmd_rx, events_rx));
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = store.read_events("t", 0, None).await.unwrap();
        if log.last().map(|e| e.body.type_name()) == Some("turn.completed") {
            break log;
        }
        assert!(Instant::now() < deadline, "the turn was not logged in 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    task.abort();
    let deltas: Vec<&str> = log
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ContentDelta(d) => Some(d.delta.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deltas.concat(), expected, "the whole text, in order");
    assert_eq!(
        deltas[..super::coalesce::JOIN_AFTER],
        (0..super::coalesce::JOIN_AFTER)
            .map(|i| format!("{i};"))
            .collect::<Vec<_>>()[..],
        "the first events go out one delta each"
    );
    assert!(
        deltas.len() < DELTAS / 4,
        "{} events for {DELTAS} queued deltas",
        deltas.len()
    );
    let seqs: Vec<i64> = log.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>());
}
