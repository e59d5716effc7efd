//! The actor's lease on its thread: taken before the actor drives the thread, given back when
//! nothing live is left, handed over when another window asks (`thread/takeover`).

use std::time::Duration;

use baton_protocol::{ExitReason, Thread};
use tokio::time::Instant;

use super::{Actor, Events};
use crate::rpc::RpcError;
use crate::session::lease::{TAKEOVER_TIMEOUT, leased_error};
use crate::session::store_error;
use crate::store::{Acquired, Claim, Holder};

/// How often `thread/takeover` asks again while the holder lets go.
const TAKEOVER_POLL: Duration = Duration::from_millis(100);

impl Actor {
    /// Takes the thread's lease unless another live process holds it (-32016 naming it).
    pub(super) async fn claim(&mut self) -> Result<(), RpcError> {
        let me = self.sessions.leases().me();
        let claim = self
            .ctx
            .store
            .acquire_lease(&self.thread.id, &me, false)
            .await
            .map_err(store_error)?;
        match claim {
            Claim::Acquired(a) => self.acquired(a).await,
            Claim::Held(lease) => Err(leased_error(&lease)),
        }
    }

    /// Becomes the holder. A lease that was not ours means another process may have moved the
    /// thread on: the binding is read back before anything is driven.
    async fn acquired(&mut self, a: Acquired) -> Result<(), RpcError> {
        let was_ours = self.leased;
        self.leased = true;
        self.sessions.leases().mark_held(&self.thread.id);
        // The dead holder's open turn was closed in the store; its editor is gone, ours is told.
        for ev in &a.events {
            self.ctx.editor.event(ev, None).await;
        }
        if !was_ours && self.session.is_none() {
            let binding = self
                .ctx
                .store
                .get_binding(&self.thread.id)
                .await
                .map_err(store_error)?;
            if let Some(b) = binding {
                self.thread = b.thread;
                self.pending_handoff = b.pending_handoff;
            }
        }
        Ok(())
    }

    /// Gives the lease back (the actor retires or ends: nothing live is left).
    pub(super) async fn release_lease(&mut self) {
        if !self.leased {
            return;
        }
        self.leased = false;
        self.sessions.leases().mark_released(&self.thread.id);
        let me = self.sessions.leases().me();
        if let Err(e) = self.ctx.store.release_lease(&self.thread.id, &me).await {
            tracing::warn!(thread = %self.thread.id, "cannot release the lease: {e}");
        }
    }

    /// Another window asked for the thread (`to`), or our lease was lost (`None`): the session
    /// stops with `session.exited {reason:"takenOver"}` and the lease goes to the asker.
    pub(super) async fn yield_to(&mut self, events: &mut Events, to: Option<Holder>) {
        let whom = match &to {
            Some(h) => format!(
                "{} (baton pid {})",
                h.client.as_deref().unwrap_or("another editor"),
                h.pid
            ),
            None => "another baton process".into(),
        };
        self.exit_message = Some(format!("the thread moved to another window: {whom}"));
        self.stop_session(events, ExitReason::TakenOver, false)
            .await;
        self.exit_message = None;
        // Handing over checks that the lease is ours, so an actor spawned after the one that
        // held it hands it over just as well.
        if to.is_some() {
            let me = self.sessions.leases().me();
            match self.ctx.store.hand_over_lease(&self.thread.id, &me).await {
                Ok(_) => tracing::info!(thread = %self.thread.id, "handed the thread to {whom}"),
                Err(e) => {
                    tracing::warn!(thread = %self.thread.id, "cannot hand the lease over: {e}")
                }
            }
        }
        self.leased = false;
        self.sessions.leases().mark_released(&self.thread.id);
    }

    /// `thread/takeover`: asks the holder to let go, waits for the lease (bounded), then resumes
    /// the thread's provider session here.
    pub(super) async fn take_over(&mut self, events: &mut Events) -> Result<Thread, RpcError> {
        let me = self.sessions.leases().me();
        let deadline = Instant::now() + TAKEOVER_TIMEOUT;
        loop {
            let claim = self
                .ctx
                .store
                .acquire_lease(&self.thread.id, &me, true)
                .await
                .map_err(store_error)?;
            match claim {
                Claim::Acquired(a) => {
                    self.acquired(a).await?;
                    break;
                }
                Claim::Held(lease) if Instant::now() >= deadline => {
                    let _ = self.ctx.store.cancel_takeover(&self.thread.id, &me).await;
                    let mut e = leased_error(&lease);
                    e.message = format!(
                        "{} did not let go of the thread within {} s; {}",
                        lease.holder.client.as_deref().unwrap_or("the other window"),
                        TAKEOVER_TIMEOUT.as_secs(),
                        e.message
                    );
                    return Err(e);
                }
                Claim::Held(_) => tokio::time::sleep(TAKEOVER_POLL).await,
            }
        }
        self.ensure_session(events).await?;
        Ok(self.thread.clone())
    }
}
