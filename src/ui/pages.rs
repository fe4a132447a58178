//! The dashboard's pages: each reads what it shows from the sources and renders it with the
//! report helpers (frame, tables, SVG charts). Every string from the store goes through
//! `esc`.

use super::DashboardSources;
use crate::alerts::{AlertQuery, AlertRecord};
use crate::audit::{AuditEvent, AuditQuery, AuditRecord, VerifyOptions};
use crate::lifecycle::{ApprovalRecord, ApprovalStatus};
use crate::registry::{AliasChange, ModelVersion, VersionStatus};
use crate::report::html::{esc, fmt_num, frame, pct, table};
use crate::report::svg::{BLUE, GREEN, GREY, ORANGE, RED, TimeLine, time_lines};
use crate::report::{CardSources, ModelCard, timeline_body};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Audit records per page of `/audit`.
const AUDIT_PAGE: usize = 100;
/// Alerts listed on `/alerts` (the latest ones).
const ALERTS_LISTED: usize = 500;
/// Monitoring windows listed in a model's table (the latest ones; the charts show all).
const WINDOWS_LISTED: usize = 60;

/// The dashboard's own styles, added to the report CSS.
const UI_CSS: &str = "<style>nav{display:flex;flex-wrap:wrap;gap:18px;align-items:baseline;border-bottom:2px solid #1f6fb4;padding:6px 0 8px;margin-bottom:8px}\
nav a{color:#1f6fb4;text-decoration:none;font-weight:600}nav a:hover{text-decoration:underline}nav .brand{font-size:1.1em;color:#212529}\
nav .store{margin-left:auto;color:#868e96;font-size:.85em}a{color:#1f6fb4}.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:.85em;background:#e9ecef}\
.badge.bad{background:#ffe3e3}.badge.ok{background:#d3f9d8}.badge.warn{background:#fff3bf;color:#a05a00;font-weight:600}code{font-size:.85em;word-break:break-all}\
.audit table{table-layout:fixed;width:100%}.audit td:nth-child(1),.audit th:nth-child(1){width:44px}.audit td:nth-child(2),.audit th:nth-child(2){width:92px}\
.audit td:nth-child(3),.audit th:nth-child(3){width:80px}.audit td:nth-child(4),.audit th:nth-child(4){width:150px}.audit td:nth-child(5),.audit th:nth-child(5){width:170px;word-break:break-all}\
.audit td:nth-child(4) code{word-break:normal}td:first-child{white-space:nowrap}details{margin:8px 0}summary{cursor:pointer;font-weight:600}body{max-width:1040px}</style>\n";

/// The frame of every dashboard page: navigation, body, footer.
fn ui_page(label: &str, title: &str, body: &str) -> String {
    let nav = format!(
        "<nav><a class=\"brand\" href=\"/\">mlcycle dashboard</a><a href=\"/\">Models</a>\
         <a href=\"/approvals\">Approvals</a><a href=\"/alerts\">Alerts</a>\
         <a href=\"/audit\">Audit trail</a><span class=\"store\">store: {}</span></nav>",
        esc(label)
    );
    frame(
        &format!("{title} · mlcycle"),
        UI_CSS,
        &format!("{nav}\n{body}"),
        "mlcycle dashboard: a read-only view of the store. No script, no network access.",
    )
}

/// An error page (404, 500) in the dashboard's frame.
pub(super) fn error_page(label: &str, status: u16, title: &str, detail: &str) -> String {
    ui_page(
        label,
        title,
        &format!(
            "<h1>{status} · {}</h1><p>{}</p><p><a href=\"/\">Back to the overview</a></p>",
            esc(title),
            esc(detail)
        ),
    )
}

/// A path segment, percent-encoded (model names are plain, but nothing is assumed).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn model_link(name: &str) -> String {
    format!("<a href=\"/models/{}\">{}</a>", seg(name), esc(name))
}

fn version_link(name: &str, v: u32) -> String {
    format!(
        "<a href=\"/models/{}/versions/{v}\">{}/{v}</a>",
        seg(name),
        esc(name)
    )
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn status_badge(s: VersionStatus) -> String {
    let class = match s {
        VersionStatus::Approved => "ok",
        VersionStatus::Rejected => "bad",
        VersionStatus::PendingApproval => "warn",
        VersionStatus::Archived => "",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(s.as_str()))
}

fn severity_badge(s: &str) -> String {
    let class = match s {
        "critical" => "bad",
        "warning" => "warn",
        _ => "",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(s))
}

/// Whether the record names `name` or `name/…` among its subjects.
fn about(r: &AuditRecord, name: &str) -> bool {
    r.entry.subjects.iter().any(|s| {
        s.strip_prefix(name)
            .is_some_and(|t| t.starts_with('/') || t.is_empty())
    })
}

/// The version named `name/V` among the record's subjects.
fn subject_version(r: &AuditRecord, name: &str) -> Option<u32> {
    r.entry
        .subjects
        .iter()
        .find_map(|s| s.strip_prefix(name)?.strip_prefix('/')?.parse().ok())
}

/// One monitoring window of a model, from its `drift.checked` record.
#[derive(Debug, Clone)]
struct Window {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    version: Option<u32>,
    rows: Option<f64>,
    error_rate: Option<f64>,
    p50_us: Option<f64>,
    p99_us: Option<f64>,
    dataset_drift: Option<bool>,
    drifted: Option<Vec<String>>,
    /// Drifted columns over the version's inputs.
    share: Option<f64>,
    skipped: Option<String>,
    performance: BTreeMap<String, f64>,
    labelled: Option<f64>,
    degraded: Option<bool>,
}

fn windows(name: &str, versions: &[ModelVersion], audit: &[AuditRecord]) -> Vec<Window> {
    let inputs_of = |v: u32| {
        versions
            .iter()
            .find(|x| x.version == v)
            .map(|x| x.signature.inputs.features.len())
    };
    let mut out = Vec::new();
    for r in audit.iter().filter(|r| about(r, name)) {
        let Ok(AuditEvent::DriftChecked(d)) = AuditEvent::parse(&r.entry.action, &r.entry.payload)
        else {
            continue;
        };
        let version = subject_version(r, name);
        let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64);
        let perf = d.performance.as_ref();
        out.push(Window {
            from: d.from,
            to: d.to,
            version,
            rows: num(&d.health, "rows"),
            error_rate: num(&d.health, "error_rate"),
            p50_us: num(&d.health, "latency_p50_us"),
            p99_us: num(&d.health, "latency_p99_us"),
            dataset_drift: d.dataset_drift,
            share: d.drifted_columns.as_ref().and_then(|c| {
                version
                    .and_then(inputs_of)
                    .filter(|n| *n > 0)
                    .map(|n| c.len() as f64 / n as f64)
            }),
            drifted: d.drifted_columns,
            skipped: d.skipped,
            performance: perf
                .and_then(|p| p.get("metrics"))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                        .collect()
                })
                .unwrap_or_default(),
            labelled: perf.and_then(|p| num(p, "labelled")),
            degraded: perf
                .and_then(|p| p.get("degraded"))
                .and_then(Value::as_bool),
        });
    }
    out.sort_by_key(|w| w.to);
    out
}

fn window_verdict(w: &Window) -> String {
    match (&w.skipped, w.dataset_drift) {
        (Some(_), _) => "<span class=\"badge\">skipped</span>".into(),
        (None, Some(true)) => "<span class=\"badge bad\">DRIFT</span>".into(),
        (None, _) if w.drifted.as_ref().is_some_and(|d| !d.is_empty()) => {
            "<span class=\"badge warn\">some columns</span>".into()
        }
        (None, _) => "<span class=\"badge ok\">no drift</span>".into(),
    }
}

/// Ticks of a time axis over `[t0, t1]`, and the position of a time in it.
fn time_axis(
    t0: DateTime<Utc>,
    t1: DateTime<Utc>,
) -> (Vec<(f64, String)>, impl Fn(DateTime<Utc>) -> f64) {
    let span = (t1 - t0).num_milliseconds().max(1) as f64;
    let fmt = if (t1 - t0).num_hours() >= 48 {
        "%Y-%m-%d"
    } else {
        "%m-%d %H:%M"
    };
    let ticks = (0..=5)
        .map(|i| {
            let t = t0 + chrono::Duration::milliseconds((span * i as f64 / 5.0) as i64);
            (i as f64 / 5.0, t.format(fmt).to_string())
        })
        .collect();
    (ticks, move |t: DateTime<Utc>| {
        (t - t0).num_milliseconds() as f64 / span
    })
}

/// The monitoring charts of a model: drift share, health (rows, error rate, latency) and
/// realized performance per window.
fn monitoring_charts(name: &str, ws: &[Window]) -> String {
    let mut b = String::new();
    let (Some(first), Some(last)) = (ws.first(), ws.last()) else {
        b.push_str("<p><i>No monitoring window recorded for this model yet.</i></p>");
        return b;
    };
    let (ticks, pos) = time_axis(first.to, last.to);
    let line = |f: &dyn Fn(&Window) -> Option<f64>| -> Vec<(f64, f64)> {
        ws.iter().filter_map(|w| Some((pos(w.to), f(w)?))).collect()
    };
    let drift: Vec<TimeLine<'_>> = vec![
        (
            "drifted inputs (share of the version's inputs)",
            ORANGE,
            line(&|w| w.share),
        ),
        (
            "dataset drift (100% = drifted)",
            RED,
            line(&|w| w.dataset_drift.map(|d| if d { 1.0 } else { 0.0 })),
        ),
    ];
    b.push_str("<div class=\"charts\">");
    b.push_str(&time_lines(
        &format!("drift per monitoring window of {name}"),
        "drift",
        "",
        &ticks,
        &drift,
        true,
    ));
    b.push_str(&time_lines(
        &format!("rows scored per monitoring window of {name}"),
        "rows per window",
        " rows",
        &ticks,
        &[("rows scored", BLUE, line(&|w| w.rows))],
        false,
    ));
    b.push_str(&time_lines(
        &format!("error rate per monitoring window of {name}"),
        "error rate",
        "",
        &ticks,
        &[("failed requests", RED, line(&|w| w.error_rate))],
        true,
    ));
    b.push_str(&time_lines(
        &format!("scoring latency per monitoring window of {name}"),
        "latency (µs)",
        " µs",
        &ticks,
        &[
            ("p50", GREEN, line(&|w| w.p50_us)),
            ("p99", ORANGE, line(&|w| w.p99_us)),
        ],
        false,
    ));
    let metrics: Vec<String> = {
        let mut m: Vec<String> = ws
            .iter()
            .flat_map(|w| w.performance.keys().cloned())
            .collect();
        m.sort();
        m.dedup();
        m
    };
    if metrics.is_empty() {
        b.push_str("</div><p><i>Realized performance: no window had labelled predictions (record ground truth with <code>mlcycle labels ingest</code>).</i></p>");
    } else {
        let colours = [BLUE, GREEN, ORANGE, RED, GREY];
        let lines: Vec<TimeLine<'_>> = metrics
            .iter()
            .enumerate()
            .map(|(i, m)| {
                (
                    m.as_str(),
                    colours[i % colours.len()],
                    ws.iter()
                        .filter_map(|w| Some((pos(w.to), *w.performance.get(m)?)))
                        .collect(),
                )
            })
            .collect();
        b.push_str(&time_lines(
            &format!("realized performance per monitoring window of {name}"),
            "metric on labelled predictions",
            "",
            &ticks,
            &lines,
            false,
        ));
        b.push_str("</div>");
    }
    b
}

fn windows_table(name: &str, ws: &[Window]) -> String {
    let rows: Vec<Vec<String>> = ws
        .iter()
        .rev()
        .take(WINDOWS_LISTED)
        .map(|w| {
            let perf = if w.performance.is_empty() {
                "–".to_string()
            } else {
                let mut p: Vec<String> = w
                    .performance
                    .iter()
                    .map(|(k, v)| format!("{}={}", esc(k), fmt_num(*v)))
                    .collect();
                if let Some(n) = w.labelled {
                    p.push(format!("({} labelled)", fmt_num(n)));
                }
                if w.degraded == Some(true) {
                    p.push("<span class=\"bad\">degraded</span>".into());
                }
                p.join(" ")
            };
            vec![
                format!("{} – {}", time(w.from), time(w.to)),
                w.version
                    .map(|v| version_link(name, v))
                    .unwrap_or_else(|| "–".into()),
                format!("#{}", w.rows.map(fmt_num).unwrap_or_else(|| "–".into())),
                format!("#{}", w.error_rate.map(pct).unwrap_or_else(|| "–".into())),
                window_verdict(w),
                format!("#{}", w.share.map(pct).unwrap_or_else(|| "–".into())),
                esc(&match (&w.drifted, &w.skipped) {
                    (_, Some(s)) => s.clone(),
                    (Some(d), None) => d.join(", "),
                    (None, None) => String::new(),
                }),
                perf,
            ]
        })
        .collect();
    table(
        &[
            "window (UTC)",
            "version",
            "rows",
            "error rate",
            "drift",
            "drifted share",
            "drifted columns / why skipped",
            "performance",
        ],
        &rows,
    )
}

async fn all_audit(s: &DashboardSources) -> Result<Vec<AuditRecord>> {
    s.audit.query(&AuditQuery::default()).await
}

fn approvals_of(s: &DashboardSources, model: Option<&str>) -> Result<Vec<ApprovalRecord>> {
    s.state.approvals(model)
}

/// The versions of `name`, or `NotFound` when the store has no such model.
async fn versions_of(s: &DashboardSources, name: &str) -> Result<Vec<ModelVersion>> {
    let vs = s.registry.list_versions(name).await?;
    if vs.is_empty() {
        return Err(Error::not_found(
            "model",
            name,
            "the overview lists the store's models",
        ));
    }
    Ok(vs)
}

fn alerts_table(alerts: &[&AlertRecord], with_model: bool) -> String {
    let rows: Vec<Vec<String>> = alerts
        .iter()
        .map(|r| {
            let a = &r.alert;
            let mut row = vec![
                time(a.at),
                severity_badge(a.severity.as_str()),
                esc(a.kind.as_str()),
            ];
            if with_model {
                row.push(match a.version {
                    Some(v) => version_link(&a.model_name, v),
                    None => model_link(&a.model_name),
                });
            }
            row.push(esc(r.status()));
            row.push(esc(&a.message));
            row
        })
        .collect();
    let mut head = vec!["time (UTC)", "severity", "kind"];
    if with_model {
        head.push("model");
    }
    head.extend(["delivery", "message"]);
    table(&head, &rows)
}

/// The audit trail's verification, as a line of HTML.
async fn audit_status(s: &DashboardSources) -> String {
    match s.audit.verify_with(&VerifyOptions::default()).await {
        Ok(v) => format!(
            "<span class=\"badge ok\">chain verified</span> {} records{}, {} checkpoints{}",
            v.records,
            v.head
                .as_ref()
                .map(|h| format!(
                    ", head {} (<code>{}…</code>)",
                    h.seq,
                    esc(h.hash.get(..12).unwrap_or(&h.hash))
                ))
                .unwrap_or_default(),
            v.checkpoints,
            v.last_checkpoint
                .map(|c| format!(", last covering record {c}"))
                .unwrap_or_default()
        ),
        Err(e) => format!(
            "<span class=\"badge bad\">VERIFICATION FAILED</span> {}",
            esc(&e.to_string())
        ),
    }
}

/// `/`: every model, pending approvals, latest alerts, the audit status.
pub(super) async fn overview(label: &str, s: &DashboardSources) -> Result<String> {
    let names = s.registry.list_models().await?;
    let audit = all_audit(s).await?;
    let alerts = s.alerts.list(&AlertQuery::default()).await?;
    let approvals = approvals_of(s, None)?;
    let pending: Vec<&ApprovalRecord> = approvals
        .iter()
        .filter(|a| a.status == ApprovalStatus::Pending)
        .collect();
    let mut rows = Vec::new();
    let mut total_versions = 0;
    for name in &names {
        let vs = s.registry.list_versions(name).await?;
        total_versions += vs.len();
        let owner = s.registry.get_owner(name).await?;
        let latest = vs.iter().max_by_key(|v| v.version);
        let mut aliases: Vec<String> = vs
            .iter()
            .flat_map(|v| {
                v.aliases
                    .iter()
                    .map(move |a| format!("{}→v{}", esc(a), v.version))
            })
            .collect();
        aliases.sort();
        let ws = windows(name, &vs, &audit);
        let last = ws.last();
        let n_alerts = alerts
            .iter()
            .filter(|a| &a.alert.model_name == name)
            .count();
        rows.push(vec![
            model_link(name),
            esc(owner.as_deref().unwrap_or("–")),
            format!("#{}", vs.len()),
            latest
                .map(|v| {
                    format!(
                        "{} {}",
                        version_link(name, v.version),
                        status_badge(v.status)
                    )
                })
                .unwrap_or_default(),
            if aliases.is_empty() {
                "–".into()
            } else {
                aliases.join(", ")
            },
            last.map(|w| format!("{} {}", time(w.to), window_verdict(w)))
                .unwrap_or_else(|| "–".into()),
            format!("#{n_alerts}"),
        ]);
    }
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Models</h1><p class=\"sub\">Store {}</p><div class=\"card kv\">\
         <div>models<b>{}</b></div><div>versions<b>{total_versions}</b></div>\
         <div>pending approvals<b>{}</b></div><div>alerts<b>{}</b></div>\
         <div>audit records<b>{}</b></div></div><p>Audit trail: {}</p>",
        esc(label),
        names.len(),
        pending.len(),
        alerts.len(),
        audit.len(),
        audit_status(s).await
    );
    if names.is_empty() {
        b.push_str("<p><i>No model is registered in this store yet.</i></p>");
    } else {
        b.push_str(&table(
            &[
                "model",
                "owner",
                "versions",
                "latest version",
                "aliases",
                "latest monitoring window",
                "alerts",
            ],
            &rows,
        ));
    }
    b.push_str("<h2>Pending approvals</h2>");
    if pending.is_empty() {
        b.push_str("<p>No version waits for approval.</p>");
    } else {
        b.push_str(&approvals_summary_table(&pending));
        b.push_str("<p><a href=\"/approvals\">Validation reports and model cards →</a></p>");
    }
    b.push_str("<h2>Latest alerts</h2>");
    if alerts.is_empty() {
        b.push_str("<p>No alert raised.</p>");
    } else {
        let latest: Vec<&AlertRecord> = alerts.iter().rev().take(10).collect();
        b.push_str(&alerts_table(&latest, true));
        b.push_str("<p><a href=\"/alerts\">All alerts →</a></p>");
    }
    Ok(ui_page(label, "Models", &b))
}

fn approvals_summary_table(rs: &[&ApprovalRecord]) -> String {
    let num = |v: &Value| v.as_f64().map_or("–".to_string(), fmt_num);
    let rows: Vec<Vec<String>> = rs
        .iter()
        .map(|r| {
            let s = &r.summary;
            let checks = s["checks"].as_array().map_or(0, Vec::len);
            let failed = s["checks"]
                .as_array()
                .map_or(0, |a| a.iter().filter(|c| c["passed"] == false).count());
            vec![
                version_link(&r.model, r.version),
                time(r.requested_at),
                esc(&r.trigger),
                esc(s["primary_metric"].as_str().unwrap_or("?")),
                format!("#{}", num(&s["candidate"])),
                format!("#{}", num(&s["champion"])),
                if failed == 0 {
                    format!("<span class=\"ok\">{checks}/{checks} passed</span>")
                } else {
                    format!(
                        "<span class=\"bad\">{}/{checks} passed</span>",
                        checks - failed
                    )
                },
                esc(r.status.as_str()),
            ]
        })
        .collect();
    table(
        &[
            "version",
            "requested (UTC)",
            "trigger",
            "primary metric",
            "candidate",
            "champion",
            "checks",
            "status",
        ],
        &rows,
    )
}

/// `/models/{name}`.
pub(super) async fn model(label: &str, s: &DashboardSources, name: &str) -> Result<String> {
    let mut vs = versions_of(s, name).await?;
    vs.sort_by_key(|v| std::cmp::Reverse(v.version));
    let owner = s.registry.get_owner(name).await?;
    let history = s.registry.alias_history(name, None).await?;
    let audit = all_audit(s).await?;
    let alerts = s
        .alerts
        .list(&AlertQuery {
            model: Some(name.to_string()),
            since: None,
        })
        .await?;
    let ws = windows(name, &vs, &audit);
    let mut b = String::new();
    let drifted = ws.iter().filter(|w| w.dataset_drift == Some(true)).count();
    let _ = write!(
        b,
        "<h1>{}</h1><p class=\"sub\">owner {} · <a href=\"/models/{}/timeline\">lifecycle timeline</a></p>\
         <div class=\"card kv\"><div>versions<b>{}</b></div><div>monitoring windows<b>{}</b></div>\
         <div>windows with dataset drift<b>{drifted}</b></div><div>alerts<b>{}</b></div></div>",
        esc(name),
        esc(owner.as_deref().unwrap_or("(none)")),
        seg(name),
        vs.len(),
        ws.len(),
        alerts.len()
    );
    b.push_str("<h2>Monitoring windows over time</h2>");
    b.push_str(&monitoring_charts(name, &ws));
    b.push_str("<h2>Versions</h2>");
    let rows: Vec<Vec<String>> = vs
        .iter()
        .map(|v| {
            let metrics: Vec<String> = v
                .metrics
                .iter()
                .filter(|(k, _)| !k.starts_with("profile_"))
                .take(4)
                .map(|(k, x)| format!("{}={}", esc(k), fmt_num(*x)))
                .collect();
            vec![
                version_link(name, v.version),
                status_badge(v.status),
                time(v.created_at),
                esc(&v.lineage.created_by),
                esc(&format!("{} ({})", v.lineage.trainer, v.flavor)),
                esc(&v.aliases.join(", ")),
                metrics.join(" "),
                esc(&v.description),
            ]
        })
        .collect();
    b.push_str(&table(
        &[
            "version",
            "status",
            "created (UTC)",
            "by",
            "trainer (flavor)",
            "aliases",
            "metrics",
            "description",
        ],
        &rows,
    ));
    b.push_str("<h2>Aliases</h2>");
    let mut current: Vec<(String, u32)> = vs
        .iter()
        .flat_map(|v| v.aliases.iter().map(move |a| (a.clone(), v.version)))
        .collect();
    current.sort();
    if current.is_empty() {
        b.push_str("<p>No alias points at a version.</p>");
    } else {
        let rows: Vec<Vec<String>> = current
            .iter()
            .map(|(a, v)| vec![esc(a), version_link(name, *v)])
            .collect();
        b.push_str(&table(&["alias", "version"], &rows));
    }
    b.push_str("<h3>Alias history</h3>");
    b.push_str(&alias_history_table(name, &history));
    b.push_str("<h2>Monitoring windows</h2>");
    if ws.is_empty() {
        b.push_str("<p>None recorded.</p>");
    } else {
        if ws.len() > WINDOWS_LISTED {
            let _ = write!(
                b,
                "<p class=\"sub\">The latest {WINDOWS_LISTED} of {}.</p>",
                ws.len()
            );
        }
        b.push_str(&windows_table(name, &ws));
    }
    b.push_str("<h2>Alerts</h2>");
    if alerts.is_empty() {
        b.push_str("<p>No alert raised for this model.</p>");
    } else {
        let latest: Vec<&AlertRecord> = alerts.iter().rev().take(ALERTS_LISTED).collect();
        b.push_str(&alerts_table(&latest, false));
    }
    Ok(ui_page(label, name, &b))
}

fn alias_history_table(name: &str, history: &[AliasChange]) -> String {
    if history.is_empty() {
        return "<p>No alias was ever set.</p>".into();
    }
    let rows: Vec<Vec<String>> = history
        .iter()
        .rev()
        .map(|a| {
            vec![
                time(a.at),
                esc(&a.alias),
                a.previous
                    .map(|p| version_link(name, p))
                    .unwrap_or_else(|| "–".into()),
                a.version
                    .map(|v| version_link(name, v))
                    .unwrap_or_else(|| "(deleted)".into()),
                esc(&a.change.actor),
                esc(&a.change.reason),
            ]
        })
        .collect();
    table(&["time (UTC)", "alias", "from", "to", "by", "why"], &rows)
}

/// The model card of `name/version` built from the sources.
async fn card_of(
    s: &DashboardSources,
    mv: &ModelVersion,
    audit: &[AuditRecord],
) -> Result<ModelCard> {
    let owner = s.registry.get_owner(&mv.name).await?;
    let aliases = s.registry.alias_history(&mv.name, None).await?;
    let statuses = s
        .registry
        .status_history(&mv.name, Some(mv.version))
        .await?;
    Ok(ModelCard::build(CardSources {
        version: mv,
        owner: owner.as_deref(),
        alias_history: &aliases,
        status_history: &statuses,
        audit,
    }))
}

/// `/models/{name}/versions/{version}`.
pub(super) async fn version(
    label: &str,
    s: &DashboardSources,
    name: &str,
    v: u32,
) -> Result<String> {
    let vs = versions_of(s, name).await?;
    let Some(mv) = vs.iter().find(|x| x.version == v) else {
        return Err(Error::not_found(
            "version",
            format!("{name}/{v}"),
            "the model's page lists its versions",
        ));
    };
    let audit = all_audit(s).await?;
    let card = card_of(s, mv, &audit).await?;
    let mut b = format!(
        "<p class=\"sub\">{} · version {v} · {}</p>",
        model_link(name),
        status_badge(mv.status)
    );
    if let Some(r) = s.state.approval(name, v)? {
        b.push_str("<h2>Approval request</h2>");
        b.push_str(&approval_detail(&r));
    }
    b.push_str(&card.body_html());
    Ok(ui_page(label, &format!("{name}/{v}"), &b))
}

/// An approval request: when, why, the decision if any, and each validation check.
fn approval_detail(r: &ApprovalRecord) -> String {
    let s = &r.summary;
    let num = |v: &Value| v.as_f64().map_or("–".to_string(), fmt_num);
    let mut b = format!(
        "<p>Requested {} (trigger <code>{}</code>), status <b>{}</b>",
        time(r.requested_at),
        esc(&r.trigger),
        esc(r.status.as_str())
    );
    if let (Some(by), Some(at)) = (&r.decided_by, r.decided_at) {
        let _ = write!(
            b,
            "; decided by {} at {}: {}{}",
            esc(by),
            time(at),
            esc(r.reason.as_deref().unwrap_or("")),
            if r.applied_at.is_some() {
                " (released)"
            } else {
                " (not yet released)"
            }
        );
    }
    let _ = write!(
        b,
        ".</p><p>Validation on {} holdout rows: {} candidate <b>{}</b> vs champion <b>{}</b>.</p>",
        num(&s["holdout_rows"]),
        esc(s["primary_metric"].as_str().unwrap_or("?")),
        num(&s["candidate"]),
        num(&s["champion"])
    );
    let rows: Vec<Vec<String>> = s["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    vec![
                        esc(c["name"].as_str().unwrap_or("?")),
                        if c["passed"] == true {
                            "<span class=\"ok\">pass</span>".into()
                        } else {
                            "<span class=\"bad\">FAIL</span>".into()
                        },
                        esc(c["detail"].as_str().unwrap_or("")),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    if rows.is_empty() {
        b.push_str("<p><i>No check recorded.</i></p>");
    } else {
        b.push_str(&table(&["check", "verdict", "detail"], &rows));
    }
    b
}

/// `/models/{name}/timeline`.
pub(super) async fn timeline(label: &str, s: &DashboardSources, name: &str) -> Result<String> {
    let vs = versions_of(s, name).await?;
    let history = s.registry.alias_history(name, None).await?;
    let audit = all_audit(s).await?;
    let body = format!(
        "<p class=\"sub\">{}</p>{}",
        model_link(name),
        timeline_body(name, &vs, &history, &audit)
    );
    Ok(ui_page(label, &format!("Lifecycle of {name}"), &body))
}

/// `/approvals`.
pub(super) async fn approvals(label: &str, s: &DashboardSources) -> Result<String> {
    let all = approvals_of(s, None)?;
    let audit = all_audit(s).await?;
    let (pending, decided): (Vec<&ApprovalRecord>, Vec<&ApprovalRecord>) = all
        .iter()
        .partition(|a| a.status == ApprovalStatus::Pending);
    let mut b = String::from("<h1>Approvals</h1>");
    let _ = write!(
        b,
        "<p class=\"sub\">{} pending, {} decided. Decide with <code>mlcycle approve NAME@VERSION --by WHO</code> or <code>mlcycle reject …</code>; this page only shows.</p>",
        pending.len(),
        decided.len()
    );
    b.push_str("<h2>Pending</h2>");
    if pending.is_empty() {
        b.push_str("<p>No version waits for approval.</p>");
    }
    for r in &pending {
        let _ = write!(
            b,
            "<div class=\"card\"><h3>{}</h3>",
            version_link(&r.model, r.version)
        );
        b.push_str(&approval_detail(r));
        match s.registry.get_version(&r.model, r.version).await {
            Ok(mv) => {
                let card = card_of(s, &mv, &audit).await?;
                b.push_str("<details><summary>Model card</summary>");
                b.push_str(&card.body_html());
                b.push_str("</details>");
            }
            Err(Error::NotFound { .. }) => {
                b.push_str("<p class=\"bad\">The version is no longer in the registry.</p>")
            }
            Err(e) => return Err(e),
        }
        b.push_str("</div>");
    }
    b.push_str("<h2>Decided</h2>");
    if decided.is_empty() {
        b.push_str("<p>No decision recorded.</p>");
    } else {
        let rows: Vec<Vec<String>> = decided
            .iter()
            .rev()
            .map(|r| {
                vec![
                    version_link(&r.model, r.version),
                    time(r.requested_at),
                    esc(r.status.as_str()),
                    esc(r.decided_by.as_deref().unwrap_or("")),
                    r.decided_at.map(time).unwrap_or_default(),
                    esc(r.reason.as_deref().unwrap_or("")),
                    if r.applied_at.is_some() {
                        "yes"
                    } else {
                        "not yet"
                    }
                    .into(),
                ]
            })
            .collect();
        b.push_str(&table(
            &[
                "version",
                "requested (UTC)",
                "decision",
                "by",
                "decided (UTC)",
                "why",
                "released",
            ],
            &rows,
        ));
    }
    Ok(ui_page(label, "Approvals", &b))
}

/// `/alerts`.
pub(super) async fn alerts(label: &str, s: &DashboardSources) -> Result<String> {
    let all = s.alerts.list(&AlertQuery::default()).await?;
    let mut b = String::from("<h1>Alerts</h1>");
    let mut by_kind: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in &all {
        *by_kind
            .entry((
                r.alert.severity.as_str().into(),
                r.alert.kind.as_str().into(),
            ))
            .or_default() += 1;
    }
    let _ = write!(
        b,
        "<p class=\"sub\">{} alerts{}</p>",
        all.len(),
        if all.len() > ALERTS_LISTED {
            format!(", the latest {ALERTS_LISTED} listed")
        } else {
            String::new()
        }
    );
    if all.is_empty() {
        b.push_str("<p>No alert raised.</p>");
        return Ok(ui_page(label, "Alerts", &b));
    }
    let rows: Vec<Vec<String>> = by_kind
        .iter()
        .map(|((sev, kind), n)| vec![severity_badge(sev), esc(kind), format!("#{n}")])
        .collect();
    b.push_str(&table(&["severity", "kind", "count"], &rows));
    let latest: Vec<&AlertRecord> = all.iter().rev().take(ALERTS_LISTED).collect();
    b.push_str(&alerts_table(&latest, true));
    Ok(ui_page(label, "Alerts", &b))
}

/// A subject as HTML: content hashes (40+ hex digits) shortened to 12, the whole one on hover.
fn short_subject(s: &str) -> String {
    let hex_tail = s.rsplit('/').next().unwrap_or(s);
    if hex_tail.len() >= 40 && hex_tail.bytes().all(|b| b.is_ascii_hexdigit()) {
        let keep = s.len() - hex_tail.len() + 12;
        format!(
            "<span title=\"{}\">{}…</span>",
            esc(s),
            esc(s.get(..keep).unwrap_or(s))
        )
    } else {
        esc(s)
    }
}

/// `/audit?page=N`.
pub(super) async fn audit(label: &str, s: &DashboardSources, page: usize) -> Result<String> {
    let records = all_audit(s).await?;
    let pages = records.len().div_ceil(AUDIT_PAGE).max(1);
    let page = page.min(pages);
    let mut b = String::from("<h1>Audit trail</h1>");
    let _ = write!(b, "<p>{}</p>", audit_status(s).await);
    let _ = write!(
        b,
        "<p class=\"sub\">{} records, newest first; page {page} of {pages}.</p>",
        records.len()
    );
    let rows: Vec<Vec<String>> = records
        .iter()
        .rev()
        .skip((page - 1) * AUDIT_PAGE)
        .take(AUDIT_PAGE)
        .map(|r| {
            let payload = r.entry.payload.to_string();
            let short: String = payload.chars().take(160).collect();
            vec![
                format!("#{}", r.seq),
                r.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                esc(&r.entry.actor),
                format!("<code>{}</code>", esc(&r.entry.action)),
                r.entry
                    .subjects
                    .iter()
                    .map(|x| short_subject(x))
                    .collect::<Vec<_>>()
                    .join(", "),
                if short.len() < payload.len() {
                    format!(
                        "<details><summary><code>{}…</code></summary><code>{}</code></details>",
                        esc(&short),
                        esc(&payload)
                    )
                } else {
                    format!("<code>{}</code>", esc(&payload))
                },
            ]
        })
        .collect();
    b.push_str("<div class=\"audit\">");
    b.push_str(&table(
        &[
            "seq",
            "time (UTC)",
            "actor",
            "action",
            "subjects",
            "payload",
        ],
        &rows,
    ));
    b.push_str("</div>");
    if pages > 1 {
        b.push_str("<p>");
        if page > 1 {
            let _ = write!(b, "<a href=\"/audit?page={}\">← newer</a> ", page - 1);
        }
        if page < pages {
            let _ = write!(b, "<a href=\"/audit?page={}\">older →</a>", page + 1);
        }
        b.push_str("</p>");
    }
    Ok(ui_page(label, "Audit trail", &b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn window(day: u32, auc: Option<f64>) -> Window {
        let at = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 0, 0, 0).unwrap();
        Window {
            from: at(day),
            to: at(day + 1),
            version: Some(1),
            rows: Some(100.0 * f64::from(day)),
            error_rate: Some(0.01),
            p50_us: Some(10.0),
            p99_us: Some(90.0),
            dataset_drift: Some(day > 3),
            drifted: Some(vec!["<age>".into()]),
            share: Some(0.25),
            skipped: None,
            performance: auc
                .map(|a| ("roc_auc".to_string(), a))
                .into_iter()
                .collect(),
            labelled: auc.map(|_| 40.0),
            degraded: auc.map(|a| a < 0.7),
        }
    }

    #[test]
    fn charts_show_realized_performance_when_windows_have_labels() {
        let ws: Vec<Window> = (1..6)
            .map(|d| window(d, Some(0.9 - 0.05 * f64::from(d))))
            .collect();
        let html = monitoring_charts("m", &ws);
        assert_eq!(html.matches("<svg").count(), 5);
        assert!(html.contains("realized performance per monitoring window of m"));
        assert!(
            html.contains(">roc_auc<"),
            "the metric is named in the legend"
        );
        let table = windows_table("m", &ws);
        assert!(table.contains("roc_auc=0.65") && table.contains("degraded"));
        assert!(table.contains("&lt;age&gt;") && !table.contains("<age>"));
    }

    #[test]
    fn without_labels_or_windows_the_page_says_so() {
        let ws: Vec<Window> = (1..4).map(|d| window(d, None)).collect();
        let html = monitoring_charts("m", &ws);
        assert_eq!(html.matches("<svg").count(), 4);
        assert!(html.contains("no window had labelled predictions"));
        let none = monitoring_charts("m", &[]);
        assert!(!none.contains("<svg") && none.contains("No monitoring window"));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("credit-default.v2_x"), "credit-default.v2_x");
        assert_eq!(seg("a/b c\"<"), "a%2Fb%20c%22%3C");
    }
}
