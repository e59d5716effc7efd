//! Params in, results out: turning JSON into typed params with errors that name the field.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::rpc::RpcError;

/// Parses params; absent params count as `{}`. Errors are -32602 naming the offending field.
pub fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = if params.is_null() { json!({}) } else { params };
    serde_json::from_value(params).map_err(|e| {
        let msg = e.to_string();
        let err = RpcError::invalid_params(format!("invalid params: {msg}"));
        // serde names the field between backticks: "missing field `input`".
        match msg.split('`').nth(1) {
            Some(field) => err.with_data(json!({ "field": field })),
            None => err,
        }
    })
}

pub fn to_value<T: Serialize>(v: T) -> Result<Value, RpcError> {
    serde_json::to_value(v)
        .map_err(|e| RpcError::internal(format!("cannot serialise the result: {e}")))
}

/// An invalid-params error about `field`.
pub fn invalid(field: &str, msg: impl Into<String>) -> RpcError {
    RpcError::invalid_params(format!("invalid params: {}", msg.into()))
        .with_data(json!({ "field": field }))
}

/// Refuses a provider id no adapter serves (see `provider/list`), naming the field.
pub fn known_provider(
    providers: &crate::provider::Providers,
    id: Option<&baton_protocol::ProviderId>,
) -> Result<(), RpcError> {
    match id {
        Some(id) if providers.kind(id).is_none() => Err(invalid(
            "provider",
            format!("unknown provider `{id}` (provider/list shows the configured ones)"),
        )),
        _ => Ok(()),
    }
}
