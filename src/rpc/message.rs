//! Request ids, errors, and the classification of an incoming JSON value.

use baton_protocol::errors;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JSON-RPC request id: a number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    Number(i64),
    String(String),
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} ({code})")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            errors::METHOD_NOT_FOUND,
            format!("method not found: {method}"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(errors::INTERNAL_ERROR, message)
    }

    pub fn disconnected() -> Self {
        Self::new(super::DISCONNECTED, "the other side disconnected")
    }
}

/// What an incoming JSON value is.
#[derive(Debug, PartialEq)]
pub enum Classified {
    Request {
        id: RequestId,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    Response {
        id: RequestId,
        result: Result<Value, RpcError>,
    },
    /// Not a JSON-RPC message; carries the id when one could be read, and what is wrong.
    Invalid {
        id: Option<RequestId>,
        reason: String,
    },
}

/// Classifies one parsed message.
pub fn classify(value: Value) -> Classified {
    let Value::Object(mut obj) = value else {
        let reason = if value.is_array() {
            "batches are not supported"
        } else {
            "a message must be a JSON object"
        };
        return Classified::Invalid {
            id: None,
            reason: reason.into(),
        };
    };
    let id = match obj.remove("id") {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value::<RequestId>(v) {
            Ok(id) => Some(id),
            Err(_) => {
                return Classified::Invalid {
                    id: None,
                    reason: "id must be a number or a string".into(),
                };
            }
        },
    };
    let params = obj.remove("params").unwrap_or(Value::Null);
    match (obj.remove("method"), id) {
        (Some(Value::String(method)), Some(id)) => Classified::Request { id, method, params },
        (Some(Value::String(method)), None) => Classified::Notification { method, params },
        (Some(_), id) => Classified::Invalid {
            id,
            reason: "method must be a string".into(),
        },
        (None, Some(id)) => {
            if let Some(err) = obj.remove("error") {
                let err = serde_json::from_value::<RpcError>(err)
                    .unwrap_or_else(|e| RpcError::internal(format!("malformed error object: {e}")));
                Classified::Response {
                    id,
                    result: Err(err),
                }
            } else if let Some(result) = obj.remove("result") {
                Classified::Response {
                    id,
                    result: Ok(result),
                }
            } else {
                Classified::Invalid {
                    id: Some(id),
                    reason: "a message with an id needs a method, a result or an error".into(),
                }
            }
        }
        (None, None) => Classified::Invalid {
            id: None,
            reason: "not a request, notification or response".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_every_kind() {
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","id":1,"method":"a","params":{}})),
            Classified::Request {
                id: RequestId::Number(1),
                ..
            }
        ));
        assert!(matches!(
            classify(json!({"method":"n","emittedAtMs":5})),
            Classified::Notification { .. }
        ));
        assert!(matches!(
            classify(json!({"id":"x","result":null})),
            Classified::Response {
                result: Ok(Value::Null),
                ..
            }
        ));
        assert!(matches!(
            classify(json!({"id":2,"error":{"code":-1,"message":"m"}})),
            Classified::Response { result: Err(_), .. }
        ));
        assert!(matches!(
            classify(json!([1])),
            Classified::Invalid { id: None, .. }
        ));
        assert!(matches!(
            classify(json!({"id":3})),
            Classified::Invalid {
                id: Some(RequestId::Number(3)),
                ..
            }
        ));
        assert!(matches!(
            classify(json!({"id":{"a":1},"method":"m"})),
            Classified::Invalid { .. }
        ));
    }
}
