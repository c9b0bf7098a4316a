//! Jaeger's `IPTagAdjuster` / `NormalizeIPAttributes`: old Jaeger clients report the IPv4
//! tags `ip` and `peer.ipv4` as a 32-bit integer; the UI wants the dotted form.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use sextant_model::{AnyValue, KeyValue, Resource, Span};

const IP_KEYS: [&str; 2] = ["ip", "peer.ipv4"];

pub fn normalize_ip_attributes(spans: &mut [Span]) {
    let mut resources: HashMap<*const Resource, Arc<Resource>> = HashMap::new();
    for span in spans.iter_mut() {
        fix(&mut span.attributes);
        let key = Arc::as_ptr(&span.resource);
        let fixed = resources.entry(key).or_insert_with(|| {
            if span.resource.attributes.iter().any(needs_fix) {
                let mut r = Resource::clone(&span.resource);
                fix(&mut r.attributes);
                Arc::new(r)
            } else {
                span.resource.clone()
            }
        });
        span.resource = fixed.clone();
    }
}

fn needs_fix(kv: &KeyValue) -> bool {
    IP_KEYS.contains(&kv.key.as_str()) && matches!(kv.value, AnyValue::Int(_))
}

fn fix(attrs: &mut [KeyValue]) {
    for kv in attrs.iter_mut().filter(|kv| needs_fix(kv)) {
        if let AnyValue::Int(v) = kv.value {
            // Go's `uint32(v)`: the low 32 bits, whatever the sign.
            let ip = Ipv4Addr::from(v as u32);
            kv.value = AnyValue::Str(ip.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ips_become_dotted() {
        let mut spans = vec![Span {
            attributes: vec![
                KeyValue::new("peer.ipv4", 0x7f00_0001i64),
                KeyValue::new("port", 80i64),
            ],
            resource: Arc::new(Resource {
                attributes: vec![KeyValue::new("ip", 0x0a00_0002i64)],
                ..Default::default()
            }),
            ..Default::default()
        }];
        normalize_ip_attributes(&mut spans);
        assert_eq!(spans[0].attributes[0].value, AnyValue::from("127.0.0.1"));
        assert_eq!(spans[0].attributes[1].value, AnyValue::Int(80));
        assert_eq!(
            spans[0].resource.attributes[0].value,
            AnyValue::from("10.0.0.2")
        );
    }
}
