//! `thread/event`: the provider-agnostic event taxonomy.
//!
//! Every event carries its thread, a per-thread `seq` (strictly increasing from 1, no gaps), the
//! provider that produced it, a time, optional turn and item ids, and a typed `data` payload chosen
//! by `type`. Events are persisted before they are notified, so `thread/read` replays them exactly.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::approval::{ApprovalDecision, ApprovalKind};
use crate::input::InputQuestion;
use crate::item::{ContentDelta, Item};
use crate::provider::ProviderId;
use crate::status::ThreadStatus;

/// Params of the `thread/event` notification: one event of one thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub thread_id: String,
    pub seq: i64,
    pub provider: ProviderId,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    #[serde(flatten)]
    pub body: EventBody,
}

/// The event's `type` and its `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data")]
pub enum EventBody {
    /// A provider session is up (fresh or resumed).
    #[serde(rename = "session.started")]
    SessionStarted(SessionStarted),
    /// The provider session ended.
    #[serde(rename = "session.exited")]
    SessionExited(SessionExited),
    /// The thread's status changed.
    #[serde(rename = "thread.status")]
    ThreadStatus(ThreadStatusChanged),
    /// A turn started.
    #[serde(rename = "turn.started")]
    TurnStarted(TurnStarted),
    /// A streamed piece of text.
    #[serde(rename = "content.delta")]
    ContentDelta(ContentDelta),
    /// An item (message, command, file change, ...) started.
    #[serde(rename = "item.started")]
    ItemStarted(Item),
    /// An item completed; carries its final content.
    #[serde(rename = "item.completed")]
    ItemCompleted(Item),
    /// The agent asked for an approval; the editor got an `approval/request`.
    #[serde(rename = "approval.requested")]
    ApprovalRequested(ApprovalRequested),
    /// An approval was decided (by the editor, a timeout, or a disconnect).
    #[serde(rename = "approval.resolved")]
    ApprovalResolved(ApprovalResolved),
    /// Progress of a running item (an MCP tool call's message, a long tool's elapsed time).
    #[serde(rename = "item.progress")]
    ItemProgress(ItemProgress),
    /// The agent asked the user questions; the editor got an `input/request`.
    #[serde(rename = "input.requested")]
    InputRequested(InputRequested),
    /// The questions were answered or cancelled.
    #[serde(rename = "input.resolved")]
    InputResolved(InputResolved),
    /// The agent's plan for the turn (a checklist); each event replaces the previous plan.
    #[serde(rename = "turn.plan")]
    TurnPlan(TurnPlan),
    /// The turn's aggregated diff of every file change so far; each event replaces the previous.
    #[serde(rename = "turn.diff")]
    TurnDiff(TurnDiff),
    /// Token usage of the thread.
    #[serde(rename = "usage.updated")]
    UsageUpdated(UsageUpdated),
    /// The account's rate limits changed (how much of each window is used).
    #[serde(rename = "rate_limit.updated")]
    RateLimitUpdated(RateLimitUpdated),
    /// The provider served the turn with another model than the one asked for.
    #[serde(rename = "model.rerouted")]
    ModelRerouted(ModelRerouted),
    /// A turn ended.
    #[serde(rename = "turn.completed")]
    TurnCompleted(TurnCompleted),
    /// A compaction of the thread's context started on its provider.
    #[serde(rename = "compaction.started")]
    CompactionStarted(CompactionStarted),
    /// A compaction finished; carries the summary.
    #[serde(rename = "compaction.completed")]
    CompactionCompleted(CompactionCompleted),
    /// A compaction failed.
    #[serde(rename = "compaction.failed")]
    CompactionFailed(CompactionFailed),
    /// The thread is being handed to another provider.
    #[serde(rename = "handoff.started")]
    HandoffStarted(HandoffStarted),
    /// The thread now runs on the target provider.
    #[serde(rename = "handoff.completed")]
    HandoffCompleted(HandoffCompleted),
    /// The handoff failed; the thread stays on its provider.
    #[serde(rename = "handoff.failed")]
    HandoffFailed(HandoffFailed),
    /// Something the user should know; nothing failed.
    #[serde(rename = "runtime.warning")]
    RuntimeWarning(RuntimeWarning),
    /// Something failed.
    #[serde(rename = "runtime.error")]
    RuntimeError(RuntimeError),
}

impl EventBody {
    /// The wire name of the event type.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::SessionStarted(_) => "session.started",
            EventBody::SessionExited(_) => "session.exited",
            EventBody::ThreadStatus(_) => "thread.status",
            EventBody::TurnStarted(_) => "turn.started",
            EventBody::ContentDelta(_) => "content.delta",
            EventBody::ItemStarted(_) => "item.started",
            EventBody::ItemCompleted(_) => "item.completed",
            EventBody::ApprovalRequested(_) => "approval.requested",
            EventBody::ApprovalResolved(_) => "approval.resolved",
            EventBody::ItemProgress(_) => "item.progress",
            EventBody::InputRequested(_) => "input.requested",
            EventBody::InputResolved(_) => "input.resolved",
            EventBody::TurnPlan(_) => "turn.plan",
            EventBody::TurnDiff(_) => "turn.diff",
            EventBody::UsageUpdated(_) => "usage.updated",
            EventBody::RateLimitUpdated(_) => "rate_limit.updated",
            EventBody::ModelRerouted(_) => "model.rerouted",
            EventBody::TurnCompleted(_) => "turn.completed",
            EventBody::CompactionStarted(_) => "compaction.started",
            EventBody::CompactionCompleted(_) => "compaction.completed",
            EventBody::CompactionFailed(_) => "compaction.failed",
            EventBody::HandoffStarted(_) => "handoff.started",
            EventBody::HandoffCompleted(_) => "handoff.completed",
            EventBody::HandoffFailed(_) => "handoff.failed",
            EventBody::RuntimeWarning(_) => "runtime.warning",
            EventBody::RuntimeError(_) => "runtime.error",
        }
    }
}

/// `session.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionStarted {
    /// True when an existing provider thread was resumed with its history.
    pub resumed: bool,
    pub provider_thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ExitReason {
    /// `thread/stop` (soft).
    Stopped,
    /// `thread/stop {detach:true}`: the resume cursor was cleared.
    Detached,
    /// The idle reaper stopped it.
    Idle,
    /// The provider process died.
    Crashed,
    /// baton shut down.
    Shutdown,
    /// The thread was deleted.
    Deleted,
    /// Another baton process (another editor window) took the thread over (`thread/takeover`).
    TakenOver,
}

/// `session.exited`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionExited {
    pub reason: ExitReason,
    /// True when the next turn can resume the same provider thread.
    pub recoverable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `thread.status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadStatusChanged {
    pub status: ThreadStatus,
}

/// `turn.started`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnStarted {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// `approval.requested`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequested {
    pub request_id: String,
    pub kind: ApprovalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// `approval.resolved`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalResolved {
    pub request_id: String,
    pub decision: ApprovalDecision,
    /// Who decided when it was not the editor: `timeout`, `disconnect`, `error` (an error reply),
    /// or, for an approval withdrawn with its turn, `interrupt`, `stop`, `shutdown`,
    /// `providerExit`, `turnEnded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `item.progress`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemProgress {
    pub message: String,
}

/// `input.requested`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputRequested {
    pub request_id: String,
    pub questions: Vec<InputQuestion>,
}

/// `input.resolved`. Answers to secret questions are recorded as `"•••"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputResolved {
    pub request_id: String,
    #[serde(default)]
    pub answers: BTreeMap<String, Vec<String>>,
    /// True when nothing was answered; the agent was told the user declined.
    pub cancelled: bool,
    /// Who cancelled when it was not the editor: `timeout`, `disconnect`, `error` (an error
    /// reply), or, for a question withdrawn with its turn, `interrupt`, `stop`, `shutdown`,
    /// `providerExit`, `turnEnded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// Status of a plan step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PlanStepStatus {
    Pending,
    InProgress,
    Completed,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanStep {
    pub text: String,
    pub status: PlanStepStatus,
}

/// `turn.plan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnPlan {
    pub steps: Vec<PlanStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// `turn.diff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnDiff {
    /// `git diff`-style unified diff of every change of the turn so far.
    pub unified_diff: String,
}

/// One rate-limit window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// Which window: `primary`, `secondary`, `five_hour`, `seven_day`, ...
    pub name: String,
    /// Percent of the window used (0-100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<i64>,
    /// When the window resets, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<i64>,
}

/// `rate_limit.updated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitUpdated {
    pub limits: Vec<RateLimit>,
    /// The provider's verdict when it gives one: `allowed`, `allowed_warning`, `rejected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `model.rerouted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelRerouted {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `usage.updated`. Context fill is `contextTokens / contextWindow`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageUpdated {
    /// Cumulative over the thread's provider session.
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<i64>,
    /// Tokens the conversation occupies in the model's context now (the last request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TurnState {
    Completed,
    Failed,
    Interrupted,
}

/// `turn.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TurnCompleted {
    pub state: TurnState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `runtime.warning`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeWarning {
    pub message: String,
}

/// `runtime.error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeError {
    pub message: String,
    /// A stable category: `provider`, `protocol`, `store`, `process`, `timeout`.
    pub class: String,
}

/// What started a compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CompactionTrigger {
    /// `thread/compact/start` (or a handoff that compacts).
    Manual,
    /// The provider compacted on its own because the context filled up.
    Auto,
}

/// `compaction.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompactionStarted {
    pub trigger: CompactionTrigger,
}

/// `compaction.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompactionCompleted {
    /// The summary that replaces the earlier context.
    pub summary: String,
    pub trigger: CompactionTrigger,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_tokens: Option<i64>,
}

/// `compaction.failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompactionFailed {
    pub error: String,
}

/// How the context reaches the target provider in a handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum HandoffStrategy {
    /// Native compaction on the source provider; its summary is handed over.
    Compact,
    /// A transcript rendered by baton from its own event log.
    Transcript,
    /// The target already has a native thread for this conversation: it is resumed and only
    /// what happened since it last took part is handed over.
    Delta,
    /// Nothing is handed over.
    None,
}

/// `handoff.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandoffStarted {
    pub from: ProviderId,
    pub to: ProviderId,
    pub strategy: HandoffStrategy,
}

/// `handoff.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandoffCompleted {
    pub from: ProviderId,
    pub to: ProviderId,
    pub strategy: HandoffStrategy,
    /// Size of the handoff text prepended to the next turn.
    pub summary_chars: u64,
}

/// `handoff.failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandoffFailed {
    pub from: ProviderId,
    pub to: ProviderId,
    pub error: String,
}
