//! `provider/list`.

use baton_protocol::{ProviderListParams, ProviderListResponse};
use serde_json::Value;

use super::params;
use crate::rpc::RpcError;
use crate::session::Sessions;

pub async fn list(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let _: ProviderListParams = params::parse(p)?;
    let providers = sessions.context().providers.list().await;
    let config_errors = sessions.context().providers.config_errors();
    params::to_value(ProviderListResponse {
        providers,
        config_errors,
    })
}
