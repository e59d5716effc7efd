//! `provider/list`, and the provider list of `initialize`: both answer from the probe cache in
//! the store without running any provider binary, then probe what the cache lacked in the
//! background and send `provider/changed` when that changes what the editor was told.

use baton_protocol::{ProviderInfo, ProviderListParams, ProviderListResponse};
use serde_json::Value;

use super::params;
use crate::provider::discovery::{self, FileKey, Probed};
use crate::rpc::RpcError;
use crate::session::{Context, Sessions};
use crate::store::ProbeRecord;

pub async fn list(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let _: ProviderListParams = params::parse(p)?;
    let ctx = sessions.context().clone();
    let (providers, stale) = cached(&ctx).await;
    refresh(ctx.clone(), providers.clone(), stale);
    params::to_value(ProviderListResponse {
        providers,
        config_errors: ctx.providers.config_errors(),
    })
}

/// The providers as the probe cache knows them (no binary runs), and the files to probe.
pub async fn cached(ctx: &Context) -> (Vec<ProviderInfo>, Vec<FileKey>) {
    let records = ctx.store.probes().await.unwrap_or_else(|e| {
        tracing::warn!("cannot read the provider probe cache: {e}");
        Vec::new()
    });
    let found = discovery::from_cache(ctx.providers.probes(), |key| {
        records
            .iter()
            .find(|r| r.path == key.path && r.size == key.size && r.mtime_ns == key.mtime_ns)
            .map(|r| Probed {
                version: r.version.clone(),
                error: r.error.clone(),
            })
    });
    let mut stale: Vec<FileKey> = found.iter().filter_map(|(_, k)| k.clone()).collect();
    stale.dedup();
    let mut providers: Vec<ProviderInfo> = found.into_iter().map(|(info, _)| info).collect();
    providers.extend(ctx.providers.acp_infos());
    (providers, stale)
}

/// Probes `stale` in the background, records the results, and notifies `provider/changed`
/// when the list differs from `reported`.
pub fn refresh(ctx: Context, reported: Vec<ProviderInfo>, stale: Vec<FileKey>) {
    if stale.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let tasks: Vec<_> = stale
            .into_iter()
            .map(|key| {
                tokio::spawn(async move {
                    let probed = discovery::probe_file(&key).await;
                    (key, probed)
                })
            })
            .collect();
        for task in tasks {
            let Ok((key, probed)) = task.await else {
                continue;
            };
            let record = ProbeRecord {
                path: key.path,
                size: key.size,
                mtime_ns: key.mtime_ns,
                version: probed.version,
                error: probed.error,
                probed_at: crate::store::now_ms(),
            };
            if let Err(e) = ctx.store.put_probe(record).await {
                tracing::warn!("cannot cache a provider probe: {e}");
            }
        }
        let (now, _) = cached(&ctx).await;
        if now != reported {
            tracing::info!("provider probes changed the provider list");
            ctx.editor.providers_changed(now).await;
        }
    });
}
