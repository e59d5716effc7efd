//! `session/request_permission` -> `approval/request` -> the agent's option of the matching kind.
//!
//! The editor's decision picks an option by kind: accept -> `allow_once` (else `allow_always`),
//! accept for the session -> `allow_always` (else `allow_once`), decline -> `reject_once` (else
//! `reject_always`). No matching option, no answer, an error or a disconnect rejects; a cancel
//! answers `cancelled` (the turn is cancelled with it).

use agent_client_protocol_schema::v1::{
    PermissionOption, PermissionOptionKind, RequestPermissionOutcome, RequestPermissionResponse,
    SelectedPermissionOutcome,
};
use baton_protocol::{ApprovalDecision, Item};
use serde_json::Value;

use crate::provider::ApprovalAsk;

/// The approval to put to the editor for a tool call the agent wants to run.
pub fn ask(item: Item) -> ApprovalAsk {
    ApprovalAsk::for_item(item, None)
}

/// The option kinds a decision may pick, best first.
fn preferred(decision: ApprovalDecision) -> &'static [PermissionOptionKind] {
    match decision {
        ApprovalDecision::Accept => &[
            PermissionOptionKind::AllowOnce,
            PermissionOptionKind::AllowAlways,
        ],
        ApprovalDecision::AcceptForSession => &[
            PermissionOptionKind::AllowAlways,
            PermissionOptionKind::AllowOnce,
        ],
        ApprovalDecision::Decline => &[
            PermissionOptionKind::RejectOnce,
            PermissionOptionKind::RejectAlways,
        ],
        ApprovalDecision::Cancel => &[],
    }
}

/// The answer to `session/request_permission` for the editor's decision.
pub fn outcome(options: &[PermissionOption], decision: ApprovalDecision) -> Value {
    let chosen = preferred(decision)
        .iter()
        .find_map(|kind| options.iter().find(|o| o.kind == *kind))
        .or_else(|| {
            // An accept the agent offers no allow option for is still a reject, never a cancel.
            preferred(ApprovalDecision::Decline)
                .iter()
                .find_map(|kind| options.iter().find(|o| o.kind == *kind))
                .filter(|_| decision != ApprovalDecision::Cancel)
        });
    let outcome = match chosen {
        Some(o) => {
            RequestPermissionOutcome::Selected(SelectedPermissionOutcome::new(o.option_id.clone()))
        }
        None => RequestPermissionOutcome::Cancelled,
    };
    serde_json::to_value(RequestPermissionResponse::new(outcome)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use baton_protocol::{ApprovalKind, ItemType};
    use serde_json::json;

    use super::*;

    fn options(kinds: &[&str]) -> Vec<PermissionOption> {
        let v: Vec<Value> = kinds
            .iter()
            .map(|k| json!({"optionId": format!("id-{k}"), "name": k, "kind": k}))
            .collect();
        serde_json::from_value(json!(v)).unwrap()
    }

    fn picked(kinds: &[&str], d: ApprovalDecision) -> Value {
        outcome(&options(kinds), d)["outcome"].clone()
    }

    #[test]
    fn each_decision_picks_the_option_of_its_kind() {
        let all = ["allow_once", "allow_always", "reject_once", "reject_always"];
        let sel = |id: &str| json!({"outcome": "selected", "optionId": id});
        assert_eq!(picked(&all, ApprovalDecision::Accept), sel("id-allow_once"));
        assert_eq!(
            picked(&all, ApprovalDecision::AcceptForSession),
            sel("id-allow_always")
        );
        assert_eq!(
            picked(&all, ApprovalDecision::Decline),
            sel("id-reject_once")
        );
        assert_eq!(
            picked(&all, ApprovalDecision::Cancel),
            json!({"outcome": "cancelled"})
        );
        // Fallbacks: the other option of the same sense, and a reject when nothing allows.
        assert_eq!(
            picked(&["allow_always", "reject_always"], ApprovalDecision::Accept),
            sel("id-allow_always")
        );
        assert_eq!(
            picked(&["reject_always"], ApprovalDecision::Decline),
            sel("id-reject_always")
        );
        assert_eq!(
            picked(&["reject_once"], ApprovalDecision::Accept),
            sel("id-reject_once")
        );
        assert_eq!(
            picked(&["allow_once"], ApprovalDecision::Decline),
            json!({"outcome": "cancelled"})
        );
    }

    #[test]
    fn the_ask_names_the_command_or_the_file() {
        let mut cmd = Item::new(ItemType::Command);
        cmd.command = Some("touch x".into());
        let a = ask(cmd);
        assert_eq!(
            (a.kind, a.title.as_str()),
            (ApprovalKind::Command, "Run `touch x`")
        );
        let mut edit = Item::new(ItemType::FileChange);
        edit.changes = Some(vec![baton_protocol::FileChange {
            path: "/w/a.txt".into(),
            kind: "add".into(),
            diff: None,
        }]);
        assert_eq!(ask(edit).title, "Change /w/a.txt");
        let mut other = Item::new(ItemType::ToolCall);
        other.text = Some("write_todos".into());
        assert_eq!(ask(other).kind, ApprovalKind::Other);
    }
}
