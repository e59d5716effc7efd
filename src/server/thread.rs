//! `thread/start`, `thread/list`, `thread/read`, `thread/update`, `thread/stop`, `thread/delete`.

use baton_protocol::{
    ApprovalPolicy, EmptyResponse, ThreadCompactStartParams, ThreadDeleteParams, ThreadListParams,
    ThreadListResponse, ThreadReadParams, ThreadReadResponse, ThreadResponse, ThreadStartParams,
    ThreadStopParams, ThreadSwitchParams, ThreadSwitchResponse, ThreadUpdateParams, errors,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::params;
use crate::rpc::RpcError;
use crate::session::{Command, Sessions, store_error};

/// Creates a thread and starts its session. Cancelled (`$/cancelRequest`) before it answers, it
/// leaves nothing behind: the answer is -32800 only once the thread is deleted and its session
/// stopped, and a start that already answered is not undone.
pub async fn start(
    sessions: Sessions,
    p: Value,
    cancel: CancellationToken,
) -> Result<Value, RpcError> {
    let mut p: ThreadStartParams = params::parse(p)?;
    params::known_provider(&sessions.context().providers, p.provider.as_ref())?;
    let cwd = std::path::Path::new(&p.cwd);
    if !cwd.is_absolute() {
        return Err(params::invalid(
            "cwd",
            format!("cwd must be an absolute path, got {:?}", p.cwd),
        ));
    }
    if !cwd.is_dir() {
        let why = if cwd.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        return Err(params::invalid("cwd", format!("cwd {:?} {why}", p.cwd)));
    }
    // Without a policy the provider's own configuration would decide, and that may be "never":
    // baton asks unless the editor chose `never` itself.
    p.approval_policy.get_or_insert(ApprovalPolicy::Untrusted);
    if cancel.is_cancelled() {
        return Err(cancelled());
    }
    // Not raced against the token: dropping a half-done create is what leaked threads.
    let created = sessions.create(p).await;
    if cancel.is_cancelled() {
        if let Ok(thread) = &created {
            roll_back(&sessions, &thread.id).await;
        }
        return Err(cancelled());
    }
    params::to_value(ThreadResponse { thread: created? })
}

fn cancelled() -> RpcError {
    RpcError::new(
        errors::REQUEST_CANCELLED,
        "request cancelled; no thread was created",
    )
}

/// Deletes a thread whose start was cancelled, stopping its session.
async fn roll_back(sessions: &Sessions, thread_id: &str) {
    match sessions
        .call(thread_id, |reply| Command::Delete { reply })
        .await
    {
        Ok(()) => tracing::info!(thread = thread_id, "thread/start cancelled; thread removed"),
        Err(e) => {
            tracing::warn!(
                thread = thread_id,
                "thread/start cancelled; removing the thread failed: {e}"
            )
        }
    }
}

pub async fn list(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: ThreadListParams = params::parse(p)?;
    let limit = p.limit.unwrap_or(50).clamp(1, 500);
    let (threads, next_cursor) = sessions
        .context()
        .store
        .list_threads(p.cursor, limit, p.cwd)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::InvalidCursor(_) => {
                params::invalid("cursor", "unknown cursor")
            }
            other => store_error(other),
        })?;
    params::to_value(ThreadListResponse {
        threads,
        next_cursor,
    })
}

pub async fn read(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: ThreadReadParams = params::parse(p)?;
    // One snapshot: `lastSeq` is the last of `events` even while the thread streams.
    let (thread, events) = sessions
        .context()
        .store
        .read_thread(&p.thread_id, p.since_seq.unwrap_or(0), p.limit)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(&p.thread_id))?;
    params::to_value(ThreadReadResponse { thread, events })
}

pub async fn stop(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: ThreadStopParams = params::parse(p)?;
    let detach = p.detach;
    let thread = sessions
        .call(&p.thread_id, |reply| Command::Stop { detach, reply })
        .await?;
    params::to_value(ThreadResponse { thread })
}

pub async fn update(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: ThreadUpdateParams = params::parse(p)?;
    let (title, approval_policy) = (p.title, p.approval_policy);
    let thread = sessions
        .call(&p.thread_id, |reply| Command::Update {
            title,
            approval_policy,
            reply,
        })
        .await?;
    params::to_value(ThreadResponse { thread })
}

pub async fn delete(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: ThreadDeleteParams = params::parse(p)?;
    sessions
        .call(&p.thread_id, |reply| Command::Delete { reply })
        .await?;
    params::to_value(EmptyResponse {})
}

pub async fn compact(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: ThreadCompactStartParams = params::parse(p)?;
    let instructions = p.instructions;
    sessions
        .call(&p.thread_id, |reply| Command::Compact {
            instructions,
            reply,
        })
        .await?;
    params::to_value(EmptyResponse {})
}

pub async fn switch(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: ThreadSwitchParams = params::parse(p)?;
    params::known_provider(&sessions.context().providers, Some(&p.provider))?;
    let (thread, handoff) = sessions
        .call(&p.thread_id, |reply| Command::Switch {
            provider: p.provider,
            model: p.model,
            handoff: p.handoff,
            reply,
        })
        .await?;
    params::to_value(ThreadSwitchResponse { thread, handoff })
}

/// A thread as the store has it (whatever process drives it), or -32010.
pub(super) async fn persisted(
    store: &crate::store::Store,
    thread_id: &str,
) -> Result<baton_protocol::Thread, RpcError> {
    store
        .get_thread(thread_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(thread_id))
}

fn not_found(thread_id: &str) -> RpcError {
    RpcError::new(
        errors::THREAD_NOT_FOUND,
        format!("thread not found: {thread_id}"),
    )
}
