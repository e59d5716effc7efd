//! What baton does with every message `codex app-server` (0.169.0, experimental API) can send.
//! Diffed against `codex app-server generate-json-schema --experimental` by the coverage tests.

use crate::provider::coverage::{Entry, answered, ignored, mapped};

const REALTIME: &str = "realtime (voice) sessions, which baton never starts";
const UI_ONLY: &str = "organisation of threads in Codex's own app (sections, projects, attachments, names); baton keeps its own titles";
const NOT_CALLED: &str = "answer to a Codex API baton never calls";
const ACCOUNT: &str =
    "account/login state of the Codex app; `baton doctor` reports whether codex runs";
const REVIEW: &str =
    "automatic approval review, not enabled by baton (approvalsReviewer is the user)";

/// Server notifications.
pub const NOTIFICATIONS: &[Entry] = &[
    mapped("error", &["runtime.error", "runtime.warning"]),
    ignored(
        "thread/started",
        "the same thread comes back in the thread/start or thread/resume result baton reads",
    ),
    mapped("thread/status/changed", &["runtime.error"]),
    ignored(
        "thread/readState/changed",
        "read/unread marker of Codex's own thread list",
    ),
    ignored(
        "thread/archived",
        "baton never archives Codex threads; its own threads are deleted with thread/delete",
    ),
    ignored("thread/deleted", "baton never deletes Codex threads"),
    ignored("thread/unarchived", "baton never archives Codex threads"),
    ignored(
        "thread/closed",
        "Codex unloaded the thread; the next turn resumes it by id",
    ),
    ignored(
        "thread/reverted",
        "follows thread/rollback, which baton never sends",
    ),
    ignored(
        "skills/changed",
        "Codex's skill catalog changed; nothing happened in a thread",
    ),
    ignored("thread/name/updated", UI_ONLY),
    ignored("thread/section/changed", UI_ONLY),
    ignored("thread/attachment/updated", UI_ONLY),
    ignored(
        "thread/goal/updated",
        "thread goals (/goal) are a Codex app feature baton does not enable",
    ),
    ignored(
        "thread/prediction/updated",
        "prompt prediction for Codex's own composer",
    ),
    ignored(
        "thread/goal/cleared",
        "thread goals (/goal) are a Codex app feature baton does not enable",
    ),
    ignored(
        "thread/queue/changed",
        "Codex's own input queue; baton refuses turn/start while a turn runs instead of queueing",
    ),
    ignored("project/changed", UI_ONLY),
    ignored("thread/project/updated", UI_ONLY),
    ignored(
        "thread/environment/connected",
        "remote execution environments, not used by baton",
    ),
    ignored(
        "thread/environment/disconnected",
        "remote execution environments, not used by baton",
    ),
    ignored(
        "thread/settings/updated",
        "echo of the settings baton itself sent with the turn",
    ),
    mapped("thread/tokenUsage/updated", &["usage.updated"]),
    mapped("turn/started", &["turn.started"]),
    ignored(
        "hook/started",
        "bookkeeping of the user's own Codex hooks; what they change shows up as items",
    ),
    mapped("turn/completed", &["turn.completed"]),
    ignored(
        "hook/completed",
        "bookkeeping of the user's own Codex hooks; what they change shows up as items",
    ),
    mapped("turn/diff/updated", &["turn.diff"]),
    mapped("turn/plan/updated", &["turn.plan"]),
    mapped("item/started", &["item.started", "compaction.started"]),
    ignored("item/autoApprovalReview/started", REVIEW),
    ignored("item/autoApprovalReview/completed", REVIEW),
    ignored("autoApprovalReview/strictReviewRequired", REVIEW),
    mapped(
        "item/completed",
        &[
            "item.completed",
            "compaction.completed",
            "compaction.failed",
        ],
    ),
    mapped("item/agentMessage/delta", &["content.delta"]),
    mapped("item/plan/delta", &["content.delta"]),
    ignored("command/exec/outputDelta", NOT_CALLED),
    ignored("process/outputDelta", NOT_CALLED),
    ignored("process/exited", NOT_CALLED),
    mapped("item/commandExecution/outputDelta", &["content.delta"]),
    mapped(
        "item/commandExecution/terminalInteraction",
        &["item.progress"],
    ),
    mapped("item/fileChange/outputDelta", &["content.delta"]),
    mapped("item/fileChange/patchUpdated", &["item.progress"]),
    ignored(
        "serverRequest/resolved",
        "baton resolves its own requests and reports approval.resolved / input.resolved itself",
    ),
    mapped("item/mcpToolCall/progress", &["item.progress"]),
    ignored("mcpServer/oauthLogin/completed", NOT_CALLED),
    mapped("mcpServer/startupStatus/updated", &["runtime.warning"]),
    ignored(
        "mcpServer/event/stream/notification",
        "raw MCP server event stream; the tool calls it leads to arrive as items",
    ),
    ignored("account/updated", ACCOUNT),
    ignored("account/gatewayOAuth/changed", ACCOUNT),
    mapped("account/rateLimits/updated", &["rate_limit.updated"]),
    ignored("app/list/updated", "catalog of Codex apps (connectors)"),
    ignored(
        "remoteControl/status/changed",
        "Codex remote control, not used by baton",
    ),
    ignored(
        "externalAgentConfig/import/progress",
        "import of other agents' config, never started by baton",
    ),
    ignored(
        "externalAgentConfig/import/completed",
        "import of other agents' config, never started by baton",
    ),
    ignored("fs/changed", NOT_CALLED),
    mapped("item/reasoning/summaryTextDelta", &["content.delta"]),
    mapped("item/reasoning/summaryPartAdded", &["content.delta"]),
    mapped("item/reasoning/textDelta", &["content.delta"]),
    ignored(
        "thread/compacted",
        "deprecated and never emitted; the contextCompaction item carries compactions",
    ),
    mapped("model/rerouted", &["model.rerouted"]),
    mapped("model/verification", &["runtime.warning"]),
    ignored(
        "modelProvider/authRecoveryStarted",
        "credential refresh in progress; a failure arrives as `error`",
    ),
    ignored(
        "modelProvider/authRecoveryCompleted",
        "credential refresh done; a failure arrives as `error`",
    ),
    ignored(
        "turn/moderationMetadata",
        "opaque moderation metadata with nothing to show",
    ),
    ignored(
        "model/safetyBuffering/updated",
        "UI hint while the text is held back for a safety check; the text still arrives",
    ),
    mapped("warning", &["runtime.warning"]),
    mapped("guardianWarning", &["runtime.warning"]),
    mapped("deprecationNotice", &["runtime.warning"]),
    mapped("configWarning", &["runtime.warning"]),
    ignored("fuzzyFileSearch/sessionUpdated", NOT_CALLED),
    ignored("fuzzyFileSearch/sessionCompleted", NOT_CALLED),
    ignored("thread/realtime/started", REALTIME),
    ignored("thread/realtime/itemAdded", REALTIME),
    ignored("thread/realtime/item/started", REALTIME),
    ignored("thread/realtime/item/transcript/delta", REALTIME),
    ignored("thread/realtime/item/completed", REALTIME),
    ignored("thread/realtime/transcript/delta", REALTIME),
    ignored("thread/realtime/transcript/done", REALTIME),
    ignored("thread/realtime/outputAudio/delta", REALTIME),
    ignored("thread/realtime/sdp", REALTIME),
    ignored("thread/realtime/error", REALTIME),
    ignored("thread/realtime/closed", REALTIME),
    mapped("windows/worldWritableWarning", &["runtime.warning"]),
    ignored(
        "windowsSandbox/setupCompleted",
        "Windows sandbox setup, which baton never starts",
    ),
    ignored("account/login/completed", ACCOUNT),
];

/// Server -> client requests. Every one gets an answer; none is left hanging.
pub const REQUESTS: &[Entry] = &[
    mapped(
        "item/commandExecution/requestApproval",
        &["approval.requested", "approval.resolved"],
    ),
    mapped(
        "item/fileChange/requestApproval",
        &["approval.requested", "approval.resolved"],
    ),
    mapped(
        "item/tool/requestUserInput",
        &["input.requested", "input.resolved"],
    ),
    answered(
        "mcpServer/elicitation/request",
        "declined: MCP form elicitation is not in baton's protocol yet; the tool call reports the refusal",
    ),
    mapped(
        "item/permissions/requestApproval",
        &["approval.requested", "approval.resolved"],
    ),
    answered(
        "item/tool/call",
        "error: baton registers no dynamic tools, so Codex never has one to call",
    ),
    answered(
        "account/chatgptAuthTokens/refresh",
        "error: baton does not manage ChatGPT tokens; codex uses its own login",
    ),
    answered(
        "attestation/generate",
        "error: baton has no client attestation",
    ),
    answered(
        "applyPatchApproval",
        "v1 API only (baton speaks v2): answered `denied`",
    ),
    answered(
        "execCommandApproval",
        "v1 API only (baton speaks v2): answered `denied`",
    ),
    answered("currentTime/read", "answered with the system clock"),
];

/// Thread item types (`item/started` / `item/completed`), each mapped to a baton item type.
pub const ITEMS: &[Entry] = &[
    mapped("userMessage", &["user_message"]),
    mapped("hookPrompt", &["other"]),
    mapped("agentMessage", &["assistant_message"]),
    mapped("functionCallOutput", &["tool_call"]),
    mapped("plan", &["plan"]),
    mapped("reasoning", &["reasoning"]),
    mapped("commandExecution", &["command"]),
    mapped("fileChange", &["file_change"]),
    mapped("mcpToolCall", &["mcp_tool_call"]),
    mapped("dynamicToolCall", &["tool_call"]),
    mapped("collabAgentToolCall", &["subagent"]),
    mapped("subAgentActivity", &["subagent"]),
    mapped("webSearch", &["web_search"]),
    mapped("imageView", &["other"]),
    mapped("sleep", &["other"]),
    mapped("imageGeneration", &["other"]),
    mapped("enteredReviewMode", &["other"]),
    mapped("exitedReviewMode", &["other"]),
    mapped("contextCompaction", &["compaction"]),
];
