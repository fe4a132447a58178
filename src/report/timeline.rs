//! The lifecycle timeline of one model as one HTML page.

use super::html::{esc, page, table};
use super::svg::{BLUE, GREEN, GREY, Mark, ORANGE, RED, time_lanes, time_series};
use crate::audit::{AuditEvent, AuditRecord};
use crate::registry::{AliasChange, ModelVersion};
use chrono::{DateTime, Utc};
use std::fmt::Write as _;

/// The lanes of the time axis, top to bottom.
const LANES: [&str; 6] = [
    "versions",
    "aliases",
    "approvals",
    "deployments",
    "monitoring",
    "alerts",
];

/// One event on the timeline.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    at: DateTime<Utc>,
    lane: usize,
    colour: &'static str,
    what: String,
    detail: String,
    /// Monitoring windows: the share of the version's inputs that drifted.
    share: Option<f64>,
    /// Monitoring windows with labels: the realized value of the headline metric.
    performance: Option<(String, f64)>,
}

fn about(r: &AuditRecord, name: &str) -> bool {
    r.entry.subjects.iter().any(|s| {
        s.strip_prefix(name)
            .is_some_and(|t| t.starts_with('/') || t.is_empty())
    })
}

fn events(
    name: &str,
    versions: &[ModelVersion],
    aliases: &[AliasChange],
    audit: &[AuditRecord],
) -> Vec<Event> {
    let mut out = Vec::new();
    let inputs_of = |v: u32| {
        versions
            .iter()
            .find(|x| x.name == name && x.version == v)
            .map(|x| x.signature.inputs.features.len())
    };
    for v in versions.iter().filter(|v| v.name == name) {
        out.push(Event {
            at: v.created_at,
            lane: 0,
            colour: BLUE,
            what: format!("v{} registered", v.version),
            detail: format!(
                "{} ({}), now {}",
                v.lineage.trainer,
                v.flavor,
                v.status.as_str()
            ),
            share: None,
            performance: None,
        });
    }
    for a in aliases.iter().filter(|a| a.name == name) {
        out.push(Event {
            at: a.at,
            lane: 1,
            colour: ORANGE,
            what: match a.version {
                Some(v) => format!(
                    "{} → v{v}{}",
                    a.alias,
                    a.previous
                        .map(|p| format!(" (was v{p})"))
                        .unwrap_or_default()
                ),
                None => format!("{} deleted", a.alias),
            },
            detail: format!("{}: {}", a.change.actor, a.change.reason),
            share: None,
            performance: None,
        });
    }
    for r in audit {
        let Ok(event) = AuditEvent::parse(&r.entry.action, &r.entry.payload) else {
            continue;
        };
        let mut push = |lane: usize, colour: &'static str, what: String, detail: String| {
            out.push(Event {
                at: r.at,
                lane,
                colour,
                what,
                detail,
                share: None,
                performance: None,
            })
        };
        match event {
            AuditEvent::VersionStatusChanged(s) if s.model_name == name => push(
                2,
                match s.status.as_str() {
                    "approved" => GREEN,
                    "rejected" => RED,
                    _ => GREY,
                },
                format!("v{} {}", s.version, s.status),
                format!("{}: {}", r.entry.actor, s.reason),
            ),
            AuditEvent::ApprovalRequested(a) if a.model_name == name => push(
                2,
                ORANGE,
                format!("v{} approval requested", a.version),
                a.trigger,
            ),
            AuditEvent::ApprovalDecided(a) if a.model_name == name => push(
                2,
                if a.decision.contains("reject") {
                    RED
                } else {
                    GREEN
                },
                format!("v{} {}", a.version, a.decision),
                format!("{}: {}", a.decided_by, a.reason),
            ),
            AuditEvent::DeploymentStarted(d) if d.model_name == name && d.deployer == "canary" => {
                push(
                    3,
                    ORANGE,
                    format!("v{} canary", d.version),
                    format!("{}, approved by {}", d.endpoint, d.approved_by),
                )
            }
            AuditEvent::DeploymentStarted(d) if d.model_name == name => push(
                3,
                GREEN,
                format!("v{} deployed", d.version),
                format!(
                    "{} ({}), approved by {}",
                    d.endpoint, d.deployer, d.approved_by
                ),
            ),
            AuditEvent::DeploymentStopped(d) if d.model_name == name => push(
                3,
                GREY,
                format!("v{} stopped", d.version),
                format!("{}: {}", d.endpoint, d.reason),
            ),
            AuditEvent::DriftChecked(d) if about(r, name) => {
                let drifted = d.drifted_columns.clone().unwrap_or_default();
                let rows = d
                    .health
                    .get("rows")
                    .and_then(serde_json::Value::as_u64)
                    .map(|n| format!("{n} rows"))
                    .unwrap_or_else(|| "rows unknown".into());
                let error_rate = d
                    .health
                    .get("error_rate")
                    .and_then(serde_json::Value::as_f64)
                    .map(|e| format!(", error rate {:.1}%", 100.0 * e))
                    .unwrap_or_default();
                let (colour, what) = match (&d.skipped, d.dataset_drift) {
                    (Some(_), _) => (GREY, "window skipped".to_string()),
                    (None, Some(true)) => {
                        (RED, format!("DRIFT ({} columns drifted)", drifted.len()))
                    }
                    (None, _) if drifted.is_empty() => (GREEN, "no drift".to_string()),
                    (None, _) => (
                        ORANGE,
                        format!("no dataset drift ({} columns drifted)", drifted.len()),
                    ),
                };
                let share = d.drifted_columns.as_ref().and_then(|c| {
                    r.entry
                        .subjects
                        .iter()
                        .find_map(|s| s.strip_prefix(name)?.strip_prefix('/')?.parse().ok())
                        .and_then(inputs_of)
                        .filter(|n| *n > 0)
                        .map(|n| c.len() as f64 / n as f64)
                });
                let performance = d.performance.as_ref().and_then(headline_performance);
                let degraded = d
                    .performance
                    .as_ref()
                    .and_then(|p| p.get("degraded"))
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false);
                let (colour, what) = if degraded {
                    (RED, format!("{what}; performance degraded"))
                } else {
                    (colour, what)
                };
                let perf_text = performance
                    .as_ref()
                    .map(|(metric, v)| {
                        let labelled = d
                            .performance
                            .as_ref()
                            .and_then(|p| p.get("labelled"))
                            .and_then(serde_json::Value::as_u64)
                            .unwrap_or(0);
                        format!("; {metric} {v:.4} on {labelled} labelled rows")
                    })
                    .unwrap_or_default();
                out.push(Event {
                    at: r.at,
                    lane: 4,
                    colour,
                    what,
                    detail: String::new(),
                    share,
                    performance,
                });
                let last = out.len() - 1;
                out[last].detail = format!(
                    "{} – {}: {rows}{error_rate}{perf_text}{}{}",
                    d.from.format("%m-%d %H:%M"),
                    d.to.format("%m-%d %H:%M"),
                    if drifted.is_empty() {
                        String::new()
                    } else {
                        format!("; drifted: {}", drifted.join(", "))
                    },
                    d.skipped.map(|s| format!("; {s}")).unwrap_or_default()
                );
            }
            AuditEvent::AlertRaised(a) if a.model_name == name => push(
                5,
                if a.severity == "critical" {
                    RED
                } else {
                    ORANGE
                },
                format!("{} {}", a.severity, a.kind),
                a.message,
            ),
            _ => {}
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then(a.lane.cmp(&b.lane)));
    out
}

/// The headline metric of a window's realized performance (`metrics` of the
/// `performance` member): accuracy, else ROC AUC, else R², else the first by name.
fn headline_performance(p: &serde_json::Value) -> Option<(String, f64)> {
    if p.get("labelled").and_then(serde_json::Value::as_u64) == Some(0) {
        return None;
    }
    let metrics = p.get("metrics")?.as_object()?;
    ["accuracy", "roc_auc", "r2"]
        .iter()
        .find_map(|m| Some((m.to_string(), metrics.get(*m)?.as_f64()?)))
        .or_else(|| {
            metrics
                .iter()
                .find_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
        })
}

/// The lifecycle of model `name` on one time axis, as one self-contained HTML page:
/// versions registered and their status changes, alias moves, approval requests and
/// decisions, deployments, monitoring windows (dataset drift, drifted columns, rows) and
/// alerts, each a dot on its lane (hover for details), then the same events as a table.
/// Built from the registry's versions and alias history and the audit trail; records that
/// do not parse as typed events are skipped. Deterministic.
pub fn timeline_html(
    name: &str,
    versions: &[ModelVersion],
    alias_history: &[AliasChange],
    audit: &[AuditRecord],
) -> String {
    page(
        &format!("Lifecycle of {name}"),
        &timeline_body(name, versions, alias_history, audit),
    )
}

/// The body of [`timeline_html`].
pub(crate) fn timeline_body(
    name: &str,
    versions: &[ModelVersion],
    alias_history: &[AliasChange],
    audit: &[AuditRecord],
) -> String {
    let ev = events(name, versions, alias_history, audit);
    let mut b = String::new();
    let _ = write!(b, "<h1>Lifecycle of {}</h1>", esc(name));
    let (Some(first), Some(last)) = (ev.first(), ev.last()) else {
        b.push_str("<p>Nothing recorded for this model.</p>");
        return b;
    };
    let (t0, t1) = (first.at, last.at);
    let span = (t1 - t0).num_milliseconds().max(1) as f64;
    let pos = |t: DateTime<Utc>| (t - t0).num_milliseconds() as f64 / span;
    let _ = write!(
        b,
        "<p class=\"sub\">{} events from {} to {} (UTC). Hover a dot for details.</p>",
        ev.len(),
        t0.format("%Y-%m-%d %H:%M"),
        t1.format("%Y-%m-%d %H:%M")
    );
    let fmt = if (t1 - t0).num_hours() >= 48 {
        "%Y-%m-%d"
    } else {
        "%m-%d %H:%M"
    };
    let ticks: Vec<(f64, String)> = (0..=5)
        .map(|i| {
            let t = t0 + chrono::Duration::milliseconds((span * i as f64 / 5.0) as i64);
            (i as f64 / 5.0, t.format(fmt).to_string())
        })
        .collect();
    let marks: Vec<Mark> = ev
        .iter()
        .map(|e| Mark {
            t: pos(e.at),
            lane: e.lane,
            colour: e.colour,
            text: format!(
                "{} — {}: {}",
                e.at.format("%Y-%m-%d %H:%M:%S"),
                e.what,
                e.detail
            ),
        })
        .collect();
    b.push_str(&time_lanes(
        &format!("lifecycle of {name}"),
        &LANES,
        &ticks,
        &marks,
    ));
    let shares: Vec<(f64, f64, &'static str)> = ev
        .iter()
        .filter_map(|e| e.share.map(|s| (pos(e.at), s, e.colour)))
        .collect();
    if !shares.is_empty() {
        b.push_str(&time_series(
            &format!("share of drifted inputs per monitoring window of {name}"),
            "drifted inputs (% of the version's inputs)",
            &ticks,
            &shares,
        ));
    }
    // Realized performance, one series per headline metric (the first window's metric).
    if let Some(metric) = ev
        .iter()
        .find_map(|e| e.performance.as_ref().map(|p| p.0.clone()))
    {
        let points: Vec<(f64, f64, &'static str)> = ev
            .iter()
            .filter_map(|e| {
                let (m, v) = e.performance.as_ref()?;
                (*m == metric && v.is_finite() && (0.0..=1.0).contains(v))
                    .then(|| (pos(e.at), *v, e.colour))
            })
            .collect();
        if !points.is_empty() {
            b.push_str(&time_series(
                &format!("realized {metric} per monitoring window of {name}"),
                &format!("{metric} on the labelled rows (%)"),
                &ticks,
                &points,
            ));
        }
    }
    b.push_str(
        "<p><span style=\"color:#2b8a3e\">●</span> healthy / approved / deployed &nbsp; \
         <span style=\"color:#e3770b\">●</span> attention (alias move, some columns drifted, warning) &nbsp; \
         <span style=\"color:#c92a2a\">●</span> dataset drift / rejected / critical alert &nbsp; \
         <span style=\"color:#1f6fb4\">●</span> version registered &nbsp; \
         <span style=\"color:#868e96\">●</span> status change / stopped / skipped</p>",
    );
    b.push_str("<h2>Events</h2>");
    let rows: Vec<Vec<String>> = ev
        .iter()
        .map(|e| {
            vec![
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                LANES[e.lane].to_string(),
                esc(&e.what),
                esc(&e.detail),
            ]
        })
        .collect();
    b.push_str(&table(&["time (UTC)", "lane", "what", "details"], &rows));
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::{DeploymentStarted, DriftChecked};
    use crate::audit::{AuditEntry, AuditLog, AuditQuery, InMemoryAuditLog};
    use crate::clock::SimulatedClock;
    use std::sync::Arc;

    #[tokio::test]
    async fn canaries_and_realized_performance_are_on_the_timeline() {
        let t0 = chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000);
        let clock = Arc::new(SimulatedClock::new(t0));
        let log = InMemoryAuditLog::new(clock.clone());
        let window = |hours: i64, accuracy: f64, degraded: bool| {
            AuditEvent::DriftChecked(DriftChecked {
                from: t0 + chrono::Duration::hours(hours - 1),
                to: t0 + chrono::Duration::hours(hours),
                baseline: "training data".into(),
                health: serde_json::json!({"rows": 100}),
                dataset_drift: Some(false),
                drifted_columns: Some(vec![]),
                quality_faults: serde_json::json!([]),
                skipped: None,
                performance: Some(serde_json::json!({
                    "labelled": 50, "coverage": 0.5,
                    "metrics": {"accuracy": accuracy, "log_loss": 0.4},
                    "baseline": {"accuracy": 0.8}, "degraded": degraded,
                })),
            })
        };
        let canary = AuditEvent::DeploymentStarted(DeploymentStarted {
            deployer: "canary".into(),
            endpoint: "credit@canary (50 %)".into(),
            model_name: "credit".into(),
            version: 2,
            since: t0,
            approved_by: "lifecycle".into(),
            replaces: None,
        });
        for (h, event) in [
            (1, window(1, 0.8, false)),
            (2, canary),
            (3, window(3, 0.6, true)),
        ] {
            clock.advance(chrono::Duration::hours(h));
            log.append(AuditEntry::from_event(
                "lifecycle",
                vec!["credit/1".into()],
                &event,
                "t",
            ))
            .await
            .unwrap();
        }
        let audit = log.query(&AuditQuery::default()).await.unwrap();
        let html = timeline_body("credit", &[], &[], &audit);
        assert!(html.contains("v2 canary"), "{html}");
        assert!(html.contains("realized accuracy per monitoring window of credit"));
        assert!(html.contains("accuracy 0.8000 on 50 labelled rows"));
        assert!(html.contains("no drift; performance degraded"));
        // Without labels there is no performance chart.
        assert_eq!(
            headline_performance(&serde_json::json!({"labelled": 0, "metrics": {"accuracy": 1.0}})),
            None
        );
        assert_eq!(
            headline_performance(
                &serde_json::json!({"labelled": 3, "metrics": {"rmse": 2.0, "r2": 0.5}})
            ),
            Some(("r2".to_string(), 0.5))
        );
    }
}
