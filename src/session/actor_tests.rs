//! The actor's generation guard, tested without a provider: events stamped with an earlier
//! session generation (a replaced or stopped session's late exit, a late turn completion) must
//! change nothing — no thread state, no log entry, no notification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use baton_protocol::{
    EventBody, ExitReason, Item, ItemType, ProviderId, ThreadStatus, TurnCompleted, TurnState,
};
use tokio::sync::mpsc;

use super::*;
use crate::editor::{Editor, EditorSettings};
use crate::provider::{ProviderSettings, Providers};
use crate::store::{NewThread, Store};

async fn actor(dir: &std::path::Path) -> (Actor, tokio::io::DuplexStream) {
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
        }),
        idle_timeout: Arc::new(0.into()),
    };
    let sessions = Sessions::new(ctx.clone());
    let (self_tx, _rx) = mpsc::channel(8);
    let (events_tx, _events_rx) = mpsc::channel(8);
    let actor = Actor {
        ctx,
        sessions,
        self_tx,
        thread,
        session: None,
        generation: 2,
        events_tx,
        active_turn: Some(ActiveTurn {
            id: "turn-1".into(),
            native: Some("native-1".into()),
        }),
        approvals: HashMap::new(),
        inputs: HashMap::new(),
        last_activity: Instant::now(),
        pending_handoff: None,
        last_compaction: None,
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
