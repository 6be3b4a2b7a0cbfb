//! Score configs: a workspace's definition of a score name — its type, its range or
//! categories, and which direction is better. Created and archived, never edited, so a stored
//! score keeps the meaning it was checked against.

use std::collections::HashMap;

use argus_types::{Category, ScoreConfig, ScoreType};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::identity::UserId;
use crate::tenancy::{self, WorkspaceId};
use crate::{Error, Result, Services};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_CATEGORIES: usize = 50;
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
/// Live configs per workspace.
pub const MAX_CONFIGS: i64 = 200;

/// A config as a client asks for it.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct NewConfig {
    pub name: String,
    /// `numeric`, `boolean`, `categorical` or `text`.
    pub data_type: String,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    #[serde(default)]
    pub categories: Vec<Category>,
    pub higher_is_better: Option<bool>,
    pub description: Option<String>,
}

/// A score name: trimmed, 1 to 200 characters, no control characters.
pub fn clean_name(field: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::MissingField {
            field: field.into(),
        });
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid_input(
            field,
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid_input(field, "no control characters"));
    }
    Ok(name.to_owned())
}

fn finite(field: &str, v: Option<f64>) -> Result<Option<f64>> {
    match v {
        Some(v) if !v.is_finite() => Err(Error::invalid_input(field, "must be a finite number")),
        other => Ok(other),
    }
}

impl NewConfig {
    /// The config as it will be stored, or what is wrong with it.
    fn validate(&self) -> Result<ScoreConfig> {
        let name = clean_name("name", &self.name)?;
        let data_type = ScoreType::parse(&self.data_type).ok_or_else(|| {
            Error::invalid_input(
                "data_type",
                format!(
                    "{:?} is not a score type (numeric, boolean, categorical or text)",
                    self.data_type
                ),
            )
        })?;
        let min_value = finite("min_value", self.min_value)?;
        let max_value = finite("max_value", self.max_value)?;
        if data_type != ScoreType::Numeric && (min_value.is_some() || max_value.is_some()) {
            return Err(Error::invalid_input(
                "min_value",
                "only a numeric config has a range",
            ));
        }
        if let (Some(lo), Some(hi)) = (min_value, max_value) {
            if lo > hi {
                return Err(Error::invalid_input(
                    "max_value",
                    format!("must not be below min_value ({lo})"),
                ));
            }
        }
        let mut categories = Vec::with_capacity(self.categories.len());
        if data_type == ScoreType::Categorical {
            if self.categories.is_empty() {
                return Err(Error::invalid_input(
                    "categories",
                    "a categorical config needs at least one category",
                ));
            }
            if self.categories.len() > MAX_CATEGORIES {
                return Err(Error::invalid_input(
                    "categories",
                    format!("at most {MAX_CATEGORIES} categories"),
                ));
            }
            for (i, c) in self.categories.iter().enumerate() {
                let label = clean_name(&format!("categories[{i}].label"), &c.label)?;
                if categories.iter().any(|k: &Category| k.label == label) {
                    return Err(Error::invalid_input(
                        format!("categories[{i}].label"),
                        format!("{label:?} is listed twice"),
                    ));
                }
                let value = finite(&format!("categories[{i}].value"), c.value)?;
                categories.push(Category { label, value });
            }
        } else if !self.categories.is_empty() {
            return Err(Error::invalid_input(
                "categories",
                "only a categorical config has categories",
            ));
        }
        let description = description_field(self.description.as_deref())?;
        Ok(ScoreConfig {
            id: Uuid::now_v7(),
            name,
            data_type,
            min_value,
            max_value,
            categories,
            higher_is_better: self.higher_is_better,
            description,
            created_at: Utc::now(),
            archived_at: None,
        })
    }
}

/// A description as typed: trimmed, blank is none, at most [`MAX_DESCRIPTION_CHARS`].
pub fn description_field(raw: Option<&str>) -> Result<Option<String>> {
    let description = raw
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        return Err(Error::invalid_input(
            "description",
            format!("at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(description)
}

/// A sampling share: above 0 and at most 1; left out, everything (1).
pub fn sampling_field(raw: Option<f64>) -> Result<f64> {
    let sampling = raw.unwrap_or(1.0);
    if !(sampling > 0.0 && sampling <= 1.0) {
        return Err(Error::invalid_input(
            "sampling",
            "a share above 0 and at most 1 (0.1 takes one in ten)",
        ));
    }
    Ok(sampling)
}

/// A number from a form field; blank is absent.
pub fn number_field(field: &str, value: Option<&str>) -> Result<Option<f64>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| Error::invalid_input(field, format!("{text:?} is not a number"))),
    }
}

/// Categories from a form field: `good=1, ok=0.5, bad=0` (the `=value` is optional).
pub fn categories_field(value: Option<&str>) -> Result<Vec<Category>> {
    let Some(text) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| match part.rsplit_once('=') {
            Some((label, number)) => Ok(Category {
                label: label.trim().to_owned(),
                value: number_field("categories", Some(number))?,
            }),
            None => Ok(Category {
                label: part.to_owned(),
                value: None,
            }),
        })
        .collect()
}

/// Which direction is better, from a form field: `true`/`higher`, `false`/`lower`, or blank.
pub fn direction_field(value: Option<&str>) -> Result<Option<bool>> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("none") | Some("neither") => Ok(None),
        Some("true") | Some("higher") | Some("on") => Ok(Some(true)),
        Some("false") | Some("lower") => Ok(Some(false)),
        Some(other) => Err(Error::invalid_input(
            "higher_is_better",
            format!("{other:?}: use true (higher is better), false (lower is) or leave it blank"),
        )),
    }
}

type ConfigRow = (
    Uuid,
    String,
    String,
    Option<f64>,
    Option<f64>,
    Option<sqlx::types::Json<Vec<Category>>>,
    Option<bool>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

const COLUMNS: &str = "id, name, data_type, min_value, max_value, categories, higher_is_better, \
                       description, created_at, archived_at";

fn from_row(row: ConfigRow) -> Result<ScoreConfig> {
    let (id, name, data_type, min_value, max_value, categories, higher, description, at, archived) =
        row;
    Ok(ScoreConfig {
        id,
        name,
        data_type: ScoreType::parse(&data_type)
            .ok_or_else(|| Error::Internal(format!("stored score type {data_type:?}")))?,
        min_value,
        max_value,
        categories: categories.map(|c| c.0).unwrap_or_default(),
        higher_is_better: higher,
        description,
        created_at: at,
        archived_at: archived,
    })
}

/// Creates a config. A live config of the same name must be archived first.
pub async fn create(
    services: &Services,
    workspace: WorkspaceId,
    by: Option<UserId>,
    new: &NewConfig,
) -> Result<ScoreConfig> {
    let config = new.validate()?;
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let (live,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM score_configs WHERE workspace_id = $1 AND archived_at IS NULL",
    )
    .bind(workspace.0)
    .fetch_one(&mut *tx)
    .await?;
    if live >= MAX_CONFIGS {
        return Err(Error::Conflict(format!(
            "a workspace has at most {MAX_CONFIGS} live score configs; archive one first"
        )));
    }
    let categories = (config.data_type == ScoreType::Categorical)
        .then_some(sqlx::types::Json(&config.categories));
    let inserted = sqlx::query(
        "INSERT INTO score_configs (workspace_id, id, name, data_type, min_value, max_value, \
         categories, higher_is_better, description, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
    )
    .bind(workspace.0)
    .bind(config.id)
    .bind(&config.name)
    .bind(config.data_type.as_str())
    .bind(config.min_value)
    .bind(config.max_value)
    .bind(categories)
    .bind(config.higher_is_better)
    .bind(&config.description)
    .bind(by.map(|u| u.0))
    .bind(config.created_at)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(Error::AlreadyExists {
            what: format!(
                "a live score config named {:?} (archive it to define the name anew)",
                config.name
            ),
        });
    }
    tx.commit().await?;
    Ok(config)
}

/// The workspace's configs, live ones first, then archived (newest first within each).
pub async fn list(
    services: &Services,
    workspace: WorkspaceId,
    include_archived: bool,
) -> Result<Vec<ScoreConfig>> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<ConfigRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM score_configs WHERE workspace_id = $1 \
         AND ($2 OR archived_at IS NULL) \
         ORDER BY archived_at IS NOT NULL, archived_at DESC, name"
    ))
    .bind(workspace.0)
    .bind(include_archived)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter().map(from_row).collect()
}

/// Archives a config: it checks no new score; the scores it checked keep it.
pub async fn archive(services: &Services, workspace: WorkspaceId, id: Uuid) -> Result<ScoreConfig> {
    let mut tx = tenancy::begin(&services.pool, workspace).await?;
    let row: Option<ConfigRow> = sqlx::query_as(&format!(
        "UPDATE score_configs SET archived_at = coalesce(archived_at, now()) \
         WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(workspace.0)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    from_row(row.ok_or_else(|| Error::NotFound {
        what: "score config".into(),
    })?)
}

/// The live configs by name (and every config by id, archived too), read inside a batch's
/// transaction.
#[derive(Debug, Default)]
pub struct Live {
    by_name: HashMap<String, ScoreConfig>,
    by_id: HashMap<Uuid, ScoreConfig>,
}

impl Live {
    pub async fn load(conn: &mut PgConnection, workspace: WorkspaceId) -> Result<Live> {
        let rows: Vec<ConfigRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM score_configs WHERE workspace_id = $1"
        ))
        .bind(workspace.0)
        .fetch_all(conn)
        .await?;
        let mut live = Live::default();
        for row in rows {
            let config = from_row(row)?;
            if config.archived_at.is_none() {
                live.by_name.insert(config.name.clone(), config.clone());
            }
            live.by_id.insert(config.id, config);
        }
        Ok(live)
    }

    pub fn by_name(&self, name: &str) -> Option<&ScoreConfig> {
        self.by_name.get(name)
    }

    pub fn by_id(&self, id: Uuid) -> Option<&ScoreConfig> {
        self.by_id.get(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric() -> NewConfig {
        NewConfig {
            name: "helpfulness".into(),
            data_type: "numeric".into(),
            min_value: Some(0.0),
            max_value: Some(1.0),
            higher_is_better: Some(true),
            ..NewConfig::default()
        }
    }

    #[test]
    fn a_config_is_checked_before_it_is_stored() {
        assert!(numeric().validate().is_ok());
        let upside_down = NewConfig {
            min_value: Some(2.0),
            ..numeric()
        };
        assert!(upside_down.validate().is_err());
        let range_on_boolean = NewConfig {
            data_type: "boolean".into(),
            ..numeric()
        };
        assert!(range_on_boolean.validate().is_err());
        let no_categories = NewConfig {
            data_type: "categorical".into(),
            min_value: None,
            max_value: None,
            ..numeric()
        };
        assert!(no_categories.validate().is_err());
        let twice = NewConfig {
            categories: vec![
                Category {
                    label: "good".into(),
                    value: Some(1.0),
                },
                Category {
                    label: " good ".into(),
                    value: None,
                },
            ],
            ..no_categories
        };
        assert!(twice.validate().is_err());
        let nan = NewConfig {
            max_value: Some(f64::NAN),
            ..numeric()
        };
        assert!(nan.validate().is_err());
        let unknown = NewConfig {
            data_type: "float".into(),
            ..numeric()
        };
        assert!(unknown.validate().is_err());
    }
}
