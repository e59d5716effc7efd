#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use baton_protocol::{
    ApprovalDecision, ApprovalResolved, ContentDelta, EventBody, Item, ItemType, ProviderId,
    SandboxMode, Stream, ThreadStatus, TurnCompleted, TurnStarted, TurnState, UsageUpdated,
};
use pretty_assertions::assert_eq;

use super::*;

/// Bounds every store call: a wedged worker fails the test instead of hanging it.
async fn w<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("store call timed out")
}

fn new_thread(id: &str, cwd: &str) -> NewThread {
    NewThread {
        id: id.into(),
        provider: ProviderId::codex(),
        model: Some("m".into()),
        cwd: cwd.into(),
        title: None,
        approval_policy: None,
        sandbox: None,
    }
}

fn delta(s: &str) -> EventBody {
    EventBody::ContentDelta(ContentDelta {
        stream: Stream::Assistant,
        delta: s.into(),
    })
}

/// A second connection to the store's file, to inspect or damage what the store wrote.
fn raw(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

fn ids(threads: &[Thread]) -> Vec<&str> {
    threads.iter().map(|t| t.id.as_str()).collect()
}

fn seqs(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn create_and_get() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let t = w(store.create_thread(NewThread {
        id: "t".into(),
        provider: ProviderId::claude(),
        model: None,
        cwd: "/w".into(),
        title: Some("hello".into()),
        approval_policy: Some(ApprovalPolicy::OnRequest),
        sandbox: Some(SandboxMode::WorkspaceWrite),
    }))
    .await
    .unwrap();
    assert_eq!(t.status, ThreadStatus::Stopped);
    assert_eq!(t.last_seq, 0);
    assert_eq!(t.created_at, t.updated_at);
    assert!(t.created_at > 0);
    assert_eq!(w(store.get_thread("t")).await.unwrap(), Some(t.clone()));
    let b = w(store.get_binding("t")).await.unwrap().unwrap();
    assert_eq!(b.thread, t);
    assert_eq!(b.last_seen_at, t.created_at);
    assert_eq!(b.active_turn_id, None);
    assert!(w(store.get_thread("nope")).await.unwrap().is_none());
    assert!(matches!(
        w(store.create_thread(new_thread("t", "/"))).await,
        Err(StoreError::Sqlite(_))
    ));
    // The failed create did not disturb the store.
    assert_eq!(w(store.get_thread("t")).await.unwrap(), Some(t));
}

#[tokio::test]
async fn list_orders_pages_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let store = Store::open(&path).unwrap();
    for (id, cwd) in [
        ("t0", "/a"),
        ("t1", "/b"),
        ("t2", "/a"),
        ("t3", "/b"),
        ("t4", "/a"),
    ] {
        w(store.create_thread(new_thread(id, cwd))).await.unwrap();
    }
    // Fixed times make the order deterministic, including a tie broken by id.
    let conn = raw(&path);
    for (id, at) in [
        ("t0", 100),
        ("t1", 200),
        ("t2", 200),
        ("t3", 300),
        ("t4", 400),
    ] {
        conn.execute(
            "UPDATE threads SET updated_at = ?2 WHERE id = ?1",
            rusqlite::params![id, at],
        )
        .unwrap();
    }
    let (all, next) = w(store.list_threads(None, 50, None)).await.unwrap();
    assert_eq!(ids(&all), ["t4", "t3", "t2", "t1", "t0"]);
    assert_eq!(next, None);
    let (exact, next) = w(store.list_threads(None, 5, None)).await.unwrap();
    assert_eq!(exact.len(), 5);
    assert_eq!(next, None, "no cursor when nothing follows");

    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = w(store.list_threads(cursor, 2, None)).await.unwrap();
        pages.push(ids(&page).join(","));
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, ["t4,t3", "t2,t1", "t0"]);

    let (page, next) = w(store.list_threads(None, 2, Some("/a".into())))
        .await
        .unwrap();
    assert_eq!(ids(&page), ["t4", "t2"]);
    let (page, next) = w(store.list_threads(next, 2, Some("/a".into())))
        .await
        .unwrap();
    assert_eq!(ids(&page), ["t0"]);
    assert_eq!(next, None);
    let (none, _) = w(store.list_threads(None, 2, Some("/c".into())))
        .await
        .unwrap();
    assert!(none.is_empty());

    for bad in ["bogus", "x:t1", ""] {
        assert!(
            matches!(
                w(store.list_threads(Some(bad.into()), 2, None)).await,
                Err(StoreError::InvalidCursor(_))
            ),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn list_skips_unreadable_threads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let store = Store::open(&path).unwrap();
    w(store.create_thread(new_thread("good", "/")))
        .await
        .unwrap();
    w(store.create_thread(new_thread("bad", "/")))
        .await
        .unwrap();
    raw(&path)
        .execute(
            "UPDATE threads SET provider = 'not a provider!' WHERE id = 'bad'",
            [],
        )
        .unwrap();
    let (threads, _) = w(store.list_threads(None, 10, None)).await.unwrap();
    assert_eq!(ids(&threads), ["good"]);
    assert!(matches!(
        w(store.get_thread("bad")).await,
        Err(StoreError::Corrupt(_))
    ));
}

#[tokio::test]
async fn update_sets_and_clears_fields() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let created = w(store.create_thread(new_thread("t", "/"))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let t = w(store.update_thread(
        "t",
        ThreadUpdate {
            status: Some(ThreadStatus::Running),
            provider: Some(ProviderId::claude()),
            provider_thread_id: Some(Some("native".into())),
            model: Some(Some("m2".into())),
            active_turn_id: Some(Some("turn".into())),
            title: Some(Some("title".into())),
            pending_handoff: Some(Some("<provider_handoff>".into())),
            approval_policy: Some(Some(ApprovalPolicy::Untrusted)),
        },
    ))
    .await
    .unwrap();
    assert_eq!(t.status, ThreadStatus::Running);
    assert_eq!(t.provider, ProviderId::claude());
    assert_eq!(t.provider_thread_id.as_deref(), Some("native"));
    assert_eq!(t.model.as_deref(), Some("m2"));
    assert_eq!(t.title.as_deref(), Some("title"));
    assert_eq!(t.approval_policy, Some(ApprovalPolicy::Untrusted));
    assert!(t.updated_at > created.updated_at);
    assert_eq!(t.created_at, created.created_at);
    let b = w(store.get_binding("t")).await.unwrap().unwrap();
    assert_eq!(b.thread, t, "what update returns is what is stored");
    assert_eq!(b.active_turn_id.as_deref(), Some("turn"));
    assert_eq!(b.pending_handoff.as_deref(), Some("<provider_handoff>"));

    // An empty update changes nothing but the time.
    let same = w(store.update_thread("t", ThreadUpdate::default()))
        .await
        .unwrap();
    assert_eq!(
        (same.status, same.model.clone()),
        (t.status, t.model.clone())
    );
    assert!(same.updated_at >= t.updated_at);

    let cleared = w(store.update_thread(
        "t",
        ThreadUpdate {
            provider_thread_id: Some(None),
            model: Some(None),
            active_turn_id: Some(None),
            title: Some(None),
            pending_handoff: Some(None),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    assert_eq!(cleared.provider_thread_id, None);
    assert_eq!(cleared.model, None);
    assert_eq!(cleared.title, None);
    assert_eq!(cleared.status, ThreadStatus::Running, "untouched");
    assert_eq!(cleared.provider, ProviderId::claude(), "untouched");
    let b = w(store.get_binding("t")).await.unwrap().unwrap();
    assert_eq!(b.thread, cleared);
    assert_eq!(b.active_turn_id, None);

    assert!(matches!(
        w(store.update_thread("missing", ThreadUpdate::default())).await,
        Err(StoreError::NotFound(id)) if id == "missing"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_get_gapless_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    w(store.create_thread(new_thread("a", "/"))).await.unwrap();
    w(store.create_thread(new_thread("b", "/"))).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..20 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..25 {
                // Every fifth append goes to a thread that does not exist: it must fail alone.
                let t = match (task + i) % 5 {
                    0 => "missing",
                    n if n % 2 == 0 => "a",
                    _ => "b",
                };
                let r = s
                    .append_event(
                        t,
                        ProviderId::codex(),
                        Some("u".into()),
                        None,
                        delta(&format!("{task}/{i}")),
                    )
                    .await;
                match (t, r) {
                    ("missing", Err(StoreError::NotFound(_))) => {}
                    ("missing", other) => panic!("append to a missing thread: {other:?}"),
                    (_, r) => got.push((t, r.unwrap().seq)),
                }
            }
            got
        }));
    }
    let mut returned: Vec<(&str, i64)> = Vec::new();
    for t in tasks {
        returned.extend(w(t).await.unwrap());
    }
    for thread in ["a", "b"] {
        let mut mine: Vec<i64> = returned
            .iter()
            .filter(|(t, _)| *t == thread)
            .map(|(_, s)| *s)
            .collect();
        mine.sort_unstable();
        let n = mine.len() as i64;
        assert!(n > 0);
        assert_eq!(
            mine,
            (1..=n).collect::<Vec<_>>(),
            "returned seqs of {thread}"
        );
        let events = w(store.read_events(thread, 0, None)).await.unwrap();
        assert_eq!(seqs(&events), (1..=n).collect::<Vec<_>>());
        assert!(events.windows(2).all(|p| p[0].at <= p[1].at));
        assert_eq!(
            w(store.get_thread(thread)).await.unwrap().unwrap().last_seq,
            n
        );
    }
    assert_eq!(returned.len(), 20 * 25 / 5 * 4);
}

#[tokio::test]
async fn append_returns_what_read_gives_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let created = w(store.create_thread(new_thread("t", "/"))).await.unwrap();
    let bodies = vec![
        EventBody::TurnStarted(TurnStarted {
            model: Some("m".into()),
        }),
        delta("hé \"quoted\" \n}{"),
        EventBody::ItemCompleted(Item {
            text: Some("done".into()),
            exit_code: Some(0),
            ..Item::new(ItemType::Command)
        }),
        EventBody::ApprovalResolved(ApprovalResolved {
            request_id: "r".into(),
            decision: ApprovalDecision::Decline,
            by: Some("timeout".into()),
        }),
        EventBody::UsageUpdated(UsageUpdated {
            input_tokens: 1,
            output_tokens: 2,
            total_tokens: 3,
            context_window: None,
            cost_usd: Some(0.5),
            ..Default::default()
        }),
        EventBody::TurnCompleted(TurnCompleted {
            state: TurnState::Completed,
            error: None,
        }),
    ];
    let mut appended = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let e = w(store.append_event(
            "t",
            ProviderId::claude(),
            Some("turn".into()),
            (i % 2 == 0).then(|| format!("item{i}")),
            body,
        ))
        .await
        .unwrap();
        assert_eq!(e.seq, i as i64 + 1);
        appended.push(e);
    }
    assert_eq!(w(store.read_events("t", 0, None)).await.unwrap(), appended);
    let t = w(store.get_binding("t")).await.unwrap().unwrap();
    assert_eq!(t.thread.last_seq, 6);
    assert!(t.thread.updated_at >= created.updated_at);
    assert!(t.last_seen_at >= appended[5].at);

    assert_eq!(
        seqs(&w(store.read_events("t", 2, None)).await.unwrap()),
        [3, 4, 5, 6]
    );
    assert_eq!(
        seqs(&w(store.read_events("t", 2, Some(2))).await.unwrap()),
        [3, 4]
    );
    assert!(w(store.read_events("t", 6, None)).await.unwrap().is_empty());
    assert!(
        w(store.read_events("t", 0, Some(0)))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        w(store.read_events("missing", 0, None))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        w(store.append_event("missing", ProviderId::codex(), None, None, delta("x"))).await,
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn stored_data_is_the_wire_data() {
    let bodies = [
        delta("a\"b\\c"),
        EventBody::TurnStarted(TurnStarted::default()),
        EventBody::ItemStarted(Item::new(ItemType::UserMessage)),
    ];
    for body in bodies {
        let data = events::encode_data(&body).unwrap();
        let wire = serde_json::to_value(&body).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&data).unwrap();
        assert_eq!(stored, wire["data"]);
        assert_eq!(events::decode(body.type_name(), &data).unwrap(), body);
    }
}

/// Deltas, most of a stream, are written by hand; byte for byte as serde writes them.
#[test]
fn deltas_are_stored_as_serde_writes_them() {
    let streams = [
        Stream::Assistant,
        Stream::Reasoning,
        Stream::ReasoningSummary,
        Stream::CommandOutput,
        Stream::ToolOutput,
        Stream::Plan,
    ];
    let check = |stream: Stream, text: &str| {
        let body = EventBody::ContentDelta(ContentDelta {
            stream,
            delta: text.to_string(),
        });
        assert_eq!(
            events::encode_data(&body).unwrap(),
            events::encode_with_serde(&body).unwrap()
        );
    };
    for stream in streams {
        for text in ["", "t1;", "a\"b\\c\n\u{1}", "héllo ✓"] {
            check(stream, text);
        }
    }
    proptest::proptest!(|(text in proptest::prelude::any::<String>(), i in 0..streams.len())| {
        check(streams[i], &text);
    });
}

#[tokio::test]
async fn unreadable_events_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let store = Store::open(&path).unwrap();
    w(store.create_thread(new_thread("t", "/"))).await.unwrap();
    for i in 0..4 {
        w(store.append_event("t", ProviderId::codex(), None, None, delta(&i.to_string())))
            .await
            .unwrap();
    }
    let conn = raw(&path);
    conn.execute(
        "UPDATE events SET type = 'from.the.future' WHERE seq = 2",
        [],
    )
    .unwrap();
    conn.execute("UPDATE events SET data = '{not json' WHERE seq = 3", [])
        .unwrap();
    conn.execute(
        "UPDATE events SET provider = 'not a provider!' WHERE seq = 4",
        [],
    )
    .unwrap();
    let events = w(store.read_events("t", 0, None)).await.unwrap();
    assert_eq!(seqs(&events), [1]);
}

#[tokio::test]
async fn a_failing_command_undoes_only_its_own_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let store = Store::open(&path).unwrap();
    w(store.create_thread(new_thread("a", "/"))).await.unwrap();
    w(store.create_thread(new_thread("b", "/"))).await.unwrap();
    w(store.append_event("a", ProviderId::codex(), None, None, delta("1")))
        .await
        .unwrap();
    // Rewinding the counter makes the next append of `a` collide with seq 1 after it has
    // already bumped the counter: the savepoint must undo that bump.
    raw(&path)
        .execute("UPDATE threads SET last_seq = 0 WHERE id = 'a'", [])
        .unwrap();
    let (bad, good) = tokio::join!(
        store.append_event("a", ProviderId::codex(), None, None, delta("2")),
        store.append_event("b", ProviderId::codex(), None, None, delta("x")),
    );
    assert!(matches!(bad, Err(StoreError::Sqlite(_))), "{bad:?}");
    assert_eq!(good.unwrap().seq, 1);
    assert_eq!(w(store.get_thread("a")).await.unwrap().unwrap().last_seq, 0);
    assert_eq!(w(store.get_thread("b")).await.unwrap().unwrap().last_seq, 1);
    assert_eq!(
        seqs(&w(store.read_events("a", 0, None)).await.unwrap()),
        [1]
    );
}

#[tokio::test]
async fn delete_removes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let store = Store::open(&path).unwrap();
    for id in ["gone", "kept"] {
        w(store.create_thread(new_thread(id, "/"))).await.unwrap();
        w(store.append_event(id, ProviderId::codex(), None, None, delta("x")))
            .await
            .unwrap();
        w(store.upsert_native_thread(NativeThread {
            thread_id: id.into(),
            provider: ProviderId::codex(),
            native_id: "n".into(),
            model: None,
            last_seq: 1,
            updated_at: 0,
        }))
        .await
        .unwrap();
    }
    assert!(w(store.delete_thread("gone")).await.unwrap());
    assert!(!w(store.delete_thread("gone")).await.unwrap());
    assert!(w(store.get_thread("gone")).await.unwrap().is_none());
    let conn = raw(&path);
    for table in ["events", "native_threads"] {
        let n: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE thread_id = 'gone'"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    assert_eq!(
        w(store.read_events("kept", 0, None)).await.unwrap().len(),
        1
    );
    assert_eq!(w(store.native_threads("kept")).await.unwrap().len(), 1);
}

#[tokio::test]
async fn native_threads_upsert_per_provider() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    w(store.create_thread(new_thread("t", "/"))).await.unwrap();
    assert!(w(store.native_threads("t")).await.unwrap().is_empty());
    let native = |provider, native_id: &str, last_seq| NativeThread {
        thread_id: "t".into(),
        provider,
        native_id: native_id.into(),
        model: Some("m".into()),
        last_seq,
        updated_at: 0,
    };
    w(store.upsert_native_thread(native(ProviderId::codex(), "c1", 3)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    w(store.upsert_native_thread(native(ProviderId::claude(), "k1", 5)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    w(store.upsert_native_thread(NativeThread {
        model: None,
        ..native(ProviderId::codex(), "c2", 9)
    }))
    .await
    .unwrap();
    let got = w(store.native_threads("t")).await.unwrap();
    let summary: Vec<_> = got
        .iter()
        .map(|n| {
            (
                n.provider.clone(),
                n.native_id.as_str(),
                n.model.as_deref(),
                n.last_seq,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (ProviderId::codex(), "c2", None, 9),
            (ProviderId::claude(), "k1", Some("m"), 5)
        ]
    );
    assert!(got.iter().all(|n| n.updated_at > 0), "stamped by the store");
    assert!(matches!(
        w(store.upsert_native_thread(NativeThread {
            thread_id: "missing".into(),
            ..native(ProviderId::codex(), "c", 0)
        }))
        .await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn recover_closes_open_turns_and_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    {
        let store = Store::open(&path).unwrap();
        for id in ["running", "idle", "stopped", "errored"] {
            w(store.create_thread(new_thread(id, "/"))).await.unwrap();
        }
        let set = |status, turn: Option<&str>| ThreadUpdate {
            status: Some(status),
            provider_thread_id: Some(Some("native".into())),
            active_turn_id: Some(turn.map(str::to_string)),
            ..Default::default()
        };
        w(store.update_thread("running", set(ThreadStatus::Running, Some("turn1"))))
            .await
            .unwrap();
        w(store.update_thread("idle", set(ThreadStatus::Idle, None)))
            .await
            .unwrap();
        w(store.update_thread("errored", set(ThreadStatus::Error, None)))
            .await
            .unwrap();
        w(store.append_event(
            "running",
            ProviderId::codex(),
            Some("turn1".into()),
            None,
            delta("hi"),
        ))
        .await
        .unwrap();
        w(store.upsert_native_thread(NativeThread {
            thread_id: "running".into(),
            provider: ProviderId::codex(),
            native_id: "native".into(),
            model: None,
            last_seq: 1,
            updated_at: 0,
        }))
        .await
        .unwrap();
        // No flush: what was committed must survive without an orderly shutdown.
    }
    let store = Store::open(&path).unwrap();
    // Queued when called (the server starts while it runs): a read sent before its answer is
    // awaited already sees what it recovered.
    let recovery = store.recover(Holder::current(None));
    let b = w(store.get_binding("running")).await.unwrap().unwrap();
    assert_eq!(b.thread.status, ThreadStatus::Stopped);
    let rec = w(recovery).await.unwrap();
    assert_eq!(
        rec,
        vec![
            Recovered {
                thread_id: "idle".into(),
                closed_turn: None
            },
            Recovered {
                thread_id: "running".into(),
                closed_turn: Some("turn1".into())
            },
        ]
    );
    let b = w(store.get_binding("running")).await.unwrap().unwrap();
    assert_eq!(b.thread.status, ThreadStatus::Stopped);
    assert_eq!(
        b.thread.provider_thread_id.as_deref(),
        Some("native"),
        "the cursor survives"
    );
    assert_eq!(b.active_turn_id, None);
    assert_eq!(b.thread.last_seq, 2);
    let events = w(store.read_events("running", 0, None)).await.unwrap();
    assert_eq!(seqs(&events), [1, 2]);
    assert_eq!(events[0].body, delta("hi"), "persisted across the reopen");
    assert_eq!(
        events[1].body,
        EventBody::TurnCompleted(TurnCompleted {
            state: TurnState::Failed,
            error: Some("baton restarted".into()),
        })
    );
    assert_eq!(events[1].turn_id.as_deref(), Some("turn1"));
    assert_eq!(events[1].provider, ProviderId::codex());
    let idle = w(store.get_thread("idle")).await.unwrap().unwrap();
    assert_eq!(idle.status, ThreadStatus::Stopped);
    assert_eq!(idle.last_seq, 0, "no turn, no event");
    let errored = w(store.get_thread("errored")).await.unwrap().unwrap();
    assert_eq!(
        errored.status,
        ThreadStatus::Error,
        "only live states are reset"
    );
    assert_eq!(w(store.native_threads("running")).await.unwrap().len(), 1);
    assert!(
        w(store.recover(Holder::current(None)))
            .await
            .unwrap()
            .is_empty(),
        "recover is idempotent"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/baton/baton.db");
    let store = Store::open(&db).unwrap();
    w(store.create_thread(new_thread("t", "/"))).await.unwrap();
    assert_eq!(mode(&dir.path().join("data")), 0o700);
    assert_eq!(mode(&dir.path().join("data/baton")), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&dir.path().join("data/baton/baton.db-wal")), 0o600);
}

#[tokio::test]
async fn flush_checkpoints_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let store = Store::open(&path).unwrap();
    w(store.create_thread(new_thread("t", "/"))).await.unwrap();
    let wal = dir.path().join("baton.db-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    w(store.flush()).await.unwrap();
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    assert!(w(store.get_thread("t")).await.unwrap().is_some());
}

fn user_version(c: &rusqlite::Connection) -> usize {
    c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .unwrap() as usize
}

#[test]
fn an_empty_file_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    std::fs::write(&path, b"").unwrap();
    let conn = schema::open(&path).unwrap();
    assert_eq!(user_version(&conn), schema::latest());
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(conn);
    // Opening again is a no-op.
    assert_eq!(
        user_version(&schema::open(&path).unwrap()),
        schema::latest()
    );
}

#[test]
fn an_old_file_is_upgraded_and_a_newer_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        schema::migrate_to(&conn, 1).unwrap();
        conn.execute(
            "INSERT INTO threads (id, provider, cwd, status, created_at, updated_at, last_seen_at)
             VALUES ('old', 'codex', '/', 'stopped', 1, 1, 1)",
            [],
        )
        .unwrap();
    }
    let conn = schema::open(&path).unwrap();
    assert_eq!(user_version(&conn), schema::latest());
    let index: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'threads_by_cwd'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 1);
    let n: i64 = conn
        .query_row("SELECT count(*) FROM threads", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "data survives the migration");
    conn.pragma_update(None, "user_version", schema::latest() as i64 + 1)
        .unwrap();
    drop(conn);
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::Corrupt(m)) if m.contains("newer")
    ));
}

#[test]
fn default_path_follows_xdg() {
    let p =
        |x: Option<&str>, h: Option<&str>| default_path_from(x.map(Into::into), h.map(Into::into));
    assert_eq!(
        p(Some("/xdg"), Some("/home/u")),
        Some(PathBuf::from("/xdg/baton/baton.db"))
    );
    assert_eq!(
        p(None, Some("/home/u")),
        Some(PathBuf::from("/home/u/.local/share/baton/baton.db"))
    );
    assert_eq!(
        p(Some("relative"), Some("/home/u")),
        Some(PathBuf::from("/home/u/.local/share/baton/baton.db"))
    );
    assert_eq!(
        p(Some(""), Some("/home/u")),
        Some(PathBuf::from("/home/u/.local/share/baton/baton.db"))
    );
    assert_eq!(p(None, None), None);
    assert_eq!(p(None, Some("")), None);
}

/// Streamed appends of one batch share a prepared statement that rebinds only what changed
/// from the row before: rows that alternate thread, type, provider, turn and item (and a
/// missing thread in between) are each stored as they were sent.
#[tokio::test]
async fn streamed_appends_store_every_column_of_mixed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    w(store.create_thread(new_thread("a", "/"))).await.unwrap();
    w(store.create_thread(new_thread("b", "/"))).await.unwrap();
    let (a, b, missing): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "x".into());
    let claude = ProviderId::parse("claude").unwrap();
    let rows = [
        (&a, ProviderId::codex(), Some("t1"), Some("i1"), delta("1")),
        (&a, ProviderId::codex(), Some("t1"), Some("i1"), delta("2")),
        (&b, ProviderId::codex(), Some("t1"), None, delta("3")),
        (
            &a,
            claude.clone(),
            None,
            Some("i2"),
            EventBody::TurnStarted(TurnStarted::default()),
        ),
        (&missing, ProviderId::codex(), None, None, delta("lost")),
        (&a, claude.clone(), Some("t2"), None, delta("4")),
        (&b, claude, Some("t2"), Some("i3"), delta("5")),
    ];
    let mut slots = Vec::new();
    let mut sent = Vec::new();
    for (thread, provider, turn, item, body) in rows {
        let ev = EncodedEvent::new(
            provider,
            turn.map(str::to_string),
            item.map(str::to_string),
            &body,
        )
        .unwrap();
        let (slot, filler) = StampSlot::new();
        // Queued without waiting, so they share batches.
        store
            .append_streamed(thread.clone(), ev.clone(), filler)
            .await
            .unwrap();
        slots.push(slot);
        sent.push((thread.clone(), ev, body));
    }
    let mut expected: Vec<Event> = Vec::new();
    for (slot, (thread, ev, body)) in slots.into_iter().zip(sent) {
        let stamp = w(std::future::poll_fn(|cx| slot.poll_stamp(cx))).await;
        if &*thread == "x" {
            assert_eq!(stamp, None, "an append to a missing thread fails alone");
            continue;
        }
        expected.push(ev.into_event(&thread, stamp.unwrap(), body));
    }
    let mut stored = w(store.read_events("a", 0, None)).await.unwrap();
    stored.extend(w(store.read_events("b", 0, None)).await.unwrap());
    expected.sort_by(|x, y| (&x.thread_id, x.seq).cmp(&(&y.thread_id, y.seq)));
    assert_eq!(stored, expected);
    assert_eq!(seqs(&stored), vec![1, 2, 3, 4, 1, 2]);
}

/// `thread/read` answers from one snapshot: while appends stream in, the thread's `last_seq` is
/// always the seq of the last event read with it (two separate reads let appends slip between).
#[tokio::test]
async fn read_thread_is_one_snapshot_while_appends_stream() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    w(store.create_thread(new_thread("t", "/w"))).await.unwrap();
    assert!(
        w(store.read_thread("missing", 0, None))
            .await
            .unwrap()
            .is_none()
    );
    const N: usize = 3000;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..N {
                let ev = EncodedEvent::new(ProviderId::codex(), None, None, &delta(&i.to_string()))
                    .unwrap();
                let (_slot, filler) = StampSlot::new();
                store
                    .append_streamed(Arc::from("t"), ev, filler)
                    .await
                    .unwrap();
                if i % 16 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut reads = 0;
    let mut moving = 0;
    let mut last = 0;
    loop {
        let (thread, events) = w(store.read_thread("t", 0, None)).await.unwrap().unwrap();
        assert_eq!(events.len() as i64, thread.last_seq, "read {reads}");
        assert_eq!(events.last().map_or(0, |e| e.seq), thread.last_seq);
        if thread.last_seq != last {
            moving += 1;
            last = thread.last_seq;
        }
        reads += 1;
        if thread.last_seq == N as i64 {
            break;
        }
        assert!(reads < 100_000, "the appends never all landed");
    }
    w(writer).await.unwrap();
    // The reads overlapped the appends (otherwise this proves nothing).
    assert!(moving > 1, "{moving} distinct last_seq values seen");
    let (thread, events) = w(store.read_thread("t", 2990, Some(5)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(thread.last_seq, N as i64);
    assert_eq!(seqs(&events), [2991, 2992, 2993, 2994, 2995]);
}

/// A stream of appends moves its thread's `updated_at` (and so its entries in the list
/// indexes) at most once per [`events::UPDATED_AT_STEP`]; `last_seq` follows every append, and
/// an update of the thread row itself sets `updated_at` exactly.
#[tokio::test]
async fn streamed_appends_move_updated_at_at_most_once_per_step() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    w(store.create_thread(new_thread("t", "/p"))).await.unwrap();
    let append = |text: &'static str| {
        let store = store.clone();
        async move {
            w(store.append_event("t", ProviderId::codex(), None, None, delta(text)))
                .await
                .unwrap()
        }
    };
    let get = || async { w(store.get_thread("t")).await.unwrap().unwrap() };
    let first = append("a").await;
    let bumped = get().await;
    assert_eq!(bumped.updated_at, first.at, "the first append moves it");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let later = append("b").await;
    assert!(later.at > first.at);
    let t = get().await;
    assert_eq!(t.last_seq, 2);
    assert_eq!(t.updated_at, bumped.updated_at, "not again within the step");
    // A write of the row itself is exact.
    let updated = w(store.update_thread("t", ThreadUpdate::default()))
        .await
        .unwrap();
    assert!(updated.updated_at >= later.at);
    // Once the step has passed, appends move it again.
    tokio::time::sleep(Duration::from_millis(events::UPDATED_AT_STEP as u64 + 50)).await;
    let last = append("c").await;
    let t = get().await;
    assert_eq!((t.last_seq, t.updated_at), (3, last.at));
}
