//! What baton does with every message an ACP agent can send (schema crate
//! `agent-client-protocol-schema` 1.x, stable v1, no unstable features). The coverage tests diff
//! both tables against the crate's own types: the `sessionUpdate` tags of `SessionUpdate` and the
//! method names of `CLIENT_METHOD_NAMES`.

use crate::provider::coverage::{Entry, answered, ignored, mapped};

const NOT_ADVERTISED_SUBAGENTS: &str =
    "sent only to clients advertising the `subagents` capability, which baton does not";
const NOT_ADVERTISED_PLAN: &str =
    "sent only to clients advertising the `plan` capability; baton takes the whole `plan` update";

/// The kinds of `session/update` (the `sessionUpdate` tag).
pub const UPDATES: &[Entry] = &[
    ignored(
        "user_message_chunk",
        "the user's own prompt, which baton logged when it sent it (agents echo it on session/load)",
    ),
    mapped("agent_message_chunk", &["content.delta", "item.completed"]),
    mapped("agent_thought_chunk", &["content.delta", "item.completed"]),
    mapped("tool_call", &["item.started", "item.completed"]),
    mapped("tool_call_update", &["item.started", "item.completed"]),
    mapped("plan", &["turn.plan"]),
    ignored("plan_update", NOT_ADVERTISED_PLAN),
    ignored("plan_removed", NOT_ADVERTISED_PLAN),
    // Kept by the session: whether `/compact` exists decides thread/compact/start and handoffs.
    mapped("available_commands_update", &[]),
    ignored(
        "current_mode_update",
        "the agent's own mode switch (e.g. plan/default); baton sets no ACP modes",
    ),
    // Kept by the session: the `model` option is what a model change sets.
    mapped("config_option_update", &[]),
    ignored(
        "session_info_update",
        "the agent's title and timestamps; baton keeps its own thread titles",
    ),
    mapped("usage_update", &["usage.updated"]),
    ignored(
        "notice",
        "sent only to clients advertising `session.notices`, which baton does not",
    ),
    mapped(
        "compaction_update",
        &[
            "compaction.started",
            "compaction.completed",
            "compaction.failed",
        ],
    ),
    mapped("compaction_summary_chunk", &["compaction.completed"]),
    ignored("subagent_update", NOT_ADVERTISED_SUBAGENTS),
    ignored("session_message", NOT_ADVERTISED_SUBAGENTS),
    ignored("session_message_chunk", NOT_ADVERTISED_SUBAGENTS),
];

const NO_TERMINAL: &str = "baton advertises `terminal: false`; agents run commands themselves";

/// Methods the agent calls on the client (requests and notifications).
pub const CLIENT_METHODS: &[Entry] = &[
    mapped(
        "session/update",
        &[
            "content.delta",
            "item.started",
            "item.completed",
            "turn.plan",
            "usage.updated",
        ],
    ),
    mapped("session/request_permission", &["approval.requested"]),
    answered(
        "fs/read_text_file",
        "served only inside the thread's cwd (canonicalised), and only when advertised",
    ),
    answered(
        "fs/write_text_file",
        "served only inside the thread's cwd (canonicalised), and only when advertised",
    ),
    answered("terminal/create", NO_TERMINAL),
    answered("terminal/output", NO_TERMINAL),
    answered("terminal/release", NO_TERMINAL),
    answered("terminal/wait_for_exit", NO_TERMINAL),
    answered("terminal/kill", NO_TERMINAL),
    answered(
        "elicitation/create",
        "baton does not advertise elicitation; declined",
    ),
    ignored(
        "elicitation/complete",
        "follows elicitation/create, which baton never accepts",
    ),
];
