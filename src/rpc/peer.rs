//! A JSON-RPC peer over any `AsyncRead`/`AsyncWrite` pair: one reader task, one writer task.
//!
//! The reader classifies each message: responses resolve the pending request they answer,
//! requests and notifications go to the owner through a bounded channel (backpressure: the
//! reader waits when the owner is behind). The writer owns the output and is fed by a bounded
//! channel; it flushes when its queue runs dry, so bursts are written in few syscalls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use baton_protocol::errors;
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::codec::{self, Framing, ReadOutcome};
use super::message::{Classified, RequestId, RpcError, classify};

/// How the reader finds message boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFraming {
    /// Decide from the first byte: `{`/`[` is NDJSON, anything else LSP. Writes follow suit
    /// (LSP until the first byte arrived).
    Auto,
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
    /// Largest accepted message; bigger ones are skipped with a warning.
    pub max_message_bytes: usize,
}

impl PeerOptions {
    pub fn editor() -> Self {
        PeerOptions {
            name: "editor",
            read_framing: ReadFraming::Auto,
            incoming_capacity: 256,
            outgoing_capacity: 1024,
            answer_malformed: true,
            max_message_bytes: 64 * 1024 * 1024,
        }
    }

    pub fn provider(name: &'static str) -> Self {
        PeerOptions {
            name,
            read_framing: ReadFraming::Ndjson,
            incoming_capacity: 1024,
            outgoing_capacity: 256,
            answer_malformed: false,
            max_message_bytes: 256 * 1024 * 1024,
        }
    }
}

/// A request or notification from the other side.
#[derive(Debug)]
pub enum Incoming {
    Request {
        id: RequestId,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
}

enum Outgoing {
    Message(Vec<u8>),
    Close(oneshot::Sender<()>),
}

type Pending = Mutex<HashMap<RequestId, oneshot::Sender<Result<Value, RpcError>>>>;

struct Shared {
    name: &'static str,
    pending: Pending,
    next_id: AtomicI64,
    /// Write framing: true = NDJSON.
    ndjson: AtomicBool,
    /// Cancelled when the read side ended (EOF or error).
    read_closed: CancellationToken,
}

impl Shared {
    fn pending(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<RequestId, oneshot::Sender<Result<Value, RpcError>>>>
    {
        // A poisoned map of senders is still a valid map.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn framing(&self) -> Framing {
        if self.ndjson.load(Ordering::Relaxed) {
            Framing::Ndjson
        } else {
            Framing::Lsp
        }
    }
}

/// A handle to the connection; cheap to clone.
#[derive(Clone)]
pub struct Peer {
    out: mpsc::Sender<Outgoing>,
    shared: Arc<Shared>,
}

#[derive(Serialize)]
struct RequestOut<'a, P> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    method: &'a str,
    params: P,
}

#[derive(Serialize)]
struct NotificationOut<'a, P> {
    jsonrpc: &'static str,
    method: &'a str,
    params: P,
}

#[derive(Serialize)]
struct ResponseOut<'a> {
    jsonrpc: &'static str,
    id: Option<&'a RequestId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RpcError>,
}

fn response_bytes(
    id: Option<&RequestId>,
    result: &Result<Value, RpcError>,
) -> Result<Vec<u8>, RpcError> {
    let msg = match result {
        Ok(v) => ResponseOut {
            jsonrpc: "2.0",
            id,
            result: Some(v),
            error: None,
        },
        Err(e) => ResponseOut {
            jsonrpc: "2.0",
            id,
            result: None,
            error: Some(e),
        },
    };
    serde_json::to_vec(&msg).map_err(|e| RpcError::internal(format!("cannot serialise: {e}")))
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
    async fn send(&self, bytes: Vec<u8>) -> Result<(), RpcError> {
        self.out
            .send(Outgoing::Message(bytes))
            .await
            .map_err(|_| RpcError::disconnected())
    }

    pub async fn notify(&self, method: &str, params: impl Serialize) -> Result<(), RpcError> {
        let bytes = serde_json::to_vec(&NotificationOut {
            jsonrpc: "2.0",
            method,
            params,
        })
        .map_err(|e| RpcError::internal(format!("cannot serialise {method}: {e}")))?;
        self.send(bytes).await
    }

    /// Sends a request and waits for its response. Dropping the future removes the pending
    /// entry; when the other side goes away every pending request fails with `disconnected`.
    pub async fn request(&self, method: &str, params: impl Serialize) -> Result<Value, RpcError> {
        if self.shared.read_closed.is_cancelled() {
            return Err(RpcError::disconnected());
        }
        let id = RequestId::Number(self.shared.next_id.fetch_add(1, Ordering::Relaxed));
        let bytes = serde_json::to_vec(&RequestOut {
            jsonrpc: "2.0",
            id: &id,
            method,
            params,
        })
        .map_err(|e| RpcError::internal(format!("cannot serialise {method}: {e}")))?;
        let (tx, rx) = oneshot::channel();
        self.shared.pending().insert(id.clone(), tx);
        let mut guard = PendingGuard {
            shared: &self.shared,
            id: Some(id),
        };
        self.send(bytes).await?;
        let result = rx.await.unwrap_or_else(|_| Err(RpcError::disconnected()));
        guard.id = None;
        result
    }

    pub async fn respond(
        &self,
        id: RequestId,
        result: Result<Value, RpcError>,
    ) -> Result<(), RpcError> {
        let bytes = response_bytes(Some(&id), &result)?;
        self.send(bytes).await
    }

    /// Flushes what is queued, then closes the write half (for a child: closes its stdin).
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.out.send(Outgoing::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
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
        next_id: AtomicI64::new(0),
        ndjson: AtomicBool::new(opts.read_framing == ReadFraming::Ndjson),
        read_closed: CancellationToken::new(),
    });
    let (out_tx, out_rx) = mpsc::channel(opts.outgoing_capacity.max(1));
    let (in_tx, in_rx) = mpsc::channel(opts.incoming_capacity.max(1));
    tokio::spawn(write_loop(writer, out_rx, shared.clone()));
    let peer = Peer {
        out: out_tx,
        shared,
    };
    tokio::spawn(read_loop(reader, in_tx, peer.clone(), opts));
    (peer, in_rx)
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut rx: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
) {
    let name = shared.name;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Outgoing::Message(body) => {
                    let framed = codec::encode(shared.framing(), &body);
                    if let Err(e) = writer.write_all(&framed).await {
                        tracing::debug!(peer = name, "write failed, closing: {e}");
                        return;
                    }
                }
                Outgoing::Close(done) => {
                    let _ = writer.flush().await;
                    let _ = writer.shutdown().await;
                    drop(writer);
                    let _ = done.send(());
                    // Later writers find the channel closed.
                    rx.close();
                    while let Some(m) = rx.recv().await {
                        if let Outgoing::Close(d) = m {
                            let _ = d.send(());
                        }
                    }
                    return;
                }
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = writer.flush().await {
            tracing::debug!(peer = name, "flush failed, closing: {e}");
            return;
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    reader: R,
    tx: mpsc::Sender<Incoming>,
    peer: Peer,
    opts: PeerOptions,
) {
    let shared = peer.shared.clone();
    let name = opts.name;
    let mut r = BufReader::with_capacity(64 * 1024, reader);
    let framing = match opts.read_framing {
        ReadFraming::Ndjson => Some(Framing::Ndjson),
        ReadFraming::Auto => match codec::detect(&mut r).await {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(peer = name, "read failed: {e}");
                None
            }
        },
    };
    if let Some(framing) = framing {
        shared
            .ndjson
            .store(framing == Framing::Ndjson, Ordering::Relaxed);
        loop {
            let bytes = match codec::read(&mut r, framing, opts.max_message_bytes).await {
                Ok(ReadOutcome::Message(b)) => b,
                Ok(ReadOutcome::TooLarge(n)) => {
                    tracing::warn!(
                        peer = name,
                        bytes = n,
                        "skipped a message over the size limit"
                    );
                    continue;
                }
                Ok(ReadOutcome::Eof) => break,
                Err(e) => {
                    tracing::warn!(peer = name, "cannot read the stream any more: {e}");
                    break;
                }
            };
            let value: Value = match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(peer = name, "malformed JSON: {e}");
                    if opts.answer_malformed {
                        let err = RpcError::new(errors::PARSE_ERROR, format!("parse error: {e}"));
                        if let Ok(b) = response_bytes(None, &Err(err)) {
                            let _ = peer.send(b).await;
                        }
                    }
                    continue;
                }
            };
            match classify(value) {
                Classified::Request { id, method, params } => {
                    if tx
                        .send(Incoming::Request { id, method, params })
                        .await
                        .is_err()
                    {
                        tracing::debug!(peer = name, "request dropped: nobody listens");
                    }
                }
                Classified::Notification { method, params } => {
                    let _ = tx.send(Incoming::Notification { method, params }).await;
                }
                Classified::Response { id, result } => match shared.pending().remove(&id) {
                    Some(waiter) => {
                        let _ = waiter.send(result);
                    }
                    None => tracing::debug!(peer = name, %id, "response to an unknown request"),
                },
                Classified::Invalid { id, reason } => {
                    tracing::warn!(peer = name, "invalid message: {reason}");
                    if opts.answer_malformed {
                        let err = RpcError::new(
                            errors::INVALID_REQUEST,
                            format!("invalid request: {reason}"),
                        );
                        if let Ok(b) = response_bytes(id.as_ref(), &Err(err)) {
                            let _ = peer.send(b).await;
                        }
                    }
                }
            }
        }
    }
    shared.read_closed.cancel();
    let waiters: Vec<_> = shared.pending().drain().map(|(_, w)| w).collect();
    for w in waiters {
        let _ = w.send(Err(RpcError::disconnected()));
    }
    tracing::debug!(peer = name, "read side closed");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;
    use std::time::Duration;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, duplex};

    const T: Duration = Duration::from_secs(5);

    fn pair(
        opts_a: PeerOptions,
        opts_b: PeerOptions,
    ) -> (
        (Peer, mpsc::Receiver<Incoming>),
        (Peer, mpsc::Receiver<Incoming>),
    ) {
        let (a, b) = duplex(1 << 16);
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        (spawn(ar, aw, opts_a), spawn(br, bw, opts_b))
    }

    async fn next(rx: &mut mpsc::Receiver<Incoming>) -> Incoming {
        tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn requests_both_ways_with_interleaved_notifications() {
        for framing in [ReadFraming::Auto, ReadFraming::Ndjson] {
            let mut o = PeerOptions::provider("t");
            o.read_framing = framing;
            let ((a, mut a_in), (b, mut b_in)) = pair(o.clone(), o);
            // b answers a's request only after asking a something itself.
            let b2 = b.clone();
            let server = tokio::spawn(async move {
                let Incoming::Request { id, method, params } = next(&mut b_in).await else {
                    panic!()
                };
                assert_eq!(method, "add");
                b2.notify("progress", json!({"n": 1})).await.unwrap();
                let answer = b2.request("ask", json!({})).await.unwrap();
                let sum = params["x"].as_i64().unwrap() + answer.as_i64().unwrap();
                b2.respond(id, Ok(json!(sum))).await.unwrap();
            });
            let a2 = a.clone();
            let client = tokio::spawn(async move {
                let Incoming::Notification { method, .. } = next(&mut a_in).await else {
                    panic!()
                };
                assert_eq!(method, "progress");
                let Incoming::Request { id, method, .. } = next(&mut a_in).await else {
                    panic!()
                };
                assert_eq!(method, "ask");
                a2.respond(id, Ok(json!(40))).await.unwrap();
            });
            let r = tokio::time::timeout(T, a.request("add", json!({"x": 2})))
                .await
                .unwrap();
            assert_eq!(r.unwrap(), json!(42));
            server.await.unwrap();
            client.await.unwrap();
        }
    }

    async fn raw_editor() -> (tokio::io::DuplexStream, Peer, mpsc::Receiver<Incoming>) {
        let (client, server) = duplex(1 << 16);
        let (r, w) = tokio::io::split(server);
        let (peer, rx) = spawn(r, w, PeerOptions::editor());
        (client, peer, rx)
    }

    async fn read_lsp_body(c: &mut tokio::io::BufReader<tokio::io::DuplexStream>) -> Value {
        let mut header = String::new();
        tokio::time::timeout(T, c.read_line(&mut header))
            .await
            .unwrap()
            .unwrap();
        let n: usize = header
            .trim()
            .trim_start_matches("Content-Length: ")
            .parse()
            .unwrap();
        let mut blank = String::new();
        c.read_line(&mut blank).await.unwrap();
        let mut body = vec![0; n];
        c.read_exact(&mut body).await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[tokio::test]
    async fn malformed_messages_get_errors_and_the_connection_survives() {
        let (client, _peer, mut rx) = raw_editor().await;
        let mut c = tokio::io::BufReader::new(client);
        let send = |body: &str| codec::encode(Framing::Lsp, body.as_bytes());
        c.get_mut().write_all(&send("{nope")).await.unwrap();
        assert_eq!(read_lsp_body(&mut c).await["error"]["code"], -32700);
        c.get_mut()
            .write_all(&send("[{\"id\":1,\"method\":\"x\"}]"))
            .await
            .unwrap();
        assert_eq!(read_lsp_body(&mut c).await["error"]["code"], -32600);
        c.get_mut().write_all(&send("{\"id\":7}")).await.unwrap();
        let r = read_lsp_body(&mut c).await;
        assert_eq!(
            (r["error"]["code"].clone(), r["id"].clone()),
            (json!(-32600), json!(7))
        );
        c.get_mut()
            .write_all(&send("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ok\"}"))
            .await
            .unwrap();
        let Incoming::Request { id, method, .. } = next(&mut rx).await else {
            panic!()
        };
        assert_eq!((id, method.as_str()), (RequestId::Number(8), "ok"));
    }

    #[tokio::test]
    async fn replies_use_the_detected_ndjson_framing() {
        let (client, peer, mut rx) = raw_editor().await;
        let mut c = tokio::io::BufReader::new(client);
        c.get_mut()
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"m\"}\n")
            .await
            .unwrap();
        let Incoming::Request { id, .. } = next(&mut rx).await else {
            panic!()
        };
        peer.respond(id, Ok(json!({"ok": true}))).await.unwrap();
        let mut line = String::new();
        tokio::time::timeout(T, c.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({"jsonrpc": "2.0", "id": "a", "result": {"ok": true}})
        );
    }

    #[tokio::test]
    async fn eof_fails_pending_requests_and_dropped_requests_leave_no_entry() {
        let (client, peer, _rx) = raw_editor().await;
        let dropped =
            tokio::time::timeout(Duration::from_millis(50), peer.request("x", json!({}))).await;
        assert!(dropped.is_err());
        assert!(peer.shared.pending().is_empty());
        let p2 = peer.clone();
        let waiting = tokio::spawn(async move { p2.request("y", json!({})).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(client);
        let r = tokio::time::timeout(T, waiting).await.unwrap().unwrap();
        assert_eq!(r.unwrap_err().code, crate::rpc::DISCONNECTED);
        tokio::time::timeout(T, peer.shared.read_closed.cancelled())
            .await
            .unwrap();
        assert!(peer.request("z", json!({})).await.is_err());
    }

    #[tokio::test]
    async fn close_shuts_the_write_half() {
        let (client, peer, _rx) = raw_editor().await;
        let (mut cr, _cw) = tokio::io::split(client);
        peer.notify("bye", json!({})).await.unwrap();
        peer.close().await;
        let mut all = Vec::new();
        tokio::time::timeout(T, cr.read_to_end(&mut all))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&all).contains("\"bye\""));
        assert!(peer.notify("late", json!({})).await.is_err());
    }
}
