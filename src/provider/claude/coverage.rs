//! What baton does with every message Claude Code (2.1.328) can print on stdout in stream-json
//! mode, and with every control request subtype of its control protocol. Diffed against the
//! `StdoutMessage` and `SDKControlRequestInner` unions of the pinned Claude Agent SDK's
//! `sdk.d.ts` (0.3.328, built for claude-code 2.1.328) by the coverage tests. Message rows are
//! keyed `type` or, where the SDK declares subtypes, `type/subtype`.

use crate::provider::coverage::{Entry, answered, ignored, mapped};

const HOOKS: &str =
    "bookkeeping of the user's own Claude hooks; what they change shows up as messages";
const NOT_A_CLI_REQUEST: &str =
    "host-to-CLI request: claude never sends it; if it did, it is answered with an error";
const RESULT: &[&str] = &["usage.updated", "turn.completed", "compaction.failed"];

/// Stdout messages.
pub const MESSAGES: &[Entry] = &[
    mapped(
        "assistant",
        &["item.completed", "item.started", "turn.plan"],
    ),
    mapped("user", &["item.completed", "compaction.completed"]),
    mapped("result/success", RESULT),
    mapped("result/error_during_execution", RESULT),
    mapped("result/error_max_turns", RESULT),
    mapped("result/error_max_budget_usd", RESULT),
    mapped("result/error_max_structured_output_retries", RESULT),
    ignored(
        "system/init",
        "session id, model and tools, repeated at every turn; baton has them from the start",
    ),
    mapped("stream_event", &["content.delta"]),
    mapped("system/compact_boundary", &["compaction.completed"]),
    mapped(
        "system/status",
        &["compaction.started", "compaction.failed"],
    ),
    mapped("system/api_retry", &["runtime.warning"]),
    ignored(
        "system/control_request_progress",
        "progress of a long control request baton sent; baton sends none that report it",
    ),
    mapped("system/model_refusal_fallback", &["model.rerouted"]),
    mapped("system/model_refusal_no_fallback", &["runtime.warning"]),
    mapped("system/local_command_output", &["item.completed"]),
    ignored("system/hook_started", HOOKS),
    ignored("system/hook_progress", HOOKS),
    ignored("system/hook_response", HOOKS),
    ignored(
        "system/plugin_install",
        "plugin installation progress of Claude's own plugin manager",
    ),
    mapped("tool_progress", &["item.progress"]),
    mapped("auth_status", &["runtime.error"]),
    mapped("system/task_notification", &["item.progress"]),
    mapped("system/task_started", &["item.progress"]),
    mapped("system/task_updated", &["item.progress"]),
    mapped("system/task_progress", &["item.progress"]),
    ignored(
        "system/background_tasks_changed",
        "the list of background tasks; each one's start, progress and end arrive as task_* messages",
    ),
    ignored(
        "system/thinking_tokens",
        "a running count of thinking tokens; the thinking itself arrives as content.delta",
    ),
    ignored(
        "system/session_state_changed",
        "idle/running state of the session; baton tracks turns from `result`",
    ),
    ignored(
        "system/worker_shutting_down",
        "remote (cloud) workers only; a local process exit is detected directly",
    ),
    ignored(
        "system/commands_changed",
        "the catalog of slash commands changed",
    ),
    mapped("system/notification", &["runtime.warning"]),
    ignored(
        "system/files_persisted",
        "file checkpoint bookkeeping; the edits themselves are file_change items",
    ),
    mapped("tool_use_summary", &["item.progress"]),
    ignored(
        "system/memory_recall",
        "memories recalled into the model's context, not something the user asked to see",
    ),
    mapped("rate_limit_event", &["rate_limit.updated"]),
    ignored(
        "system/elicitation_complete",
        "end of an MCP elicitation; baton declines elicitations, so none completes",
    ),
    mapped("system/permission_denied", &["runtime.warning"]),
    ignored(
        "prompt_suggestion",
        "a suggested next prompt for Claude's own composer",
    ),
    mapped("system/mirror_error", &["runtime.warning"]),
    mapped("system/informational", &["runtime.warning"]),
    mapped("conversation_reset", &["runtime.warning"]),
    mapped("system/session_writes_lost", &["runtime.error"]),
    ignored(
        "active_goal",
        "session goals are a Claude app feature baton does not enable",
    ),
    answered(
        "control_response",
        "the answer to one of baton's own control requests, matched to it by request_id",
    ),
    answered(
        "control_request",
        "a request from claude; handled by subtype (see CONTROL_REQUESTS)",
    ),
    ignored(
        "control_cancel_request",
        "claude withdrew a request (its turn ended); baton's late answer is discarded by claude and the prompt is closed when the turn ends",
    ),
    ignored("keep_alive", "transport keep-alive"),
];

/// Control request subtypes (both directions share one union in the SDK).
pub const CONTROL_REQUESTS: &[Entry] = &[
    answered(
        "interrupt",
        "sent by baton (turn/interrupt); claude never sends it",
    ),
    mapped(
        "can_use_tool",
        &[
            "approval.requested",
            "approval.resolved",
            "input.requested",
            "input.resolved",
        ],
    ),
    answered(
        "initialize",
        "sent by baton when the process starts; claude never sends it",
    ),
    answered(
        "set_permission_mode",
        "sent by baton for plan-mode turns; claude never sends it",
    ),
    answered(
        "set_model",
        "sent by baton (thread/switch to another model); claude never sends it",
    ),
    answered("set_max_thinking_tokens", NOT_A_CLI_REQUEST),
    answered("rename_session", NOT_A_CLI_REQUEST),
    answered("set_color", NOT_A_CLI_REQUEST),
    answered("mcp_status", NOT_A_CLI_REQUEST),
    answered("get_context_usage", NOT_A_CLI_REQUEST),
    answered("get_session_cost", NOT_A_CLI_REQUEST),
    answered("list_models", NOT_A_CLI_REQUEST),
    answered("get_usage", NOT_A_CLI_REQUEST),
    answered("get_binary_version", NOT_A_CLI_REQUEST),
    answered("mcp_call", NOT_A_CLI_REQUEST),
    answered("file_suggestions", NOT_A_CLI_REQUEST),
    answered(
        "hook_callback",
        "answered `{}` (no decision): baton registers no hooks of its own",
    ),
    answered(
        "mcp_message",
        "answered with an error: baton hosts no SDK MCP servers",
    ),
    answered("rewind_files", NOT_A_CLI_REQUEST),
    answered("cancel_async_message", NOT_A_CLI_REQUEST),
    answered("read_file", NOT_A_CLI_REQUEST),
    answered("seed_read_state", NOT_A_CLI_REQUEST),
    answered("mcp_set_servers", NOT_A_CLI_REQUEST),
    answered("register_repo_root", NOT_A_CLI_REQUEST),
    answered("reload_plugins", NOT_A_CLI_REQUEST),
    answered("reload_skills", NOT_A_CLI_REQUEST),
    answered("reload_output_styles", NOT_A_CLI_REQUEST),
    answered("mcp_reconnect", NOT_A_CLI_REQUEST),
    answered("mcp_toggle", NOT_A_CLI_REQUEST),
    answered("set_has_subscribers", NOT_A_CLI_REQUEST),
    answered("stop_task", NOT_A_CLI_REQUEST),
    answered("background_tasks", NOT_A_CLI_REQUEST),
    answered("get_task_output", NOT_A_CLI_REQUEST),
    answered("apply_flag_settings", NOT_A_CLI_REQUEST),
    answered("get_settings", NOT_A_CLI_REQUEST),
    answered("get_hooks_listing", NOT_A_CLI_REQUEST),
    answered("update_settings", NOT_A_CLI_REQUEST),
    answered(
        "elicitation",
        "answered `{action:\"decline\"}`: MCP form elicitation is not in baton's protocol yet",
    ),
    ignored(
        "request_user_dialog",
        "sent only for dialog kinds the host declared in initialize, and baton declares none; the SDK says an undeclared kind must not be answered",
    ),
    answered("list_permission_rules", NOT_A_CLI_REQUEST),
    answered("mcp_read_resource", NOT_A_CLI_REQUEST),
];

/// The tool whose `can_use_tool` is a question for the user, not an approval.
pub const ASK_USER_TOOL: &str = "AskUserQuestion";

/// The tool whose input is the agent's plan (a todo list).
pub const PLAN_TOOL: &str = "TodoWrite";
