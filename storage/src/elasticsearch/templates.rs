//! Index templates with Jaeger's mappings (`jaeger-span-*`, `jaeger-service-*`,
//! `jaeger-dependencies-*`): keyword fields, nested tags/logs/references, `tag.*` object
//! fields as keywords. Rendered per cluster flavour: legacy `_template` bodies for
//! Elasticsearch 7 and OpenSearch 1–2, composable `_index_template` bodies (with priority)
//! for Elasticsearch 8+ and OpenSearch 3; ILM (Elasticsearch) or ISM (OpenSearch) rollover
//! settings when asked for.

use serde_json::{json, Value};

use super::client::Flavor;
use super::indices::{IndexKind, IndexNames};

/// What the templates depend on besides the flavour.
#[derive(Clone, Debug)]
pub struct TemplateOptions {
    pub shards: u32,
    pub replicas: u32,
    pub priority_span: u32,
    pub priority_service: u32,
    pub priority_dependencies: u32,
    /// Rollover policy name when ILM/ISM is used.
    pub ilm_policy: Option<String>,
}

fn keyword() -> Value {
    json!({"type": "keyword", "ignore_above": 256})
}

fn nested_kv() -> Value {
    json!({
        "type": "nested",
        "dynamic": false,
        "properties": {"key": keyword(), "value": keyword(), "type": keyword()}
    })
}

fn dynamic_tag_templates() -> Value {
    json!([
        {"span_tags_map": {"mapping": keyword(), "path_match": "tag.*"}},
        {"process_tags_map": {"mapping": keyword(), "path_match": "process.tag.*"}}
    ])
}

fn span_mappings() -> Value {
    json!({
        "dynamic_templates": dynamic_tag_templates(),
        "properties": {
            "traceID": keyword(),
            "parentSpanID": keyword(),
            "spanID": keyword(),
            "operationName": keyword(),
            "startTime": {"type": "long"},
            "startTimeMillis": {"type": "date", "format": "epoch_millis"},
            "duration": {"type": "long"},
            "flags": {"type": "integer"},
            "logs": {
                "type": "nested",
                "dynamic": false,
                "properties": {"timestamp": {"type": "long"}, "fields": nested_kv()}
            },
            "process": {
                "properties": {
                    "serviceName": keyword(),
                    "tag": {"type": "object"},
                    "tags": nested_kv()
                }
            },
            "references": {
                "type": "nested",
                "dynamic": false,
                "properties": {"refType": keyword(), "traceID": keyword(), "spanID": keyword()}
            },
            "tag": {"type": "object"},
            "tags": nested_kv()
        }
    })
}

fn service_mappings() -> Value {
    json!({
        "dynamic_templates": dynamic_tag_templates(),
        "properties": {
            "serviceName": keyword(),
            "operationName": keyword(),
            // Sextant's addition: operations by span kind.
            "spanKind": keyword()
        }
    })
}

fn dependencies_mappings() -> Value {
    json!({
        "properties": {
            "timestamp": {"type": "date"},
            "dependencies": {
                "properties": {
                    "parent": keyword(),
                    "child": keyword(),
                    "callCount": {"type": "long"},
                    "source": keyword()
                }
            }
        }
    })
}

/// One template: its name and body, and the endpoint it is PUT to.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub name: String,
    pub body: Value,
    pub composable: bool,
}

impl Template {
    /// `_index_template/NAME` or `_template/NAME`.
    pub fn path(&self) -> String {
        if self.composable {
            format!("/_index_template/{}", self.name)
        } else {
            format!("/_template/{}", self.name)
        }
    }
}

/// The three templates for a cluster.
pub fn render(flavor: Flavor, names: &IndexNames, opts: &TemplateOptions) -> Vec<Template> {
    [
        (IndexKind::Span, span_mappings(), opts.priority_span),
        (
            IndexKind::Service,
            service_mappings(),
            opts.priority_service,
        ),
        (
            IndexKind::Dependencies,
            dependencies_mappings(),
            opts.priority_dependencies,
        ),
    ]
    .into_iter()
    .map(|(kind, mappings, priority)| {
        let mut settings = json!({
            "index.number_of_shards": opts.shards,
            "index.number_of_replicas": opts.replicas,
            "index.mapping.nested_fields.limit": 50,
            "index.requests.cache.enable": true
        });
        let mut aliases = json!({});
        if let (Some(policy), true) = (&opts.ilm_policy, kind != IndexKind::Dependencies) {
            aliases = json!({ names.read_alias(kind): {} });
            if let Value::Object(s) = &mut settings {
                match flavor {
                    Flavor::OpenSearch(_) => {
                        s.insert(
                            "plugins.index_state_management.rollover_alias".into(),
                            json!(names.write_alias(kind)),
                        );
                    }
                    _ => {
                        s.insert(
                            "lifecycle".into(),
                            json!({"name": policy, "rollover_alias": names.write_alias(kind)}),
                        );
                    }
                }
            }
        }
        let composable = flavor.composable_templates();
        let body = if composable {
            json!({
                "priority": priority,
                "index_patterns": [names.pattern(kind)],
                "template": {"aliases": aliases, "settings": settings, "mappings": mappings}
            })
        } else {
            json!({
                "index_patterns": [names.pattern(kind)],
                "aliases": aliases,
                "settings": settings,
                "mappings": mappings
            })
        };
        Template {
            name: names.base(kind),
            body,
            composable,
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> TemplateOptions {
        TemplateOptions {
            shards: 3,
            replicas: 0,
            priority_span: 7,
            priority_service: 0,
            priority_dependencies: 0,
            ilm_policy: None,
        }
    }

    #[test]
    fn dialect_follows_the_flavour() {
        let names = IndexNames::new("p", "-", false);
        let es7 = render(Flavor::Es7, &names, &opts());
        assert_eq!(es7[0].path(), "/_template/p-jaeger-span");
        assert_eq!(es7[0].body["index_patterns"][0], "p-jaeger-span-*");
        assert_eq!(es7[0].body["settings"]["index.number_of_shards"], 3);
        assert_eq!(
            es7[0].body["mappings"]["properties"]["tags"]["type"],
            "nested"
        );
        let es8 = render(Flavor::Es8, &names, &opts());
        assert_eq!(es8[0].path(), "/_index_template/p-jaeger-span");
        assert_eq!(es8[0].body["priority"], 7);
        assert_eq!(
            es8[1].body["template"]["mappings"]["properties"]["serviceName"]["type"],
            "keyword"
        );
    }

    #[test]
    fn rollover_policies_per_flavour() {
        let names = IndexNames::new("", "-", true);
        let o = TemplateOptions {
            ilm_policy: Some("jaeger-ilm-policy".into()),
            ..opts()
        };
        let es = render(Flavor::Es8, &names, &o);
        let s = &es[0].body["template"]["settings"];
        assert_eq!(s["lifecycle"]["rollover_alias"], "jaeger-span-write");
        assert!(es[0].body["template"]["aliases"]["jaeger-span-read"].is_object());
        let os = render(Flavor::OpenSearch(2), &names, &o);
        assert_eq!(
            os[0].body["settings"]["plugins.index_state_management.rollover_alias"],
            "jaeger-span-write"
        );
    }
}
