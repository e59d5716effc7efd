//! Request ids, errors, and the classification of an incoming JSON value.
//!
//! Classification is separate from the peer so that the rules (what is a request, what is a
//! response, what is garbage) can be tested on plain values without any I/O.

use baton_protocol::errors;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::Params;

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
            // Quoted, so that the string id "1" and the number 1 read differently in logs.
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

    /// Attaches structured detail for the other side.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn parse_error(message: impl Into<String>) -> Self {
        Self::new(errors::PARSE_ERROR, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(errors::INVALID_REQUEST, message)
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(errors::INVALID_PARAMS, message)
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
        params: Params,
    },
    Notification {
        method: String,
        params: Params,
    },
    /// A response. Its id is `None` when the other side answered something it could not read
    /// (`"id": null`); such a response matches nothing, and like every response it must never
    /// be answered (two peers replying to each other's errors would loop forever).
    Response {
        id: Option<RequestId>,
        result: Result<Value, RpcError>,
    },
    /// Not a JSON-RPC message; carries the id when one could be read, and what is wrong.
    Invalid {
        id: Option<RequestId>,
        reason: String,
    },
}

/// The members of a message that say what it is, read straight from its bytes: no map of the
/// whole message is built, and members nobody reads (`jsonrpc`, Codex's `emittedAtMs`) are
/// skipped. A member given as `null` is `Some(Value::Null)`, apart from `params`.
struct Envelope {
    id: Option<Value>,
    method: Option<Value>,
    params: Option<Params>,
    result: Option<Value>,
    error: Option<Value>,
}

/// An [`Envelope`] as read from a message's text: the params are the part of the text they
/// span, kept as they are.
#[derive(Deserialize)]
struct WireEnvelope<'a> {
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    method: Option<Value>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
    #[serde(default, deserialize_with = "present")]
    result: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    error: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Parses and classifies one message. Anything the envelope cannot take (not an object, a
/// member given twice) is parsed as a plain value, so that the answer is the same as
/// [`classify`]'s.
pub fn parse(bytes: Vec<u8>) -> serde_json::Result<Classified> {
    // A derived struct would also take an array (its members by position).
    let object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let bytes = match String::from_utf8(bytes) {
        Ok(text) if object => match read_envelope(text) {
            Ok(envelope) => return Ok(classify_envelope(envelope)),
            Err(text) => text.into_bytes(),
        },
        Ok(text) => text.into_bytes(),
        Err(e) => e.into_bytes(),
    };
    serde_json::from_slice::<Value>(&bytes).map(classify)
}

/// The envelope of a message, its params kept in (and as) its text; the text back when the
/// envelope cannot take it.
fn read_envelope(text: String) -> Result<Envelope, String> {
    let (id, method, span, result, error) = match serde_json::from_str::<WireEnvelope<'_>>(&text) {
        Ok(wire) => {
            let span = wire.params.map(|p| {
                // The params are a slice of `text`: where it starts, and how long it is.
                let start = p.get().as_ptr() as usize - text.as_ptr() as usize;
                start..start + p.get().len()
            });
            (wire.id, wire.method, span, wire.result, wire.error)
        }
        Err(_) => return Err(text),
    };
    Ok(Envelope {
        id,
        method,
        params: span.map(|span| Params::from_text(text, span)),
        result,
        error,
    })
}

/// Classifies one parsed message. A missing `jsonrpc` member and unknown extra members are
/// accepted, because Codex omits the former and adds `emittedAtMs` to notifications.
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
    classify_envelope(Envelope {
        id: obj.remove("id"),
        method: obj.remove("method"),
        params: obj.remove("params").map(Params::from),
        result: obj.remove("result"),
        error: obj.remove("error"),
    })
}

fn classify_envelope(env: Envelope) -> Classified {
    let id = match env.id {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value::<RequestId>(v) {
            Ok(id) => Some(id),
            Err(_) => {
                return Classified::Invalid {
                    id: None,
                    reason: "id must be an integer or a string".into(),
                };
            }
        },
    };
    let params = env.params.unwrap_or_else(|| Params::from(Value::Null));
    match (env.method, id) {
        (Some(Value::String(method)), Some(id)) => Classified::Request { id, method, params },
        (Some(Value::String(method)), None) => Classified::Notification { method, params },
        (Some(_), id) => Classified::Invalid {
            id,
            reason: "method must be a string".into(),
        },
        (None, id) => {
            if let Some(err) = env.error {
                let err = serde_json::from_value::<RpcError>(err)
                    .unwrap_or_else(|e| RpcError::internal(format!("malformed error object: {e}")));
                Classified::Response {
                    id,
                    result: Err(err),
                }
            } else if let Some(result) = env.result {
                Classified::Response {
                    id,
                    result: Ok(result),
                }
            } else {
                Classified::Invalid {
                    id,
                    reason: "not a request, notification or response".into(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn classifies_every_kind() {
        let cases = [
            (
                json!({"jsonrpc":"2.0","id":1,"method":"a","params":{"x":1}}),
                Classified::Request {
                    id: RequestId::Number(1),
                    method: "a".into(),
                    params: json!({"x":1}).into(),
                },
            ),
            (
                json!({"method":"n","emittedAtMs":5}),
                Classified::Notification {
                    method: "n".into(),
                    params: Value::Null.into(),
                },
            ),
            (
                json!({"id":"x","result":null}),
                Classified::Response {
                    id: Some(RequestId::String("x".into())),
                    result: Ok(Value::Null),
                },
            ),
            (
                json!({"id":2,"error":{"code":-1,"message":"m"}}),
                Classified::Response {
                    id: Some(RequestId::Number(2)),
                    result: Err(RpcError::new(-1, "m")),
                },
            ),
            (
                json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"p"}}),
                Classified::Response {
                    id: None,
                    result: Err(RpcError::new(-32700, "p")),
                },
            ),
            (
                json!([1]),
                Classified::Invalid {
                    id: None,
                    reason: "batches are not supported".into(),
                },
            ),
            (
                json!(3),
                Classified::Invalid {
                    id: None,
                    reason: "a message must be a JSON object".into(),
                },
            ),
            (
                json!({"id":3}),
                Classified::Invalid {
                    id: Some(RequestId::Number(3)),
                    reason: "not a request, notification or response".into(),
                },
            ),
            (
                json!({"result":1}),
                Classified::Response {
                    id: None,
                    result: Ok(json!(1)),
                },
            ),
            (
                json!({"id":4,"method":7}),
                Classified::Invalid {
                    id: Some(RequestId::Number(4)),
                    reason: "method must be a string".into(),
                },
            ),
            (
                json!({"id":{"a":1},"method":"m"}),
                Classified::Invalid {
                    id: None,
                    reason: "id must be an integer or a string".into(),
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(classify(input.clone()), expected, "{input}");
            let bytes = serde_json::to_vec(&input).unwrap();
            assert_eq!(parse(bytes).unwrap(), expected, "{input}");
        }
    }

    /// Reading a message's members straight from its bytes says the same as classifying its
    /// value, including for what the envelope cannot take; only broken JSON is an error.
    #[test]
    fn parse_agrees_with_classify() {
        let texts = [
            r#"{"id":1,"id":2,"method":"m"}"#,
            r#"{"method":"a","method":"b","params":[1]}"#,
            r#"{"id":1,"method":"m","params":null}"#,
            r#"{"id":1.5,"method":"m"}"#,
            r#"{"id":-7,"method":"m","params":{"a":{"b":[null,true]}}}"#,
            r#"{"id":1,"result":{"x":"\u00e9\n"},"jsonrpc":"2.0"}"#,
            r#"{"id":1,"error":{"code":"x"}}"#,
            r#"{"id":1,"error":null}"#,
            r#"{"id":1,"result":1,"error":{"code":1,"message":"e"}}"#,
            r#"{"method":null}"#,
            r#"{"method":"n","params":"text","emittedAtMs":1,"extra":{"deep":[1,2,3]}}"#,
            r#"{}"#,
            r#""text""#,
            r#"null"#,
            r#"[{"id":1,"method":"m"}]"#,
        ];
        for text in texts {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(parse(text.into()).unwrap(), classify(value), "{text}");
        }
        for broken in [r#"{"id":1,"method":"m""#, "", "{]", r#"{"a":01}"#] {
            assert!(parse(broken.into()).is_err(), "{broken}");
        }
    }

    #[test]
    fn errors_serialise_without_empty_data() {
        assert_eq!(
            serde_json::to_value(RpcError::invalid_params("x")).unwrap(),
            json!({"code": -32602, "message": "x"})
        );
        assert_eq!(
            serde_json::to_value(RpcError::internal("y").with_data(json!(1))).unwrap(),
            json!({"code": -32603, "message": "y", "data": 1})
        );
        assert_eq!(RpcError::disconnected().code, crate::rpc::DISCONNECTED);
        assert_eq!(RequestId::String("1".into()).to_string(), "\"1\"");
        assert_eq!(RequestId::Number(1).to_string(), "1");
    }
}
