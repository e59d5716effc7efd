//! Sessions: one actor per baton thread, and the registry that finds or creates them.
//!
//! Every operation on a thread goes through its actor's bounded command channel, so a thread's
//! state (binding, generation, active turn, approvals, idle timer) has exactly one owner and
//! commands on one thread are applied in the order they arrived.
//!
//! Actors live only while they own something live (a session, a turn, a pending ask): one that
//! is stopped and idle retires, and the registry spawns a fresh one from the persisted binding
//! on the next command ([`Sessions::call`]).

mod actor;
pub mod budget;
mod handoff;
mod lease;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_protocol::{Thread, ThreadStartParams, errors};
use tokio::sync::{mpsc, oneshot};

use crate::editor::Editor;
use crate::provider::Providers;
use crate::rpc::RpcError;
use crate::store::{NewThread, Store, StoreError};
pub use actor::Command;
pub use lease::{Leases, run_heartbeat};

/// What actors share: where to persist, whom to tell, what to drive.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub editor: Editor,
    pub providers: Providers,
    pub idle_timeout: Arc<std::sync::atomic::AtomicU64>,
    /// Seconds a running turn may go without a provider message (0 = forever).
    pub turn_inactivity_timeout: Arc<std::sync::atomic::AtomicU64>,
}

impl Context {
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub fn turn_inactivity_timeout(&self) -> Duration {
        Duration::from_secs(
            self.turn_inactivity_timeout
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }
}

/// A handle to one thread's actor.
#[derive(Clone)]
struct ActorHandle {
    tx: mpsc::Sender<Command>,
}

/// The reply channel of a command.
pub type Reply<T> = oneshot::Sender<Result<T, RpcError>>;

fn closed() -> RpcError {
    RpcError::new(errors::THREAD_NOT_FOUND, "the thread was closed")
}

impl ActorHandle {
    /// Sends a command built around a reply channel and waits for the reply.
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, RpcError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}

/// How often a command is resent after finding its actor retired. One resend reaches the
/// fresh actor (a retiring actor leaves the registry before it closes its inbox); the bound is
/// only a guard against looping.
const SEND_ATTEMPTS: usize = 3;

/// The registry of live actors.
#[derive(Clone)]
pub struct Sessions {
    ctx: Context,
    actors: Arc<Mutex<HashMap<String, ActorHandle>>>,
    budget: Arc<budget::Budget>,
    leases: Leases,
}

pub fn store_error(e: StoreError) -> RpcError {
    match e {
        StoreError::NotFound(id) => {
            RpcError::new(errors::THREAD_NOT_FOUND, format!("thread not found: {id}"))
        }
        other => RpcError::new(errors::STORE_ERROR, format!("store error: {other}")),
    }
}

impl Sessions {
    pub fn new(ctx: Context) -> Self {
        Sessions {
            ctx,
            actors: Arc::new(Mutex::new(HashMap::new())),
            budget: Arc::new(budget::Budget::new(budget::DEFAULT_MAX_LIVE)),
            leases: Leases::default(),
        }
    }

    /// This process's leases (which threads it drives, and who it is to other windows).
    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    /// Sends a command to the thread's actor only if it is live; the command comes back when
    /// there is none.
    pub async fn send_live(&self, thread_id: &str, cmd: Command) -> Result<(), Command> {
        let h = self.actors().get(thread_id).cloned();
        match h {
            Some(h) => h.tx.send(cmd).await.map_err(|e| e.0),
            None => Err(cmd),
        }
    }

    /// The live-session budget (`maxLiveSessions`).
    pub fn budget(&self) -> &budget::Budget {
        &self.budget
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    fn actors(&self) -> std::sync::MutexGuard<'_, HashMap<String, ActorHandle>> {
        // See provider::codex::server::lock: a poisoned map is still a valid map.
        crate::sync::lock(&self.actors)
    }

    /// Sends a command built around a reply channel to the thread's actor (spawned from the
    /// persisted binding when not live) and waits for the reply.
    pub async fn call<T>(
        &self,
        thread_id: &str,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, RpcError> {
        let (tx, rx) = oneshot::channel();
        self.send(thread_id, make(tx)).await.map_err(|(_, e)| e)?;
        rx.await.map_err(|_| closed())?
    }

    /// Delivers a command to the thread's actor. An actor that retired between lookup and send
    /// hands the command back through its closed inbox; it then goes to the actor the registry
    /// spawns next. On failure the command comes back with the reason, unsent.
    async fn send(&self, thread_id: &str, mut cmd: Command) -> Result<(), (Command, RpcError)> {
        for _ in 0..SEND_ATTEMPTS {
            let h = match self.get(thread_id).await {
                Ok(h) => h,
                Err(e) => return Err((cmd, e)),
            };
            match h.tx.send(cmd).await {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(back)) => {
                    self.forget(thread_id, &h.tx);
                    cmd = back;
                }
            }
        }
        Err((cmd, closed()))
    }

    /// The actor of an existing thread, spawned from its persisted binding when not live.
    async fn get(&self, thread_id: &str) -> Result<ActorHandle, RpcError> {
        if let Some(h) = self.actors().get(thread_id) {
            return Ok(h.clone());
        }
        let binding = self
            .ctx
            .store
            .get_binding(thread_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                RpcError::new(
                    errors::THREAD_NOT_FOUND,
                    format!("thread not found: {thread_id}"),
                )
            })?;
        let mut actors = self.actors();
        if let Some(h) = actors.get(thread_id) {
            return Ok(h.clone());
        }
        let h = actor::spawn(
            self.ctx.clone(),
            binding.thread,
            binding.pending_handoff,
            self.clone(),
        );
        actors.insert(thread_id.to_string(), h.clone());
        Ok(h)
    }

    /// Creates a thread and starts its provider session at once. When the provider cannot start,
    /// the thread is removed again and the error says why.
    pub async fn create(&self, p: ThreadStartParams) -> Result<Thread, RpcError> {
        let id = uuid::Uuid::now_v7().to_string();
        let thread = self
            .ctx
            .store
            .create_thread(NewThread {
                id: id.clone(),
                provider: p
                    .provider
                    .unwrap_or_else(|| self.ctx.providers.config().default_provider.clone()),
                model: p.model,
                cwd: p.cwd,
                title: p.title,
                approval_policy: p.approval_policy,
                sandbox: p.sandbox,
            })
            .await
            .map_err(store_error)?;
        let h = actor::spawn(self.ctx.clone(), thread, None, self.clone());
        self.actors().insert(id.clone(), h.clone());
        match h.call(|reply| Command::Start { reply }).await {
            Ok(t) => Ok(t),
            Err(e) => {
                // The actor may have retired after the failed start; the registry finds it.
                let _ = self.call(&id, |reply| Command::Delete { reply }).await;
                Err(e)
            }
        }
    }

    /// Drops the registry entry of the actor behind `tx` (it has ended or is retiring); an
    /// entry that already names a newer actor stays.
    fn forget(&self, thread_id: &str, tx: &mpsc::Sender<Command>) {
        let mut actors = self.actors();
        if actors.get(thread_id).is_some_and(|h| h.tx.same_channel(tx)) {
            actors.remove(thread_id);
        }
    }

    /// Whether the thread has a live actor (for tests of retirement).
    #[cfg(test)]
    fn is_live(&self, thread_id: &str) -> bool {
        self.actors().contains_key(thread_id)
    }

    /// Soft-stops every live session (orderly shutdown); bindings and cursors are kept.
    pub async fn shutdown_all(&self) {
        let handles: Vec<ActorHandle> = self.actors().drain().map(|(_, h)| h).collect();
        let stops = handles.into_iter().map(|h| async move {
            let _ = h.call(|reply| Command::Shutdown { reply }).await;
        });
        futures_join_all(stops).await;
    }
}

/// Runs futures concurrently and waits for all (a tiny join_all, to avoid a dependency).
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(
    futs: impl IntoIterator<Item = F>,
) {
    let mut set = tokio::task::JoinSet::new();
    for f in futs {
        set.spawn(f);
    }
    while set.join_next().await.is_some() {}
}
