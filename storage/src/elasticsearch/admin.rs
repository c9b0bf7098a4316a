//! Index administration shared by the backend and `sextant-es-tools`: installing templates,
//! listing and deleting indices (the cleaner, the test purge), and the rollover layout
//! (initial indices with read/write aliases, rollover, and the read alias lookback).

use elasticsearch::http::Method;
use serde_json::{json, Value};

use super::client::{EsClient, Flavor};
use super::indices::{IndexKind, IndexNames};
use super::templates::{self, TemplateOptions};
use crate::{Result, StorageError};

/// The index kinds that hold spans and services (rolled over together).
pub const ROLLOVER_KINDS: [IndexKind; 2] = [IndexKind::Span, IndexKind::Service];

/// The archive holds spans only (Jaeger's archive writer stores no service documents).
pub const ARCHIVE_ROLLOVER_KINDS: [IndexKind; 1] = [IndexKind::Span];

pub async fn install_templates(
    client: &EsClient,
    flavor: Flavor,
    names: &IndexNames,
    opts: &TemplateOptions,
) -> Result<()> {
    for t in templates::render(flavor, names, opts) {
        client
            .json(Method::Put, &t.path(), &[], Some(&t.body))
            .await?;
    }
    Ok(())
}

/// Names of the indices matching `pattern` (none is not an error).
pub async fn list_indices(client: &EsClient, pattern: &str) -> Result<Vec<String>> {
    let reply = client
        .request(
            Method::Get,
            &format!("/_cat/indices/{pattern}"),
            &[("format", "json"), ("h", "index")],
            None,
            false,
        )
        .await?;
    if reply.status == 404 {
        return Ok(Vec::new());
    }
    let body = reply.ok("listing indices")?;
    let mut names: Vec<String> = body
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("index").and_then(Value::as_str).map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Deletes indices by name (never by wildcard: clusters refuse those by default).
pub async fn delete_indices(client: &EsClient, names: &[String]) -> Result<()> {
    // Short batches keep the URL within limits.
    for chunk in names.chunks(50) {
        client
            .json(
                Method::Delete,
                &format!("/{}", chunk.join(",")),
                &[("ignore_unavailable", "true")],
                None,
            )
            .await?;
    }
    Ok(())
}

/// Every Jaeger index under the prefix (spans, services, dependencies, rollover indices).
pub async fn all_jaeger_indices(client: &EsClient, names: &IndexNames) -> Result<Vec<String>> {
    list_indices(client, &format!("{}jaeger-*", names.prefix())).await
}

/// Creates `…-000001` with the read and write aliases for each kind, unless the write alias
/// exists already.
pub async fn rollover_init(
    client: &EsClient,
    names: &IndexNames,
    kinds: &[IndexKind],
) -> Result<()> {
    for &kind in kinds {
        let write = names.write_alias(kind);
        let exists = client
            .request(Method::Get, &format!("/_alias/{write}"), &[], None, false)
            .await?;
        if exists.is_success() {
            continue;
        }
        let body = json!({"aliases": {
            names.read_alias(kind): {},
            write: {"is_write_index": true}
        }});
        client
            .json(
                Method::Put,
                &format!("/{}-000001", names.base(kind)),
                &[],
                Some(&body),
            )
            .await?;
    }
    Ok(())
}

/// Rolls each write alias over to a new index (which joins the read alias through the
/// template, or here explicitly). `conditions` is the `_rollover` conditions object.
pub async fn rollover(
    client: &EsClient,
    names: &IndexNames,
    kinds: &[IndexKind],
    conditions: &Value,
) -> Result<()> {
    for &kind in kinds {
        let reply = client
            .json(
                Method::Post,
                &format!("/{}/_rollover", names.write_alias(kind)),
                &[],
                Some(&json!({"conditions": conditions})),
            )
            .await?;
        if reply.get("rolled_over").and_then(Value::as_bool) == Some(true) {
            if let Some(new_index) = reply.get("new_index").and_then(Value::as_str) {
                let body = json!({"actions": [{"add": {"index": new_index, "alias": names.read_alias(kind)}}]});
                client
                    .json(Method::Post, "/_aliases", &[], Some(&body))
                    .await?;
            }
        }
    }
    Ok(())
}

/// Removes from the read alias the rollover indices created before `cutoff_millis`.
pub async fn lookback(
    client: &EsClient,
    names: &IndexNames,
    kinds: &[IndexKind],
    cutoff_millis: u64,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for &kind in kinds {
        let read = names.read_alias(kind);
        let reply = client
            .request(Method::Get, &format!("/_alias/{read}"), &[], None, false)
            .await?;
        if reply.status == 404 {
            continue;
        }
        let body = reply.ok("reading read alias")?;
        let Some(indices) = body.as_object() else {
            continue;
        };
        let write_indices = write_alias_indices(client, &names.write_alias(kind)).await?;
        for index in indices.keys() {
            if write_indices.contains(index) {
                continue;
            }
            let created = creation_millis(client, index).await?;
            if created < cutoff_millis {
                let body = json!({"actions": [{"remove": {"index": index, "alias": read}}]});
                client
                    .json(Method::Post, "/_aliases", &[], Some(&body))
                    .await?;
                removed.push(index.clone());
            }
        }
    }
    Ok(removed)
}

async fn write_alias_indices(client: &EsClient, alias: &str) -> Result<Vec<String>> {
    let reply = client
        .request(Method::Get, &format!("/_alias/{alias}"), &[], None, false)
        .await?;
    if reply.status == 404 {
        return Ok(Vec::new());
    }
    Ok(reply
        .ok("reading write alias")?
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default())
}

/// `index.creation_date` of an index, in Unix milliseconds.
pub async fn creation_millis(client: &EsClient, index: &str) -> Result<u64> {
    let body = client
        .json(Method::Get, &format!("/{index}/_settings"), &[], None)
        .await?;
    body.pointer(&format!("/{index}/settings/index/creation_date"))
        .and_then(|v| {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_u64())
        })
        .ok_or_else(|| StorageError::Backend(format!("index {index} has no creation date")))
}

/// The rollover policy of the `--es.use-ilm` layout: the write index rolls over once it is
/// `rollover_age` old and indices are deleted once `delete_age` old (ages in the cluster's
/// units, e.g. `1d`, `12h`). Elasticsearch gets an ILM policy (Jaeger's documented
/// `jaeger-ilm-policy`, which its templates name through `index.lifecycle`); OpenSearch an
/// ISM policy with the same phases, attached to new span and service indices through its
/// `ism_template` (OpenSearch has no per-template policy setting). Returns the request path
/// and body.
pub fn rollover_policy(
    flavor: Flavor,
    names: &IndexNames,
    policy_name: &str,
    rollover_age: &str,
    delete_age: &str,
) -> (String, Value) {
    match flavor {
        Flavor::OpenSearch(_) => {
            let patterns: Vec<String> = ROLLOVER_KINDS
                .iter()
                .map(|&k| format!("{}-*", names.base(k)))
                .collect();
            let body = json!({"policy": {
                "description": "Jaeger indices: roll over, then delete",
                "default_state": "hot",
                "states": [
                    {
                        "name": "hot",
                        "actions": [{"rollover": {"min_index_age": rollover_age}}],
                        "transitions": [{"state_name": "delete", "conditions": {"min_index_age": delete_age}}]
                    },
                    {"name": "delete", "actions": [{"delete": {}}], "transitions": []}
                ],
                "ism_template": [{"index_patterns": patterns, "priority": 100}]
            }});
            (format!("/_plugins/_ism/policies/{policy_name}"), body)
        }
        _ => {
            let body = json!({"policy": {"phases": {
                "hot": {
                    "min_age": "0ms",
                    "actions": {"rollover": {"max_age": rollover_age}, "set_priority": {"priority": 100}}
                },
                "delete": {"min_age": delete_age, "actions": {"delete": {}}}
            }}});
            (format!("/_ilm/policy/{policy_name}"), body)
        }
    }
}

/// Whether the ILM/ISM policy `policy_name` exists on the cluster.
pub async fn rollover_policy_exists(
    client: &EsClient,
    flavor: Flavor,
    policy_name: &str,
) -> Result<bool> {
    let path = match flavor {
        Flavor::OpenSearch(_) => format!("/_plugins/_ism/policies/{policy_name}"),
        _ => format!("/_ilm/policy/{policy_name}"),
    };
    let reply = client.request(Method::Get, &path, &[], None, false).await?;
    match reply.status {
        404 => Ok(false),
        _ => reply.ok("reading the rollover policy").map(|_| true),
    }
}

/// Creates the rollover policy ([`rollover_policy`]) unless one of that name exists (an
/// operator's own policy is never replaced). Returns whether it was created.
pub async fn ensure_rollover_policy(
    client: &EsClient,
    flavor: Flavor,
    names: &IndexNames,
    policy_name: &str,
    rollover_age: &str,
    delete_age: &str,
) -> Result<bool> {
    if rollover_policy_exists(client, flavor, policy_name).await? {
        return Ok(false);
    }
    let (path, body) = rollover_policy(flavor, names, policy_name, rollover_age, delete_age);
    client.json(Method::Put, &path, &[], Some(&body)).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollover_policies_per_flavor() {
        let names = IndexNames::new("p", "-", true);
        let (path, body) = rollover_policy(Flavor::Es8, &names, "jaeger-ilm-policy", "1d", "7d");
        assert_eq!(path, "/_ilm/policy/jaeger-ilm-policy");
        assert_eq!(
            body.pointer("/policy/phases/hot/actions/rollover/max_age"),
            Some(&json!("1d"))
        );
        assert_eq!(
            body.pointer("/policy/phases/delete/min_age"),
            Some(&json!("7d"))
        );
        let (path, body) = rollover_policy(
            Flavor::OpenSearch(2),
            &names,
            "jaeger-ilm-policy",
            "12h",
            "3d",
        );
        assert_eq!(path, "/_plugins/_ism/policies/jaeger-ilm-policy");
        assert_eq!(
            body.pointer("/policy/states/0/actions/0/rollover/min_index_age"),
            Some(&json!("12h"))
        );
        assert_eq!(
            body.pointer("/policy/states/0/transitions/0/conditions/min_index_age"),
            Some(&json!("3d"))
        );
        assert_eq!(
            body.pointer("/policy/ism_template/0/index_patterns"),
            Some(&json!(["p-jaeger-span-*", "p-jaeger-service-*"]))
        );
    }
}
