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
                out.push(Event {
                    at: r.at,
                    lane: 4,
                    colour,
                    what,
                    detail: String::new(),
                    share,
                });
                let last = out.len() - 1;
                out[last].detail = format!(
                    "{} – {}: {rows}{error_rate}{}{}",
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
