//! This process's side of thread leases: who we are ([`Holder`]), which threads our actors
//! hold, the heartbeat that keeps them ours and carries takeover requests to their actors, and
//! error -32016 for a thread another window drives.
//!
//! An actor takes its thread's lease before it drives it (session start, turn, switch,
//! compaction, stop, interrupt, delete) and gives it back when it has nothing live left; the
//! heartbeat ([`run_heartbeat`]) stamps our leases every [`HEARTBEAT`] and hands each takeover
//! request to the actor concerned, which stops its session and hands the lease over.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_protocol::{ThreadLeasedData, errors};

use super::{Command, Sessions};
use crate::rpc::RpcError;
use crate::store::{Holder, Lease, now_ms};
use crate::sync::lock;

/// How often our leases are stamped and takeover requests looked for: a takeover is answered
/// within a heartbeat plus the time the session takes to stop.
pub const HEARTBEAT: Duration = Duration::from_millis(250);

/// How long `thread/takeover` waits for the holder to let go.
pub const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(5);

/// The process's identity in leases and the threads its actors hold; cheap to clone.
#[derive(Clone)]
pub struct Leases {
    me: Arc<Mutex<Holder>>,
    held: Arc<Mutex<HashSet<String>>>,
}

impl Default for Leases {
    fn default() -> Self {
        Leases {
            me: Arc::new(Mutex::new(Holder::current(None))),
            held: Arc::new(Mutex::new(HashSet::new())),
        }
    }
}

impl Leases {
    /// This process as leases name it.
    pub fn me(&self) -> Holder {
        lock(&self.me).clone()
    }

    /// Records the editor's `clientInfo.name`, which leases show to other windows.
    pub fn set_client(&self, name: &str) {
        lock(&self.me).client = Some(name.to_string());
    }

    pub fn mark_held(&self, thread_id: &str) {
        lock(&self.held).insert(thread_id.to_string());
    }

    pub fn mark_released(&self, thread_id: &str) {
        lock(&self.held).remove(thread_id);
    }

    fn held(&self) -> Vec<String> {
        lock(&self.held).iter().cloned().collect()
    }
}

/// Error -32016 for a thread `lease`'s holder drives.
pub fn leased_error(lease: &Lease) -> RpcError {
    let holder = lease.wire_holder();
    let client = holder.client.as_deref().unwrap_or("another editor");
    let ago = human_duration(now_ms().saturating_sub(holder.since));
    let msg = format!(
        "thread {} is driven by another window: {client} (baton pid {}) for {ago}; \
         use thread/takeover to move it here",
        lease.thread_id, holder.pid
    );
    let data = ThreadLeasedData {
        thread_id: lease.thread_id.clone(),
        holder,
    };
    let err = RpcError::new(errors::THREAD_LEASED, msg);
    match serde_json::to_value(data) {
        Ok(v) => err.with_data(v),
        Err(_) => err,
    }
}

/// `65 s` -> `1m 5s`.
fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

/// Stamps our leases and passes takeover requests on, until the process ends. Does nothing
/// (and touches no database) while we hold no lease.
pub async fn run_heartbeat(sessions: Sessions) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let leases = sessions.leases().clone();
        let held = leases.held();
        if held.is_empty() {
            continue;
        }
        let store = sessions.context().store.clone();
        let beat = match store.heartbeat(&leases.me(), held).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("lease heartbeat failed: {e}");
                continue;
            }
        };
        for (thread_id, to) in beat.requests {
            tracing::info!(thread = %thread_id, pid = to.pid, client = ?to.client, "takeover requested");
            let cmd = Command::Yield { to: Some(to) };
            if sessions.send_live(&thread_id, cmd).await.is_err() {
                // No actor drives it here any more: hand the lease over directly.
                if let Err(e) = store.hand_over_lease(&thread_id, &leases.me()).await {
                    tracing::warn!(thread = %thread_id, "cannot hand the lease over: {e}");
                }
                leases.mark_released(&thread_id);
            }
        }
        for thread_id in beat.lost {
            tracing::warn!(thread = %thread_id, "our lease was taken; stopping the session");
            leases.mark_released(&thread_id);
            let _ = sessions
                .send_live(&thread_id, Command::Yield { to: None })
                .await;
        }
    }
}
