//! Sessions: one actor per baton thread, and the registry that finds or creates them.
//!
//! Every operation on a thread goes through its actor's bounded command channel, so a thread's
//! state (binding, generation, active turn, approvals, idle timer) has exactly one owner and
//! commands on one thread are applied in the order they arrived.

mod actor;
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
}

impl Context {
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// A handle to one thread's actor.
#[derive(Clone)]
pub struct ActorHandle {
    tx: mpsc::Sender<Command>,
}

impl ActorHandle {
    /// Sends a command built around a reply channel and waits for the reply.
    pub async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, RpcError>>) -> Command,
    ) -> Result<T, RpcError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| RpcError::new(errors::THREAD_NOT_FOUND, "the thread was closed"))?;
        rx.await
            .map_err(|_| RpcError::new(errors::THREAD_NOT_FOUND, "the thread was closed"))?
    }
}

/// The registry of live actors.
#[derive(Clone)]
pub struct Sessions {
    ctx: Context,
    actors: Arc<Mutex<HashMap<String, ActorHandle>>>,
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

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    fn actors(&self) -> std::sync::MutexGuard<'_, HashMap<String, ActorHandle>> {
        // See provider::codex::server::lock: a poisoned map is still a valid map.
        self.actors.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The actor of an existing thread, spawned from its persisted binding when not live.
    pub async fn get(&self, thread_id: &str) -> Result<ActorHandle, RpcError> {
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
                provider: p.provider,
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
                let _ = h.call(|reply| Command::Delete { reply }).await;
                self.forget(&id);
                Err(e)
            }
        }
    }

    /// Drops the registry entry (the actor has ended).
    pub fn forget(&self, thread_id: &str) {
        self.actors().remove(thread_id);
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
