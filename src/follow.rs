//! Following threads that another process drives: `thread/subscribe`.
//!
//! A followed thread's events are read from the log by a poller ([`run_poller`], every
//! [`POLL_INTERVAL`], one indexed range scan per thread) and notified as `thread/event` with
//! their own seqs, so what an editor sees is the log itself: first the events after `sinceSeq`,
//! then each new one once it is committed, whatever process appended it.
//!
//! When this process drives a followed thread too, its actor notifies directly as usual, and the
//! two paths share one cursor per thread: a seq is notified by whichever path claims it first,
//! and a path may claim only the next seq after the cursor (the actor) or seqs after it while no
//! other notification of the thread is in flight (the poller), so there are no duplicates, no
//! gaps, and no reordering. An actor notifies an event before it appends the next, which is what
//! makes the actor's single-seq claims sufficient.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_protocol::Event;
use tokio::sync::Notify;

/// How often followed threads are polled for new events (an actor of this process wakes the
/// poller at once instead).
pub const POLL_INTERVAL: Duration = Duration::from_millis(150);
/// Events read per thread per poll; a longer backlog is read on the next round at once.
pub const POLL_BATCH: u32 = 256;
/// Threads one editor may follow at once.
pub const MAX_FOLLOWED: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// The newest seq notified (or skipped by `sinceSeq`).
    seq: i64,
    /// The poller is notifying a batch of this thread's events right now.
    sending: bool,
}

/// The threads one editor follows; cheap to clone.
#[derive(Clone, Default)]
pub struct Follows {
    cursors: Arc<Mutex<HashMap<String, Cursor>>>,
    /// How many threads are followed, so that the live path (every streamed event) need not
    /// take the lock when none is.
    followed: Arc<AtomicUsize>,
    wake: Arc<Notify>,
}

/// Why a subscription was refused.
#[derive(Debug)]
pub struct TooMany;

impl Follows {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cursor>> {
        // A poisoned map of cursors is still a valid map.
        crate::sync::lock(&self.cursors)
    }

    /// Follows `thread_id` from `since_seq`; following it again moves the cursor there.
    pub fn subscribe(&self, thread_id: &str, since_seq: i64) -> Result<(), TooMany> {
        {
            let mut map = self.lock();
            if !map.contains_key(thread_id) && map.len() >= MAX_FOLLOWED {
                return Err(TooMany);
            }
            map.insert(
                thread_id.to_string(),
                Cursor {
                    seq: since_seq.max(0),
                    sending: false,
                },
            );
            self.followed.store(map.len(), Ordering::SeqCst);
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Stops following; false when the thread was not followed.
    pub fn unsubscribe(&self, thread_id: &str) -> bool {
        let mut map = self.lock();
        let removed = map.remove(thread_id).is_some();
        self.followed.store(map.len(), Ordering::SeqCst);
        removed
    }

    /// Called by the live path (an actor of this process) before it notifies `ev`: true when it
    /// should notify it, false when the poller will (or did).
    pub fn claim_live(&self, ev: &Event) -> bool {
        self.claim_live_seq(&ev.thread_id, ev.seq)
    }

    /// [`Follows::claim_live`] by the event's thread and seq.
    pub fn claim_live_seq(&self, thread_id: &str, seq: i64) -> bool {
        if self.followed.load(Ordering::SeqCst) == 0 {
            return true;
        }
        let claimed = {
            let mut map = self.lock();
            match map.get_mut(thread_id) {
                None => return true,
                Some(c) if !c.sending && seq == c.seq + 1 => {
                    c.seq = seq;
                    true
                }
                Some(_) => false,
            }
        };
        if !claimed {
            self.wake.notify_one();
        }
        claimed
    }

    fn snapshot(&self) -> Vec<(String, i64)> {
        self.lock()
            .iter()
            .filter(|(_, c)| !c.sending)
            .map(|(id, c)| (id.clone(), c.seq))
            .collect()
    }

    /// Claims the events of a polled batch that are still unnotified, and marks their threads
    /// as sending. Events arrive thread by thread in seq order.
    fn claim_polled(&self, events: Vec<Event>) -> Vec<Event> {
        let mut map = self.lock();
        let mut out = Vec::with_capacity(events.len());
        for ev in events {
            let Some(c) = map.get_mut(&ev.thread_id) else {
                continue;
            };
            // Seqs may skip rows this build cannot read; the log order is what counts.
            if ev.seq > c.seq {
                c.seq = ev.seq;
                c.sending = true;
                out.push(ev);
            }
        }
        out
    }

    fn done_sending(&self, threads: &[String]) {
        let mut map = self.lock();
        for t in threads {
            if let Some(c) = map.get_mut(t) {
                c.sending = false;
            }
        }
    }
}

/// Polls the followed threads and notifies their new events, until the editor goes away.
pub async fn run_poller(
    follows: Follows,
    store: crate::store::Store,
    editor: crate::editor::Editor,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = follows.wake.notified() => {}
        }
        loop {
            let since = follows.snapshot();
            if since.is_empty() {
                break;
            }
            let events = match store.poll_events(since, POLL_BATCH).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!("polling followed threads failed: {e}");
                    break;
                }
            };
            let full = events.len() >= POLL_BATCH as usize;
            let claimed = follows.claim_polled(events);
            let mut threads: Vec<String> = claimed.iter().map(|e| e.thread_id.clone()).collect();
            threads.dedup();
            for ev in &claimed {
                editor.notify_event(ev, None).await;
            }
            follows.done_sending(&threads);
            if !full {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use baton_protocol::{EventBody, ProviderId, ThreadStatus, ThreadStatusChanged};

    use super::*;

    fn ev(thread: &str, seq: i64) -> Event {
        Event {
            thread_id: thread.into(),
            seq,
            provider: ProviderId::codex(),
            at: 0,
            turn_id: None,
            item_id: None,
            body: EventBody::ThreadStatus(ThreadStatusChanged {
                status: ThreadStatus::Idle,
            }),
        }
    }

    fn seqs(events: &[Event]) -> Vec<i64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn unfollowed_threads_are_notified_live_as_always() {
        let f = Follows::default();
        assert!(f.claim_live(&ev("t", 1)));
        assert!(f.claim_live(&ev("t", 1)), "no state is kept for them");
    }

    #[test]
    fn each_seq_goes_out_once_whichever_path_claims_it() {
        let f = Follows::default();
        f.subscribe("t", 2).unwrap();
        // The live path may only take the next seq; the backlog is the poller's.
        assert!(!f.claim_live(&ev("t", 5)));
        assert_eq!(f.snapshot(), [("t".to_string(), 2)]);
        let polled = f.claim_polled(vec![ev("t", 3), ev("t", 4), ev("t", 5)]);
        assert_eq!(seqs(&polled), [3, 4, 5]);
        // While the poller's batch is on its way, the live path waits for the poller.
        assert!(!f.claim_live(&ev("t", 6)));
        assert!(f.snapshot().is_empty(), "a sending thread is not polled");
        f.done_sending(&["t".to_string()]);
        assert!(f.claim_live(&ev("t", 6)));
        // The poller sees 6 in the log afterwards and leaves it alone.
        assert!(f.claim_polled(vec![ev("t", 6)]).is_empty());
        assert!(f.claim_live(&ev("t", 7)));
        assert!(!f.claim_live(&ev("t", 7)), "never twice");
        // Rows this build cannot read leave gaps in the log; the poller moves past them.
        assert_eq!(seqs(&f.claim_polled(vec![ev("t", 9)])), [9]);
        f.done_sending(&["t".to_string()]);
        assert!(f.unsubscribe("t"));
        assert!(!f.unsubscribe("t"));
        assert!(f.claim_live(&ev("t", 10)));
    }

    #[test]
    fn followed_threads_are_bounded() {
        let f = Follows::default();
        for i in 0..MAX_FOLLOWED {
            f.subscribe(&format!("t{i}"), 0).unwrap();
        }
        assert!(f.subscribe("one-more", 0).is_err());
        assert!(
            f.subscribe("t0", 5).is_ok(),
            "moving a cursor is not a new follow"
        );
    }
}
