//! Codex compaction summaries. Codex does not put the summary in any notification: it appends
//! `{"type":"compacted","payload":{"message":…}}` to the thread's rollout file, so the summary
//! is read from there once the compaction item completes. The wait for that record runs in the
//! thread's own task (see [`super::server`]), never on the loop that routes every thread.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use baton_protocol::{
    CompactionCompleted, CompactionFailed, CompactionStarted, CompactionTrigger, EventBody,
};
use serde_json::Value;

use crate::provider::ProviderEvent;

/// Compaction bookkeeping of one Codex thread. Codex does not put the summary in any
/// notification: it appends `{"type":"compacted","payload":{"message":…}}` to the thread's
/// rollout file, so the summary is read from there once the compaction item completes.
pub struct Compaction {
    rollout: Option<PathBuf>,
    /// Set by `thread/compact/start`; a compaction without it was Codex's own (auto).
    pub manual: AtomicBool,
    /// How many `compacted` records the rollout had when the compaction started.
    seen: AtomicUsize,
}

impl Compaction {
    pub fn new(rollout: Option<PathBuf>) -> Self {
        Compaction {
            rollout,
            manual: AtomicBool::new(false),
            seen: AtomicUsize::new(0),
        }
    }
}

/// The `compacted` records of a rollout file, oldest first.
async fn compacted_records(path: &PathBuf) -> Vec<String> {
    let Ok(text) = tokio::fs::read_to_string(path).await else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| l.contains("\"compacted\""))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("type").and_then(Value::as_str) == Some("compacted"))
        .filter_map(|v| {
            v.get("payload")
                .and_then(|p| p.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

/// `Some((true, body))` when a compaction item starts, `Some((false, body))` when it completes.
pub(super) async fn compaction_event(
    state: &Compaction,
    method: &str,
    params: &Value,
) -> Option<(bool, EventBody)> {
    let item = params.get("item")?;
    if item.get("type").and_then(Value::as_str) != Some("contextCompaction") {
        return None;
    }
    let trigger = if state.manual.load(Ordering::SeqCst) {
        CompactionTrigger::Manual
    } else {
        CompactionTrigger::Auto
    };
    match method {
        "item/started" => {
            if let Some(path) = &state.rollout {
                state
                    .seen
                    .store(compacted_records(path).await.len(), Ordering::SeqCst);
            }
            Some((
                true,
                EventBody::CompactionStarted(CompactionStarted { trigger }),
            ))
        }
        "item/completed" => {
            state.manual.store(false, Ordering::SeqCst);
            let Some(path) = &state.rollout else {
                return Some((
                    false,
                    failed("codex did not say where the thread's rollout file is"),
                ));
            };
            let seen = state.seen.load(Ordering::SeqCst);
            // The record is written around the time the item completes: wait for it briefly.
            for _ in 0..30 {
                let records = compacted_records(path).await;
                if records.len() > seen {
                    let summary = records.last().cloned().unwrap_or_default();
                    return Some((
                        false,
                        EventBody::CompactionCompleted(CompactionCompleted {
                            summary,
                            trigger,
                            pre_tokens: None,
                            post_tokens: None,
                        }),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Some((
                false,
                failed(
                    "codex compacted the thread but its summary was not found in the rollout file",
                ),
            ))
        }
        _ => None,
    }
}

fn failed(error: &str) -> EventBody {
    EventBody::CompactionFailed(CompactionFailed {
        error: error.into(),
    })
}

pub(super) fn compaction_body(c: Option<&(bool, EventBody)>) -> ProviderEvent {
    let body = c
        .map(|(_, b)| b.clone())
        .unwrap_or_else(|| failed("no compaction"));
    ProviderEvent::Event {
        body,
        native_turn: None,
        item_id: None,
        raw: None,
    }
}
