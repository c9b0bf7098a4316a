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
