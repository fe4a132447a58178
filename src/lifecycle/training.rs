//! The training stage: quality check → train → validate against the champion → register.
//!
//! [`TrainingStage::run`] is the one implementation: the lifecycle's training cycle runs
//! it (then the release stage), and so does `mlcycle train`.

use super::events::StageEvents;
use super::outcome::TrainingOutcome;
use super::{Lifecycle, LifecycleConfig, Stage, Trigger};
use crate::audit::event::{
    DatasetRegistered, DatasetRole, TrainingFinished, TrainingStarted, ValidationCompleted,
    ValidationVerdict,
};
use crate::audit::{AuditEvent, in_trace};
use crate::data::{Dataset, QualityReport};
use crate::drift::DatasetProfile;
use crate::model::{Model, ReferenceOutputs};
use crate::registry::{Lineage, ModelVersion, NewVersion, Registry, audit_records};
use crate::train::{TrainContext, TrainedModel, Trainer};
use crate::validate::{ValidationReport, Validator};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The components and settings the training stage runs with.
#[derive(Debug, Clone, Copy)]
pub struct TrainingStage<'a> {
    /// Fits the model.
    pub trainer: &'a dyn Trainer,
    /// Validates it against the champion.
    pub validator: &'a dyn Validator,
    /// Registers it.
    pub registry: &'a dyn Registry,
    /// Where the stage's events go.
    pub events: &'a StageEvents,
    /// The model name, holdout share, seed, code version, quality gate and actor.
    pub config: &'a LifecycleConfig,
}

/// One training run's input.
#[derive(Debug, Clone)]
pub struct TrainingRun<'a> {
    /// Labelled data to train on (split into training and holdout rows).
    pub data: &'a Dataset,
    /// Why the run started.
    pub trigger: Trigger,
    /// The run's trace id.
    pub trace_id: &'a str,
    /// The version to validate against, if any.
    pub champion: Option<&'a ModelVersion>,
    /// Tags set on the registered version besides `trigger` and `trace_id`.
    pub tags: BTreeMap<String, String>,
    /// A separate labelled holdout to validate on. When given, `data` is not split: the
    /// model is fitted on all of it and measured on this one.
    pub holdout: Option<&'a Dataset>,
    /// After validation, fit the model again on every row (training and holdout) and
    /// register that one, with the validated model's holdout metrics. The lineage records it:
    /// the tag `refit` = `true`, the combined dataset among the training datasets and the
    /// holdout as the validation dataset (which the registered model has then seen).
    pub refit: bool,
}

/// What the training stage produced: a registered, validated version (not yet released).
#[derive(Debug, Clone)]
pub struct Registered {
    /// Quality of the input data.
    pub quality: QualityReport,
    /// The training split.
    pub train: Dataset,
    /// The holdout split.
    pub holdout: Dataset,
    /// The fitted model.
    pub trained: TrainedModel,
    /// Its validation against the champion.
    pub validation: ValidationReport,
    /// The registered version (status `pending_approval`).
    pub version: ModelVersion,
}

/// Load a registered version's model.
pub(crate) async fn load_model(
    registry: &dyn Registry,
    version: &ModelVersion,
) -> Result<Arc<dyn Model>> {
    registry
        .load_artifact(&version.name, version.version)
        .await?
        .into_model()
}

/// The champion's model, if there is a champion.
pub(crate) async fn load_champion(
    registry: &dyn Registry,
    champion: Option<&ModelVersion>,
) -> Result<Option<Arc<dyn Model>>> {
    match champion {
        Some(c) => Ok(Some(load_model(registry, c).await?)),
        None => Ok(None),
    }
}

impl TrainingStage<'_> {
    /// Record `dataset.registered` for `d` (once per dataset id, see
    /// [`StageEvents::register_dataset`]) as `role` of this run, from `source`.
    async fn register(
        &self,
        trace: &str,
        d: &Dataset,
        source: String,
        role: DatasetRole,
        derived_from: Option<&Dataset>,
        trigger: Trigger,
    ) -> Result<()> {
        self.events
            .register_dataset(
                trace,
                d.id(),
                AuditEvent::DatasetRegistered(DatasetRegistered {
                    source,
                    hash: d.id().clone(),
                    rows: d.n_rows(),
                    features: d.schema().n_features(),
                    role: Some(role),
                    derived_from: derived_from.map(|p| p.id().clone()),
                    trigger: Some(trigger.as_str().into()),
                    model_name: Some(self.config.model_name.clone()),
                }),
            )
            .await
    }

    /// Fit the trainer on `data` and record `training.finished` for it.
    async fn train_recorded(
        &self,
        trace: &str,
        data: &Dataset,
        ctx: &TrainContext,
    ) -> Result<TrainedModel> {
        let t = self.trainer.train(data, ctx).await?;
        self.events
            .emit(
                trace,
                vec![data.id().to_string()],
                AuditEvent::TrainingFinished(TrainingFinished {
                    algorithm: t.algorithm.clone(),
                    params: t.params.clone(),
                    seed: None,
                    model_name: None,
                }),
            )
            .await?;
        Ok(t)
    }

    /// Run the stage on `run`: each step appends its audit records and reports to the
    /// observer; a failing step's error names it ([`Error::Stage`]).
    pub async fn run(&self, run: TrainingRun<'_>) -> Result<Registered> {
        let cfg = self.config;
        let ev = self.events;
        let (data, trigger, trace) = (run.data, run.trigger, run.trace_id);
        // 1. Quality check.
        let quality = ev
            .stage(
                Stage::QualityCheck,
                trace,
                async {
                    if data.is_empty() {
                        return Err(Error::Data("the training dataset is empty".into()));
                    }
                    data.require_target()?;
                    let q = QualityReport::of(data);
                    self.register(
                        trace,
                        data,
                        data.source().to_string(),
                        DatasetRole::Source,
                        None,
                        trigger,
                    )
                    .await?;
                    ev.emit(
                        trace,
                        vec![data.id().to_string()],
                        AuditEvent::DataQualityChecked(q.clone()),
                    )
                    .await?;
                    if let Some((col, frac)) = q
                        .worst_missing()
                        .filter(|(_, f)| *f > cfg.max_missing_fraction)
                    {
                        return Err(Error::Data(format!(
                            "column `{col}` is {:.0}% missing (limit {:.0}%); fix the data before training",
                            100.0 * frac,
                            100.0 * cfg.max_missing_fraction
                        )));
                    }
                    Ok(q)
                },
                |q| {
                    format!(
                        "{} rows, {} duplicate rows, worst missing share {:.1}%",
                        q.rows,
                        q.duplicate_rows,
                        100.0 * q.worst_missing().map_or(0.0, |w| w.1)
                    )
                },
            )
            .await?;

        // 2. Train.
        let given_holdout = run.holdout;
        let (train, holdout) = match given_holdout {
            Some(h) => {
                if h.schema().features != data.schema().features {
                    return Err(Error::SchemaMismatch(format!(
                        "the holdout {} does not have the training data's feature columns and levels; read it with the training data's schema",
                        h.source()
                    ))
                    .in_stage(Stage::Train));
                }
                h.require_target().map_err(|e| e.in_stage(Stage::Train))?;
                (data.clone(), h.clone())
            }
            None => data
                .split(cfg.holdout_fraction, cfg.seed)
                .map_err(|e| e.in_stage(Stage::Train))?,
        };
        let trained = ev
            .stage(
                Stage::Train,
                trace,
                async {
                    if given_holdout.is_some() {
                        self.register(
                            trace,
                            &holdout,
                            holdout.source().to_string(),
                            DatasetRole::Holdout,
                            None,
                            trigger,
                        )
                        .await?;
                    }
                    let splits: &[(&Dataset, DatasetRole, f64)] = if given_holdout.is_some() {
                        &[]
                    } else {
                        &[
                            (&train, DatasetRole::Train, 1.0 - cfg.holdout_fraction),
                            (&holdout, DatasetRole::Holdout, cfg.holdout_fraction),
                        ]
                    };
                    for &(split, role, share) in splits {
                        let name = if role == DatasetRole::Train {
                            "train"
                        } else {
                            "holdout"
                        };
                        let source = format!(
                            "{name} split ({:.0}%, seed {}) of {}",
                            100.0 * share,
                            cfg.seed,
                            data.source()
                        );
                        self.register(trace, split, source, role, Some(data), trigger)
                            .await?;
                    }
                    ev.emit(
                        trace,
                        vec![train.id().to_string()],
                        AuditEvent::TrainingStarted(TrainingStarted {
                            trainer: self.trainer.name().to_string(),
                            train_rows: train.n_rows(),
                            datasets: vec![data.id().clone(), train.id().clone()],
                            holdout: holdout.id().clone(),
                            code_version: cfg.code_version.clone(),
                            seed: cfg.seed,
                            model_name: cfg.model_name.clone(),
                        }),
                    )
                    .await?;
                    let observer = ev.observer().clone();
                    let progress_trace = trace.to_string();
                    let ctx = TrainContext::with_seed(cfg.seed).with_progress(
                        move |what, done, total| {
                            observer.progress(Stage::Train, &progress_trace, what, done, total)
                        },
                    );
                    self.train_recorded(trace, &train, &ctx).await
                },
                |t| format!("{} on {} rows", t.algorithm, train.n_rows()),
            )
            .await?;

        // 3. Validate against the champion.
        let champion = run.champion;
        let validation = ev
            .stage(
                Stage::Validate,
                trace,
                async {
                    let champ_model = load_champion(self.registry, champion).await?;
                    let r = self
                        .validator
                        .validate_with_training(
                            trained.model.clone(),
                            champ_model,
                            &holdout,
                            &train,
                        )
                        .await?;
                    ev.emit(
                        trace,
                        vec![holdout.id().to_string()],
                        AuditEvent::ValidationCompleted(ValidationCompleted {
                            model_name: cfg.model_name.clone(),
                            champion: champion.map(|c| c.version),
                            decision: ValidationVerdict::of(r.promote),
                            report: serde_json::to_value(&r)?,
                            version: None,
                            trigger: None,
                            candidate: None,
                            champion_model: None,
                            holdout: None,
                        }),
                    )
                    .await?;
                    Ok(r)
                },
                validation_summary,
            )
            .await?;

        // 3b. Refit on every row, when asked: the registered model has then seen the holdout.
        let (trained, train) = if run.refit {
            let all = match given_holdout {
                Some(h) => Dataset::concat(&[data.clone(), h.clone()])
                    .map_err(|e| e.in_stage(Stage::Train))?
                    .with_source(format!("{} and {}", data.source(), h.source())),
                None => data.clone(),
            };
            let refit = ev
                .stage(
                    Stage::Train,
                    trace,
                    async {
                        if given_holdout.is_some() {
                            self.register(
                                trace,
                                &all,
                                all.source().to_string(),
                                DatasetRole::Train,
                                Some(data),
                                trigger,
                            )
                            .await?;
                        }
                        let ctx = TrainContext::with_seed(cfg.seed);
                        self.train_recorded(trace, &all, &ctx).await
                    },
                    |t| format!("{} refit on all {} rows", t.algorithm, all.n_rows()),
                )
                .await?;
            (refit, all)
        } else {
            (trained, train)
        };

        // 4. Register.
        let version = ev
            .stage(
                Stage::Register,
                trace,
                async {
                    let mut tags = run.tags.clone();
                    tags.insert("trigger".to_string(), trigger.as_str().to_string());
                    tags.insert("trace_id".to_string(), trace.to_string());
                    if run.refit {
                        tags.insert("refit".to_string(), "true".to_string());
                    }
                    let artifact = trained.model.to_artifact()?;
                    // Global importance for the approver (a flavor without explanations
                    // registers without it).
                    if let Ok((method, importance)) = crate::explain::registration_importance(
                        &artifact,
                        holdout.features(),
                        train.features(),
                    ) {
                        let map: serde_json::Map<String, serde_json::Value> = importance
                            .into_iter()
                            .map(|(f, v)| (f, serde_json::json!(v)))
                            .collect();
                        tags.insert(
                            crate::explain::IMPORTANCE_TAG.to_string(),
                            serde_json::Value::Object(map).to_string(),
                        );
                        tags.insert(crate::explain::IMPORTANCE_METHOD_TAG.to_string(), method);
                    }
                    // The drift baseline of the inputs, and the model's outputs on the
                    // holdout: the baseline of prediction drift and estimated performance.
                    let artifact = artifact
                        .with_reference_profile(DatasetProfile::reference(&train)?)
                        .with_reference_outputs(ReferenceOutputs::of(
                            trained.model.as_ref(),
                            &holdout,
                        )?)?;
                    let mv = in_trace(
                        trace,
                        self.registry.register(
                            &cfg.model_name,
                            NewVersion {
                                artifact,
                                lineage: Lineage {
                                    training_datasets: if train.id() == data.id() {
                                        vec![data.id().clone()]
                                    } else {
                                        vec![data.id().clone(), train.id().clone()]
                                    },
                                    validation_dataset: Some(holdout.id().clone()),
                                    parent_version: champion.map(|c| c.version),
                                    code_version: cfg.code_version.clone(),
                                    trainer: trained.algorithm.clone(),
                                    params: trained.params.clone(),
                                    created_by: cfg.actor.clone(),
                                },
                                metrics: validation.version_metrics(),
                                tags,
                                description: if run.refit {
                                    format!(
                                        "refit on all {} rows of {} after validation on {} holdout rows (the metrics are the validated fit's)",
                                        train.n_rows(),
                                        train.source(),
                                        holdout.n_rows()
                                    )
                                } else {
                                    format!(
                                        "trained on {} ({} rows)",
                                        data.source(),
                                        train.n_rows()
                                    )
                                },
                            },
                        ),
                    )
                    .await?;
                    ev.registry_change(trace, |t| audit_records::version_registered(&mv, t))
                        .await?;
                    Ok(mv)
                },
                |mv| format!("registered {}", ev.version_ref(mv.version)),
            )
            .await?;
        Ok(Registered {
            quality,
            train,
            holdout,
            trained,
            validation,
            version,
        })
    }
}

/// The observer's summary of a validation.
fn validation_summary(r: &ValidationReport) -> String {
    format!(
        "{}: {}",
        if r.promote { "passed" } else { "failed" },
        r.checks
            .iter()
            .map(|c| c.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    )
}

impl Lifecycle {
    /// Run a training cycle on labelled `data`: the training stage, then the release
    /// stage (gate, approval, deployment, alias).
    pub async fn run_training(&self, data: &Dataset, trigger: Trigger) -> Result<TrainingOutcome> {
        let trace = self.new_trace("train");
        self.run_training_traced(data, trigger, &trace).await
    }

    /// [`Lifecycle::run_training`] with extra `tags` on the registered version (e.g. the
    /// dataset version it was trained on, so a restarted caller can tell it was done).
    pub async fn run_training_tagged(
        &self,
        data: &Dataset,
        trigger: Trigger,
        tags: BTreeMap<String, String>,
    ) -> Result<TrainingOutcome> {
        let trace = self.new_trace("train");
        self.run_training_with(data, trigger, &trace, tags).await
    }

    pub(super) async fn run_training_traced(
        &self,
        data: &Dataset,
        trigger: Trigger,
        trace: &str,
    ) -> Result<TrainingOutcome> {
        self.run_training_with(data, trigger, trace, BTreeMap::new())
            .await
    }

    async fn run_training_with(
        &self,
        data: &Dataset,
        trigger: Trigger,
        trace: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<TrainingOutcome> {
        let champion = self
            .champion()
            .await
            .map_err(|e| e.in_stage(Stage::Validate))?;
        let r = self
            .training_stage()
            .run(TrainingRun {
                data,
                trigger,
                trace_id: trace,
                champion: champion.as_ref(),
                tags,
                holdout: None,
                refit: false,
            })
            .await?;
        let decision = self
            .gate_and_deploy(trace, &r.version, &r.validation, trigger, &r.train)
            .await?;
        Ok(TrainingOutcome {
            trace_id: trace.to_string(),
            trigger,
            dataset: data.id().clone(),
            dataset_source: data.source().to_string(),
            quality: r.quality,
            train_rows: r.train.n_rows(),
            algorithm: r.trained.algorithm,
            validation: r.validation,
            version: r.version,
            champion_version: champion.as_ref().map(|c| c.version),
            decision,
        })
    }

    /// The training stage with this lifecycle's components.
    pub fn training_stage(&self) -> TrainingStage<'_> {
        TrainingStage {
            trainer: self.trainer.as_ref(),
            validator: self.validator.as_ref(),
            registry: self.registry.as_ref(),
            events: &self.events,
            config: &self.config,
        }
    }
}
