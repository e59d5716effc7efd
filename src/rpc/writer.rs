//! The writer task of a [`Peer`](super::Peer): owns the write half, is fed by a bounded channel,
//! and flushes when its queue runs dry so bursts are written with few syscalls. A failed write
//! marks the peer closed.

use std::sync::Arc;
use std::task::Poll;

use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot};

use super::codec;
use super::peer::{Deferred, Outgoing, Shared};

/// Why the writer stopped taking messages.
enum WriterEnd {
    /// `close()` asked for it.
    Close(oneshot::Sender<()>),
    /// Every `Peer` was dropped.
    Dropped,
}

pub(super) async fn write_loop<W: AsyncWrite + Unpin>(
    writer: W,
    mut rx: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
) {
    let name = shared.name;
    let mut w = BufWriter::with_capacity(64 * 1024, writer);
    match pump(&mut w, &mut rx, &shared).await {
        Ok(end) => {
            if let Err(e) = w.flush().await {
                tracing::debug!(peer = name, "flush before close failed: {e}");
            }
            if let Err(e) = w.shutdown().await {
                tracing::debug!(peer = name, "closing the write half failed: {e}");
            }
            // Dropped before acknowledging, so that the other side can see EOF by then.
            drop(w);
            drop(rx);
            if let WriterEnd::Close(done) = end {
                let _ = done.send(());
            }
            tracing::debug!(peer = name, "write half closed");
        }
        Err(e) => {
            // Usually a broken pipe: the other side exited. Not worth more than a debug line;
            // the read side reports the disconnection.
            tracing::debug!(peer = name, "write failed, stopping the writer: {e}");
            drop(rx);
            shared.mark_closed();
        }
    }
}

/// A deferred message's bytes; what is written so far is flushed first when they are not ready.
async fn deferred_bytes<W: AsyncWrite + Unpin>(
    w: &mut W,
    d: &mut dyn Deferred,
) -> std::io::Result<Option<Vec<u8>>> {
    if let Poll::Ready(bytes) = std::future::poll_fn(|cx| Poll::Ready(d.poll_bytes(cx))).await {
        return Ok(bytes);
    }
    w.flush().await?;
    Ok(std::future::poll_fn(|cx| d.poll_bytes(cx)).await)
}

/// Writes messages until asked to close or abandoned, flushing whenever the queue runs dry.
async fn pump<W: AsyncWrite + Unpin>(
    w: &mut W,
    rx: &mut mpsc::Receiver<Outgoing>,
    shared: &Shared,
) -> std::io::Result<WriterEnd> {
    loop {
        let Some(mut msg) = rx.recv().await else {
            return Ok(WriterEnd::Dropped);
        };
        loop {
            let body = match msg {
                Outgoing::Message(body) => Some(body),
                Outgoing::Deferred(mut d) => deferred_bytes(w, d.as_mut()).await?,
                Outgoing::Close(done) => return Ok(WriterEnd::Close(done)),
            };
            if let Some(body) = body {
                tracing::trace!(peer = shared.name, "-> {}", String::from_utf8_lossy(&body));
                codec::write(w, shared.framing(), &body).await?;
            }
            match rx.try_recv() {
                Ok(next) => msg = next,
                Err(_) => break,
            }
        }
        w.flush().await?;
    }
}
