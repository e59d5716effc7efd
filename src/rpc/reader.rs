//! The reader task of a [`Peer`](super::Peer): detects the framing, decodes messages, resolves
//! the pending requests that responses answer, and hands requests and notifications to the
//! owner through a bounded channel. It also answers what it cannot pass on (malformed or
//! oversized messages, requests after the owner left) and marks the peer closed at the end.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::io::{AsyncRead, BufReader};
use tokio::sync::mpsc;

use super::codec::{self, Decoder, Framing, ReadOutcome};
use super::head;
use super::message::{Classified, RequestId, RpcError, parse};
use super::peer::{Incoming, Outgoing, PeerOptions, ReadFraming, Shared, response_bytes};

pub(super) struct Reader {
    pub(super) tx: mpsc::Sender<Incoming>,
    pub(super) out: mpsc::WeakSender<Outgoing>,
    pub(super) shared: Arc<Shared>,
    pub(super) opts: PeerOptions,
}

impl Reader {
    pub(super) async fn run<R: AsyncRead + Unpin>(self, reader: R) {
        let name = self.opts.name;
        let mut r = BufReader::with_capacity(64 * 1024, reader);
        let framing = match self.opts.read_framing {
            ReadFraming::Ndjson => Some(Framing::Ndjson),
            ReadFraming::Lsp => Some(Framing::Lsp),
            ReadFraming::Auto => match codec::detect(&mut r).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(peer = name, "cannot read: {e}");
                    None
                }
            },
        };
        if let Some(framing) = framing {
            tracing::debug!(peer = name, ?framing, "reading");
            self.shared
                .ndjson
                .store(framing == Framing::Ndjson, Ordering::Relaxed);
            self.read_messages(&mut r, framing).await;
        }
        self.shared.mark_closed();
        tracing::debug!(peer = name, "read side closed");
        // Dropping `self.tx` here tells the owner that nothing more will arrive.
    }

    async fn read_messages<R: AsyncRead + Unpin>(&self, r: &mut BufReader<R>, framing: Framing) {
        let name = self.opts.name;
        let mut decoder = Decoder::new(framing, self.opts.max_message_bytes);
        loop {
            let bytes = match decoder.read(r).await {
                Ok(ReadOutcome::Message(b)) => b,
                Ok(ReadOutcome::TooLarge { declared, head }) => {
                    self.too_large(declared, &head).await;
                    continue;
                }
                Ok(ReadOutcome::Eof) => return,
                Err(e) => {
                    // Broken framing cannot be resynchronised: say why, then treat it as the end.
                    tracing::warn!(peer = name, "cannot read the stream any more: {e}");
                    if self.opts.answer_malformed {
                        let msg =
                            format!("unreadable message framing ({e}); closing the connection");
                        self.reply(None, RpcError::parse_error(msg)).await;
                    }
                    return;
                }
            };
            tracing::trace!(peer = name, "<- {}", String::from_utf8_lossy(&bytes));
            match parse(bytes) {
                Ok(msg) => self.dispatch(msg).await,
                Err(e) => {
                    tracing::warn!(peer = name, "malformed JSON: {e}");
                    if self.opts.answer_malformed {
                        self.reply(None, RpcError::parse_error(format!("parse error: {e}")))
                            .await;
                    }
                }
            }
        }
    }

    async fn dispatch(&self, msg: Classified) {
        let name = self.opts.name;
        match msg {
            Classified::Request { id, method, params } => {
                let msg = Incoming::Request {
                    id: id.clone(),
                    method,
                    params,
                };
                if self.tx.send(msg).await.is_err() {
                    // Nobody handles requests any more; answering keeps the other side from
                    // waiting forever.
                    tracing::debug!(peer = name, %id, "request arrived after the owner left");
                    self.reply(Some(id), RpcError::internal("no longer accepting requests"))
                        .await;
                }
            }
            Classified::Notification { method, params } => {
                if self
                    .tx
                    .send(Incoming::Notification { method, params })
                    .await
                    .is_err()
                {
                    tracing::debug!(peer = name, "notification arrived after the owner left");
                }
            }
            Classified::Response {
                id: Some(id),
                result,
            } => {
                let waiter = self.shared.pending().remove(&id);
                match waiter {
                    Some(w) => {
                        // The requester may have given up in the meantime; that is fine.
                        let _ = w.send(result);
                    }
                    None => tracing::debug!(peer = name, %id, "response to an unknown request"),
                }
            }
            Classified::Response { id: None, result } => {
                tracing::warn!(peer = name, ?result, "response without an id");
            }
            Classified::Invalid { id, reason } => {
                tracing::warn!(peer = name, "invalid message: {reason}");
                if self.opts.answer_malformed {
                    self.reply(
                        id,
                        RpcError::invalid_request(format!("invalid request: {reason}")),
                    )
                    .await;
                }
            }
        }
    }

    /// A message over the size limit was skipped. A request is answered with an error (whatever
    /// the peer, so nobody waits forever), a response fails the request it answers, and anything
    /// else is logged (and answered with an id-less error towards the editor).
    async fn too_large(&self, declared: Option<usize>, head: &[u8]) {
        let name = self.opts.name;
        let limit = self.opts.max_message_bytes;
        let found = head::peek(head);
        let size = match declared {
            Some(n) => format!("{n} bytes"),
            None => format!("more than {limit} bytes"),
        };
        tracing::warn!(
            peer = name,
            id = ?found.id,
            "skipped a message of {size}: over the limit of {limit} bytes (--max-message-bytes)"
        );
        let err = RpcError::invalid_request(format!(
            "message too large: {size}, the limit is {limit} bytes (baton --max-message-bytes)"
        ))
        .with_data(serde_json::json!({ "limit": limit, "size": declared }));
        match found {
            head::Head {
                id: Some(id),
                response: true,
                method: false,
            } => {
                let waiter = self.shared.pending().remove(&id);
                if let Some(w) = waiter {
                    let _ = w.send(Err(err));
                }
            }
            head::Head {
                id: Some(id),
                method: true,
                ..
            } => self.reply(Some(id), err).await,
            head::Head { id, .. } => {
                if self.opts.answer_malformed {
                    self.reply(id, err).await;
                }
            }
        }
    }

    /// Sends an error response from the read side, if anyone still writes.
    async fn reply(&self, id: Option<RequestId>, err: RpcError) {
        let Some(out) = self.out.upgrade() else {
            return;
        };
        match response_bytes(id.as_ref(), &Err(err)) {
            Ok(bytes) => {
                let _ = out.send(Outgoing::Message(bytes)).await;
            }
            Err(e) => tracing::warn!(peer = self.opts.name, "cannot answer: {e}"),
        }
    }
}
