//! Jaeger's `OTelTagAdjuster`: OpenTelemetry SDK and library tags that a client reported as
//! span tags (`telemetry.sdk.*`, `otel.library.*`) describe the process, so they are moved
//! to the span's process, which is then kept sorted like every other attribute list.
//! (`otel.library.*` sent by Jaeger-protocol clients was already lifted into the span's
//! scope on ingest; these keys reach here only when they arrived some other way.)

use std::sync::Arc;

use sextant_model::{KeyValue, Resource, Span};

const PROCESS_KEYS: [&str; 5] = [
    "telemetry.sdk.language",
    "telemetry.sdk.name",
    "telemetry.sdk.version",
    "otel.library.name",
    "otel.library.version",
];

fn is_process_key(kv: &KeyValue) -> bool {
    PROCESS_KEYS.contains(&kv.key.as_str())
}

pub fn move_to_process(spans: &mut [Span]) {
    for span in spans.iter_mut() {
        if !span.attributes.iter().any(is_process_key) {
            continue;
        }
        let (moved, kept): (Vec<KeyValue>, Vec<KeyValue>) = std::mem::take(&mut span.attributes)
            .into_iter()
            .partition(is_process_key);
        span.attributes = kept;
        // The resource is shared by the trace's other spans: this span gets its own copy.
        let mut resource = Resource::clone(&span.resource);
        resource.attributes.extend(moved);
        resource.attributes.sort_by(|a, b| a.key.cmp(&b.key));
        span.resource = Arc::new(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_tags_move_from_span_to_process_and_others_stay() {
        let shared = Arc::new(Resource {
            service_name: "svc".into(),
            attributes: vec![KeyValue::new("host", "h1")],
            ..Default::default()
        });
        let mut spans = vec![
            Span {
                attributes: vec![
                    KeyValue::new("telemetry.sdk.name", "opentelemetry"),
                    KeyValue::new("http.method", "GET"),
                    KeyValue::new("telemetry.sdk.language", "python"),
                ],
                resource: shared.clone(),
                ..Default::default()
            },
            Span {
                attributes: vec![KeyValue::new("http.method", "POST")],
                resource: shared.clone(),
                ..Default::default()
            },
        ];
        move_to_process(&mut spans);
        assert_eq!(
            spans[0].attributes,
            vec![KeyValue::new("http.method", "GET")]
        );
        let keys: Vec<&str> = spans[0]
            .resource
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        assert_eq!(
            keys,
            ["host", "telemetry.sdk.language", "telemetry.sdk.name"]
        );
        // The other span's process is untouched and still shared.
        assert!(Arc::ptr_eq(&spans[1].resource, &shared));
        assert_eq!(shared.attributes.len(), 1);
    }
}
