//! A JSON-RPC peer over any `AsyncRead`/`AsyncWrite` pair: one reader task, one writer task.
//!
//! The reader classifies each message: responses resolve the pending request they answer,
//! requests and notifications go to the owner through a bounded channel (backpressure: the
//! reader waits when the owner is behind). The writer owns the output and is fed by a bounded
//! channel; it flushes when its queue runs dry, so bursts are written with few syscalls.
//! Because writing never involves the reader, `notify` and `respond` work even while the owner
//! is not draining incoming messages.
//!
//! This file holds the handle ([`Peer`]), the pending outgoing-request table and [`spawn`]; the
//! tasks themselves live in [`super::reader`] and [`super::writer`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::Params;
use super::codec::Framing;
use super::message::{RequestId, RpcError};
use super::reader::Reader;
use super::writer::write_loop;

/// How the reader finds message boundaries. Writes use the same framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFraming {
    /// Decide from the first non-whitespace byte: `{`/`[` is NDJSON, anything else LSP. Writes
    /// follow suit, and use LSP until that byte arrived (editors speak first, so this only
    /// matters for messages sent before the editor said anything).
    Auto,
    Lsp,
    Ndjson,
}

/// Settings of a peer.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// Names the peer in logs.
    pub name: &'static str,
    pub read_framing: ReadFraming,
    pub incoming_capacity: usize,
    pub outgoing_capacity: usize,
    /// Towards the editor: answer malformed messages with -32700/-32600. Towards providers:
    /// log and skip them.
    pub answer_malformed: bool,
    /// Largest accepted message in bytes; bigger ones are skipped with a warning, and answered
    /// with an error when they are requests (see `Reader::too_large`).
    pub max_message_bytes: usize,
}

impl PeerOptions {
    /// The editor on stdin/stdout: framing detected, malformed messages answered.
    pub fn editor() -> Self {
        PeerOptions {
            name: "editor",
            read_framing: ReadFraming::Auto,
            incoming_capacity: 256,
            outgoing_capacity: 1024,
            answer_malformed: true,
            max_message_bytes: super::max_message_bytes(),
        }
    }

    /// A JSONL provider process such as `codex app-server`. Its event stream is bursty (one
    /// notification per token delta), hence the larger incoming queue.
    pub fn provider(name: &'static str) -> Self {
        PeerOptions {
            name,
            read_framing: ReadFraming::Ndjson,
            incoming_capacity: 1024,
            outgoing_capacity: 256,
            answer_malformed: false,
            max_message_bytes: super::max_message_bytes(),
        }
    }
}

/// A request or notification from the other side.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Request {
        id: RequestId,
        method: String,
        params: Params,
    },
    Notification {
        method: String,
        params: Params,
    },
}

/// A message the writer waits for, in its place in the queue: a streamed event's notification,
/// whose bytes are complete once the store committed it (see `editor::frame`). Polled on the
/// writer's task only.
pub trait Deferred: Send {
    /// The bytes once ready; `Ready(None)` means there is nothing to send after all.
    fn poll_bytes(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Vec<u8>>>;
}

/// What the writer task is asked to do.
pub(super) enum Outgoing {
    Message(Vec<u8>),
    /// A message whose bytes are known once something happened elsewhere; the writer holds it,
    /// and everything queued after it, until then.
    Deferred(Box<dyn Deferred>),
    /// Flush, close the write half, then acknowledge.
    Close(oneshot::Sender<()>),
}

pub(super) type Waiter = oneshot::Sender<Result<Value, RpcError>>;

pub(super) struct Shared {
    pub(super) name: &'static str,
    pending: Mutex<HashMap<RequestId, Waiter>>,
    next_id: AtomicI64,
    /// The write framing: true = NDJSON.
    pub(super) ndjson: AtomicBool,
    /// Cancelled when the other side went away: the read side ended, or a write failed.
    closed: CancellationToken,
}

impl Shared {
    pub(super) fn pending(&self) -> MutexGuard<'_, HashMap<RequestId, Waiter>> {
        // A poisoned map of senders is still a valid map.
        crate::sync::lock(&self.pending)
    }

    /// Registers a waiter unless the peer is closed. The check happens under the lock that
    /// `mark_closed` also takes, so a request can never slip in after the final drain and
    /// then wait forever.
    fn register(&self, id: RequestId, waiter: Waiter) -> Result<(), RpcError> {
        let mut pending = self.pending();
        if self.closed.is_cancelled() {
            return Err(RpcError::disconnected());
        }
        pending.insert(id, waiter);
        Ok(())
    }

    /// Marks the other side gone and fails every pending request.
    pub(super) fn mark_closed(&self) {
        let waiters: Vec<Waiter> = {
            let mut pending = self.pending();
            self.closed.cancel();
            pending.drain().map(|(_, w)| w).collect()
        };
        for w in waiters {
            let _ = w.send(Err(RpcError::disconnected()));
        }
    }

    pub(super) fn framing(&self) -> Framing {
        if self.ndjson.load(Ordering::Relaxed) {
            Framing::Ndjson
        } else {
            Framing::Lsp
        }
    }
}

/// A handle to the connection; cheap to clone. The write half is closed when [`Peer::close`]
/// is called or when the last handle is dropped.
#[derive(Clone)]
pub struct Peer {
    out: mpsc::Sender<Outgoing>,
    shared: Arc<Shared>,
}

#[derive(Serialize)]
struct RequestOut<'a> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    method: &'a str,
    #[serde(skip_serializing_if = "Value::is_null")]
    params: Value,
}

#[derive(Serialize)]
struct NotificationOut<'a> {
    jsonrpc: &'static str,
    method: &'a str,
    #[serde(skip_serializing_if = "Value::is_null")]
    params: Value,
}

/// A notification whose params are serialised straight to bytes, without a `Value` in between
/// (the streaming path: one per delta).
#[derive(Serialize)]
struct TypedNotificationOut<'a, P: Serialize> {
    jsonrpc: &'static str,
    method: &'a str,
    params: &'a P,
}

#[derive(Serialize)]
struct CancelOut<'a> {
    id: &'a RequestId,
}

#[derive(Serialize)]
struct ResponseOut<'a> {
    jsonrpc: &'static str,
    /// `null` when answering a message whose id could not be read.
    id: Option<&'a RequestId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RpcError>,
}

pub(super) fn response_bytes(
    id: Option<&RequestId>,
    result: &Result<Value, RpcError>,
) -> Result<Vec<u8>, RpcError> {
    let (result, error) = match result {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e)),
    };
    serde_json::to_vec(&ResponseOut {
        jsonrpc: "2.0",
        id,
        result,
        error,
    })
    .map_err(|e| RpcError::internal(format!("cannot serialise a response: {e}")))
}

fn typed_notification<P: Serialize>(method: &str, params: &P) -> Result<Vec<u8>, RpcError> {
    serde_json::to_vec(&TypedNotificationOut {
        jsonrpc: "2.0",
        method,
        params,
    })
    .map_err(|e| RpcError::internal(format!("cannot serialise {method}: {e}")))
}

/// Turns caller params into a value; `null` (e.g. from `()`) means "no params", which JSON-RPC
/// expresses by leaving the member out.
fn params_value(method: &str, params: impl Serialize) -> Result<Value, RpcError> {
    serde_json::to_value(params)
        .map_err(|e| RpcError::internal(format!("cannot serialise params of {method}: {e}")))
}

/// Removes a pending entry when the request future is dropped before its answer.
struct PendingGuard<'a> {
    shared: &'a Shared,
    id: Option<RequestId>,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.shared.pending().remove(&id);
        }
    }
}

impl Peer {
    /// Sends a message the caller serialised whole (a frame built ahead, see `editor::frame`);
    /// waits for room in the writer's queue.
    pub async fn send(&self, bytes: Vec<u8>) -> Result<(), RpcError> {
        self.out
            .send(Outgoing::Message(bytes))
            .await
            .map_err(|_| RpcError::disconnected())
    }

    pub async fn notify(&self, method: &str, params: impl Serialize) -> Result<(), RpcError> {
        let bytes = serde_json::to_vec(&NotificationOut {
            jsonrpc: "2.0",
            method,
            params: params_value(method, params)?,
        })
        .map_err(|e| RpcError::internal(format!("cannot serialise {method}: {e}")))?;
        self.send(bytes).await
    }

    /// Like [`Peer::notify`] for params that are an object, serialised once, straight to bytes.
    pub async fn notify_typed<P: Serialize>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<(), RpcError> {
        let bytes = typed_notification(method, params)?;
        self.send(bytes).await
    }

    /// Queues a message whose bytes come later ([`Deferred`]); waits for room in the writer's
    /// queue (backpressure).
    pub async fn send_deferred(&self, message: Box<dyn Deferred>) -> Result<(), RpcError> {
        self.out
            .send(Outgoing::Deferred(message))
            .await
            .map_err(|_| RpcError::disconnected())
    }

    /// Sends a request and waits for its response. Dropping the future (e.g. on a timeout)
    /// removes the pending entry; when the other side goes away every pending request fails
    /// with [`RpcError::disconnected`].
    pub async fn request(&self, method: &str, params: impl Serialize) -> Result<Value, RpcError> {
        let id = RequestId::Number(self.shared.next_id.fetch_add(1, Ordering::Relaxed));
        let bytes = serde_json::to_vec(&RequestOut {
            jsonrpc: "2.0",
            id: &id,
            method,
            params: params_value(method, params)?,
        })
        .map_err(|e| RpcError::internal(format!("cannot serialise {method}: {e}")))?;
        let (tx, rx) = oneshot::channel();
        self.shared.register(id.clone(), tx)?;
        let mut guard = PendingGuard {
            shared: &self.shared,
            id: Some(id),
        };
        self.send(bytes).await?;
        let result = rx.await.unwrap_or_else(|_| Err(RpcError::disconnected()));
        // The reader removed the entry when it delivered the answer.
        guard.id = None;
        result
    }

    /// Like [`Peer::request`], but withdrawn when `until` completes first: the pending entry is
    /// removed, the other side is told with `$/cancelRequest {id}` (so it can close whatever it
    /// shows for the request), and `until`'s output comes back as `Err`. A late answer to a
    /// withdrawn request is ignored like any answer nobody waits for.
    pub async fn request_until<U>(
        &self,
        method: &str,
        params: impl Serialize,
        until: impl Future<Output = U>,
    ) -> Result<Result<Value, RpcError>, U> {
        let id = RequestId::Number(self.shared.next_id.fetch_add(1, Ordering::Relaxed));
        let bytes = match serde_json::to_vec(&RequestOut {
            jsonrpc: "2.0",
            id: &id,
            method,
            params: match params_value(method, params) {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            },
        }) {
            Ok(b) => b,
            Err(e) => {
                return Ok(Err(RpcError::internal(format!(
                    "cannot serialise {method}: {e}"
                ))));
            }
        };
        let (tx, rx) = oneshot::channel();
        if let Err(e) = self.shared.register(id.clone(), tx) {
            return Ok(Err(e));
        }
        let mut guard = PendingGuard {
            shared: &self.shared,
            id: Some(id.clone()),
        };
        tokio::pin!(until);
        let answer = async {
            self.send(bytes).await?;
            rx.await.unwrap_or_else(|_| Err(RpcError::disconnected()))
        };
        tokio::select! {
            result = answer => {
                // The reader removed the entry when it delivered the answer.
                guard.id = None;
                Ok(result)
            }
            u = &mut until => {
                drop(guard);
                if let Err(e) = self.notify("$/cancelRequest", CancelOut { id: &id }).await {
                    tracing::debug!(peer = self.shared.name, "cannot withdraw request {id:?}: {e}");
                }
                Err(u)
            }
        }
    }

    pub async fn respond(
        &self,
        id: RequestId,
        result: Result<Value, RpcError>,
    ) -> Result<(), RpcError> {
        let bytes = response_bytes(Some(&id), &result)?;
        self.send(bytes).await
    }

    /// Flushes what is queued, then closes the write half (for a child process: closes its
    /// stdin). Later sends fail with [`RpcError::disconnected`]; the read side keeps running.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.out.send(Outgoing::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Resolves when the other side went away: the read side reached EOF or failed, or a write
    /// failed. Closing our own write half with [`Peer::close`] does not count.
    pub async fn closed(&self) {
        self.shared.closed.cancelled().await;
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.is_cancelled()
    }
}

/// Starts the reader and writer tasks of a connection.
pub fn spawn<R, W>(reader: R, writer: W, opts: PeerOptions) -> (Peer, mpsc::Receiver<Incoming>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let shared = Arc::new(Shared {
        name: opts.name,
        pending: Mutex::new(HashMap::new()),
        next_id: AtomicI64::new(1),
        ndjson: AtomicBool::new(opts.read_framing == ReadFraming::Ndjson),
        closed: CancellationToken::new(),
    });
    let (out_tx, out_rx) = mpsc::channel(opts.outgoing_capacity.max(1));
    let (in_tx, in_rx) = mpsc::channel(opts.incoming_capacity.max(1));
    tokio::spawn(write_loop(writer, out_rx, shared.clone()));
    // The reader only holds a weak handle on the writer's queue, so that dropping every `Peer`
    // closes the write half (a child sees EOF on stdin) even while the read side is open.
    let reader_task = Reader {
        tx: in_tx,
        out: out_tx.downgrade(),
        shared: shared.clone(),
        opts,
    };
    tokio::spawn(reader_task.run(reader));
    (
        Peer {
            out: out_tx,
            shared,
        },
        in_rx,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::rpc::codec::tests::encode;
    use pretty_assertions::assert_eq;
    use serde_json::json;
    use std::time::Duration;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

    const T: Duration = Duration::from_secs(5);

    type End = (Peer, mpsc::Receiver<Incoming>);

    /// Two peers connected through in-memory pipes.
    fn pair(opts_a: PeerOptions, opts_b: PeerOptions) -> (End, End) {
        let (a, b) = duplex(1 << 16);
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        (spawn(ar, aw, opts_a), spawn(br, bw, opts_b))
    }

    fn opts(framing: ReadFraming, answer_malformed: bool) -> PeerOptions {
        PeerOptions {
            read_framing: framing,
            answer_malformed,
            ..PeerOptions::provider("test")
        }
    }

    async fn next(rx: &mut mpsc::Receiver<Incoming>) -> Incoming {
        tokio::time::timeout(T, rx.recv())
            .await
            .expect("timed out waiting for a message")
            .expect("incoming channel closed")
    }

    /// A peer whose other end the test drives byte by byte.
    struct Raw {
        io: tokio::io::BufReader<DuplexStream>,
        peer: Peer,
        rx: mpsc::Receiver<Incoming>,
    }

    fn raw(opts: PeerOptions) -> Raw {
        let (client, server) = duplex(1 << 16);
        let (r, w) = tokio::io::split(server);
        let (peer, rx) = spawn(r, w, opts);
        Raw {
            io: tokio::io::BufReader::new(client),
            peer,
            rx,
        }
    }

    impl Raw {
        async fn send_raw(&mut self, bytes: &[u8]) {
            self.io.get_mut().write_all(bytes).await.unwrap();
        }

        async fn send_lsp(&mut self, body: &str) {
            let bytes = encode(Framing::Lsp, body.as_bytes()).await;
            self.send_raw(&bytes).await;
        }

        async fn read_lsp(&mut self) -> Value {
            let mut n = None;
            loop {
                let mut line = String::new();
                tokio::time::timeout(T, self.io.read_line(&mut line))
                    .await
                    .unwrap()
                    .unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                n = Some(
                    line.strip_prefix("Content-Length: ")
                        .unwrap()
                        .parse()
                        .unwrap(),
                );
            }
            let mut body = vec![0; n.unwrap()];
            tokio::time::timeout(T, self.io.read_exact(&mut body))
                .await
                .unwrap()
                .unwrap();
            serde_json::from_slice(&body).unwrap()
        }

        async fn read_framed(&mut self, framing: Framing) -> Value {
            match framing {
                Framing::Lsp => self.read_lsp().await,
                Framing::Ndjson => self.read_line().await,
            }
        }

        async fn read_line(&mut self) -> Value {
            let mut line = String::new();
            tokio::time::timeout(T, self.io.read_line(&mut line))
                .await
                .unwrap()
                .unwrap();
            assert!(line.ends_with('\n'), "{line:?}");
            serde_json::from_str(&line).unwrap()
        }

        /// Asserts that nothing arrives for a short while.
        async fn assert_silent(&mut self) {
            let mut buf = [0u8; 1];
            let r = tokio::time::timeout(Duration::from_millis(100), self.io.read(&mut buf)).await;
            assert!(r.is_err(), "unexpected output: {r:?}");
        }
    }

    #[tokio::test]
    async fn requests_both_ways_with_interleaved_notifications() {
        let framings = [
            (ReadFraming::Lsp, ReadFraming::Lsp),
            (ReadFraming::Ndjson, ReadFraming::Ndjson),
            (ReadFraming::Auto, ReadFraming::Auto),
            (ReadFraming::Ndjson, ReadFraming::Auto),
        ];
        for (fa, fb) in framings {
            let ((a, mut a_in), (b, mut b_in)) = pair(opts(fa, false), opts(fb, false));
            // b answers a's request only after asking a something itself, so a server->client
            // request runs while a client->server request is pending.
            let b2 = b.clone();
            let server = tokio::spawn(async move {
                let Incoming::Request { id, method, params } = next(&mut b_in).await else {
                    panic!("expected a request")
                };
                assert_eq!(method, "add");
                b2.notify("progress", json!({"n": 1})).await.unwrap();
                let answer = b2.request("ask", json!({"q": "?"})).await.unwrap();
                b2.notify("progress", json!({"n": 2})).await.unwrap();
                let sum = params["x"].as_i64().unwrap() + answer.as_i64().unwrap();
                b2.respond(id, Ok(json!(sum))).await.unwrap();
                let Incoming::Notification { method, params } = next(&mut b_in).await else {
                    panic!("expected a notification")
                };
                assert_eq!(
                    (method.as_str(), params.into_value()),
                    ("done", json!(null))
                );
            });
            let a2 = a.clone();
            let client = tokio::spawn(async move {
                let got = next(&mut a_in).await;
                assert_eq!(
                    got,
                    Incoming::Notification {
                        method: "progress".into(),
                        params: json!({"n": 1}).into()
                    }
                );
                let Incoming::Request { id, method, params } = next(&mut a_in).await else {
                    panic!("expected a request")
                };
                assert_eq!(
                    (method.as_str(), params.into_value()),
                    ("ask", json!({"q": "?"}))
                );
                a2.respond(id, Ok(json!(40))).await.unwrap();
                let got = next(&mut a_in).await;
                assert_eq!(
                    got,
                    Incoming::Notification {
                        method: "progress".into(),
                        params: json!({"n": 2}).into()
                    }
                );
            });
            let r = tokio::time::timeout(T, a.request("add", json!({"x": 2})))
                .await
                .unwrap();
            assert_eq!(r.unwrap(), json!(42), "{fa:?}/{fb:?}");
            a.notify("done", ()).await.unwrap();
            tokio::time::timeout(T, server).await.unwrap().unwrap();
            tokio::time::timeout(T, client).await.unwrap().unwrap();
            assert!(a.shared.pending().is_empty() && b.shared.pending().is_empty());
        }
    }

    #[tokio::test]
    async fn concurrent_requests_are_matched_by_id_and_errors_come_back() {
        let ((a, _a_in), (b, mut b_in)) = pair(
            opts(ReadFraming::Ndjson, false),
            opts(ReadFraming::Ndjson, false),
        );
        let server = tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..3 {
                let Incoming::Request { id, params, .. } = next(&mut b_in).await else {
                    panic!("expected a request")
                };
                ids.push((id, params));
            }
            // Answer in reverse order.
            for (id, params) in ids.into_iter().rev() {
                let n = params["n"].as_i64().unwrap();
                let result = if n == 1 {
                    Err(RpcError::invalid_params("n must not be 1").with_data(json!({"n": 1})))
                } else {
                    Ok(json!(n * 10))
                };
                b.respond(id, result).await.unwrap();
            }
        });
        let (r0, r1, r2) = tokio::time::timeout(T, async {
            tokio::join!(
                a.request("m", json!({"n": 0})),
                a.request("m", json!({"n": 1})),
                a.request("m", json!({"n": 2}))
            )
        })
        .await
        .unwrap();
        assert_eq!(r0.unwrap(), json!(0));
        assert_eq!(
            r1.unwrap_err(),
            RpcError::invalid_params("n must not be 1").with_data(json!({"n": 1}))
        );
        assert_eq!(r2.unwrap(), json!(20));
        tokio::time::timeout(T, server).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn lsp_is_detected_and_answered_in_lsp() {
        let mut c = raw(PeerOptions::editor());
        c.send_raw(b"\r\n").await;
        c.send_lsp(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#)
            .await;
        let Incoming::Request { id, .. } = next(&mut c.rx).await else {
            panic!("expected a request")
        };
        c.peer.respond(id, Ok(json!({"ok": true}))).await.unwrap();
        assert_eq!(
            c.read_lsp().await,
            json!({"jsonrpc": "2.0", "id": 1, "result": {"ok": true}})
        );
    }

    #[tokio::test]
    async fn ndjson_is_detected_and_answered_in_ndjson() {
        let mut c = raw(PeerOptions::editor());
        c.send_raw(b"\n{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"m\"}\n")
            .await;
        let Incoming::Request { id, params, .. } = next(&mut c.rx).await else {
            panic!("expected a request")
        };
        assert_eq!(params.into_value(), Value::Null);
        c.peer.respond(id, Ok(json!({"ok": true}))).await.unwrap();
        assert_eq!(
            c.read_line().await,
            json!({"jsonrpc": "2.0", "id": "a", "result": {"ok": true}})
        );
        c.peer.notify("n", json!([1])).await.unwrap();
        assert_eq!(
            c.read_line().await,
            json!({"jsonrpc": "2.0", "method": "n", "params": [1]})
        );
    }

    #[tokio::test]
    async fn auto_writes_lsp_before_anything_was_read() {
        let mut c = raw(PeerOptions::editor());
        c.peer.notify("hello", json!({"a": 1})).await.unwrap();
        assert_eq!(
            c.read_lsp().await,
            json!({"jsonrpc": "2.0", "method": "hello", "params": {"a": 1}})
        );
    }

    #[tokio::test]
    async fn codex_style_messages_are_accepted() {
        let mut c = raw(PeerOptions::provider("codex"));
        c.send_raw(b"{\"method\":\"turn/started\",\"params\":{\"x\":1},\"emittedAtMs\":17}\n")
            .await;
        assert_eq!(
            next(&mut c.rx).await,
            Incoming::Notification {
                method: "turn/started".into(),
                params: json!({"x": 1}).into()
            }
        );
        let p = c.peer.clone();
        let pending = tokio::spawn(async move { p.request("initialize", json!({})).await });
        let sent = c.read_line().await;
        assert_eq!(
            sent,
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
        );
        c.send_raw(b"{\"id\":1,\"result\":{\"userAgent\":\"x\"}}\n")
            .await;
        let r = tokio::time::timeout(T, pending).await.unwrap().unwrap();
        assert_eq!(r.unwrap(), json!({"userAgent": "x"}));
    }

    #[tokio::test]
    async fn malformed_messages_get_errors_and_the_connection_survives() {
        let mut c = raw(PeerOptions::editor());
        c.send_lsp("{nope").await;
        let r = c.read_lsp().await;
        assert_eq!(
            (&r["id"], &r["error"]["code"]),
            (&json!(null), &json!(-32700))
        );
        c.send_lsp(r#"[{"jsonrpc":"2.0","id":1,"method":"x"}]"#)
            .await;
        let r = c.read_lsp().await;
        assert_eq!(
            (&r["id"], &r["error"]["code"]),
            (&json!(null), &json!(-32600))
        );
        c.send_lsp(r#"{"jsonrpc":"2.0","id":7}"#).await;
        let r = c.read_lsp().await;
        assert_eq!((&r["id"], &r["error"]["code"]), (&json!(7), &json!(-32600)));
        c.send_lsp(r#"{"jsonrpc":"2.0","id":"s","method":5}"#).await;
        let r = c.read_lsp().await;
        assert_eq!(
            (&r["id"], &r["error"]["code"]),
            (&json!("s"), &json!(-32600))
        );
        // Responses are never answered, not even ones that match nothing.
        c.send_lsp(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#)
            .await;
        c.send_lsp(r#"{"jsonrpc":"2.0","id":99,"result":1}"#).await;
        c.send_lsp(r#"{"jsonrpc":"2.0","id":8,"method":"ok"}"#)
            .await;
        let Incoming::Request { id, method, .. } = next(&mut c.rx).await else {
            panic!("expected a request")
        };
        assert_eq!((id, method.as_str()), (RequestId::Number(8), "ok"));
        c.assert_silent().await;
        assert!(!c.peer.is_closed());
    }

    #[tokio::test]
    async fn providers_get_no_answer_to_garbage() {
        let mut c = raw(PeerOptions::provider("p"));
        c.send_raw(b"not json\n[1,2]\n{\"id\":3}\n{\"method\":\"ok\"}\n")
            .await;
        assert_eq!(
            next(&mut c.rx).await,
            Incoming::Notification {
                method: "ok".into(),
                params: Value::Null.into()
            }
        );
        c.assert_silent().await;
    }

    #[tokio::test]
    async fn oversized_requests_are_answered_with_their_id_and_the_next_one_read() {
        for framing in [Framing::Lsp, Framing::Ndjson] {
            let mut c = raw(PeerOptions {
                max_message_bytes: 100,
                ..PeerOptions::editor()
            });
            let big =
                json!({"jsonrpc": "2.0", "id": 1, "method": "big", "params": "x".repeat(1000)});
            let note = json!({"jsonrpc": "2.0", "method": "note", "params": "x".repeat(1000)});
            let small = json!({"jsonrpc": "2.0", "id": 2, "method": "small"});
            let mut bytes = encode(framing, big.to_string().as_bytes()).await;
            bytes.extend(encode(framing, note.to_string().as_bytes()).await);
            bytes.extend(encode(framing, small.to_string().as_bytes()).await);
            c.send_raw(&bytes).await;
            let r = c.read_framed(framing).await;
            assert_eq!((&r["id"], &r["error"]["code"]), (&json!(1), &json!(-32600)));
            let text = r["error"]["message"].as_str().unwrap();
            assert!(text.contains("limit is 100 bytes"), "{text}");
            // The notification has no id to answer; the editor still hears about it.
            let r = c.read_framed(framing).await;
            assert_eq!(
                (&r["id"], &r["error"]["code"]),
                (&json!(null), &json!(-32600))
            );
            let Incoming::Request { id, method, .. } = next(&mut c.rx).await else {
                panic!("expected a request")
            };
            assert_eq!((id, method.as_str()), (RequestId::Number(2), "small"));
            c.assert_silent().await;
        }
    }

    #[tokio::test]
    async fn an_oversized_response_fails_the_request_it_answers() {
        let mut c = raw(PeerOptions {
            max_message_bytes: 100,
            ..PeerOptions::provider("p")
        });
        let p = c.peer.clone();
        let pending = tokio::spawn(async move { p.request("read", ()).await });
        let sent = c.read_line().await;
        let answer = json!({"id": sent["id"], "result": {"text": "x".repeat(1000)}});
        c.send_raw(format!("{answer}\n").as_bytes()).await;
        let r = tokio::time::timeout(T, pending).await.unwrap().unwrap();
        let e = r.unwrap_err();
        assert_eq!(e.code, -32600, "{e:?}");
        assert!(e.message.contains("message too large"), "{e:?}");
        // Towards a provider nothing is answered, and the connection carries on.
        c.assert_silent().await;
        assert!(!c.peer.is_closed());
    }

    #[tokio::test]
    async fn broken_lsp_headers_end_the_connection() {
        let mut c = raw(PeerOptions::editor());
        let p = c.peer.clone();
        let pending = tokio::spawn(async move { p.request("x", ()).await });
        c.read_lsp().await;
        c.send_raw(b"Content-Type: x\r\n\r\n{}").await;
        tokio::time::timeout(T, c.peer.closed()).await.unwrap();
        // The editor is told why before the end.
        let r = c.read_lsp().await;
        assert_eq!(
            (&r["id"], &r["error"]["code"]),
            (&json!(null), &json!(-32700))
        );
        let text = r["error"]["message"].as_str().unwrap();
        assert!(text.contains("without Content-Length"), "{text}");
        let r = tokio::time::timeout(T, pending).await.unwrap().unwrap();
        assert_eq!(r.unwrap_err().code, crate::rpc::DISCONNECTED);
        assert!(
            tokio::time::timeout(T, c.rx.recv())
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn eof_fails_pending_requests_and_closes_incoming() {
        let mut c = raw(PeerOptions::editor());
        let p = c.peer.clone();
        let pending = tokio::spawn(async move { p.request("y", ()).await });
        // Once the request is on the wire its entry is registered.
        let sent = c.read_lsp().await;
        assert_eq!(sent, json!({"jsonrpc": "2.0", "id": 1, "method": "y"}));
        assert!(!c.peer.is_closed());
        let Raw { io, peer, mut rx } = c;
        drop(io);
        let r = tokio::time::timeout(T, pending).await.unwrap().unwrap();
        assert_eq!(r.unwrap_err(), RpcError::disconnected());
        tokio::time::timeout(T, peer.closed()).await.unwrap();
        assert!(peer.is_closed());
        assert!(tokio::time::timeout(T, rx.recv()).await.unwrap().is_none());
        // Requests after the end fail at once instead of waiting forever.
        let late = tokio::time::timeout(T, peer.request("z", ()))
            .await
            .unwrap();
        assert_eq!(late.unwrap_err(), RpcError::disconnected());
        assert!(peer.shared.pending().is_empty());
    }

    #[tokio::test]
    async fn a_withdrawn_request_is_cancelled_on_the_other_side() {
        let mut c = raw(PeerOptions::editor());
        let (stop, stopped) = oneshot::channel::<&str>();
        let peer = c.peer.clone();
        let task = tokio::spawn(async move {
            peer.request_until("ask", json!({"q": 1}), async {
                stopped.await.unwrap_or("dropped")
            })
            .await
        });
        let sent = c.read_lsp().await;
        assert_eq!(sent["method"], "ask");
        stop.send("stop").unwrap();
        let outcome = tokio::time::timeout(T, task).await.unwrap().unwrap();
        assert_eq!(outcome, Err("stop"));
        let cancel = c.read_lsp().await;
        assert_eq!(
            cancel,
            json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": sent["id"]}})
        );
        assert!(c.peer.shared.pending().is_empty());
        // An answer before the withdrawal wins, and nothing is cancelled.
        let peer = c.peer.clone();
        let task = tokio::spawn(async move {
            peer.request_until("ask", (), std::future::pending::<()>())
                .await
        });
        let sent = c.read_lsp().await;
        c.send_lsp(&json!({"jsonrpc": "2.0", "id": sent["id"], "result": 7}).to_string())
            .await;
        let outcome = tokio::time::timeout(T, task).await.unwrap().unwrap();
        assert_eq!(outcome, Ok(Ok(json!(7))));
        c.assert_silent().await;
    }

    #[tokio::test]
    async fn dropping_a_request_future_removes_its_pending_entry() {
        let mut c = raw(PeerOptions::editor());
        let timed_out =
            tokio::time::timeout(Duration::from_millis(50), c.peer.request("x", ())).await;
        assert!(timed_out.is_err());
        assert!(c.peer.shared.pending().is_empty());
        // A late answer to it is dropped, and the connection carries on.
        let sent = c.read_lsp().await;
        c.send_lsp(&json!({"jsonrpc": "2.0", "id": sent["id"], "result": 1}).to_string())
            .await;
        c.send_lsp(r#"{"jsonrpc":"2.0","method":"still-here"}"#)
            .await;
        assert!(
            matches!(next(&mut c.rx).await, Incoming::Notification { method, .. } if method == "still-here")
        );
    }

    #[tokio::test]
    async fn close_flushes_then_closes_the_write_half() {
        let c = raw(PeerOptions::provider("p"));
        let (mut cr, _cw) = tokio::io::split(c.io);
        for i in 0..100 {
            c.peer.notify("n", json!({"i": i})).await.unwrap();
        }
        c.peer.close().await;
        let mut all = String::new();
        tokio::time::timeout(T, cr.read_to_string(&mut all))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(all.lines().count(), 100);
        assert!(all.ends_with("{\"i\":99}}\n"));
        assert_eq!(
            c.peer.notify("late", ()).await.unwrap_err(),
            RpcError::disconnected()
        );
        // Closing our write half is not the other side going away.
        assert!(!c.peer.is_closed());
        c.peer.close().await;
    }

    #[tokio::test]
    async fn dropping_every_handle_closes_the_write_half() {
        let c = raw(PeerOptions::provider("p"));
        let (mut cr, _cw) = tokio::io::split(c.io);
        c.peer.notify("last", ()).await.unwrap();
        drop(c.peer);
        let mut all = String::new();
        tokio::time::timeout(T, cr.read_to_string(&mut all))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(all, "{\"jsonrpc\":\"2.0\",\"method\":\"last\"}\n");
        drop(c.rx);
    }

    /// A deferred message goes out in its place once its bytes are ready, and holds what was
    /// queued after it until then; one that comes to nothing is skipped.
    #[tokio::test]
    async fn a_deferred_message_holds_what_follows_until_ready() {
        struct Later(oneshot::Receiver<Vec<u8>>);
        impl Deferred for Later {
            fn poll_bytes(
                &mut self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Vec<u8>>> {
                std::pin::Pin::new(&mut self.0).poll(cx).map(Result::ok)
            }
        }
        let mut c = raw(PeerOptions::provider("p"));
        let (ready, later) = oneshot::channel();
        let (never, dropped) = oneshot::channel::<Vec<u8>>();
        c.peer.notify("before", ()).await.unwrap();
        c.peer.send_deferred(Box::new(Later(later))).await.unwrap();
        c.peer.notify("after", ()).await.unwrap();
        assert_eq!(c.read_line().await["method"], "before");
        c.assert_silent().await;
        ready
            .send(br#"{"jsonrpc":"2.0","method":"deferred"}"#.to_vec())
            .unwrap();
        assert_eq!(c.read_line().await["method"], "deferred");
        assert_eq!(c.read_line().await["method"], "after");
        drop(never);
        c.peer
            .send_deferred(Box::new(Later(dropped)))
            .await
            .unwrap();
        c.peer.notify("last", ()).await.unwrap();
        assert_eq!(c.read_line().await["method"], "last");
    }

    #[tokio::test]
    async fn a_failed_write_marks_the_peer_closed() {
        // The read side stays open; only the write side is broken.
        let (_read_other, read_ours) = duplex(64);
        let (write_other, write_ours) = duplex(64);
        drop(write_other);
        let (peer, _rx) = spawn(read_ours, write_ours, PeerOptions::provider("p"));
        let r = tokio::time::timeout(T, peer.request("x", ()))
            .await
            .unwrap();
        assert_eq!(r.unwrap_err(), RpcError::disconnected());
        tokio::time::timeout(T, peer.closed()).await.unwrap();
        assert!(peer.notify("n", ()).await.is_err());
    }

    #[tokio::test]
    async fn notify_and_respond_work_while_incoming_is_not_drained() {
        let ((a, _a_in), (b, mut b_in)) = pair(
            PeerOptions {
                incoming_capacity: 1,
                ..opts(ReadFraming::Ndjson, false)
            },
            opts(ReadFraming::Ndjson, false),
        );
        // b floods a, whose owner never reads: a's reader blocks on the full incoming queue.
        let flood = {
            let b = b.clone();
            tokio::spawn(async move {
                for i in 0..1000 {
                    if b.notify("flood", json!({"i": i})).await.is_err() {
                        return;
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        tokio::time::timeout(T, a.notify("out", json!(1)))
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(T, a.respond(RequestId::Number(5), Ok(json!(2))))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            next(&mut b_in).await,
            Incoming::Notification {
                method: "out".into(),
                params: json!(1).into()
            }
        );
        flood.abort();
    }
}
