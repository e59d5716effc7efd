//! The host against an in-process fake agent over in-memory pipes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;
use std::sync::atomic::AtomicUsize;

use serde_json::json;
use tokio::io::{DuplexStream, duplex};

use super::*;

const T: Duration = Duration::from_secs(5);

/// Routes by `sessionId`, like an ACP agent; keeps what no route took.
struct Fake {
    unrouted: mpsc::Sender<Incoming>,
}

impl Agent for Fake {
    async fn handshake(&self, conn: &Arc<Connection>) -> Result<(), ProviderError> {
        conn.request("initialize", json!({}), Some(T))
            .await
            .map(|_| ())
    }

    fn route_key<'a>(&self, _method: &str, params: &'a Params) -> Option<Cow<'a, str>> {
        params
            .get("sessionId")
            .and_then(Value::as_str)
            .map(Cow::Borrowed)
    }

    async fn unrouted(&self, conn: &Arc<Connection>, msg: Incoming) {
        if let Incoming::Request { id, method, .. } = &msg {
            conn.respond(id.clone(), Err(RpcError::method_not_found(method)))
                .await;
        }
        let _ = self.unrouted.send(msg).await;
    }
}

/// The agent's end of one spawned "process".
struct AgentEnd {
    peer: Peer,
    incoming: mpsc::Receiver<Incoming>,
}

impl AgentEnd {
    async fn next(&mut self) -> Incoming {
        tokio::time::timeout(T, self.incoming.recv())
            .await
            .expect("the host sent nothing")
            .expect("the host closed the pipe")
    }

    async fn note(&self, session: &str, n: u64) {
        self.peer
            .notify("session/update", json!({"sessionId": session, "n": n}))
            .await
            .unwrap();
    }
}

struct Setup {
    host: Host<Fake>,
    pipes: mpsc::Receiver<DuplexStream>,
    unrouted: mpsc::Receiver<Incoming>,
    spawns: Arc<AtomicUsize>,
}

fn setup(idle: Duration) -> Setup {
    let (pipe_tx, pipes) = mpsc::channel(4);
    let spawns = Arc::new(AtomicUsize::new(0));
    let counted = spawns.clone();
    let launch: Launcher = Arc::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        let (ours, theirs) = duplex(1 << 16);
        pipe_tx.try_send(theirs).unwrap();
        let (r, w) = tokio::io::split(ours);
        Ok(Transport {
            reader: Box::new(r),
            writer: Box::new(w),
            child: None,
        })
    });
    let (tx, unrouted) = mpsc::channel(16);
    Setup {
        host: Host::new("fake", Arc::new(Fake { unrouted: tx }), launch, idle),
        pipes,
        unrouted,
        spawns,
    }
}

/// Connects, playing the agent's side of the handshake.
async fn connect(s: &mut Setup) -> (Arc<Connection>, AgentEnd) {
    let agent = async {
        let pipe = tokio::time::timeout(T, s.pipes.recv())
            .await
            .unwrap()
            .unwrap();
        let (r, w) = tokio::io::split(pipe);
        let (peer, incoming) = rpc::spawn(r, w, PeerOptions::provider("fake-agent"));
        let mut end = AgentEnd { peer, incoming };
        match end.next().await {
            Incoming::Request { id, method, .. } if method == "initialize" => {
                end.peer.respond(id, Ok(json!({}))).await.unwrap();
            }
            other => panic!("expected initialize, got {other:?}"),
        }
        end
    };
    let (conn, end) = tokio::join!(s.host.connection(), agent);
    (conn.unwrap(), end)
}

async fn recv(rx: &mut mpsc::Receiver<Routed>) -> Routed {
    tokio::time::timeout(T, rx.recv())
        .await
        .expect("nothing routed")
        .expect("route closed")
}

fn n_of(r: &Routed) -> u64 {
    match r {
        Routed::Message(Incoming::Notification { params, .. }) => params["n"].as_u64().unwrap(),
        other => panic!("not a notification: {other:?}"),
    }
}

#[tokio::test]
async fn messages_reach_the_route_they_name_and_the_rest_the_adapter() {
    let mut s = setup(Duration::from_secs(60));
    let (conn, agent) = connect(&mut s).await;
    let mut a = conn.register("A");
    let mut b = conn.register("B");
    agent.note("B", 1).await;
    agent.note("A", 2).await;
    agent.note("C", 3).await;
    assert_eq!(n_of(&recv(&mut a).await), 2);
    assert_eq!(n_of(&recv(&mut b).await), 1);
    let lost = tokio::time::timeout(T, s.unrouted.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(lost, Incoming::Notification { params, .. } if params["n"] == 3));
    // A request of the agent goes to its session, which answers it.
    let asking = {
        let peer = agent.peer.clone();
        tokio::spawn(async move {
            peer.request("session/request_permission", json!({"sessionId": "A"}))
                .await
        })
    };
    match recv(&mut a).await {
        Routed::Message(Incoming::Request { id, method, .. }) => {
            assert_eq!(method, "session/request_permission");
            conn.respond(id, Ok(json!({"outcome": "allowed"}))).await;
        }
        other => panic!("{other:?}"),
    }
    let answer = tokio::time::timeout(T, asking).await.unwrap().unwrap();
    assert_eq!(answer.unwrap(), json!({"outcome": "allowed"}));
    // A request for nobody is answered by the adapter, never left hanging.
    let err = tokio::time::timeout(
        T,
        agent
            .peer
            .request("fs/read_text_file", json!({"sessionId": "Z"})),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(err.code, baton_protocol::errors::METHOD_NOT_FOUND);
    assert_eq!(
        s.spawns.load(Ordering::SeqCst),
        1,
        "one process serves both"
    );
}

#[tokio::test]
async fn a_thread_that_does_not_read_does_not_hold_up_another() {
    let mut s = setup(Duration::from_secs(60));
    let (conn, agent) = connect(&mut s).await;
    // A busy thread: its task reads nothing while its queue fills.
    let _busy = conn.register("busy");
    let mut b = conn.register("B");
    for n in 0..100 {
        agent.note("busy", n).await;
    }
    agent.note("B", 7).await;
    assert_eq!(n_of(&recv(&mut b).await), 7);
}

#[tokio::test]
async fn an_exit_reaches_every_route_and_the_next_start_respawns() {
    let mut s = setup(Duration::from_secs(60));
    let (conn, agent) = connect(&mut s).await;
    let mut a = conn.register("A");
    agent.note("A", 1).await;
    drop(agent);
    assert_eq!(
        n_of(&recv(&mut a).await),
        1,
        "messages before the exit come first"
    );
    match recv(&mut a).await {
        Routed::Exited(m) => assert_eq!(m, "fake closed its connection"),
        other => panic!("{other:?}"),
    }
    assert!(a.recv().await.is_none(), "nothing after the exit");
    let err = conn.request("ping", json!({}), Some(T)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Gone(_)), "{err:?}");
    let (conn2, _agent2) = connect(&mut s).await;
    assert!(!Arc::ptr_eq(&conn, &conn2));
    assert_eq!(s.spawns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_idle_process_is_stopped_and_a_routed_one_is_not() {
    let mut s = setup(Duration::from_millis(300));
    let (conn, mut agent) = connect(&mut s).await;
    let route = conn.register("A");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(conn.usable(), "a process with a route is not idle");
    conn.unregister("A");
    drop(route);
    // Stopping closes the agent's stdin: it reads EOF.
    let eof = tokio::time::timeout(T, agent.incoming.recv())
        .await
        .unwrap();
    assert!(eof.is_none(), "{eof:?}");
    assert!(!conn.usable());
    let (_conn2, _agent2) = connect(&mut s).await;
    assert_eq!(s.spawns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn each_request_has_its_own_timeout() {
    let mut s = setup(Duration::from_secs(60));
    let (conn, mut agent) = connect(&mut s).await;
    let err = conn
        .request(
            "session/cancel",
            json!({}),
            Some(Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("did not answer session/cancel"),
        "{err}"
    );
    let _ = agent.next().await;
    // No timeout: a prompt lasts as long as its turn.
    let prompt = {
        let conn = conn.clone();
        tokio::spawn(async move { conn.request("session/prompt", json!({}), None).await })
    };
    let Incoming::Request { id, .. } = agent.next().await else {
        panic!("no prompt")
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    agent
        .peer
        .respond(id, Ok(json!({"stopReason": "end_turn"})))
        .await
        .unwrap();
    let done = tokio::time::timeout(T, prompt).await.unwrap().unwrap();
    assert_eq!(done.unwrap()["stopReason"], "end_turn");
}

#[tokio::test]
async fn a_crashed_agent_process_tells_its_routes_why() {
    // A real process: answers initialize (id 1), then dies on the next request.
    let script = r#"read l; echo '{"jsonrpc":"2.0","id":1,"result":{}}'; read l; echo "out of cheese" >&2; exit 3"#;
    let spec = ChildSpec::new(
        "sh",
        std::path::PathBuf::from("/bin/sh"),
        vec!["-c".into(), script.into()],
    );
    let (tx, _unrouted) = mpsc::channel(16);
    let host = Host::new(
        "sh",
        Arc::new(Fake { unrouted: tx }),
        Transport::launcher(move || Ok(spec.clone())),
        Duration::from_secs(60),
    );
    let conn = tokio::time::timeout(T, host.connection())
        .await
        .unwrap()
        .unwrap();
    let mut route = conn.register("A");
    let err = conn.request("ping", json!({}), Some(T)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Gone(_)), "{err:?}");
    match recv(&mut route).await {
        Routed::Exited(m) => assert_eq!(m, "sh exited (exit status: 3): out of cheese"),
        other => panic!("{other:?}"),
    }
    assert!(!conn.usable());
}
