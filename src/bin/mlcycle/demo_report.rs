//! The human-readable account of a demo run.

use mlcycle::lifecycle::{MonitoringDecision, TrainingDecision, TrainingOutcome};
use mlcycle::testing::scenario::{DayRecord, ScenarioConfig, ScenarioReport};
use std::path::Path;

pub fn intro(c: &ScenarioConfig, temporary: bool) {
    println!("mlcycle demo — the model lifecycle, end to end, on synthetic credit-default data");
    println!(
        "  {} days of production from {}, {} requests × {} rows a day, monitored every evening over the last {} days",
        c.days,
        c.start.format("%Y-%m-%d"),
        c.requests_per_day,
        c.rows_per_request,
        c.monitor_window_days
    );
    match &c.drift {
        Some(d) => println!(
            "  drift: an economic downturn begins on day {} (incomes fall, utilization and late payments rise, defaults react more strongly)",
            d.start_day
        ),
        None => println!("  drift: none (a false-alarm check)"),
    }
    if let Some(f) = &c.fault {
        println!(
            "  data fault: on days {}–{} an upstream bug blanks {:.0}% of `{}`",
            f.start_day,
            f.start_day + f.days - 1,
            100.0 * f.fraction,
            f.feature
        );
    }
    if temporary {
        println!(
            "  store: a temporary directory, removed at the end (pass --store DIR to keep it)"
        );
    }
    println!();
}

fn metrics_line(m: &std::collections::BTreeMap<String, f64>) -> String {
    ["roc_auc", "accuracy", "f1", "log_loss", "rmse", "r2"]
        .iter()
        .filter_map(|k| m.get(*k).map(|v| format!("{k} {v:.4}")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn training(t: &TrainingOutcome, indent: &str) {
    let q = &t.quality;
    let missing: Vec<String> = q
        .columns
        .iter()
        .filter(|c| c.missing > 0)
        .map(|c| format!("{} {:.1}%", c.name, 100.0 * c.missing_fraction))
        .collect();
    let outliers: usize = q.columns.iter().map(|c| c.outliers).sum();
    println!(
        "{indent}data      {} — {} rows, dataset id {}",
        t.dataset_source,
        q.rows,
        &t.dataset.0[..12]
    );
    println!(
        "{indent}quality   {} duplicate rows; missing: {}; {} IQR outliers over {} columns; constant columns: {}",
        q.duplicate_rows,
        if missing.is_empty() {
            "none".to_string()
        } else {
            missing.join(", ")
        },
        outliers,
        q.columns.len(),
        q.columns.iter().filter(|c| c.constant).count()
    );
    println!(
        "{indent}train     {} on {} rows (preprocessing fitted on them and stored in the model)",
        t.algorithm, t.train_rows
    );
    let v = &t.validation;
    println!(
        "{indent}validate  on {} held-out rows: candidate {}",
        v.holdout_rows,
        metrics_line(&v.candidate)
    );
    if let (Some(ch), Some(cv)) = (&v.champion, t.champion_version) {
        println!(
            "{indent}          champion v{cv} on the same rows: {}",
            metrics_line(ch)
        );
    }
    for c in &v.checks {
        println!(
            "{indent}  [{}] {}",
            match (c.info, c.passed) {
                (true, _) => "info",
                (false, true) => "pass",
                (false, false) => "FAIL",
            },
            c.detail
        );
    }
    println!(
        "{indent}register  {}/{} (artifact sha256 {}…), lineage: trained on {}, validated on {}",
        t.version.name,
        t.version.version,
        &t.version.artifact_sha256[..12],
        &t.dataset.0[..12],
        &v.holdout.0[..12]
    );
    match &t.decision {
        TrainingDecision::Promoted {
            deployment,
            approved_by,
            reason,
        } => {
            println!("{indent}approve   by {approved_by}: {reason}");
            println!(
                "{indent}deploy    {} now serves version {} ({}); alias production → {}",
                deployment.deployer, deployment.version, deployment.endpoint, deployment.version
            );
        }
        TrainingDecision::Canary {
            deployment,
            approved_by,
            reason,
        } => {
            println!("{indent}approve   by {approved_by}: {reason}");
            println!(
                "{indent}canary    version {} takes {}",
                deployment.version, deployment.endpoint
            );
        }
        TrainingDecision::Rejected { reason } => println!("{indent}rejected  {reason}"),
        TrainingDecision::AwaitingApproval => {
            println!("{indent}approve   waiting for a human decision")
        }
    }
}

fn day_line(d: &DayRecord) -> String {
    let m = &d.monitoring;
    let drift = m
        .report
        .as_ref()
        .and_then(|r| r.drift.as_ref())
        .map_or("–".to_string(), |r| {
            format!("{:>2}/{}", r.drifted_columns, r.columns.len())
        });
    let decision = match &m.decision {
        MonitoringDecision::NoAction => "ok".to_string(),
        MonitoringDecision::Skipped { reason } => format!("skipped: {reason}"),
        MonitoringDecision::DataQualityFault { reason } => {
            format!("DATA-QUALITY FAULT, not retraining: {reason}")
        }
        MonitoringDecision::DriftAlert { reason } => format!("DRIFT ALERT: {reason}"),
        MonitoringDecision::ExpectedShift { reason } => {
            format!("seasonal shift, expected, no action: {reason}")
        }
        MonitoringDecision::Retrained { outcome } => format!(
            "DRIFT → retrained v{}: {}",
            outcome.version.version,
            match &outcome.decision {
                TrainingDecision::Promoted { .. } => "promoted",
                TrainingDecision::Canary { .. } => "released as a canary",
                TrainingDecision::Rejected { .. } => "rejected",
                TrainingDecision::AwaitingApproval => "awaiting approval",
            }
        ),
    };
    let served: Vec<String> = d.served_by.iter().map(|v| format!("v{v}")).collect();
    format!(
        "  {:>3}  {}  {:<5} {:>5}  {:<6} {:<5}  {}",
        d.day,
        d.date.format("%Y-%m-%d"),
        served.join(","),
        d.rows_scored,
        if d.drift_on {
            "drift"
        } else if d.fault_on {
            "fault"
        } else {
            ""
        },
        drift,
        decision
    )
}

pub fn narrate(r: &ScenarioReport, dir: &Path, kept: bool) {
    println!("1. Initial training (trace {})", r.initial.trace_id);
    training(&r.initial, "   ");
    println!();
    println!(
        "2. Production, monitored every evening (drifted = columns whose KS / chi-square p < 0.05 against the training data)"
    );
    println!("  day  date        served  rows  truth  drift  decision");
    let mut shown_drift = false;
    for d in &r.days {
        println!("{}", day_line(d));
        let m = &d.monitoring;
        let drifted = m
            .report
            .as_ref()
            .and_then(|r| r.drift.as_ref())
            .filter(|x| x.dataset_drift);
        if let Some(rep) = drifted
            && !shown_drift
        {
            shown_drift = true;
            println!(
                "         drifted columns (window {} .. {}):",
                m.report
                    .as_ref()
                    .map(|x| x.from.format("%m-%d").to_string())
                    .unwrap_or_default(),
                m.report
                    .as_ref()
                    .map(|x| x.to.format("%m-%d").to_string())
                    .unwrap_or_default()
            );
            for c in rep.drifted() {
                println!(
                    "           {:<16} {:<9} statistic {:.4}, p = {:.2e}",
                    c.name,
                    c.method,
                    c.statistic,
                    c.p_value.unwrap_or(f64::NAN)
                );
            }
        }
        if let MonitoringDecision::Retrained { outcome } = &m.decision {
            println!("         retraining cycle (trace {}):", outcome.trace_id);
            training(outcome, "           ");
        }
    }
    println!();
    println!("3. Summary");
    let drift_days = r.drift_days();
    let faults = r
        .days
        .iter()
        .filter(|d| {
            matches!(
                d.monitoring.decision,
                MonitoringDecision::DataQualityFault { .. }
            )
        })
        .count();
    println!(
        "   drift flagged on {} of {} evenings{}; data-quality faults triaged (no retrain) on {} evenings",
        drift_days.len(),
        r.days.len(),
        drift_days
            .first()
            .map_or(String::new(), |d| format!(" (first on day {d})")),
        faults
    );
    let retrains: Vec<String> = r
        .retrains()
        .map(|(d, o)| {
            let what = match o.decision {
                TrainingDecision::Promoted { .. } => "promoted",
                TrainingDecision::Canary { .. } => "released as a canary",
                TrainingDecision::Rejected { .. } => "rejected",
                TrainingDecision::AwaitingApproval => "awaiting approval",
            };
            format!("day {d} → v{} {what}", o.version.version)
        })
        .collect();
    println!(
        "   retrains: {}; version in production at the end: {}",
        if retrains.is_empty() {
            "none".to_string()
        } else {
            retrains.join(", ")
        },
        r.final_version.map_or("none".into(), |v| format!("v{v}"))
    );
    println!(
        "   audit trail: {} records, hash chain verified",
        r.audit_records
    );
    if let Some(l) = &r.sample_lineage {
        let v = &l.version;
        println!(
            "   lineage of request {} (the run's last, {}): answered by {}/{}",
            l.request_id,
            l.at.format("%Y-%m-%d %H:%M"),
            v.model_name,
            v.version
        );
        for d in &v.training_datasets {
            println!(
                "     trained on {} ({}{}) by {}",
                &d.id[..d.id.len().min(12)],
                d.source.as_deref().unwrap_or("unknown source"),
                d.rows.map_or(String::new(), |n| format!(", {n} rows")),
                v.trainer
            );
        }
        if let Some(h) = &v.validation_dataset {
            println!(
                "     validated on {} against v{}",
                &h.id[..h.id.len().min(12)],
                v.parent_version.map_or("-".into(), |p| p.to_string())
            );
        }
        if let Some(a) = &v.approval {
            println!(
                "     {} by {} on {}: {}",
                a.status,
                a.actor,
                a.at.format("%Y-%m-%d"),
                a.reason
            );
        }
        if let Some(d) = &l.deployment {
            println!(
                "     served by the {} deployment from {} to {}",
                d.deployer,
                d.started.format("%Y-%m-%d %H:%M"),
                d.stopped
                    .map_or("now".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
            );
        }
    }
    if kept {
        println!(
            "   store kept in {} (SQLite registry + audit trail, artifacts/, predictions/); inspect it with",
            dir.display()
        );
        println!(
            "     mlcycle models versions credit-default --store {}",
            dir.display()
        );
        println!("     mlcycle audit verify --store {}", dir.display());
        if let Some(id) = &r.sample_request_id {
            println!(
                "     mlcycle lineage prediction {id} --store {}",
                dir.display()
            );
        }
    }
}
