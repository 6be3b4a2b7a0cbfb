//! Alerts and budgets: rules over the dashboard's measures (per group value, through a state
//! machine), evaluated every 30 s by one replica; monthly budgets with their forecast;
//! silences, acknowledgements, and notifications delivered from a durable outbox.

pub mod backtest;
pub mod budgets;
pub mod cache;
pub mod channels;
pub mod data;
pub mod email;
pub mod evaluate;
pub mod feed;
pub mod notify;
pub mod outcome;
pub mod rules;
pub mod sample;
pub mod silences;
pub mod state;

/// The latest state changes (newest first), of one rule or all.
pub async fn history(
    services: &crate::Services,
    workspace: crate::tenancy::WorkspaceId,
    rule: Option<uuid::Uuid>,
    limit: i64,
) -> crate::Result<Vec<argus_types::AlertEvent>> {
    use argus_types::{AlertEvent, AlertState};
    type Row = (
        i64,
        chrono::DateTime<chrono::Utc>,
        uuid::Uuid,
        String,
        String,
        String,
        String,
        Option<f64>,
        Option<f64>,
        String,
        String,
    );
    let mut tx = crate::tenancy::begin(&services.pool, workspace).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, at, rule_id, rule_name, group_value, from_state, to_state, value, threshold, \
           reason, notified FROM alert_history \
         WHERE workspace_id = $1 AND ($2::uuid IS NULL OR rule_id = $2) \
         ORDER BY at DESC, id DESC LIMIT $3",
    )
    .bind(workspace)
    .bind(rule)
    .bind(limit.clamp(1, 500))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let state = |s: &str| AlertState::parse(s).unwrap_or(AlertState::Normal);
    Ok(rows
        .into_iter()
        .map(|r| AlertEvent {
            id: r.0,
            at: r.1,
            rule_id: r.2,
            rule_name: r.3,
            group_value: r.4,
            from_state: state(&r.5),
            to_state: state(&r.6),
            value: r.7,
            threshold: r.8,
            reason: r.9,
            notified: r.10,
        })
        .collect())
}
