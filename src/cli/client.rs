//! A small editor: spawns `baton` (this same executable) as a child and speaks JSON-RPC to it.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::rpc::{self, Incoming, Peer, PeerOptions, ReadFraming, RequestId};

/// A running child server.
pub struct Server {
    pub peer: Peer,
    pub incoming: mpsc::Receiver<Incoming>,
    child: Child,
}

/// What the server sent that the front end reacts to.
pub enum Message {
    Event(Value),
    Approval { id: RequestId, params: Value },
}

impl Server {
    /// Spawns `baton` with `args` (global flags) and `env`, and initialises it.
    pub async fn spawn(args: &[String], env: &[(String, String)]) -> anyhow::Result<Server> {
        let exe = std::env::current_exe().context("cannot find the baton executable")?;
        let mut child = Command::new(exe)
            .args(args)
            .envs(env.iter().cloned())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the baton server")?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(anyhow!("baton's stdio was not piped"));
        };
        // Speak LSP framing, as most editors do, so the tour exercises that path end to end.
        let mut opts = PeerOptions::provider("baton");
        opts.read_framing = ReadFraming::Lsp;
        let (peer, incoming) = rpc::spawn(stdout, stdin, opts);
        let server = Server {
            peer,
            incoming,
            child,
        };
        server
            .request(
                "initialize",
                json!({"clientInfo": {"name": "baton-cli", "version": env!("CARGO_PKG_VERSION")}}),
            )
            .await?;
        server
            .peer
            .notify("initialized", json!({}))
            .await
            .map_err(|e| anyhow!(e.message))?;
        Ok(server)
    }

    pub async fn request(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.peer
            .request(method, params)
            .await
            .map_err(|e| anyhow!("{method}: {} ({})", e.message, e.code))
    }

    /// The next event or approval request, or None when the server is gone or `timeout` passed.
    pub async fn next(&mut self, timeout: Duration) -> Option<Message> {
        loop {
            let msg = tokio::time::timeout(timeout, self.incoming.recv())
                .await
                .ok()??;
            match msg {
                Incoming::Notification { method, params } if method == "thread/event" => {
                    return Some(Message::Event(params.into_value()));
                }
                Incoming::Request { id, method, params } if method == "approval/request" => {
                    return Some(Message::Approval {
                        id,
                        params: params.into_value(),
                    });
                }
                Incoming::Request { id, .. } => {
                    let _ = self
                        .peer
                        .respond(id, Err(rpc::RpcError::method_not_found("unknown")))
                        .await;
                }
                Incoming::Notification { .. } => {}
            }
        }
    }

    /// Orderly shutdown: `shutdown`, `exit`, then wait for the process.
    pub async fn close(mut self) {
        let _ = self.request("shutdown", Value::Null).await;
        let _ = self.peer.notify("exit", Value::Null).await;
        self.peer.close().await;
        // The server closes its stdout as it exits.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.peer.closed()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}
