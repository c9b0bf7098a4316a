//! A stable order for every collection inside a span (Jaeger's `SortTagsAndLogFields` /
//! `SortCollections`): attributes by key, events by time then name, resource attributes by
//! key. Identical spans then compare equal for [`super::dedupe`], and outputs are
//! deterministic. Resources are shared (`Arc`) across spans, so each distinct one is
//! sorted once and the sorted copy shared again.

use std::collections::HashMap;
use std::sync::Arc;

use sextant_model::{KeyValue, Resource, Span};

pub fn sort_collections(spans: &mut [Span]) {
    let mut resources: HashMap<*const Resource, Arc<Resource>> = HashMap::new();
    for span in spans.iter_mut() {
        sort_attrs(&mut span.attributes);
        span.events
            .sort_by(|a, b| (a.time_unix_nano, &a.name).cmp(&(b.time_unix_nano, &b.name)));
        for event in &mut span.events {
            sort_attrs(&mut event.attributes);
        }
        for link in &mut span.links {
            sort_attrs(&mut link.attributes);
        }
        let key = Arc::as_ptr(&span.resource);
        let sorted = resources.entry(key).or_insert_with(|| {
            if is_sorted(&span.resource.attributes) {
                span.resource.clone()
            } else {
                let mut r = Resource::clone(&span.resource);
                sort_attrs(&mut r.attributes);
                Arc::new(r)
            }
        });
        span.resource = sorted.clone();
    }
}

fn sort_attrs(attrs: &mut [KeyValue]) {
    if !is_sorted(attrs) {
        // Stable: repeated keys keep their relative order.
        attrs.sort_by(|a, b| a.key.cmp(&b.key));
    }
}

fn is_sorted(attrs: &[KeyValue]) -> bool {
    attrs.windows(2).all(|w| match w {
        [a, b] => a.key <= b.key,
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_attributes_and_shares_sorted_resources() {
        let res = Arc::new(Resource {
            attributes: vec![KeyValue::new("z", 1i64), KeyValue::new("a", 2i64)],
            ..Default::default()
        });
        let span = Span {
            attributes: vec![KeyValue::new("b", "x"), KeyValue::new("a", "y")],
            resource: res,
            ..Default::default()
        };
        let mut spans = vec![span.clone(), span];
        sort_collections(&mut spans);
        assert_eq!(spans[0].attributes[0].key, "a");
        assert_eq!(spans[0].resource.attributes[0].key, "a");
        assert!(Arc::ptr_eq(&spans[0].resource, &spans[1].resource));
    }
}
