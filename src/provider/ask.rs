//! The one round trip of an approval or a question to the editor, used by every adapter.
//!
//! The adapter turns the agent's request into an [`ApprovalAsk`] or questions, and gives a
//! function that answers the agent. The ask travels through the thread's [`EventSink`] (after
//! the events before it, so the editor sees it in order); the reply is awaited in a task of its
//! own, so the adapter's reader goes on while the user thinks. A dropped reply sender or a
//! closed sink is a `decline` (approvals) or a cancel (questions): the agent always gets exactly
//! one answer.

use baton_protocol::{
    ApprovalDecision, ApprovalKind, InputQuestion, InputResponse, Item, ItemType,
};
use serde_json::Value;
use tokio::sync::oneshot;

use super::{ApprovalAsk, EventSink, ProviderEvent};

impl ApprovalAsk {
    /// The approval the editor is shown for a tool call, from the item the call maps to.
    /// `tool` is the agent's own name for the tool, when it has one worth showing (Claude's
    /// `Write`, `WebFetch`, ...): it becomes the verb of the title.
    pub fn for_item(item: Item, tool: Option<&str>) -> Self {
        let kind = match item.item_type {
            ItemType::Command => ApprovalKind::Command,
            ItemType::FileChange => ApprovalKind::FileChange,
            _ => ApprovalKind::Other,
        };
        let text = item.text.clone().filter(|t| !t.is_empty());
        let title = match kind {
            ApprovalKind::Command => {
                format!("Run `{}`", item.command.as_deref().unwrap_or("a command"))
            }
            ApprovalKind::FileChange => {
                let verb = tool.unwrap_or("Change");
                match item.changes.as_deref() {
                    Some([one]) => format!("{verb} {}", one.path),
                    Some(many) if !many.is_empty() => format!("{verb} {} files", many.len()),
                    _ => text.unwrap_or_else(|| "Apply a file change".into()),
                }
            }
            ApprovalKind::Other => match tool {
                Some(t) => format!("Use {t}"),
                None => text
                    .or_else(|| item.tool.clone())
                    .unwrap_or_else(|| "Allow a tool call".into()),
            },
        };
        ApprovalAsk {
            kind,
            title,
            command: item.command,
            cwd: item.cwd,
            changes: item.changes,
            reason: None,
        }
    }
}

/// Asks the editor to approve; `answer` gets the decision (`Decline` when nobody can answer).
/// `raw` (the provider's request, when the editor asked for raw messages) becomes `data.raw`
/// of `approval.requested`.
pub async fn approval<F, Fut>(
    sink: &EventSink,
    ask: ApprovalAsk,
    native_turn: Option<String>,
    raw: Option<Value>,
    answer: F,
) where
    F: FnOnce(ApprovalDecision) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (reply, rx) = oneshot::channel();
    let event = ProviderEvent::Approval {
        ask,
        native_turn,
        reply,
        raw,
    };
    if !sink.send(event).await {
        return answer(ApprovalDecision::Decline).await;
    }
    tokio::spawn(async move { answer(rx.await.unwrap_or(ApprovalDecision::Decline)).await });
}

/// Asks the editor the questions; `answer` gets the response, `None` when the user cancelled,
/// the reply was dropped or the thread is gone.
/// `raw` becomes `data.raw` of `input.requested`.
pub async fn input<F, Fut>(
    sink: &EventSink,
    questions: Vec<InputQuestion>,
    native_turn: Option<String>,
    raw: Option<Value>,
    answer: F,
) where
    F: FnOnce(Option<InputResponse>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (reply, rx) = oneshot::channel();
    let event = ProviderEvent::Input {
        questions,
        native_turn,
        reply,
        raw,
    };
    if !sink.send(event).await {
        return answer(None).await;
    }
    tokio::spawn(async move { answer(rx.await.ok().filter(|r| !r.is_cancel())).await });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::Duration;

    use baton_protocol::ApprovalKind;
    use tokio::sync::mpsc;

    use super::*;

    const T: Duration = Duration::from_secs(5);

    fn ask() -> ApprovalAsk {
        ApprovalAsk {
            kind: ApprovalKind::Command,
            title: "Run `ls`".into(),
            command: Some("ls".into()),
            cwd: None,
            changes: None,
            reason: None,
        }
    }

    /// Runs one approval round trip; `editor` plays the editor with the reply sender.
    async fn round_trip(
        editor: impl FnOnce(oneshot::Sender<ApprovalDecision>) + Send + 'static,
    ) -> ApprovalDecision {
        let (tx, mut rx) = mpsc::channel(4);
        let sink = EventSink::new(tx, 7);
        let (done_tx, done_rx) = oneshot::channel();
        approval(
            &sink,
            ask(),
            Some("turn-1".into()),
            None,
            move |d| async move {
                let _ = done_tx.send(d);
            },
        )
        .await;
        let (generation, event) = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
        assert_eq!(generation, 7);
        let ProviderEvent::Approval {
            ask,
            native_turn,
            reply,
            ..
        } = event
        else {
            panic!("not an approval: {event:?}");
        };
        assert_eq!(
            (ask.title.as_str(), native_turn.as_deref()),
            ("Run `ls`", Some("turn-1"))
        );
        editor(reply);
        tokio::time::timeout(T, done_rx).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn the_editors_decision_reaches_the_agent() {
        let d = round_trip(|r| {
            let _ = r.send(ApprovalDecision::AcceptForSession);
        })
        .await;
        assert_eq!(d, ApprovalDecision::AcceptForSession);
    }

    #[tokio::test]
    async fn a_dropped_reply_is_a_decline() {
        assert_eq!(round_trip(drop).await, ApprovalDecision::Decline);
    }

    #[tokio::test]
    async fn a_closed_sink_declines_and_cancels_at_once() {
        let (tx, rx) = mpsc::channel(4);
        drop(rx);
        let sink = EventSink::new(tx, 1);
        let (d_tx, d_rx) = oneshot::channel();
        approval(&sink, ask(), None, None, move |d| async move {
            let _ = d_tx.send(d);
        })
        .await;
        assert_eq!(d_rx.await.unwrap(), ApprovalDecision::Decline);
        let (i_tx, i_rx) = oneshot::channel();
        input(&sink, Vec::new(), None, None, move |r| async move {
            let _ = i_tx.send(r.is_none());
        })
        .await;
        assert!(
            i_rx.await.unwrap(),
            "a question to a gone thread is cancelled"
        );
    }

    #[tokio::test]
    async fn a_cancelled_question_answers_none_and_an_answer_passes_through() {
        for cancel in [true, false] {
            let (tx, mut rx) = mpsc::channel(4);
            let sink = EventSink::new(tx, 1);
            let (done_tx, done_rx) = oneshot::channel();
            input(&sink, Vec::new(), None, None, move |r| async move {
                let _ = done_tx.send(r);
            })
            .await;
            let Some((_, ProviderEvent::Input { reply, .. })) = rx.recv().await else {
                panic!("no question");
            };
            let response = if cancel {
                InputResponse::cancel()
            } else {
                InputResponse {
                    answers: [("q1".to_string(), vec!["blue".to_string()])].into(),
                    cancelled: false,
                }
            };
            reply.send(response).unwrap();
            let got = tokio::time::timeout(T, done_rx).await.unwrap().unwrap();
            assert_eq!(got.is_none(), cancel);
            if let Some(r) = got {
                assert_eq!(r.answers["q1"], vec!["blue".to_string()]);
            }
        }
    }
}
