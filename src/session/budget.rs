//! The live-session budget (`maxLiveSessions`): each live `claude -p` process costs ~200 MB, so
//! beyond the budget the least recently used *idle* sessions are soft-stopped (binding and
//! resume cursor kept; the next turn resumes them).
//!
//! Actors report their state here whenever it changes (see the actor's loop): no session,
//! live and idle, or live and busy (a turn running or an ask pending). A busy session is never
//! chosen; the chosen actor checks again when the eviction command arrives, since it may have
//! started a turn in between.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::mpsc;

use super::actor::Command;

/// The default of `maxLiveSessions`.
pub const DEFAULT_MAX_LIVE: usize = 8;

/// What an actor's provider session is doing, as far as the budget cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    None,
    Idle,
    Busy,
}

struct Entry {
    state: Liveness,
    /// When the state last changed: the least recently used idle session goes first.
    since: Instant,
    tx: mpsc::Sender<Command>,
    /// Asked to stop already; not asked again until it reports a new state.
    evicting: bool,
}

pub struct Budget {
    max: AtomicUsize,
    live: Mutex<HashMap<String, Entry>>,
}

impl Budget {
    pub fn new(max: usize) -> Self {
        Budget {
            max: AtomicUsize::new(max),
            live: Mutex::new(HashMap::new()),
        }
    }

    /// Changes the budget (0 = unlimited).
    pub fn set_max(&self, max: usize) {
        self.max.store(max, Ordering::Relaxed);
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned map is still a valid map.
        crate::sync::lock(&self.live)
    }

    /// Records a thread's new state and, when that leaves more live sessions than the budget,
    /// asks the least recently used idle ones (never the reporting thread) to stop.
    pub fn report(&self, thread_id: &str, state: Liveness, tx: &mpsc::Sender<Command>) {
        let mut live = self.entries();
        if state == Liveness::None {
            if live.get(thread_id).is_some_and(|e| e.tx.same_channel(tx)) {
                live.remove(thread_id);
            }
            return;
        }
        live.insert(
            thread_id.to_string(),
            Entry {
                state,
                since: Instant::now(),
                tx: tx.clone(),
                evicting: false,
            },
        );
        let max = self.max.load(Ordering::Relaxed);
        if max == 0 {
            return;
        }
        let stopping = live.values().filter(|e| e.evicting).count();
        let over = live.len().saturating_sub(max).saturating_sub(stopping);
        if over == 0 {
            return;
        }
        let mut idle: Vec<(&String, Instant)> = live
            .iter()
            .filter(|(id, e)| e.state == Liveness::Idle && !e.evicting && id.as_str() != thread_id)
            .map(|(id, e)| (id, e.since))
            .collect();
        idle.sort_by_key(|(_, since)| *since);
        let victims: Vec<String> = idle
            .into_iter()
            .take(over)
            .map(|(id, _)| id.clone())
            .collect();
        for id in victims {
            if let Some(e) = live.get_mut(&id) {
                // Full inbox: the actor is busy with commands; the next report tries again.
                if e.tx.try_send(Command::Evict).is_ok() {
                    e.evicting = true;
                    tracing::info!(thread = %id, max, "over the live-session budget; soft-stopping the least recently used idle session");
                }
            }
        }
    }

    /// Live sessions right now (for tests and logs).
    #[cfg(test)]
    pub fn live(&self) -> usize {
        self.entries().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbox() -> (mpsc::Sender<Command>, mpsc::Receiver<Command>) {
        mpsc::channel(4)
    }

    fn evicted(rx: &mut mpsc::Receiver<Command>) -> bool {
        matches!(rx.try_recv(), Ok(Command::Evict))
    }

    #[test]
    fn the_least_recently_used_idle_session_goes_never_a_busy_one() {
        let budget = Budget::new(2);
        let (a, mut ra) = inbox();
        let (b, mut rb) = inbox();
        let (c, mut rc) = inbox();
        budget.report("a", Liveness::Busy, &a);
        budget.report("b", Liveness::Idle, &b);
        std::thread::sleep(std::time::Duration::from_millis(2));
        budget.report("a", Liveness::Idle, &a);
        assert_eq!(budget.live(), 2);
        // A third live session: "b" has been idle the longest; "a" became idle after it.
        budget.report("c", Liveness::Busy, &c);
        assert!(evicted(&mut rb));
        assert!(!evicted(&mut ra) && !evicted(&mut rc));
        // Asked once only, until it reports again.
        budget.report("c", Liveness::Idle, &c);
        assert!(!evicted(&mut rb));
        // "b" stopped: two live, nothing more to do.
        budget.report("b", Liveness::None, &b);
        assert_eq!(budget.live(), 2);
        assert!(!evicted(&mut ra) && !evicted(&mut rc));
    }

    #[test]
    fn busy_sessions_are_kept_even_over_the_budget_and_zero_means_no_limit() {
        let budget = Budget::new(1);
        let (a, mut ra) = inbox();
        let (b, mut rb) = inbox();
        budget.report("a", Liveness::Busy, &a);
        budget.report("b", Liveness::Busy, &b);
        assert!(!evicted(&mut ra) && !evicted(&mut rb));
        budget.set_max(0);
        budget.report("a", Liveness::Idle, &a);
        assert!(!evicted(&mut ra) && !evicted(&mut rb));
        assert_eq!(budget.live(), 2);
    }
}
