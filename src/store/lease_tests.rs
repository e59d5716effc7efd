//! Leases against real processes: a child `sleep` plays the other window's baton, so liveness
//! is decided by `/proc` exactly as between two batons.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use baton_protocol::{EventBody, ProviderId, ThreadStatus, TurnCompleted, TurnState};

use super::leases::{Holder, process_start_time};
use super::*;

async fn w<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("store call timed out")
}

fn thread(id: &str) -> NewThread {
    NewThread {
        id: id.into(),
        provider: ProviderId::codex(),
        model: None,
        cwd: "/".into(),
        title: None,
        approval_policy: None,
        sandbox: None,
    }
}

/// Another process on this machine, named as a lease would name it.
struct Other {
    child: std::process::Child,
    holder: Holder,
}

impl Other {
    fn spawn(client: &str) -> Other {
        let child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let pid = child.id();
        let me = Holder::current(None);
        let holder = Holder {
            pid,
            start_time: process_start_time(pid).unwrap(),
            scope: me.scope,
            client: Some(client.into()),
        };
        Other { child, holder }
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Other {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn me() -> Holder {
    Holder::current(Some("me".into()))
}

#[tokio::test]
async fn a_live_holder_keeps_the_thread_and_a_dead_one_loses_it_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    w(store.create_thread(thread("t"))).await.unwrap();
    let mut other = Other::spawn("nvim");
    assert!(matches!(
        w(store.acquire_lease("t", &other.holder, false))
            .await
            .unwrap(),
        Claim::Acquired(_)
    ));
    // It left a turn open, as a baton killed mid-turn does.
    w(store.update_thread(
        "t",
        ThreadUpdate {
            status: Some(ThreadStatus::Running),
            active_turn_id: Some(Some("turn1".into())),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    match w(store.acquire_lease("t", &me(), false)).await.unwrap() {
        Claim::Held(l) => {
            assert_eq!(l.holder, other.holder);
            assert_eq!(l.wire_holder().client.as_deref(), Some("nvim"));
            assert!(l.acquired_at > 0);
        }
        c => panic!("a live holder lost its lease: {c:?}"),
    }
    // Asking twice changes nothing; the holder itself may ask as often as it likes.
    assert!(matches!(
        w(store.acquire_lease("t", &me(), false)).await.unwrap(),
        Claim::Held(_)
    ));
    assert!(matches!(
        w(store.acquire_lease("t", &other.holder, false))
            .await
            .unwrap(),
        Claim::Acquired(_)
    ));
    other.kill();
    let started = std::time::Instant::now();
    let a = match w(store.acquire_lease("t", &me(), false)).await.unwrap() {
        Claim::Acquired(a) => a,
        c => panic!("a dead holder kept its lease: {c:?}"),
    };
    assert!(started.elapsed() < Duration::from_secs(1), "no waiting");
    assert_eq!(a.from_dead.unwrap().holder, other.holder);
    assert_eq!(a.events.len(), 1, "the dead holder's turn is closed");
    let closed = &a.events[0];
    assert_eq!(closed.turn_id.as_deref(), Some("turn1"));
    match &closed.body {
        EventBody::TurnCompleted(TurnCompleted {
            state: TurnState::Failed,
            error: Some(e),
        }) => assert!(e.contains("nvim") && e.contains("died"), "{e}"),
        b => panic!("unexpected body {b:?}"),
    }
    let b = w(store.get_binding("t")).await.unwrap().unwrap();
    assert_eq!(b.active_turn_id, None);
    assert_eq!(b.thread.status, ThreadStatus::Stopped);
    assert_eq!(
        w(store.read_events("t", 0, None)).await.unwrap(),
        a.events,
        "the closing event is in the log"
    );
}

#[tokio::test]
async fn a_reused_pid_is_not_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    w(store.create_thread(thread("t"))).await.unwrap();
    let other = Other::spawn("vscode");
    // The pid is alive, but the process that took the lease started at another time.
    let ghost = Holder {
        start_time: other.holder.start_time + 1,
        ..other.holder.clone()
    };
    w(store.acquire_lease("t", &ghost, false)).await.unwrap();
    assert!(matches!(
        w(store.acquire_lease("t", &me(), false)).await.unwrap(),
        Claim::Acquired(Acquired {
            from_dead: Some(_),
            ..
        })
    ));
}

#[tokio::test]
async fn a_holder_elsewhere_is_judged_by_its_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let store = Store::open(&path).unwrap();
    w(store.create_thread(thread("t"))).await.unwrap();
    let remote = Holder {
        pid: 1,
        start_time: 1,
        scope: "another-machine".into(),
        client: Some("remote".into()),
    };
    w(store.acquire_lease("t", &remote, false)).await.unwrap();
    assert!(
        matches!(
            w(store.acquire_lease("t", &me(), false)).await.unwrap(),
            Claim::Held(_)
        ),
        "a fresh heartbeat from elsewhere counts as alive"
    );
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.busy_timeout(Duration::from_secs(5)).unwrap();
    raw.execute(
        "UPDATE leases SET heartbeat_at = heartbeat_at - ?1",
        [leases::STALE_MS + 1000],
    )
    .unwrap();
    assert!(matches!(
        w(store.acquire_lease("t", &me(), false)).await.unwrap(),
        Claim::Acquired(_)
    ));
}

#[tokio::test]
async fn takeover_is_requested_through_the_store_and_handed_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    w(store.create_thread(thread("t"))).await.unwrap();
    let other = Other::spawn("nvim");
    w(store.acquire_lease("t", &other.holder, false))
        .await
        .unwrap();
    // No request yet: the holder's heartbeat finds nothing to do.
    let beat = w(store.heartbeat(&other.holder, vec!["t".into(), "gone".into()]))
        .await
        .unwrap();
    assert!(beat.requests.is_empty());
    assert_eq!(beat.lost, ["gone"]);
    match w(store.acquire_lease("t", &me(), true)).await.unwrap() {
        Claim::Held(l) => assert_eq!(l.takeover.unwrap().client.as_deref(), Some("me")),
        c => panic!("{c:?}"),
    }
    let beat = w(store.heartbeat(&other.holder, vec!["t".into()]))
        .await
        .unwrap();
    assert_eq!(beat.requests.len(), 1);
    assert_eq!(beat.requests[0].0, "t");
    assert!(beat.requests[0].1.same_process(&me()));
    let to = w(store.hand_over_lease("t", &other.holder)).await.unwrap();
    assert!(to.unwrap().same_process(&me()));
    assert!(matches!(
        w(store.acquire_lease("t", &me(), false)).await.unwrap(),
        Claim::Acquired(Acquired {
            from_dead: None,
            ..
        })
    ));
    // The former holder asks again and is refused, naming us.
    match w(store.acquire_lease("t", &other.holder, false))
        .await
        .unwrap()
    {
        Claim::Held(l) => assert_eq!(l.holder.client.as_deref(), Some("me")),
        c => panic!("{c:?}"),
    }
    // A takeover that gives up withdraws its request.
    w(store.acquire_lease("t", &other.holder, true))
        .await
        .unwrap();
    w(store.cancel_takeover("t", &other.holder)).await.unwrap();
    let beat = w(store.heartbeat(&me(), vec!["t".into()])).await.unwrap();
    assert!(beat.requests.is_empty());
    assert!(w(store.release_lease("t", &me())).await.unwrap());
    assert!(!w(store.release_lease("t", &me())).await.unwrap());
}

#[tokio::test]
async fn recovery_leaves_threads_of_live_holders_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("baton.db")).unwrap();
    let mut other = Other::spawn("nvim");
    let mut dead = Other::spawn("vscode");
    for (id, holder) in [("live", &other.holder), ("dead", &dead.holder)] {
        w(store.create_thread(thread(id))).await.unwrap();
        w(store.acquire_lease(id, holder, false)).await.unwrap();
        w(store.update_thread(
            id,
            ThreadUpdate {
                status: Some(ThreadStatus::Running),
                active_turn_id: Some(Some(format!("turn-{id}"))),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    }
    dead.kill();
    let rec = w(store.recover(me())).await.unwrap();
    assert_eq!(
        rec,
        vec![Recovered {
            thread_id: "dead".into(),
            closed_turn: Some("turn-dead".into())
        }]
    );
    assert_eq!(
        w(store.get_thread("live")).await.unwrap().unwrap().status,
        ThreadStatus::Running
    );
    // The dead holder's lease is gone with it.
    assert!(matches!(
        w(store.acquire_lease("dead", &me(), false)).await.unwrap(),
        Claim::Acquired(Acquired {
            from_dead: None,
            ..
        })
    ));
    other.kill();
    assert_eq!(w(store.recover(me())).await.unwrap().len(), 1);
}

#[test]
fn start_times_tell_processes_apart() {
    let me = std::process::id();
    let a = process_start_time(me).unwrap();
    assert_eq!(process_start_time(me), Some(a), "stable");
    assert!(a > 0);
    assert_eq!(process_start_time(u32::MAX - 1), None);
}
