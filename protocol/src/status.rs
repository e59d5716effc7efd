//! The state of a thread's provider session: a leaf type shared by threads and events.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The state of a thread's provider session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ThreadStatus {
    /// A live session, no turn running.
    Idle,
    /// A turn is running.
    Running,
    /// No live session; the next turn resumes from the binding.
    Stopped,
    /// The session failed; the next turn tries again.
    Error,
}

impl ThreadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadStatus::Idle => "idle",
            ThreadStatus::Running => "running",
            ThreadStatus::Stopped => "stopped",
            ThreadStatus::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "idle" => Some(ThreadStatus::Idle),
            "running" => Some(ThreadStatus::Running),
            "stopped" => Some(ThreadStatus::Stopped),
            "error" => Some(ThreadStatus::Error),
            _ => None,
        }
    }
}
