//! The Codex adapter on the host against a fake `codex app-server` over in-memory pipes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use tokio::io::{DuplexStream, duplex};

use super::super::CodexPool;
use super::*;
use crate::provider::host::{Launcher, Transport};
use crate::provider::{ProviderSettings, SessionConfig};
use crate::rpc::{Peer, PeerOptions};

const T: Duration = Duration::from_secs(5);

fn settings() -> ProviderSettings {
    ProviderSettings {
        codex_bin: None,
        claude_bin: None,
        process_idle_timeout: Duration::from_secs(60),
        include_raw: Arc::new(AtomicBool::new(false)),
        codex_extra: Default::default(),
        claude_extra: Default::default(),
    }
}

fn config(thread: &str) -> SessionConfig {
    SessionConfig {
        thread_id: thread.into(),
        cwd: "/tmp".into(),
        model: None,
        approval_policy: None,
        sandbox: None,
        resume: None,
    }
}

/// Plays codex: answers the handshake and `thread/start` (threads `A`, `B`, … with a rollout
/// file each under `dir`); returns its peer for sending notifications.
async fn fake_codex(mut pipes: mpsc::Receiver<DuplexStream>, dir: std::path::PathBuf) -> Peer {
    let pipe = tokio::time::timeout(T, pipes.recv())
        .await
        .unwrap()
        .unwrap();
    let (r, w) = tokio::io::split(pipe);
    let (peer, mut incoming) = crate::rpc::spawn(r, w, PeerOptions::provider("fake-codex"));
    let answering = peer.clone();
    tokio::spawn(async move {
        let mut threads = 0u8;
        while let Some(msg) = incoming.recv().await {
            let Incoming::Request { id, method, .. } = msg else {
                continue;
            };
            let result = match method.as_str() {
                "thread/start" => {
                    let name = char::from(b'A' + threads).to_string();
                    threads += 1;
                    let path = dir.join(format!("rollout-{name}.jsonl"));
                    std::fs::write(&path, "{\"type\":\"session_meta\"}\n").unwrap();
                    json!({"thread": {"id": name, "path": path}, "model": "mock-model"})
                }
                _ => json!({}),
            };
            answering.respond(id, Ok(result)).await.unwrap();
        }
    });
    peer
}

fn pool() -> (CodexPool, mpsc::Receiver<DuplexStream>) {
    let (tx, pipes) = mpsc::channel(4);
    let launch: Launcher = Arc::new(move || {
        let (ours, theirs) = duplex(1 << 16);
        tx.try_send(theirs).unwrap();
        let (r, w) = tokio::io::split(ours);
        Ok(Transport {
            reader: Box::new(r),
            writer: Box::new(w),
            child: None,
        })
    });
    (CodexPool::with_launcher(&settings(), launch), pipes)
}

type Events = mpsc::Receiver<(u64, ProviderEvent)>;
type Start = (
    crate::provider::codex::CodexSession,
    crate::provider::Started,
);

/// A fake codex with two started threads, `A` and `B`, and their events.
async fn two_threads() -> (tempfile::TempDir, Peer, Start, Start, Events, Events) {
    let dir = tempfile::tempdir().unwrap();
    let (pool, pipes) = pool();
    let (codex, (a, b, a_rx, b_rx)) = tokio::join!(fake_codex(pipes, dir.path().into()), async {
        let (a_tx, a_rx) = mpsc::channel(64);
        let (b_tx, b_rx) = mpsc::channel(64);
        let a = pool
            .start(config("ta"), EventSink::new(a_tx, 1))
            .await
            .unwrap();
        let b = pool
            .start(config("tb"), EventSink::new(b_tx, 1))
            .await
            .unwrap();
        (a, b, a_rx, b_rx)
    });
    (dir, codex, a, b, a_rx, b_rx)
}

fn compaction_item(thread: &str) -> Value {
    json!({"threadId": thread, "turnId": "t1", "item": {"type": "contextCompaction", "id": "c1"}})
}

/// Waits for the first event whose body matches.
async fn wait_for(
    rx: &mut mpsc::Receiver<(u64, ProviderEvent)>,
    limit: Duration,
    want: impl Fn(&EventBody) -> bool,
) -> Option<EventBody> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some((_, ProviderEvent::Event { body, .. }))) if want(&body) => return Some(body),
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn one_threads_compaction_wait_does_not_stall_another_thread() {
    let (dir, codex, (a, a_started), (_b, b_started), mut a_rx, mut b_rx) = two_threads().await;
    assert_eq!(
        (a_started.native_id.as_str(), b_started.native_id.as_str()),
        ("A", "B")
    );
    a.compact().await.unwrap();
    // A compacts; its summary is not in the rollout yet, so A's task waits for it.
    codex
        .notify("item/started", compaction_item("A"))
        .await
        .unwrap();
    codex
        .notify("item/completed", compaction_item("A"))
        .await
        .unwrap();
    let started = wait_for(&mut a_rx, T, |b| {
        matches!(b, EventBody::CompactionStarted(_))
    })
    .await;
    assert!(started.is_some(), "A's compaction started");
    // Meanwhile B streams.
    let sent = Instant::now();
    let delta = json!({"threadId": "B", "turnId": "t2", "itemId": "m1", "delta": "hello"});
    codex
        .notify("item/agentMessage/delta", delta)
        .await
        .unwrap();
    let got = wait_for(&mut b_rx, T, |b| matches!(b, EventBody::ContentDelta(_))).await;
    assert!(got.is_some(), "B's delta arrived");
    assert!(
        sent.elapsed() < Duration::from_millis(1000),
        "B waited {:?} behind A's compaction",
        sent.elapsed()
    );
    // A is still waiting for its summary (the completed item follows the wait): B did not
    // simply come after it.
    while let Ok((_, ev)) = a_rx.try_recv() {
        if let ProviderEvent::Event { body, .. } = ev {
            assert!(
                !matches!(
                    body,
                    EventBody::ItemCompleted(_)
                        | EventBody::CompactionCompleted(_)
                        | EventBody::CompactionFailed(_)
                ),
                "A's compaction was over before B's delta came: {body:?}"
            );
        }
    }
    // Codex writes the summary; A's compaction completes with it.
    let record = json!({"type": "compacted", "payload": {"message": "SUMMARY-OF-A"}});
    let path = dir.path().join("rollout-A.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!("{record}\n"));
    std::fs::write(&path, text).unwrap();
    let done = wait_for(&mut a_rx, T, |b| {
        matches!(
            b,
            EventBody::CompactionCompleted(_) | EventBody::CompactionFailed(_)
        )
    })
    .await;
    match done {
        Some(EventBody::CompactionCompleted(c)) => {
            assert_eq!(c.summary, "SUMMARY-OF-A");
            assert_eq!(c.trigger, baton_protocol::CompactionTrigger::Manual);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn process_wide_warnings_reach_every_thread_and_approvals_without_a_thread_are_declined() {
    let (_dir, codex, _a, _b, mut a_rx, mut b_rx) = two_threads().await;
    codex
        .notify("configWarning", json!({"summary": "check your config"}))
        .await
        .unwrap();
    for rx in [&mut a_rx, &mut b_rx] {
        let w = wait_for(rx, T, |b| matches!(b, EventBody::RuntimeWarning(_))).await;
        assert!(w.is_some(), "every thread gets the warning");
    }
    let answer = codex
        .request(
            "item/commandExecution/requestApproval",
            json!({"threadId": "nobody", "turnId": "t", "itemId": "i", "command": "ls"}),
        )
        .await
        .unwrap();
    assert_eq!(answer, json!({"decision": "decline"}));
}
