//! Several windows on one database: `thread/takeover`, `thread/subscribe`, `thread/unsubscribe`,
//! and the `data` of error -32016 (the thread is driven by another baton process).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The baton process that drives a thread (holds its lease).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaseHolder {
    /// The `clientInfo.name` its editor sent in `initialize`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Its process id.
    pub pid: u32,
    /// When it took the lease (milliseconds since the Unix epoch).
    pub since: i64,
    /// Its latest heartbeat (milliseconds since the Unix epoch).
    pub heartbeat_at: i64,
}

/// `data` of error -32016: another live baton process drives the thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadLeasedData {
    pub thread_id: String,
    pub holder: LeaseHolder,
}

/// Params of `thread/takeover`: ask the process that drives the thread to let go of it, and drive
/// it from here. The result is `{thread}` once this process holds the thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadTakeoverParams {
    pub thread_id: String,
}

/// Params of `thread/subscribe`: follow a thread whatever process drives it. The events with a
/// greater seq than `sinceSeq` are notified first (from the log), then every new one as it is
/// committed, as `thread/event`, with no gaps and no duplicates. The result is `{thread}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadSubscribeParams {
    pub thread_id: String,
    /// Replay the log after this seq (default 0: the whole log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_seq: Option<i64>,
}

/// Params of `thread/unsubscribe`. The result is `{}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadUnsubscribeParams {
    pub thread_id: String,
}
