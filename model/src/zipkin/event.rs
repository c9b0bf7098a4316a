//! Zipkin annotation → [`Event`].
//!
//! A Zipkin annotation is a timestamp and a string. OpenTelemetry exporters squeeze an
//! event's attributes into that string in one of three shapes, which are unpacked here so
//! that the attributes become typed event attributes again:
//!
//! * `{"name": {"k": v, …}}` — the Python SDK (`json.dumps({event.name: attributes})`);
//! * `name: {"k": v, …}` — the Go SDK (`fmt.Sprintf("%s: %s", name, json)`);
//! * `name|{"k": v, …}|dropped` — the collector's Zipkin exporter.
//!
//! Anything else (the usual Zipkin annotation such as `"ws"` or `"retry"`) is the event
//! name as is. A shape is only taken when its JSON part parses as an object, so ordinary
//! text that merely looks similar stays a name.

use serde_json::{Map, Value};

use crate::span::{AnyValue, Event, KeyValue};

pub(crate) fn annotation_to_event(value: &str, time_unix_nano: u64) -> Event {
    let (name, attributes, dropped_attributes_count) = match unpack(value) {
        Some((name, attrs, dropped)) => (name, attributes(attrs), dropped),
        None => (value.to_string(), Vec::new(), 0),
    };
    Event {
        time_unix_nano,
        name,
        attributes,
        dropped_attributes_count,
    }
}

/// Recognises the exporter shapes; `None` means "plain name".
fn unpack(value: &str) -> Option<(String, Map<String, Value>, u32)> {
    // Cheap pre-checks keep plain annotations away from the JSON parser.
    if !value.ends_with('}') && !value.contains("}|") {
        return None;
    }
    if value.starts_with('{') {
        let outer = serde_json::from_str::<Map<String, Value>>(value).ok()?;
        if outer.len() != 1 {
            return None;
        }
        return match outer.into_iter().next()? {
            (name, Value::Object(attrs)) => Some((name, attrs, 0)),
            _ => None,
        };
    }
    if let Some((name, rest)) = value.split_once('|') {
        if let Some((json, dropped)) = rest.rsplit_once('|') {
            if let (Ok(attrs), Ok(dropped)) = (
                serde_json::from_str::<Map<String, Value>>(json),
                dropped.parse::<u32>(),
            ) {
                return Some((name.to_string(), attrs, dropped));
            }
        }
    }
    let at = value.find(": {")?;
    let json = value.get(at.checked_add(2)?..)?;
    let attrs = serde_json::from_str::<Map<String, Value>>(json).ok()?;
    Some((value.get(..at)?.to_string(), attrs, 0))
}

fn attributes(map: Map<String, Value>) -> Vec<KeyValue> {
    map.into_iter()
        .map(|(key, value)| KeyValue {
            key,
            value: json_to_any(value),
        })
        .collect()
}

fn json_to_any(value: Value) -> AnyValue {
    match value {
        Value::Null => AnyValue::Empty,
        Value::Bool(b) => AnyValue::Bool(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AnyValue::Int(i),
            None => n.as_f64().map(AnyValue::Double).unwrap_or(AnyValue::Empty),
        },
        Value::String(s) => AnyValue::Str(s),
        Value::Array(a) => AnyValue::Array(a.into_iter().map(json_to_any).collect()),
        Value::Object(o) => AnyValue::KvList(attributes(o)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(v: &str) -> Event {
        annotation_to_event(v, 7)
    }

    #[test]
    fn plain_annotations_are_names() {
        for v in [
            "ws",
            "retry",
            "",
            "a|b|c",
            "x: y",
            "{not json}",
            "{\"a\":1,\"b\":2}",
        ] {
            let e = ev(v);
            assert_eq!(e.name, v);
            assert!(e.attributes.is_empty(), "{v}");
            assert_eq!(e.time_unix_nano, 7);
        }
    }

    #[test]
    fn python_sdk_shape() {
        let e = ev(
            r#"{"exception": {"exception.escaped": "False", "exception.message": "boom", "n": 3, "f": 1.5, "l": [1, "a"]}}"#,
        );
        assert_eq!(e.name, "exception");
        assert!(e
            .attributes
            .contains(&KeyValue::new("exception.message", "boom")));
        assert!(e.attributes.contains(&KeyValue::new("n", 3i64)));
        assert!(e.attributes.contains(&KeyValue::new("f", 1.5)));
        assert!(e.attributes.contains(&KeyValue {
            key: "l".into(),
            value: AnyValue::Array(vec![AnyValue::Int(1), AnyValue::Str("a".into())]),
        }));
        assert_eq!(
            ev(r#"{"a\"b": {}}"#).name,
            "a\"b",
            "escaped names are unescaped"
        );
    }

    #[test]
    fn go_sdk_shape() {
        let e = ev(r#"cache miss: {"key":"user:42"}"#);
        assert_eq!(e.name, "cache miss");
        assert_eq!(e.attributes, vec![KeyValue::new("key", "user:42")]);
    }

    #[test]
    fn collector_exporter_shape() {
        let e = ev(r#"message|{"id":1,"note":"a|b"}|2"#);
        assert_eq!(e.name, "message");
        assert_eq!(e.dropped_attributes_count, 2);
        assert!(e.attributes.contains(&KeyValue::new("note", "a|b")));
        // A non-numeric drop count means it was not that shape.
        assert_eq!(ev(r#"m|{"id":1}|x"#).name, r#"m|{"id":1}|x"#);
    }
}
