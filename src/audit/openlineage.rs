//! Export of the audit trail as [OpenLineage](https://openlineage.io) `RunEvent`s (spec
//! 2-0-2), one JSON object per line, for lineage servers such as Marquez or DataHub.
//!
//! # Mapping
//! | audit records (one trace) | job | run events | inputs → outputs |
//! |---|---|---|---|
//! | `training.started` … `version.registered` | `<model>.train` | START at `training.started`, COMPLETE at `version.registered` (or `training.finished`) | training datasets, holdout → the model version |
//! | `validation.completed` | `<model>.validate` | START, COMPLETE | holdout, champion version → — |
//! | `deployment.started` | `<model>.deploy` | START, COMPLETE | the model version → the endpoint |
//! | `drift.checked` (+ `retrain.decided`) | `<model>.monitor` | START, COMPLETE | prediction log, serving version → retrain dataset |
//! | `batch.scored` | `<model>.score_batch` | START, COMPLETE | input dataset, model version → output |
//!
//! Names within the namespace: datasets `datasets/<id>` (the content hash), model versions
//! `models/<name>/<version>`, the prediction log `predictions/<name>`, endpoints
//! `endpoints/<endpoint>`. Run ids are UUIDs derived from the trace id and the anchoring
//! record, so exporting twice gives the same ids (re-ingestion is idempotent). Each run
//! carries a `mlcycle_audit` facet with the trace id and the sequence numbers it came from.

use super::{AuditLog, AuditQuery, AuditRecord, actions};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;

/// The schema URL of the events written.
pub const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

/// The `producer` of the events written.
pub const PRODUCER: &str = concat!(
    "https://crates.io/crates/mlcycle/",
    env!("CARGO_PKG_VERSION")
);

const FACET_SCHEMA: &str = concat!(
    "https://crates.io/crates/mlcycle/",
    env!("CARGO_PKG_VERSION"),
    "#/facets/AuditRunFacet"
);

/// The state transition a run event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// The run started.
    Start,
    /// The run completed.
    Complete,
    /// The run failed.
    Fail,
}

/// An OpenLineage run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// A UUID.
    pub run_id: String,
    /// Run facets.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub facets: serde_json::Map<String, Value>,
}

/// An OpenLineage job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The namespace.
    pub namespace: String,
    /// The name, unique within the namespace.
    pub name: String,
}

/// An OpenLineage dataset reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DatasetRef {
    /// The namespace.
    pub namespace: String,
    /// The name, unique within the namespace.
    pub name: String,
}

/// An OpenLineage `RunEvent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunEvent {
    /// START, COMPLETE or FAIL.
    pub event_type: EventType,
    /// When (RFC 3339).
    pub event_time: String,
    /// The run.
    pub run: Run,
    /// The job.
    pub job: Job,
    /// Datasets read.
    pub inputs: Vec<DatasetRef>,
    /// Datasets written.
    pub outputs: Vec<DatasetRef>,
    /// Who produced the event.
    pub producer: String,
    /// The schema of the event.
    #[serde(rename = "schemaURL")]
    pub schema_url: String,
}

/// `name/version` → (name, version).
fn version_subject(s: &str) -> Option<(&str, u32)> {
    let (name, v) = s.rsplit_once('/')?;
    Some((name, v.parse().ok()?))
}

fn model_of(records: &[&AuditRecord]) -> Option<String> {
    records.iter().find_map(|r| {
        r.entry
            .payload
            .get("model_name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                r.entry
                    .subjects
                    .iter()
                    .find_map(|s| version_subject(s).map(|(n, _)| n.to_string()))
            })
    })
}

fn run_id(trace: &str, kind: &str, seq: u64) -> String {
    let mut h = Sha256::new();
    h.update(format!("{trace}\0{kind}\0{seq}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h.finalize()[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid().to_string()
}

struct Builder<'a> {
    ns: &'a str,
    events: Vec<(u64, RunEvent)>,
}

impl Builder<'_> {
    fn ds(&self, name: String) -> DatasetRef {
        DatasetRef {
            namespace: self.ns.to_string(),
            name,
        }
    }

    fn dataset(&self, id: &str) -> DatasetRef {
        self.ds(format!("datasets/{id}"))
    }

    fn model(&self, name: &str, version: u64) -> DatasetRef {
        self.ds(format!("models/{name}/{version}"))
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: EventType,
        at: &AuditRecord,
        run_id: &str,
        job: String,
        seqs: &[u64],
        inputs: Vec<DatasetRef>,
        outputs: Vec<DatasetRef>,
    ) {
        let mut facets = serde_json::Map::new();
        facets.insert(
            "mlcycle_audit".into(),
            json!({
                "_producer": PRODUCER, "_schemaURL": FACET_SCHEMA,
                "traceId": at.entry.trace_id, "auditSeqs": seqs,
            }),
        );
        let mut inputs = inputs;
        inputs.sort();
        inputs.dedup();
        self.events.push((
            at.seq,
            RunEvent {
                event_type: kind,
                event_time: at.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                run: Run {
                    run_id: run_id.to_string(),
                    facets,
                },
                job: Job {
                    namespace: self.ns.to_string(),
                    name: job,
                },
                inputs,
                outputs,
                producer: PRODUCER.to_string(),
                schema_url: SCHEMA_URL.to_string(),
            },
        ));
    }

    /// A run that starts and completes with one record.
    fn instant(
        &mut self,
        r: &AuditRecord,
        kind: &str,
        job: String,
        inputs: Vec<DatasetRef>,
        outputs: Vec<DatasetRef>,
    ) {
        let id = run_id(&r.entry.trace_id, kind, r.seq);
        self.push(
            EventType::Start,
            r,
            &id,
            job.clone(),
            &[r.seq],
            inputs.clone(),
            vec![],
        );
        self.push(EventType::Complete, r, &id, job, &[r.seq], inputs, outputs);
    }
}

fn str_field<'a>(r: &'a AuditRecord, key: &str) -> Option<&'a str> {
    r.entry.payload.get(key).and_then(Value::as_str)
}

fn id_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => vec![],
    }
}

/// The run events describing `records` (in sequence order), in the namespace `namespace`.
///
/// ```
/// use mlcycle::audit::{AuditEntry, AuditLog, AuditQuery, InMemoryAuditLog};
/// use mlcycle::audit::openlineage::{run_events, EventType};
/// use mlcycle::clock::SystemClock;
/// use serde_json::json;
/// use std::sync::Arc;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let log = InMemoryAuditLog::new(Arc::new(SystemClock));
/// let e = |action: &str, subjects: Vec<&str>, payload| AuditEntry { actor: "lifecycle".into(),
///     action: action.into(), subjects: subjects.into_iter().map(String::from).collect(),
///     payload, trace_id: "train-1".into() };
/// log.append(e("training.started", vec!["d1"], json!({"model_name": "credit", "datasets": ["d0", "d1"]}))).await.unwrap();
/// log.append(e("version.registered", vec!["credit/1", "d0"], json!({"lineage":
///     {"training_datasets": ["d0", "d1"], "validation_dataset": "d2"}}))).await.unwrap();
/// let events = run_events(&log.query(&AuditQuery::default()).await.unwrap(), "mlcycle");
/// assert_eq!(events.len(), 2);
/// assert_eq!(events[0].event_type, EventType::Start);
/// assert_eq!(events[1].event_type, EventType::Complete);
/// assert_eq!(events[1].outputs[0].name, "models/credit/1");
/// assert_eq!(events[0].run.run_id, events[1].run.run_id);
/// # });
/// ```
pub fn run_events(records: &[AuditRecord], namespace: &str) -> Vec<RunEvent> {
    let mut b = Builder {
        ns: namespace,
        events: Vec::new(),
    };
    let mut traces: BTreeMap<&str, Vec<&AuditRecord>> = BTreeMap::new();
    for r in records {
        traces.entry(&r.entry.trace_id).or_default().push(r);
    }
    for (trace, recs) in &traces {
        let model = model_of(recs).unwrap_or_else(|| "model".to_string());
        // Training: one run per `training.started`, completed by the next registration.
        let mut i = 0;
        while i < recs.len() {
            let r = recs[i];
            i += 1;
            if r.entry.action != actions::TRAINING_STARTED {
                continue;
            }
            let id = run_id(trace, "train", r.seq);
            let job = format!("{model}.train");
            let mut inputs: Vec<DatasetRef> = id_list(r.entry.payload.get("datasets"))
                .iter()
                .chain(&r.entry.subjects)
                .map(|d| b.dataset(d))
                .collect();
            b.push(
                EventType::Start,
                r,
                &id,
                job.clone(),
                &[r.seq],
                inputs.clone(),
                vec![],
            );
            let rest = &recs[i..];
            let end = rest
                .iter()
                .position(|x| x.entry.action == actions::TRAINING_STARTED)
                .unwrap_or(rest.len());
            let rest = &rest[..end];
            let registered = rest
                .iter()
                .find(|x| x.entry.action == actions::VERSION_REGISTERED);
            let finished = rest
                .iter()
                .find(|x| x.entry.action == actions::TRAINING_FINISHED);
            if let Some(v) = registered {
                let lineage = v.entry.payload.get("lineage");
                inputs.extend(
                    id_list(lineage.and_then(|l| l.get("training_datasets")))
                        .iter()
                        .chain(&id_list(lineage.and_then(|l| l.get("validation_dataset"))))
                        .map(|d| b.dataset(d)),
                );
                let outputs = v
                    .entry
                    .subjects
                    .iter()
                    .find_map(|s| version_subject(s))
                    .map(|(n, ver)| vec![b.model(n, ver as u64)])
                    .unwrap_or_default();
                let seqs: Vec<u64> = std::iter::once(r.seq)
                    .chain(rest.iter().map(|x| x.seq).filter(|&s| s <= v.seq))
                    .collect();
                b.push(EventType::Complete, v, &id, job, &seqs, inputs, outputs);
            } else if let Some(f) = finished {
                b.push(
                    EventType::Complete,
                    f,
                    &id,
                    job,
                    &[r.seq, f.seq],
                    inputs,
                    vec![],
                );
            }
        }
        for r in recs {
            let a = r.entry.action.as_str();
            if a == actions::VALIDATION_COMPLETED {
                let mut inputs: Vec<DatasetRef> =
                    r.entry.subjects.iter().map(|d| b.dataset(d)).collect();
                if let Some(c) = r.entry.payload.get("champion").and_then(Value::as_u64) {
                    inputs.push(b.model(&model, c));
                }
                b.instant(r, "validate", format!("{model}.validate"), inputs, vec![]);
            } else if a == actions::DEPLOYMENT_STARTED {
                let name = str_field(r, "model_name").unwrap_or(&model).to_string();
                let v = r.entry.payload.get("version").and_then(Value::as_u64);
                let inputs = v.map(|v| vec![b.model(&name, v)]).unwrap_or_default();
                let outputs = str_field(r, "endpoint")
                    .map(|e| vec![b.ds(format!("endpoints/{e}"))])
                    .unwrap_or_default();
                b.instant(r, "deploy", format!("{name}.deploy"), inputs, outputs);
            } else if a == actions::DRIFT_CHECKED {
                let mut inputs = vec![b.ds(format!("predictions/{model}"))];
                inputs.extend(
                    r.entry
                        .subjects
                        .iter()
                        .filter_map(|s| version_subject(s))
                        .map(|(n, v)| b.model(n, v as u64)),
                );
                let outputs = recs
                    .iter()
                    .filter(|x| x.entry.action == actions::RETRAIN_DECIDED && x.seq > r.seq)
                    .take(1)
                    .flat_map(|x| x.entry.subjects.iter())
                    .filter(|s| version_subject(s).is_none())
                    .map(|d| b.dataset(d))
                    .collect();
                b.instant(r, "monitor", format!("{model}.monitor"), inputs, outputs);
            } else if a == actions::BATCH_SCORED {
                let mut inputs: Vec<DatasetRef> = r
                    .entry
                    .subjects
                    .iter()
                    .map(|s| match version_subject(s) {
                        Some((n, v)) => b.model(n, v as u64),
                        None => b.dataset(s),
                    })
                    .collect();
                if let Some(i) = str_field(r, "input") {
                    inputs.push(b.ds(i.to_string()));
                }
                let outputs = str_field(r, "output")
                    .map(|o| vec![b.ds(o.to_string())])
                    .unwrap_or_default();
                b.instant(
                    r,
                    "score_batch",
                    format!("{model}.score_batch"),
                    inputs,
                    outputs,
                );
            }
        }
    }
    // Stable order: by the record each event stands for (START before COMPLETE).
    b.events.sort_by_key(|(seq, _)| *seq);
    b.events.into_iter().map(|(_, e)| e).collect()
}

/// Write the run events of `log` as JSON lines to `out`; returns how many.
pub async fn export_openlineage(
    log: &dyn AuditLog,
    namespace: &str,
    mut out: impl Write,
) -> Result<u64> {
    let events = run_events(&log.query(&AuditQuery::default()).await?, namespace);
    for e in &events {
        serde_json::to_writer(&mut out, e)?;
        out.write_all(b"\n")
            .map_err(|e| Error::io("OpenLineage export output", e))?;
    }
    out.flush()
        .map_err(|e| Error::io("OpenLineage export output", e))?;
    Ok(events.len() as u64)
}
