//! The params of an incoming request or notification, parsed only as far as they are read.
//!
//! The reader keeps params as their JSON text ([`RawValue`]); code that looks at them as a
//! [`Value`] (through `Deref`) has them parsed once, on first use. A hot path can read a typed
//! view straight from the text instead ([`Params::view`]), and never builds the `Value` at all:
//! a streamed delta is read that way, without a map per message.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

pub struct Params {
    raw: Option<Box<RawValue>>,
    value: OnceLock<Value>,
}

impl Params {
    /// Params read off the wire, as their text.
    pub fn from_raw(raw: Box<RawValue>) -> Params {
        Params {
            raw: Some(raw),
            value: OnceLock::new(),
        }
    }

    /// Reads a typed view straight from the text (borrowing from it where it can), or from the
    /// value when there is no text.
    pub fn view<'a, T: Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        match &self.raw {
            Some(raw) => serde_json::from_str(raw.get()),
            None => T::deserialize(self.value()),
        }
    }

    /// The params as a value, parsed on first use (params that are not JSON read as `null`,
    /// which cannot happen to text the reader checked).
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| match &self.raw {
            Some(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
            None => Value::Null,
        })
    }

    /// The params as an owned value.
    pub fn into_value(mut self) -> Value {
        match self.value.take() {
            Some(v) => v,
            None => match &self.raw {
                Some(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
                None => Value::Null,
            },
        }
    }
}

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.raw {
            Some(raw) => raw.serialize(s),
            None => self.value().serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Params, D::Error> {
        Box::<RawValue>::deserialize(d).map(Params::from_raw)
    }
}

impl From<Value> for Params {
    fn from(value: Value) -> Params {
        Params {
            raw: None,
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
        match &self.raw {
            Some(raw) => Params::from_raw(raw.clone()),
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
        match &self.raw {
            Some(raw) => write!(f, "{}", raw.get()),
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
        let raw = RawValue::from_string(r#"{"threadId":"t1","n":[1,2]}"#.into()).unwrap();
        let p = Params::from_raw(raw);
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
