//! Params in, results out: turning JSON into typed params with errors that name the field.

use baton_protocol::errors;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::rpc::RpcError;

/// Parses params; absent params count as `{}`. Errors are -32602 naming the offending field.
pub fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = if params.is_null() { json!({}) } else { params };
    serde_json::from_value(params).map_err(|e| {
        let msg = e.to_string();
        let field = msg.split('`').nth(1).map(str::to_string);
        let mut err = RpcError::new(errors::INVALID_PARAMS, format!("invalid params: {msg}"));
        if let Some(f) = field {
            err.data = Some(json!({ "field": f }));
        }
        err
    })
}

pub fn to_value<T: Serialize>(v: T) -> Result<Value, RpcError> {
    serde_json::to_value(v)
        .map_err(|e| RpcError::internal(format!("cannot serialise the result: {e}")))
}

pub fn invalid(field: &str, msg: impl Into<String>) -> RpcError {
    let mut err = RpcError::new(
        errors::INVALID_PARAMS,
        format!("invalid params: {}", msg.into()),
    );
    err.data = Some(json!({ "field": field }));
    err
}
