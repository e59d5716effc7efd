//! `thread/start`, `thread/list`, `thread/read`, `thread/stop`, `thread/delete`.

use baton_protocol::{
    EmptyResponse, ThreadCompactStartParams, ThreadDeleteParams, ThreadListParams,
    ThreadListResponse, ThreadReadParams, ThreadReadResponse, ThreadResponse, ThreadStartParams,
    ThreadStopParams, ThreadSwitchParams, ThreadSwitchResponse, errors,
};
use serde_json::Value;

use super::params;
use crate::rpc::RpcError;
use crate::session::{Command, Sessions, store_error};

pub async fn start(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: ThreadStartParams = params::parse(p)?;
    let cwd = std::path::Path::new(&p.cwd);
    if !cwd.is_absolute() {
        return Err(params::invalid(
            "cwd",
            format!("cwd must be an absolute path, got {:?}", p.cwd),
        ));
    }
    if !cwd.is_dir() {
        return Err(params::invalid(
            "cwd",
            format!("cwd {:?} is not a directory", p.cwd),
        ));
    }
    let thread = sessions.create(p).await?;
    params::to_value(ThreadResponse { thread })
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
    let store = &sessions.context().store;
    let thread = store
        .get_thread(&p.thread_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            RpcError::new(
                errors::THREAD_NOT_FOUND,
                format!("thread not found: {}", p.thread_id),
            )
        })?;
    let events = store
        .read_events(&p.thread_id, p.since_seq.unwrap_or(0), p.limit)
        .await
        .map_err(store_error)?;
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
