//! The adapter against the in-process fake agent ([`super::fake`]): sessions, turns, approvals,
//! fs, interrupt, resume (load / resume / lost), compaction, model, close, one process for all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use baton_protocol::{
    ApprovalDecision, ApprovalKind, EventBody, ItemType, ProviderId, ProviderKind, Stream,
    TurnMode, TurnState,
};
use tokio::sync::mpsc;

use super::fake::{Fake, FakeCaps};
use super::*;
use crate::config::{FsCapabilities, ProviderEntry};
use crate::provider::{ProviderEvent, ProviderSettings};

const T: Duration = Duration::from_secs(5);

pub(crate) fn entry(id: &str, fs: FsCapabilities) -> ProviderEntry {
    ProviderEntry {
        id: ProviderId::new(id),
        kind: ProviderKind::Acp,
        command: Some(vec!["fake-acp".into()]),
        env: BTreeMap::new(),
        fs,
    }
}

pub(crate) fn settings() -> Arc<ProviderSettings> {
    Arc::new(ProviderSettings {
        codex_bin: Some("/nonexistent".into()),
        claude_bin: Some("/nonexistent".into()),
        process_idle_timeout: Duration::from_secs(60),
        include_raw: Arc::new(AtomicBool::new(false)),
        codex_extra: Default::default(),
        claude_extra: Default::default(),
    })
}

fn provider(fake: &Fake, fs: FsCapabilities) -> AcpProvider {
    AcpProvider::with_launcher(entry("fake", fs), settings(), fake.launcher())
}

struct Thread {
    session: AcpSession,
    started: Started,
    rx: mpsc::Receiver<(u64, ProviderEvent)>,
    _dir: tempfile::TempDir,
    cwd: std::path::PathBuf,
}

async fn start(p: &AcpProvider, resume: Option<String>) -> Thread {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let (tx, rx) = mpsc::channel(256);
    let config = SessionConfig {
        thread_id: "t".into(),
        cwd: cwd.display().to_string(),
        model: None,
        approval_policy: None,
        sandbox: None,
        resume,
    };
    let (session, started) = tokio::time::timeout(T, p.start(config, EventSink::new(tx, 1)))
        .await
        .unwrap()
        .unwrap();
    Thread {
        session,
        started,
        rx,
        _dir: dir,
        cwd,
    }
}

/// The events up to and including `turn.completed` (approvals answered by `decide`).
async fn turn(t: &mut Thread, decide: Option<ApprovalDecision>) -> Vec<EventBody> {
    let mut out = Vec::new();
    loop {
        let (_, ev) = tokio::time::timeout(T, t.rx.recv()).await.unwrap().unwrap();
        match ev {
            ProviderEvent::Event { body, .. } => {
                let done = matches!(body, EventBody::TurnCompleted(_));
                out.push(body);
                if done {
                    return out;
                }
            }
            ProviderEvent::Approval { ask, reply, .. } => {
                assert_eq!(ask.kind, ApprovalKind::FileChange);
                out.push(EventBody::RuntimeWarning(baton_protocol::RuntimeWarning {
                    message: format!("approval: {}", ask.title),
                }));
                match decide {
                    Some(d) => reply.send(d).unwrap(),
                    None => drop(reply),
                }
            }
            ProviderEvent::Exited { message, .. } => panic!("exited: {message:?}"),
            _ => {}
        }
    }
}

fn types(events: &[EventBody]) -> Vec<String> {
    events
        .iter()
        .map(|b| {
            serde_json::to_value(b).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn answer(events: &[EventBody]) -> String {
    events
        .iter()
        .filter_map(|b| match b {
            EventBody::ItemCompleted(i) if i.item_type == ItemType::AssistantMessage => {
                i.text.clone()
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("|")
}

#[tokio::test]
async fn a_streamed_turn_maps_in_order() {
    let fake = Fake::new(FakeCaps::default());
    let p = provider(&fake, FsCapabilities::default());
    let mut t = start(&p, None).await;
    assert_eq!(t.started.native_id, "fake-1");
    assert!(!t.started.resumed);
    assert_eq!(t.started.model.as_deref(), Some("fast"));
    t.session
        .send_turn("hello".into(), None, TurnMode::Default)
        .await
        .unwrap();
    let ev = turn(&mut t, None).await;
    assert_eq!(
        types(&ev),
        [
            "turn.started",
            "item.started",
            "item.completed",
            "content.delta",
            "item.completed",
            "content.delta",
            "content.delta",
            "item.completed",
            "turn.completed"
        ]
    );
    assert!(
        matches!(&ev[2], EventBody::ItemCompleted(i) if i.item_type == ItemType::UserMessage && i.text.as_deref() == Some("hello"))
    );
    assert!(matches!(&ev[3], EventBody::ContentDelta(d) if d.stream == Stream::Reasoning));
    assert_eq!(answer(&ev), "Hi there");
    assert!(
        matches!(ev.last(), Some(EventBody::TurnCompleted(c)) if c.state == TurnState::Completed)
    );
    // The version and capabilities come from the agent's initialize, the rest from its session.
    let info = p.info();
    assert_eq!(info.version.as_deref(), Some("9.9.9"));
    assert!(
        info.capabilities.resume
            && info.capabilities.compact
            && info.capabilities.in_session_model_switch
    );
    let init = &fake.log.lock().unwrap()[0];
    assert_eq!(init.0, "initialize");
    assert_eq!(init.1["clientCapabilities"]["terminal"], false);
    assert_eq!(
        init.1["clientCapabilities"]["session"]["compaction"],
        serde_json::json!({})
    );
}

#[tokio::test]
async fn permissions_accepted_write_and_declined_do_not() {
    let fake = Fake::new(FakeCaps::default());
    let p = provider(&fake, FsCapabilities::default());
    let mut t = start(&p, None).await;
    t.session
        .send_turn("write yes.txt hello".into(), None, TurnMode::Default)
        .await
        .unwrap();
    let ev = turn(&mut t, Some(ApprovalDecision::Accept)).await;
    assert!(
        types(&ev).contains(&"runtime.warning".to_string()),
        "{ev:?}"
    );
    assert_eq!(answer(&ev), "write completed");
    assert_eq!(
        std::fs::read_to_string(t.cwd.join("yes.txt")).unwrap(),
        "hello"
    );
    let started = ev.iter().find_map(|b| match b {
        EventBody::ItemStarted(i) if i.item_type != ItemType::UserMessage => Some(i.clone()),
        _ => None,
    });
    assert_eq!(started.unwrap().item_type, ItemType::FileChange);

    t.session
        .send_turn("write no.txt hello".into(), None, TurnMode::Default)
        .await
        .unwrap();
    let ev = turn(&mut t, Some(ApprovalDecision::Decline)).await;
    assert_eq!(answer(&ev), "write failed");
    assert!(!t.cwd.join("no.txt").exists());
    // No answer at all (the reply dropped) rejects too.
    t.session
        .send_turn("write drop.txt x".into(), None, TurnMode::Default)
        .await
        .unwrap();
    let ev = turn(&mut t, None).await;
    assert_eq!(answer(&ev), "write failed");
    assert!(!t.cwd.join("drop.txt").exists());
}

#[tokio::test]
async fn fs_requests_outside_the_cwd_are_refused_and_reads_can_be_off() {
    let fake = Fake::new(FakeCaps::default());
    let p = provider(&fake, FsCapabilities::default());
    let mut t = start(&p, None).await;
    std::fs::write(t.cwd.join("in.txt"), "inside").unwrap();
    let inside = format!("read {}", t.cwd.join("in.txt").display());
    t.session
        .send_turn(inside, None, TurnMode::Default)
        .await
        .unwrap();
    assert_eq!(answer(&turn(&mut t, None).await), "content: inside");
    t.session
        .send_turn("read /etc/hostname".into(), None, TurnMode::Default)
        .await
        .unwrap();
    let a = answer(&turn(&mut t, None).await);
    assert!(
        a.starts_with("error: ") && a.contains("outside the thread's working directory"),
        "{a}"
    );

    let fake = Fake::new(FakeCaps::default());
    let no_read = FsCapabilities {
        read_text_file: false,
        write_text_file: true,
    };
    let p = provider(&fake, no_read);
    let mut t = start(&p, None).await;
    assert_eq!(
        fake.log.lock().unwrap()[0].1["clientCapabilities"]["fs"]["readTextFile"],
        false
    );
    let inside = format!("read {}", t.cwd.join("x").display());
    t.session
        .send_turn(inside, None, TurnMode::Default)
        .await
        .unwrap();
    assert!(answer(&turn(&mut t, None).await).contains("not advertised"));
}

#[tokio::test]
async fn interrupt_cancels_the_turn() {
    let fake = Fake::new(FakeCaps::default());
    let p = provider(&fake, FsCapabilities::default());
    let mut t = start(&p, None).await;
    t.session
        .send_turn("wait".into(), None, TurnMode::Default)
        .await
        .unwrap();
    // The first chunk shows the turn runs; then interrupt.
    loop {
        let (_, ev) = tokio::time::timeout(T, t.rx.recv()).await.unwrap().unwrap();
        if let ProviderEvent::Event {
            body: EventBody::ContentDelta(_),
            ..
        } = ev
        {
            break;
        }
    }
    t.session.interrupt().await.unwrap();
    let ev = turn(&mut t, None).await;
    assert!(
        matches!(ev.last(), Some(EventBody::TurnCompleted(c)) if c.state == TurnState::Interrupted),
        "{ev:?}"
    );
    assert_eq!(
        answer(&ev),
        "working",
        "the message streamed so far is completed"
    );
    assert!(fake.methods().contains(&"session/cancel".to_string()));
}

#[tokio::test]
async fn resume_by_load_replays_nothing_and_a_lost_cursor_starts_fresh() {
    let fake = Fake::new(FakeCaps::default());
    let p = provider(&fake, FsCapabilities::default());
    let mut t = start(&p, None).await;
    t.session
        .send_turn("remember me".into(), None, TurnMode::Default)
        .await
        .unwrap();
    turn(&mut t, None).await;
    t.session.stop().await;
    assert!(fake.methods().contains(&"session/close".to_string()));
    let cursor = t.started.native_id.clone();
    // A baton restart: a new provider (and agent process) with the same sessions on disk.
    let p2 = provider(&fake, FsCapabilities::default());
    let mut t2 = start(&p2, Some(cursor.clone())).await;
    assert!(t2.started.resumed);
    assert_eq!(t2.started.native_id, cursor);
    assert!(t2.started.warning.is_none());
    assert!(fake.methods().contains(&"session/load".to_string()));
    t2.session
        .send_turn("hello".into(), None, TurnMode::Default)
        .await
        .unwrap();
    let ev = turn(&mut t2, None).await;
    assert_eq!(
        answer(&ev),
        "Hi there",
        "the replayed history is not reported again: {ev:?}"
    );
    assert_eq!(fake.launches.load(Ordering::SeqCst), 2);

    fake.forget_sessions();
    let p3 = provider(&fake, FsCapabilities::default());
    let t3 = start(&p3, Some(cursor.clone())).await;
    assert!(!t3.started.resumed);
    assert_ne!(t3.started.native_id, cursor);
    assert!(
        t3.started
            .warning
            .as_deref()
            .unwrap()
            .contains("started a fresh session")
    );
}

#[tokio::test]
async fn resume_prefers_session_resume_and_without_either_starts_fresh() {
    let fake = Fake::new(FakeCaps {
        resume: true,
        ..FakeCaps::default()
    });
    let p = provider(&fake, FsCapabilities::default());
    let t = start(&p, None).await;
    let t2 = start(&p, Some(t.started.native_id.clone())).await;
    assert!(t2.started.resumed);
    let m = fake.methods();
    assert!(m.contains(&"session/resume".to_string()) && !m.contains(&"session/load".to_string()));

    let fake = Fake::new(FakeCaps {
        load: false,
        resume: false,
        ..FakeCaps::default()
    });
    let p = provider(&fake, FsCapabilities::default());
    let t = start(&p, Some("old".into())).await;
    assert!(!t.started.resumed);
    assert!(
        t.started
            .warning
            .as_deref()
            .unwrap()
            .contains("cannot resume sessions")
    );
    assert!(!p.info().capabilities.resume);
}

#[tokio::test]
async fn one_agent_process_serves_every_thread() {
    let fake = Fake::new(FakeCaps::default());
    let p = provider(&fake, FsCapabilities::default());
    let mut a = start(&p, None).await;
    let mut b = start(&p, None).await;
    assert_ne!(a.started.native_id, b.started.native_id);
    a.session
        .send_turn("one".into(), None, TurnMode::Default)
        .await
        .unwrap();
    b.session
        .send_turn("two".into(), None, TurnMode::Default)
        .await
        .unwrap();
    assert_eq!(answer(&turn(&mut a, None).await), "echo: one");
    assert_eq!(answer(&turn(&mut b, None).await), "echo: two");
    assert_eq!(fake.launches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn compaction_runs_the_agents_command_and_models_change_by_config_option() {
    let fake = Fake::new(FakeCaps::default());
    let p = provider(&fake, FsCapabilities::default());
    let mut t = start(&p, None).await;
    // The commands follow session/new's answer, as with real agents.
    tokio::time::timeout(T, async {
        while !t.session.can_compact() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    t.session
        .compact(Some("keep the goal".into()))
        .await
        .unwrap();
    let ev = turn(&mut t, None).await;
    assert_eq!(
        types(&ev),
        [
            "turn.started",
            "compaction.started",
            "compaction.completed",
            "turn.completed"
        ]
    );
    assert!(
        matches!(&ev[2], EventBody::CompactionCompleted(c) if c.summary == "summary of the session")
    );
    let last_prompt = fake
        .log
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(m, _)| m == "session/prompt")
        .unwrap()
        .1
        .clone();
    assert_eq!(last_prompt["prompt"][0]["text"], "/compact keep the goal");
    assert!(p.can_compact());

    t.session.set_model("smart").await.unwrap();
    assert_eq!(t.session.model().as_deref(), Some("smart"));
    assert!(
        t.session.set_model("nope").await.is_ok(),
        "the agent judges the value"
    );

    let fake = Fake::new(FakeCaps {
        compact: false,
        ..FakeCaps::default()
    });
    let p = provider(&fake, FsCapabilities::default());
    let mut t = start(&p, None).await;
    t.session
        .send_turn("x".into(), None, TurnMode::Default)
        .await
        .unwrap();
    turn(&mut t, None).await;
    let e = t.session.compact(None).await.unwrap_err();
    assert!(
        e.to_string().contains("not supported by this provider"),
        "{e}"
    );
    assert!(!p.can_compact());
}
