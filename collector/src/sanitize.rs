//! The minimal sanitising every span gets before it is stored, whatever receiver it came
//! through. Kept to what Jaeger does and what storage needs: decoders already guarantee
//! valid UTF-8 and well-formed IDs.

use std::sync::Arc;

use sextant_model::{Resource, Span};

/// What Jaeger's empty-service-name sanitizer substitutes, so searches and the UI have a
/// service to list such spans under.
pub const EMPTY_SERVICE_NAME: &str = "empty-service-name";

/// Replaces empty (or blank) service names with [`EMPTY_SERVICE_NAME`].
///
/// Spans of one batch share their `Resource` through an `Arc`; the replacement keeps that
/// sharing (one new resource per distinct original) instead of cloning per span.
pub fn sanitize(spans: &mut [Span]) {
    let mut last: Option<(*const Resource, Arc<Resource>)> = None;
    for span in spans.iter_mut() {
        if !span.resource.service_name.trim().is_empty() {
            continue;
        }
        let original = Arc::as_ptr(&span.resource);
        let replacement = match &last {
            Some((ptr, fixed)) if *ptr == original => fixed.clone(),
            _ => {
                let mut fixed = (*span.resource).clone();
                fixed.service_name = EMPTY_SERVICE_NAME.to_string();
                let fixed = Arc::new(fixed);
                last = Some((original, fixed.clone()));
                fixed
            }
        };
        span.resource = replacement;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_empty_service_names_sharing_the_resource() {
        let empty = Arc::new(Resource::default());
        let named = Arc::new(Resource {
            service_name: "svc".into(),
            ..Resource::default()
        });
        let mut spans = vec![
            Span {
                resource: empty.clone(),
                ..Span::default()
            },
            Span {
                resource: empty.clone(),
                ..Span::default()
            },
            Span {
                resource: named.clone(),
                ..Span::default()
            },
        ];
        sanitize(&mut spans);
        assert_eq!(spans[0].service_name(), EMPTY_SERVICE_NAME);
        assert!(Arc::ptr_eq(&spans[0].resource, &spans[1].resource));
        assert!(Arc::ptr_eq(&spans[2].resource, &named));
    }
}
