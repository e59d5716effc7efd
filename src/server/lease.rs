//! Several windows on one database: `thread/takeover`, `thread/subscribe`, `thread/unsubscribe`.

use baton_protocol::{
    EmptyResponse, ThreadResponse, ThreadSubscribeParams, ThreadTakeoverParams,
    ThreadUnsubscribeParams, errors,
};
use serde_json::Value;

use super::params;
use crate::rpc::RpcError;
use crate::session::{Command, Sessions, store_error};

/// Moves the thread to this process: the holder (if alive) is asked to let go, and once it has,
/// this process's actor holds the lease and resumes the thread's provider session.
pub async fn takeover(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: ThreadTakeoverParams = params::parse(p)?;
    let thread = sessions
        .call(&p.thread_id, |reply| Command::Takeover { reply })
        .await?;
    params::to_value(ThreadResponse { thread })
}

/// Follows a thread: its events after `sinceSeq` from the log, then live ones, whatever process
/// appends them.
pub async fn subscribe(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: ThreadSubscribeParams = params::parse(p)?;
    let ctx = sessions.context();
    let thread = ctx
        .store
        .get_thread(&p.thread_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            RpcError::new(
                errors::THREAD_NOT_FOUND,
                format!("thread not found: {}", p.thread_id),
            )
        })?;
    ctx.editor
        .follows()
        .subscribe(&p.thread_id, p.since_seq.unwrap_or(0))
        .map_err(|_| {
            params::invalid(
                "threadId",
                format!(
                    "this editor follows {} threads already; unsubscribe some first",
                    crate::follow::MAX_FOLLOWED
                ),
            )
        })?;
    params::to_value(ThreadResponse { thread })
}

pub async fn unsubscribe(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: ThreadUnsubscribeParams = params::parse(p)?;
    sessions
        .context()
        .editor
        .follows()
        .unsubscribe(&p.thread_id);
    params::to_value(EmptyResponse {})
}
