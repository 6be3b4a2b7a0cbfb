//! Datasets: named lists of items (an input, the expected output, metadata) to run an agent
//! on. Items come from stored traces (one, or those a trace-list filter matches) or from an
//! uploaded JSONL file; each item's id is unique in the workspace, so a span's
//! `dataset.item_id` attribute names it (see `experiments`).

use argus_types::{Dataset, DatasetItem, DatasetItemPage, ItemsAdded, LineError, PageMeta};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

use super::configs::{clean_name, description_field};
use crate::explorer::{fetch_page, TraceQuery};
use crate::identity::UserId;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

/// Datasets a workspace may have.
pub const MAX_DATASETS: i64 = 200;
/// Items a dataset holds at most.
pub const MAX_ITEMS: i64 = 50_000;
/// Lines one upload may carry.
pub const MAX_LINES: usize = 10_000;
/// Traces one "add traces" takes at most (the newest the filter matches).
pub const MAX_FROM_TRACES: i64 = 1_000;
/// Bytes of an item's input or expected output.
pub const MAX_TEXT: usize = 100_000;
/// Bytes of an item's metadata (as JSON).
const MAX_METADATA: usize = 10_000;

type DatasetRow = (Uuid, String, Option<String>, DateTime<Utc>, i64, i64);

const DATASET_SELECT: &str = "SELECT d.id, d.name, d.description, d.created_at, \
       (SELECT count(*) FROM dataset_items i WHERE i.workspace_id = d.workspace_id \
          AND i.dataset_id = d.id), \
       (SELECT count(*) FROM experiment_runs r WHERE r.workspace_id = d.workspace_id \
          AND r.dataset_id = d.id) \
     FROM datasets d WHERE d.workspace_id = $1";

fn dataset_of(row: DatasetRow) -> Dataset {
    let (id, name, description, created_at, items, runs) = row;
    Dataset {
        id,
        name,
        description,
        items,
        runs,
        created_at,
    }
}

/// Creates an empty dataset.
pub async fn create(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    name: &str,
    description: Option<&str>,
) -> Result<Dataset> {
    let name = clean_name("name", name)?;
    let description = description_field(description)?;
    let id = Uuid::now_v7();
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM datasets WHERE workspace_id = $1")
        .bind(workspace.0)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_DATASETS {
        return Err(Error::Conflict(format!(
            "a workspace has at most {MAX_DATASETS} datasets; delete one first"
        )));
    }
    let inserted = sqlx::query(
        "INSERT INTO datasets (workspace_id, id, name, description, created_by) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(workspace.0)
    .bind(id)
    .bind(&name)
    .bind(&description)
    .bind(by.map(|u| u.0))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(Error::AlreadyExists {
            what: format!("a dataset named {name:?}"),
        });
    }
    tx.commit().await?;
    get(services, workspace, id).await
}

/// The workspace's datasets, newest first, with their item and run counts.
pub async fn list(services: &Services, workspace: WorkspaceId) -> Result<Vec<Dataset>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<DatasetRow> = sqlx::query_as(&format!(
        "{DATASET_SELECT} ORDER BY d.created_at DESC, d.id"
    ))
    .bind(workspace.0)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(dataset_of).collect())
}

/// One dataset.
pub async fn get(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<Dataset> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let row: Option<DatasetRow> = sqlx::query_as(&format!("{DATASET_SELECT} AND d.id = $2"))
        .bind(workspace.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    tx.commit().await?;
    row.map(dataset_of)
        .ok_or_else(|| Error::not_found("dataset"))
}

/// Deletes a dataset with its items and experiment runs (the traces and scores stay).
pub async fn delete(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<()> {
    tenancy::delete_row(&services.pool, workspace, "datasets", id, "dataset").await
}

/// Deletes one item (and its results in the dataset's runs).
pub async fn delete_item(
    services: &Services,
    workspace: WorkspaceId,
    dataset: Uuid,
    item: Uuid,
) -> Result<()> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let done = sqlx::query(
        "DELETE FROM dataset_items WHERE workspace_id = $1 AND dataset_id = $2 AND id = $3",
    )
    .bind(workspace.0)
    .bind(dataset)
    .bind(item)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("dataset item"));
    }
    Ok(())
}

type ItemRow = (
    Uuid,
    Uuid,
    String,
    Option<String>,
    Json<Value>,
    Option<String>,
    DateTime<Utc>,
);

fn item_of(row: ItemRow) -> DatasetItem {
    let (id, dataset_id, input, expected_output, metadata, source_trace_id, created_at) = row;
    DatasetItem {
        id,
        dataset_id,
        input,
        expected_output,
        metadata: metadata.0,
        source_trace_id,
        created_at,
    }
}

/// Items per page at most.
pub const MAX_PAGE: u32 = 200;

/// A page of a dataset's items, newest first (`page` from 1).
pub async fn items(
    services: &Services,
    workspace: WorkspaceId,
    dataset: Uuid,
    page: u32,
    limit: u32,
) -> Result<DatasetItemPage> {
    let limit = limit.clamp(1, MAX_PAGE);
    let page = page.max(1);
    let total = get(services, workspace, dataset).await?.items;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<ItemRow> = sqlx::query_as(
        "SELECT id, dataset_id, input, expected_output, metadata, source_trace_id, created_at \
         FROM dataset_items WHERE workspace_id = $1 AND dataset_id = $2 \
         ORDER BY seq DESC LIMIT $3 OFFSET $4",
    )
    .bind(workspace.0)
    .bind(dataset)
    .bind(i64::from(limit))
    .bind(i64::from(page - 1) * i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(DatasetItemPage {
        data: rows.into_iter().map(item_of).collect(),
        meta: PageMeta {
            total,
            page,
            limit,
            has_more: i64::from(page) * i64::from(limit) < total,
        },
    })
}

/// An item about to be stored.
#[derive(Clone, Debug, PartialEq)]
struct NewItem {
    id: Uuid,
    input: String,
    expected_output: Option<String>,
    metadata: Value,
    source_trace_id: Option<String>,
}

/// A value as an item's text: a string as it is, anything else as compact JSON.
fn as_text(field: &str, value: &Value) -> Result<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.len() > MAX_TEXT {
        return Err(Error::invalid_input(
            field,
            format!("is {} bytes; the most is {MAX_TEXT}", text.len()),
        ));
    }
    Ok(text)
}

/// One JSONL line: `{"input": …, "expected_output"?: …, "metadata"?: {…}, "id"?: "uuid"}`.
fn parse_line(line: &str) -> Result<NewItem> {
    let value: Value = serde_json::from_str(line)
        .map_err(|e| Error::invalid_input("jsonl", format!("not JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(Error::invalid_input(
            "jsonl",
            "each line must be a JSON object",
        ));
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "id" | "input" | "expected_output" | "metadata"))
    {
        return Err(Error::invalid_input(
            "jsonl",
            format!("unknown field {unknown:?} (use input, expected_output, metadata, id)"),
        ));
    }
    let input = match object.remove("input") {
        None | Some(Value::Null) => {
            return Err(Error::invalid_input("input", "every item needs an input"));
        }
        Some(v) => as_text("input", &v)?,
    };
    let expected_output = match object.remove("expected_output") {
        None | Some(Value::Null) => None,
        Some(v) => Some(as_text("expected_output", &v)?),
    };
    let metadata = match object.remove("metadata") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => {
            if v.to_string().len() > MAX_METADATA {
                return Err(Error::invalid_input(
                    "metadata",
                    format!("is larger than {MAX_METADATA} bytes"),
                ));
            }
            v
        }
        Some(_) => return Err(Error::invalid_input("metadata", "must be a JSON object")),
    };
    let id = match object.remove("id") {
        None | Some(Value::Null) => Uuid::now_v7(),
        Some(Value::String(s)) => Uuid::parse_str(s.trim())
            .map_err(|_| Error::invalid_input("id", format!("{s:?} is not a UUID")))?,
        Some(_) => return Err(Error::invalid_input("id", "must be a UUID string")),
    };
    Ok(NewItem {
        id,
        input,
        expected_output,
        metadata,
        source_trace_id: None,
    })
}

/// Adds the items of a JSONL text (one object per line, blank lines ignored). Lines with an
/// error are reported and left out; the others are stored. An item whose `id` is already in
/// this dataset counts as a duplicate (an upload can be sent again).
pub async fn upload(
    services: &Services,
    workspace: WorkspaceId,
    dataset: Uuid,
    jsonl: &str,
) -> Result<ItemsAdded> {
    let lines: Vec<(usize, &str)> = jsonl
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return Err(Error::invalid_input(
            "jsonl",
            "no items: send one JSON object per line, e.g. {\"input\": \"…\", \"expected_output\": \"…\"}",
        ));
    }
    if lines.len() > MAX_LINES {
        return Err(Error::invalid_input(
            "jsonl",
            format!("{} lines; send at most {MAX_LINES} per upload", lines.len()),
        ));
    }
    let mut added = ItemsAdded::default();
    let mut items = Vec::with_capacity(lines.len());
    let mut lines_of = Vec::with_capacity(lines.len());
    for (n, line) in lines {
        match parse_line(line) {
            Ok(item) if items.iter().any(|i: &NewItem| i.id == item.id) => {
                added.errors.push(LineError {
                    line: n,
                    message: format!("id {} is repeated in this upload", item.id),
                })
            }
            Ok(item) => {
                items.push(item);
                lines_of.push(n);
            }
            Err(e) => added.errors.push(LineError {
                line: n,
                message: e.to_string(),
            }),
        }
    }
    let stored = insert(services, workspace, dataset, &items).await?;
    added.created = stored.created;
    added.duplicates = stored.duplicates;
    for (index, message) in stored.refused {
        added.errors.push(LineError {
            line: lines_of[index],
            message,
        });
    }
    added.errors.sort_by_key(|e| e.line);
    Ok(added)
}

/// What [`insert`] did: the refused items by index, with the reason.
struct Inserted {
    created: usize,
    duplicates: usize,
    refused: Vec<(usize, String)>,
}

/// Stores items in `dataset`, within its size limit. An id already in this dataset (or a
/// source trace already added) is a duplicate; an id of another dataset's item is refused.
async fn insert(
    services: &Services,
    workspace: WorkspaceId,
    dataset: Uuid,
    items: &[NewItem],
) -> Result<Inserted> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    // One writer per dataset at a time, so the size limit holds.
    let held: Option<i64> = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM dataset_items i WHERE i.workspace_id = d.workspace_id \
           AND i.dataset_id = d.id) \
         FROM datasets d WHERE d.workspace_id = $1 AND d.id = $2 FOR UPDATE",
    )
    .bind(workspace.0)
    .bind(dataset)
    .fetch_optional(&mut *tx)
    .await?;
    let held = held.ok_or_else(|| Error::not_found("dataset"))?;
    if held + items.len() as i64 > MAX_ITEMS {
        return Err(Error::Conflict(format!(
            "a dataset holds at most {MAX_ITEMS} items; it has {held} and this adds {}",
            items.len()
        )));
    }
    let ids: Vec<Uuid> = items.iter().map(|i| i.id).collect();
    let elsewhere: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM dataset_items WHERE workspace_id = $1 AND id = ANY($2) \
         AND dataset_id <> $3",
    )
    .bind(workspace.0)
    .bind(&ids)
    .bind(dataset)
    .fetch_all(&mut *tx)
    .await?;
    let mut refused = Vec::new();
    let mut keep: Vec<&NewItem> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        if elsewhere.contains(&item.id) {
            refused.push((
                index,
                format!("id {} belongs to an item of another dataset", item.id),
            ));
        } else {
            keep.push(item);
        }
    }
    let created = if keep.is_empty() {
        0
    } else {
        sqlx::query(
            "INSERT INTO dataset_items (workspace_id, dataset_id, id, input, expected_output, \
               metadata, source_trace_id) \
             SELECT $1, $2, u.id, u.input, u.expected, u.metadata, u.source \
             FROM unnest($3::uuid[], $4::text[], $5::text[], $6::jsonb[], $7::text[]) \
               WITH ORDINALITY AS u(id, input, expected, metadata, source, n) \
             ORDER BY u.n ON CONFLICT DO NOTHING",
        )
        .bind(workspace.0)
        .bind(dataset)
        .bind(keep.iter().map(|i| i.id).collect::<Vec<_>>())
        .bind(keep.iter().map(|i| i.input.as_str()).collect::<Vec<_>>())
        .bind(
            keep.iter()
                .map(|i| i.expected_output.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(keep.iter().map(|i| Json(&i.metadata)).collect::<Vec<_>>())
        .bind(
            keep.iter()
                .map(|i| i.source_trace_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?
        .rows_affected() as usize
    };
    tx.commit().await?;
    Ok(Inserted {
        created,
        duplicates: keep.len() - created,
        refused,
    })
}

/// Adds stored traces as items: each trace's first input, its last output as the expected
/// output (to be corrected by hand where it was wrong), and its agent, environment and version
/// as metadata. A trace already in the dataset is a duplicate; a trace not stored is an error.
pub async fn add_traces(
    services: &Services,
    workspace: WorkspaceId,
    dataset: Uuid,
    traces: &[String],
) -> Result<ItemsAdded> {
    if traces.is_empty() {
        return Err(Error::invalid_input("trace_id", "name at least one trace"));
    }
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let mut items = Vec::with_capacity(traces.len());
    let mut added = ItemsAdded::default();
    for (n, trace) in traces.iter().enumerate() {
        let head: Option<(String, String, String)> = sqlx::query_as(
            "SELECT agent, environment, version FROM traces \
             WHERE workspace_id = $1 AND trace_id = $2",
        )
        .bind(workspace.0)
        .bind(trace)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((agent, environment, version)) = head else {
            added.errors.push(LineError {
                line: n + 1,
                message: format!("trace {trace:?} is not stored in this workspace"),
            });
            continue;
        };
        let subject = super::subject::trace_subject(&mut tx, workspace, trace, false)
            .await?
            .unwrap_or_default();
        let cut = |s: Option<String>| {
            s.map(|mut s| {
                if s.len() > MAX_TEXT {
                    let mut end = MAX_TEXT;
                    while !s.is_char_boundary(end) {
                        end -= 1;
                    }
                    s.truncate(end);
                }
                s
            })
        };
        items.push(NewItem {
            id: Uuid::now_v7(),
            input: cut(subject.input).unwrap_or_default(),
            expected_output: cut(subject.output),
            metadata: serde_json::json!({
                "agent": agent,
                "environment": environment,
                "version": version,
                "trace_id": trace,
            }),
            source_trace_id: Some(trace.clone()),
        });
    }
    tx.commit().await?;
    let stored = insert(services, workspace, dataset, &items).await?;
    added.created = stored.created;
    added.duplicates = stored.duplicates;
    Ok(added)
}

/// Adds the newest traces (at most [`MAX_FROM_TRACES`]) a trace-list query matches.
pub async fn add_matching(
    services: &Services,
    workspace: WorkspaceId,
    dataset: Uuid,
    query: &TraceQuery,
    limit: Option<i64>,
) -> Result<ItemsAdded> {
    let limit = limit.unwrap_or(100).clamp(1, MAX_FROM_TRACES);
    let rows = fetch_page(&services.pool, workspace, query, None, limit).await?;
    if rows.is_empty() {
        return Err(Error::invalid_input(
            "filters",
            "no trace matches these filters in this range",
        ));
    }
    let traces: Vec<String> = rows.into_iter().map(|r| r.trace_id).collect();
    add_traces(services, workspace, dataset, &traces).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_take_strings_and_json() {
        let item = parse_line(r#"{"input": "hi", "expected_output": {"a": 1}}"#).unwrap();
        assert_eq!(item.input, "hi");
        assert_eq!(item.expected_output.as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(item.metadata, serde_json::json!({}));
        let messages = parse_line(r#"{"input": [{"role": "user", "content": "x"}]}"#).unwrap();
        assert_eq!(messages.input, r#"[{"content":"x","role":"user"}]"#);
        let id = "0190a5a0-0000-7000-8000-000000000001";
        let with_id = parse_line(&format!(r#"{{"id": "{id}", "input": "q"}}"#)).unwrap();
        assert_eq!(with_id.id.to_string(), id);
    }

    #[test]
    fn bad_lines_say_why() {
        let why = |l: &str| parse_line(l).unwrap_err().to_string();
        assert!(why("not json").contains("not JSON"));
        assert!(why("[1]").contains("JSON object"));
        assert!(why(r#"{"expected_output": "x"}"#).contains("needs an input"));
        assert!(why(r#"{"input": "x", "metadata": 3}"#).contains("JSON object"));
        assert!(why(r#"{"input": "x", "id": "nope"}"#).contains("not a UUID"));
        assert!(why(r#"{"input": "x", "expected": "y"}"#).contains("unknown field"));
        let long = format!(r#"{{"input": "{}"}}"#, "x".repeat(MAX_TEXT + 1));
        assert!(why(&long).contains("the most is"));
    }
}
