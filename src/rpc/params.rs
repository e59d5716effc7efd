//! The params of an incoming request or notification, parsed only as far as they are read.
//!
//! The reader keeps params as their JSON text ([`RawValue`]); code that looks at them as a
//! [`Value`] (through `Deref`) has them parsed once, on first use. A hot path can read a typed
//! view straight from the text instead ([`Params::view`]), and never builds the `Value` at all:
//! a streamed delta is read that way, without a map per message.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

pub struct Params {
    /// The message's text and the span of it the params are.
    text: Option<(String, Range<usize>)>,
    value: OnceLock<Value>,
}

impl Params {
    /// Params read off the wire: `span` of the message's `text` (which is kept whole, so the
    /// params need no copy of their own).
    pub fn from_text(text: String, span: Range<usize>) -> Params {
        if text.get(span.clone()).is_none() {
            // Cannot happen to a span the reader took from the text; no params beat wrong ones.
            tracing::error!(?span, len = text.len(), "params outside their message");
            return Params::from(Value::Null);
        }
        Params {
            text: Some((text, span)),
            value: OnceLock::new(),
        }
    }

    /// Reads a typed view straight from the text (borrowing from it where it can), or from the
    /// value when there is no text.
    pub fn view<'a, T: Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        match self.text() {
            Some(text) => serde_json::from_str(text),
            None => T::deserialize(self.value()),
        }
    }

    /// The params' JSON text, when they were read off the wire.
    pub fn text(&self) -> Option<&str> {
        self.text
            .as_ref()
            .and_then(|(text, span)| text.get(span.clone()))
    }

    /// The params as a value, parsed on first use (params that are not JSON read as `null`,
    /// which cannot happen to text the reader checked).
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| match self.text() {
            Some(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            None => Value::Null,
        })
    }

    /// The params as an owned value.
    pub fn into_value(mut self) -> Value {
        match self.value.take() {
            Some(v) => v,
            None => match self.text() {
                Some(text) => serde_json::from_str(text).unwrap_or(Value::Null),
                None => Value::Null,
            },
        }
    }
}

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.text().map(serde_json::from_str::<&RawValue>) {
            Some(Ok(raw)) => raw.serialize(s),
            _ => self.value().serialize(s),
        }
    }
}

impl From<Value> for Params {
    fn from(value: Value) -> Params {
        Params {
            text: None,
            value: OnceLock::from(value),
        }
    }
}

impl Deref for Params {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.value()
    }
}

impl Clone for Params {
    fn clone(&self) -> Params {
        match &self.text {
            Some((text, span)) => Params::from_text(text.clone(), span.clone()),
            None => Params::from(self.value().clone()),
        }
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Params) -> bool {
        self.value() == other.value()
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.text() {
            Some(text) => write!(f, "{text}"),
            None => write!(f, "{}", self.value()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, PartialEq, Debug)]
    struct View<'a> {
        #[serde(rename = "threadId")]
        thread_id: &'a str,
    }

    #[test]
    fn raw_params_read_as_a_value_and_as_a_view() {
        let text = r#"{"method":"m","params":{"threadId":"t1","n":[1,2]}}"#;
        let p = Params::from_text(text.into(), 23..text.len() - 1);
        assert_eq!(p.text(), Some(r#"{"threadId":"t1","n":[1,2]}"#));
        assert_eq!(p.view::<View>().unwrap(), View { thread_id: "t1" });
        assert_eq!(p["n"], json!([1, 2]));
        assert_eq!(p.clone(), p);
        assert_eq!(p.into_value(), json!({"threadId": "t1", "n": [1, 2]}));
    }

    #[test]
    fn value_params_read_the_same() {
        let p = Params::from(json!({"threadId": "t2"}));
        assert_eq!(p.view::<View>().unwrap(), View { thread_id: "t2" });
        assert_eq!(p.get("threadId"), Some(&json!("t2")));
        assert_eq!(format!("{p:?}"), r#"{"threadId":"t2"}"#);
        assert_eq!(p.into_value(), json!({"threadId": "t2"}));
    }
}
