//! Following registry aliases: when an alias moves, the new version is loaded and checked
//! in the background and swapped in atomically; requests never wait for it.

use super::TrafficSplit;
use super::state::Shared;
use crate::deploy::DeployRequest;
use crate::registry::{ModelRef, Registry, RegistryEventKind, RegistryExt};
use crate::{Error, Result};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// What an [`AliasFollower`] serves.
#[derive(Debug, Clone)]
pub struct FollowSpec {
    /// The champion: a registry reference such as `credit@production` (or `credit/3`,
    /// `credit@latest`).
    pub reference: String,
    /// A challenger reference of the same model (e.g. `credit@challenger`) and its split.
    pub challenger: Option<(String, TrafficSplit)>,
    /// How often the registry's events are polled.
    pub poll_interval: Duration,
    /// Without an explicit challenger: an alias of the model whose version, while it
    /// exists, answers the share of requests in its `canary_share` tag (a lifecycle's
    /// canary release; default 0.1 when the tag is absent or invalid).
    pub canary_alias: Option<String>,
}

impl FollowSpec {
    /// Follow `reference`, polling every second.
    pub fn new(reference: impl Into<String>) -> Self {
        FollowSpec {
            reference: reference.into(),
            challenger: None,
            poll_interval: Duration::from_secs(1),
            canary_alias: None,
        }
    }

    /// Follow the canary alias `alias` (see [`FollowSpec::canary_alias`]).
    pub fn with_canary_alias(mut self, alias: impl Into<String>) -> Self {
        self.canary_alias = Some(alias.into());
        self
    }

    /// Also serve `reference` as challenger with `split`.
    pub fn with_challenger(mut self, reference: impl Into<String>, split: TrafficSplit) -> Self {
        self.challenger = Some((reference.into(), split));
        self
    }

    /// Poll the registry every `interval`. A zero interval (which would make the polling
    /// task's timer panic) is raised to one millisecond.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }
}

/// Keeps an [`super::HttpDeployer`] serving what registry references point to. Created by
/// [`super::HttpDeployer::follow`], which also polls it in the background;
/// [`AliasFollower::poll_once`] checks right away.
#[derive(Debug)]
pub struct AliasFollower {
    registry: Arc<dyn Registry>,
    shared: Arc<Shared>,
    spec: FollowSpec,
    model_name: String,
    /// The last registry event seen; the lock also serialises syncs.
    cursor: tokio::sync::Mutex<u64>,
}

impl AliasFollower {
    pub(super) fn new(
        registry: Arc<dyn Registry>,
        shared: Arc<Shared>,
        spec: FollowSpec,
    ) -> Result<Self> {
        let model_name = ModelRef::parse(&spec.reference)?.name().to_string();
        if let Some((r, split)) = &spec.challenger {
            split.check()?;
            let name = ModelRef::parse(r)?.name().to_string();
            if name != model_name {
                return Err(Error::invalid(
                    "challenger reference",
                    format!(
                        "it names model `{name}` but the champion is `{model_name}`; both must be versions of one model"
                    ),
                ));
            }
        }
        Ok(AliasFollower {
            registry,
            shared,
            spec,
            model_name,
            cursor: tokio::sync::Mutex::new(0),
        })
    }

    /// The registry event sequence number seen last.
    pub async fn cursor(&self) -> u64 {
        *self.cursor.lock().await
    }

    /// Resolve the references now and swap in whatever changed. Returns whether anything
    /// was swapped.
    pub(super) async fn sync(&self) -> Result<bool> {
        let mut cursor = self.cursor.lock().await;
        // Read the cursor first: an event after it triggers another (idempotent) sync.
        if let Some(last) = self.registry.events_since(*cursor).await?.last() {
            *cursor = last.seq;
        }
        self.apply().await
    }

    /// Read the registry's new events; if any concerns the followed model, resolve the
    /// references and swap in what changed (loading and checking the new version before
    /// it gets traffic). Returns whether anything was swapped.
    pub async fn poll_once(&self) -> Result<bool> {
        let mut cursor = self.cursor.lock().await;
        let events = self.registry.events_since(*cursor).await?;
        let Some(last) = events.last() else {
            return Ok(false);
        };
        *cursor = last.seq;
        let relevant = events.iter().any(|e| match &e.kind {
            RegistryEventKind::AliasSet { name, .. }
            | RegistryEventKind::AliasDeleted { name, .. }
            | RegistryEventKind::VersionCreated { name, .. } => *name == self.model_name,
            _ => false,
        });
        if !relevant {
            return Ok(false);
        }
        self.apply().await
    }

    async fn apply(&self) -> Result<bool> {
        let mut changed = false;
        let mv = self.registry.resolve(&self.spec.reference).await?;
        let current = self.shared.champion.load_full();
        if current
            .as_ref()
            .is_none_or(|s| s.name != mv.name || s.version != mv.version)
        {
            let model = self.load(&mv.name, mv.version).await?;
            self.shared
                .install_champion(DeployRequest {
                    model_name: mv.name.clone(),
                    version: mv.version,
                    model,
                })
                .inspect_err(|_| self.failed())?;
            changed = true;
        }
        let challenger = match (&self.spec.challenger, &self.spec.canary_alias) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(alias)) => {
                let reference = format!("{}@{alias}", self.model_name);
                let weight = match self.registry.resolve(&reference).await {
                    Ok(cv) => cv
                        .tags
                        .get(crate::registry::CANARY_SHARE_TAG)
                        .and_then(|w| w.parse::<f64>().ok())
                        .filter(|w| *w > 0.0 && *w < 1.0),
                    Err(_) => None, // resolved again below, which clears it when absent
                };
                Some((reference, TrafficSplit::canary(weight.unwrap_or(0.1))))
            }
            (None, None) => None,
        };
        if let Some((reference, split)) = &challenger {
            match self.registry.resolve(reference).await {
                Ok(cv) if cv.version == mv.version => {
                    changed |= self.shared.challenger.load().is_some();
                    self.shared.clear_challenger();
                }
                Ok(cv) => {
                    let current = self.shared.challenger.load_full();
                    if current
                        .as_ref()
                        .is_none_or(|c| c.served.version != cv.version || c.split != *split)
                    {
                        let model = self.load(&cv.name, cv.version).await?;
                        self.shared
                            .install_challenger(
                                DeployRequest {
                                    model_name: cv.name.clone(),
                                    version: cv.version,
                                    model,
                                },
                                *split,
                            )
                            .inspect_err(|_| self.failed())?;
                        changed = true;
                    }
                }
                Err(Error::NotFound { .. }) => {
                    changed |= self.shared.challenger.load().is_some();
                    self.shared.clear_challenger();
                }
                Err(e) => return Err(e),
            }
        }
        Ok(changed)
    }

    fn failed(&self) {
        self.shared.metrics.swap_failures.inc();
    }

    async fn load(&self, name: &str, version: u32) -> Result<Arc<dyn crate::model::Model>> {
        let artifact = self
            .registry
            .load_artifact(name, version)
            .await
            .inspect_err(|_| self.failed())?;
        artifact.into_model().inspect_err(|_| self.failed())
    }

    pub(super) fn spawn_polling(self: Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.spec.poll_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.poll_once().await {
                    tracing::warn!(error = %e, "following the registry failed; still serving the current version");
                }
            }
        })
    }
}
