#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;

use baton_protocol::{ContentDelta, EventBody, ProviderId, Stream, ThreadStatus, TurnState};

use super::*;

fn new_thread(id: &str, cwd: &str) -> NewThread {
    NewThread {
        id: id.into(),
        provider: ProviderId::Codex,
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

#[tokio::test]
async fn threads_create_update_list_page_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db/baton.db")).unwrap();
    for i in 0..5 {
        store
            .create_thread(new_thread(
                &format!("t{i}"),
                if i % 2 == 0 { "/a" } else { "/b" },
            ))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let t = store
        .update_thread(
            "t1",
            ThreadUpdate {
                status: Some(ThreadStatus::Idle),
                provider_thread_id: Some(Some("n1".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (t.status, t.provider_thread_id.as_deref()),
        (ThreadStatus::Idle, Some("n1"))
    );
    let t = store
        .update_thread(
            "t1",
            ThreadUpdate {
                provider_thread_id: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(t.provider_thread_id, None);
    // t1 was updated last, so it is first.
    let (page1, next) = store.list_threads(None, 2, None).await.unwrap();
    assert_eq!(
        page1.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["t1", "t4"]
    );
    let (page2, next2) = store.list_threads(next, 2, None).await.unwrap();
    assert_eq!(
        page2.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["t3", "t2"]
    );
    let (page3, next3) = store.list_threads(next2, 2, None).await.unwrap();
    assert_eq!(
        page3.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["t0"]
    );
    assert!(next3.is_none());
    let (b, _) = store
        .list_threads(None, 10, Some("/b".into()))
        .await
        .unwrap();
    assert_eq!(b.len(), 2);
    assert!(matches!(
        store.list_threads(Some("bogus".into()), 2, None).await,
        Err(StoreError::InvalidCursor(_))
    ));
    store
        .append_event("t0", ProviderId::Codex, None, None, delta("x"))
        .await
        .unwrap();
    assert!(store.delete_thread("t0").await.unwrap());
    assert!(store.get_thread("t0").await.unwrap().is_none());
    assert!(store.read_events("t0", 0, None).await.unwrap().is_empty());
    assert!(matches!(
        store.update_thread("t0", ThreadUpdate::default()).await,
        Err(StoreError::NotFound(_))
    ));
    let meta = std::fs::metadata(dir.path().join("db")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let meta = std::fs::metadata(dir.path().join("db/baton.db")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn concurrent_appends_get_gapless_seqs_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    store.create_thread(new_thread("a", "/")).await.unwrap();
    store.create_thread(new_thread("b", "/")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let t = if i % 2 == 0 { "a" } else { "b" };
            s.append_event(
                t,
                ProviderId::Codex,
                Some("u".into()),
                None,
                delta(&i.to_string()),
            )
            .await
            .unwrap()
            .seq
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for t in ["a", "b"] {
        let events = store.read_events(t, 0, None).await.unwrap();
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
        assert_eq!(store.get_thread(t).await.unwrap().unwrap().last_seq, 100);
    }
    let part = store.read_events("a", 10, Some(5)).await.unwrap();
    assert_eq!(
        part.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [11, 12, 13, 14, 15]
    );
    assert_eq!(part[0].turn_id.as_deref(), Some("u"));
}

#[tokio::test]
async fn recover_closes_open_turns_and_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    {
        let store = Store::open(&path).unwrap();
        store.create_thread(new_thread("a", "/")).await.unwrap();
        store.create_thread(new_thread("b", "/")).await.unwrap();
        store
            .update_thread(
                "a",
                ThreadUpdate {
                    status: Some(ThreadStatus::Running),
                    provider_thread_id: Some(Some("n".into())),
                    active_turn_id: Some(Some("turn1".into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        store
            .update_thread(
                "b",
                ThreadUpdate {
                    status: Some(ThreadStatus::Idle),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        store
            .upsert_native_thread(NativeThread {
                thread_id: "a".into(),
                provider: ProviderId::Codex,
                native_id: "n".into(),
                model: None,
                last_seq: 0,
                updated_at: 0,
            })
            .await
            .unwrap();
        store.flush().await.unwrap();
    }
    let store = Store::open(&path).unwrap();
    let mut rec = store.recover().await.unwrap();
    rec.sort_by(|x, y| x.thread_id.cmp(&y.thread_id));
    assert_eq!(
        rec,
        vec![
            Recovered {
                thread_id: "a".into(),
                closed_turn: Some("turn1".into())
            },
            Recovered {
                thread_id: "b".into(),
                closed_turn: None
            },
        ]
    );
    let a = store.get_binding("a").await.unwrap().unwrap();
    assert_eq!(a.thread.status, ThreadStatus::Stopped);
    assert_eq!(
        a.thread.provider_thread_id.as_deref(),
        Some("n"),
        "the cursor survives"
    );
    assert_eq!(a.active_turn_id, None);
    let events = store.read_events("a", 0, None).await.unwrap();
    let EventBody::TurnCompleted(tc) = &events[0].body else {
        panic!()
    };
    assert_eq!(
        (tc.state, tc.error.as_deref()),
        (TurnState::Failed, Some("baton restarted"))
    );
    assert_eq!(events[0].turn_id.as_deref(), Some("turn1"));
    assert_eq!(store.native_threads("a").await.unwrap().len(), 1);
    assert!(
        store.recover().await.unwrap().is_empty(),
        "recover is idempotent"
    );
}

#[test]
fn migrations_set_user_version() {
    let dir = tempfile::tempdir().unwrap();
    let conn = schema::open(&dir.path().join("x.db")).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v as usize, schema::latest());
}
