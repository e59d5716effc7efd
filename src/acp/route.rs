//! What the in-process server sends, routed to the ACP client.
//!
//! `thread/event` notifications of attached sessions become `session/update`s, in order (this
//! loop awaits each send, so updates keep the server's order and a slow client slows the server,
//! never the other way round). `turn.completed` wakes the prompt waiting for it, after the
//! turn's updates were sent. `approval/request` and `input/request` are answered by tasks of
//! their own (see [`super::permission`]), so a user thinking about an approval never holds up
//! the event stream.

use std::sync::Arc;

use baton_protocol::{Event, EventBody};
use serde_json::Value;
use tokio::sync::mpsc;

use super::{Acp, TurnEnd, permission, updates::wire_name};
use crate::rpc::{Incoming, RpcError};

pub async fn run(acp: Arc<Acp>, mut incoming: mpsc::Receiver<Incoming>) {
    while let Some(msg) = incoming.recv().await {
        match msg {
            Incoming::Notification { method, params } if method == "thread/event" => {
                event(&acp, params.into_value()).await;
            }
            Incoming::Notification { method, .. } => {
                tracing::debug!(method, "ignoring a server notification");
            }
            Incoming::Request { id, method, params } => {
                let acp = acp.clone();
                tokio::spawn(async move {
                    let result = match method.as_str() {
                        "approval/request" => permission::approval(&acp, params.into_value()).await,
                        "input/request" => permission::input(&acp, params.into_value()).await,
                        other => Err(RpcError::method_not_found(other)),
                    };
                    if let Err(e) = acp.baton.respond(id, result).await {
                        tracing::debug!("cannot answer the server: {e}");
                    }
                });
            }
        }
    }
    tracing::debug!("the baton server closed its side");
}

async fn event(acp: &Acp, params: Value) {
    let ev: Event = match serde_json::from_value(params) {
        Ok(ev) => ev,
        Err(e) => {
            tracing::warn!("cannot read a thread/event: {e}");
            return;
        }
    };
    let thread = ev.thread_id.clone();
    let (updates, waiter) = {
        let mut sessions = acp.sessions();
        let Some(s) = sessions.get_mut(&thread) else {
            return;
        };
        let updates = s.mapper.map(&ev);
        if let Some(m) = &s.mapper.model {
            s.model = Some(m.clone());
        }
        s.provider = wire_name(&ev.provider);
        let waiter = match &ev.body {
            EventBody::TurnCompleted(t) => s.prompt.take().map(|tx| {
                (
                    tx,
                    TurnEnd {
                        state: wire_name(&t.state),
                        error: t.error.clone(),
                    },
                )
            }),
            _ => None,
        };
        (updates, waiter)
    };
    for u in updates {
        acp.update(&thread, u).await;
    }
    if let Some(s) = acp.sessions().get_mut(&thread) {
        s.routed_seq = s.routed_seq.max(ev.seq);
    }
    acp.routed.notify_waiters();
    if let Some((tx, end)) = waiter {
        let _ = tx.send(end);
    }
}
