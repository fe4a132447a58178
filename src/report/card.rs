//! The model card: what a version is, where it came from, how it was judged and how it is
//! doing, from the registry and the audit trail only.

use super::html::{esc, fmt_num, page, pct, table};
use crate::audit::{AuditEvent, AuditRecord};
use crate::data::FeatureKind;
use crate::explain::{IMPORTANCE_METHOD_TAG, IMPORTANCE_TAG};
use crate::registry::{AliasChange, ModelVersion, StatusChange};
use crate::validate::{FairnessSummary, ValidationReport};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Monitoring windows and alerts shown in the Markdown and HTML forms (the latest ones; the
/// JSON form has them all).
const LATEST: usize = 10;

/// What the card is built from: the version and its model's records, as read from the
/// registry and the audit trail.
#[derive(Debug, Clone, Copy)]
pub struct CardSources<'a> {
    /// The version the card describes.
    pub version: &'a ModelVersion,
    /// The model's owner, if set.
    pub owner: Option<&'a str>,
    /// The model's alias history (every alias, oldest first).
    pub alias_history: &'a [AliasChange],
    /// The version's status history, oldest first.
    pub status_history: &'a [StatusChange],
    /// The audit records (all of them, or those about the model), in sequence order.
    pub audit: &'a [AuditRecord],
}

/// One dataset of the training lineage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardDataset {
    /// Content id.
    pub id: String,
    /// Its role in the lineage (`training`, `validation`).
    pub role: String,
    /// Where it was read from, when the audit trail recorded it.
    pub source: Option<String>,
    /// Rows, when recorded.
    pub rows: Option<usize>,
    /// Feature columns, when recorded.
    pub features: Option<usize>,
}

/// One dated line of a history (approvals, aliases, deployments, monitoring, alerts).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// What happened.
    pub what: String,
    /// Who.
    pub by: String,
    /// Why, or details.
    pub detail: String,
}

/// The latest validation of the version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardValidation {
    /// When.
    pub at: DateTime<Utc>,
    /// The champion version at the time.
    pub champion: Option<u32>,
    /// The full report.
    pub report: ValidationReport,
}

/// A model card. Build it with [`ModelCard::build`]; write it with
/// [`ModelCard::to_markdown`] or [`ModelCard::to_html`]; it serialises as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCard {
    /// Model name.
    pub name: String,
    /// Version number.
    pub version: u32,
    /// What the model is for (the version's description).
    pub description: String,
    /// Owner.
    pub owner: Option<String>,
    /// Approval status.
    pub status: String,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// Who registered it.
    pub created_by: String,
    /// Artifact flavor.
    pub flavor: String,
    /// sha256 of the artifact.
    pub artifact_sha256: String,
    /// Aliases pointing at it now.
    pub aliases: Vec<String>,
    /// Inputs: `(name, kind)` where kind is `numeric` or `categorical (levels…)`.
    pub inputs: Vec<(String, String)>,
    /// The target: name and kind.
    pub target: (String, String),
    /// Training algorithm.
    pub trainer: String,
    /// Training parameters.
    pub params: serde_json::Value,
    /// Code version.
    pub code_version: Option<String>,
    /// Training and validation datasets.
    pub datasets: Vec<CardDataset>,
    /// The metrics recorded with the version.
    pub metrics: BTreeMap<String, f64>,
    /// The validation that preceded its registration or release, if recorded.
    pub validation: Option<CardValidation>,
    /// Fairness by group, from that validation.
    pub fairness: Option<FairnessSummary>,
    /// Global importance stored at registration, largest first.
    pub importance: Vec<(String, f64)>,
    /// How the importance was computed.
    pub importance_method: Option<String>,
    /// Profiling: artifact size, latency, throughput (the version's `profile_*` metrics).
    pub profile: BTreeMap<String, f64>,
    /// Status changes, approval requests and decisions.
    pub approvals: Vec<CardEvent>,
    /// Alias moves and deployments that concern the version.
    pub releases: Vec<CardEvent>,
    /// Monitoring windows checked while it served, latest last.
    pub monitoring: Vec<CardEvent>,
    /// Alerts raised about the model.
    pub alerts: Vec<CardEvent>,
    /// Tags other than the importance.
    pub tags: BTreeMap<String, String>,
}

/// The version a record concerns when it names `name/V` among its subjects.
fn subject_version(r: &AuditRecord, name: &str) -> Option<u32> {
    r.entry.subjects.iter().find_map(|s| {
        s.strip_prefix(name)
            .and_then(|t| t.strip_prefix('/'))
            .and_then(|v| v.parse().ok())
    })
}

impl ModelCard {
    /// Build the card of `sources.version` from the registry's facts and the audit trail.
    /// Records that do not parse as typed events are skipped.
    pub fn build(sources: CardSources<'_>) -> ModelCard {
        let mv = sources.version;
        let name = mv.name.as_str();
        let v = mv.version;
        let trace = mv.tags.get("trace_id");
        let mut datasets: Vec<CardDataset> = mv
            .lineage
            .training_datasets
            .iter()
            .map(|d| (d, "training"))
            .chain(
                mv.lineage
                    .validation_dataset
                    .iter()
                    .map(|d| (d, "validation")),
            )
            .map(|(d, role)| CardDataset {
                id: d.to_string(),
                role: role.into(),
                source: None,
                rows: None,
                features: None,
            })
            .collect();
        let mut card = ModelCard {
            name: name.into(),
            version: v,
            description: mv.description.clone(),
            owner: sources.owner.map(str::to_string),
            status: mv.status.as_str().into(),
            created_at: mv.created_at,
            created_by: mv.lineage.created_by.clone(),
            flavor: mv.flavor.clone(),
            artifact_sha256: mv.artifact_sha256.clone(),
            aliases: mv.aliases.clone(),
            inputs: mv
                .signature
                .inputs
                .features
                .iter()
                .map(|f| {
                    let kind = match &f.kind {
                        FeatureKind::Categorical { levels } => {
                            format!("categorical ({})", levels.join(", "))
                        }
                        _ => "numeric".into(),
                    };
                    (f.name.clone(), kind)
                })
                .collect(),
            target: (
                mv.signature.target.name.clone(),
                match mv.signature.target.kind.classes() {
                    Some(c) => format!("classes: {}", c.join(", ")),
                    None => "regression".into(),
                },
            ),
            trainer: mv.lineage.trainer.clone(),
            params: mv.lineage.params.clone(),
            code_version: mv.lineage.code_version.clone(),
            datasets: Vec::new(),
            metrics: mv
                .metrics
                .iter()
                .filter(|(k, _)| !k.starts_with("profile_"))
                .map(|(k, x)| (k.clone(), *x))
                .collect(),
            validation: None,
            fairness: None,
            importance: Vec::new(),
            importance_method: mv.tags.get(IMPORTANCE_METHOD_TAG).cloned(),
            profile: mv
                .metrics
                .iter()
                .filter(|(k, _)| k.starts_with("profile_"))
                .map(|(k, x)| (k.clone(), *x))
                .collect(),
            approvals: Vec::new(),
            releases: Vec::new(),
            monitoring: Vec::new(),
            alerts: Vec::new(),
            tags: mv
                .tags
                .iter()
                .filter(|(k, _)| *k != IMPORTANCE_TAG && *k != IMPORTANCE_METHOD_TAG)
                .map(|(k, x)| (k.clone(), x.clone()))
                .collect(),
        };
        if let Some(Ok(map)) = mv
            .tags
            .get(IMPORTANCE_TAG)
            .map(|t| serde_json::from_str::<BTreeMap<String, f64>>(t))
        {
            let mut imp: Vec<(String, f64)> = map.into_iter().collect();
            imp.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            card.importance = imp;
        }
        for s in sources
            .status_history
            .iter()
            .filter(|s| s.name == name && s.version == v)
        {
            card.approvals.push(CardEvent {
                at: s.at,
                what: format!("status → {}", s.status.as_str()),
                by: s.change.actor.clone(),
                detail: s.change.reason.clone(),
            });
        }
        for a in sources.alias_history.iter().filter(|a| a.name == name) {
            if a.version == Some(v) || a.previous == Some(v) {
                let what = match (a.previous, a.version) {
                    (_, Some(to)) if to == v => format!("alias {} → v{v}", a.alias),
                    (_, Some(to)) => format!("alias {} moved to v{to}", a.alias),
                    (_, None) => format!("alias {} deleted", a.alias),
                };
                card.releases.push(CardEvent {
                    at: a.at,
                    what,
                    by: a.change.actor.clone(),
                    detail: a.change.reason.clone(),
                });
            }
        }
        for r in sources.audit {
            let Ok(event) = AuditEvent::parse(&r.entry.action, &r.entry.payload) else {
                continue;
            };
            let ev = |what: String, detail: String| CardEvent {
                at: r.at,
                what,
                by: r.entry.actor.clone(),
                detail,
            };
            match event {
                AuditEvent::DatasetRegistered(d) => {
                    for ds in datasets.iter_mut().filter(|x| x.id == d.hash.to_string()) {
                        ds.source = Some(d.source.clone());
                        ds.rows = Some(d.rows);
                        ds.features = Some(d.features);
                    }
                }
                AuditEvent::ValidationCompleted(c) if c.model_name == name => {
                    let about_v = c.version == Some(v)
                        || c.candidate == Some(v)
                        || (c.version.is_none()
                            && c.candidate.is_none()
                            && trace.is_some_and(|t| *t == r.entry.trace_id));
                    if about_v
                        && let Ok(report) =
                            serde_json::from_value::<ValidationReport>(c.report.clone())
                    {
                        card.fairness = report.fairness.clone();
                        card.validation = Some(CardValidation {
                            at: r.at,
                            champion: c.champion,
                            report,
                        });
                    }
                }
                AuditEvent::ApprovalRequested(a) if a.model_name == name && a.version == v => {
                    card.approvals
                        .push(ev("approval requested".into(), a.trigger.clone()));
                }
                AuditEvent::ApprovalDecided(a) if a.model_name == name && a.version == v => {
                    card.approvals.push(CardEvent {
                        at: r.at,
                        what: format!("approval: {}", a.decision),
                        by: a.decided_by.clone(),
                        detail: a.reason.clone(),
                    });
                }
                AuditEvent::DeploymentStarted(d) if d.model_name == name && d.version == v => {
                    card.releases.push(ev(
                        format!("deployed to {} ({})", d.endpoint, d.deployer),
                        format!("approved by {}", d.approved_by),
                    ));
                }
                AuditEvent::DeploymentStopped(d) if d.model_name == name && d.version == v => {
                    card.releases.push(ev(
                        format!("undeployed from {}", d.endpoint),
                        d.reason.clone(),
                    ));
                }
                AuditEvent::DriftChecked(d) if subject_version(r, name) == Some(v) => {
                    let what = match (&d.skipped, d.dataset_drift) {
                        (Some(_), _) => "window skipped".to_string(),
                        (None, Some(true)) => "window: DRIFT".to_string(),
                        (None, Some(false)) => "window: no drift".to_string(),
                        (None, None) => "window checked".to_string(),
                    };
                    let drifted = d
                        .drifted_columns
                        .as_ref()
                        .filter(|c| !c.is_empty())
                        .map(|c| format!("; drifted: {}", c.join(", ")))
                        .unwrap_or_default();
                    let rows = d
                        .health
                        .get("rows")
                        .and_then(serde_json::Value::as_u64)
                        .map(|n| format!("; {n} rows"))
                        .unwrap_or_default();
                    card.monitoring.push(ev(
                        what,
                        format!(
                            "{} – {}{rows}{drifted}{}",
                            d.from.format("%Y-%m-%d %H:%M"),
                            d.to.format("%Y-%m-%d %H:%M"),
                            d.skipped
                                .as_ref()
                                .map(|s| format!("; {s}"))
                                .unwrap_or_default()
                        ),
                    ));
                }
                AuditEvent::AlertRaised(a) if a.model_name == name => {
                    card.alerts.push(ev(
                        format!("{} alert: {}", a.severity, a.kind),
                        a.message.clone(),
                    ));
                }
                _ => {}
            }
        }
        card.datasets = datasets;
        card.approvals.sort_by_key(|e| e.at);
        card.releases.sort_by_key(|e| e.at);
        card
    }

    /// The card as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Model card: {}/{}\n", self.name, self.version);
        let _ = writeln!(
            s,
            "{}\n",
            if self.description.is_empty() {
                "(no description)"
            } else {
                &self.description
            }
        );
        for (k, v) in self.facts() {
            let _ = writeln!(s, "- **{k}:** {v}");
        }
        for (title, head, rows) in self.sections() {
            let _ = writeln!(s, "\n## {title}\n");
            if rows.is_empty() {
                let _ = writeln!(s, "Nothing recorded.");
                continue;
            }
            let _ = writeln!(s, "| {} |", head.join(" | "));
            let _ = writeln!(s, "|{}", " --- |".repeat(head.len()));
            for r in rows {
                let cells: Vec<String> = r.iter().map(|c| md_cell(c)).collect();
                let _ = writeln!(s, "| {} |", cells.join(" | "));
            }
        }
        s
    }

    /// The card as one self-contained HTML page (inline CSS, importance as a bar chart).
    pub fn to_html(&self) -> String {
        page(
            &format!("Model card: {}/{}", self.name, self.version),
            &self.body_html(),
        )
    }

    /// The body of [`to_html`](Self::to_html): heading, facts, sections and charts.
    pub(crate) fn body_html(&self) -> String {
        let mut b = String::new();
        let _ = write!(
            b,
            "<h1>Model card: {}/{}</h1><p class=\"sub\">{}</p><ul>",
            esc(&self.name),
            self.version,
            esc(if self.description.is_empty() {
                "(no description)"
            } else {
                &self.description
            })
        );
        for (k, v) in self.facts() {
            let _ = write!(b, "<li><b>{}:</b> {}</li>", esc(k), esc(&v));
        }
        b.push_str("</ul>");
        for (title, head, rows) in self.sections() {
            let _ = write!(b, "<h2>{}</h2>", esc(title));
            if rows.is_empty() {
                b.push_str("<p><i>Nothing recorded.</i></p>");
                continue;
            }
            let rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|c| match c.strip_prefix('#') {
                            Some(n) => format!("#{}", esc(n)),
                            None => esc(c),
                        })
                        .collect()
                })
                .collect();
            b.push_str(&table(&head, &rows));
            if title == "Importance" {
                b.push_str(&importance_bars(&self.importance));
            }
        }
        b
    }

    fn facts(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("Status", self.status.clone()),
            (
                "Owner",
                self.owner.clone().unwrap_or_else(|| "(none)".into()),
            ),
            (
                "Registered",
                format!(
                    "{} by {}",
                    self.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    self.created_by
                ),
            ),
            ("Flavor", self.flavor.clone()),
            ("Trainer", self.trainer.clone()),
            ("Parameters", self.params.to_string()),
            ("Artifact sha256", self.artifact_sha256.clone()),
            (
                "Aliases",
                if self.aliases.is_empty() {
                    "(none)".into()
                } else {
                    self.aliases.join(", ")
                },
            ),
            ("Target", format!("{} ({})", self.target.0, self.target.1)),
        ];
        if let Some(c) = &self.code_version {
            f.push(("Code version", c.clone()));
        }
        if let Some(m) = &self.importance_method {
            f.push(("Importance method", m.clone()));
        }
        let drift = self
            .monitoring
            .iter()
            .filter(|e| e.what.contains("DRIFT"))
            .count();
        f.push((
            "Monitoring",
            match self.monitoring.last() {
                Some(last) => format!(
                    "{} windows checked while serving, {drift} with dataset drift; latest {}: {}",
                    self.monitoring.len(),
                    last.at.format("%Y-%m-%d %H:%M UTC"),
                    last.what
                ),
                None => "no monitoring window recorded".into(),
            },
        ));
        f
    }

    /// `(title, header, rows)`; a cell starting with `#` is a number (right-aligned in HTML).
    #[allow(clippy::type_complexity)]
    fn sections(&self) -> Vec<(&'static str, Vec<&'static str>, Vec<Vec<String>>)> {
        let num = |x: f64| format!("#{}", fmt_num(x));
        let events = |e: &[CardEvent]| -> Vec<Vec<String>> {
            e.iter()
                .map(|e| {
                    vec![
                        e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        e.what.clone(),
                        e.by.clone(),
                        e.detail.clone(),
                    ]
                })
                .collect()
        };
        let ev_head = vec!["time (UTC)", "what", "who", "why / details"];
        let mut out = vec![(
            "Signature",
            vec!["input", "kind"],
            self.inputs
                .iter()
                .map(|(n, k)| vec![n.clone(), k.clone()])
                .collect(),
        )];
        out.push((
            "Training data",
            vec!["dataset", "role", "source", "rows", "features"],
            self.datasets
                .iter()
                .map(|d| {
                    vec![
                        d.id.clone(),
                        d.role.clone(),
                        d.source.clone().unwrap_or_else(|| "–".into()),
                        d.rows.map_or_else(|| "–".into(), |n| format!("#{n}")),
                        d.features.map_or_else(|| "–".into(), |n| format!("#{n}")),
                    ]
                })
                .collect(),
        ));
        let champ = self
            .validation
            .as_ref()
            .and_then(|v| v.report.champion.as_ref());
        out.push((
            "Validation metrics",
            vec!["metric", "this version", "champion at the time"],
            self.metrics
                .iter()
                .map(|(k, x)| {
                    vec![
                        k.clone(),
                        num(*x),
                        champ
                            .and_then(|c| c.get(k))
                            .map_or_else(|| "–".into(), |c| num(*c)),
                    ]
                })
                .collect(),
        ));
        out.push((
            "Validation checks",
            vec!["check", "verdict", "why"],
            self.validation
                .iter()
                .flat_map(|v| &v.report.checks)
                .map(|c| {
                    vec![
                        c.name.clone(),
                        if c.info {
                            "info"
                        } else if c.passed {
                            "pass"
                        } else {
                            "FAIL"
                        }
                        .into(),
                        c.detail.clone(),
                    ]
                })
                .collect(),
        ));
        out.push((
            "Fairness",
            vec!["group", "rows", "selection rate", "accuracy", "TPR", "FPR"],
            self.fairness
                .iter()
                .flat_map(|f| {
                    f.by_group
                        .iter()
                        .map(|(g, m)| (format!("{}={g}", f.sensitive), m))
                })
                .map(|(g, m)| {
                    vec![
                        g,
                        format!("#{}", m.count),
                        format!("#{}", pct(m.selection_rate)),
                        format!("#{}", pct(m.accuracy)),
                        format!("#{}", pct(m.true_positive_rate)),
                        format!("#{}", pct(m.false_positive_rate)),
                    ]
                })
                .collect(),
        ));
        out.push((
            "Importance",
            vec!["input", "mean absolute contribution"],
            self.importance
                .iter()
                .map(|(f, x)| vec![f.clone(), num(*x)])
                .collect(),
        ));
        out.push((
            "Profiling",
            vec!["measure", "value"],
            self.profile
                .iter()
                .map(|(k, x)| vec![k.clone(), num(*x)])
                .collect(),
        ));
        out.push(("Approval history", ev_head.clone(), events(&self.approvals)));
        out.push((
            "Alias and deployment history",
            ev_head.clone(),
            events(&self.releases),
        ));
        let latest = |e: &[CardEvent]| events(&e[e.len().saturating_sub(LATEST)..]);
        out.push((
            "Monitoring (latest windows)",
            ev_head.clone(),
            latest(&self.monitoring),
        ));
        out.push(("Alerts (latest)", ev_head, latest(&self.alerts)));
        out
    }
}

fn md_cell(c: &str) -> String {
    c.strip_prefix('#')
        .unwrap_or(c)
        .replace('|', "\\|")
        .replace('\n', " ")
}

fn importance_bars(imp: &[(String, f64)]) -> String {
    let max = imp.iter().map(|x| x.1).fold(0.0, f64::max);
    if imp.is_empty() || max <= 0.0 {
        return String::new();
    }
    let h = 20.0;
    let height = 30.0 + h * imp.len() as f64;
    let mut s = format!(
        "<svg width=\"560\" height=\"{height:.0}\" viewBox=\"0 0 560 {height:.0}\" role=\"img\" \
         aria-label=\"importance\"><title>importance</title>\
         <text x=\"4\" y=\"14\" class=\"legend\">mean |contribution| to the model output, per input</text>"
    );
    for (i, (f, x)) in imp.iter().enumerate() {
        let y = 22.0 + h * i as f64;
        let w = 320.0 * x / max;
        let _ = write!(
            s,
            "<text x=\"154\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{}</text>\
             <rect x=\"160\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"#1f6fb4\" fill-opacity=\"0.75\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">{}</text>",
            y + 11.0,
            esc(f),
            h - 5.0,
            164.0 + w,
            y + 11.0,
            fmt_num(*x)
        );
    }
    s.push_str("</svg>");
    s
}
