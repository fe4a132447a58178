//! The lifecycle with a tree trainer and a search: progress reaches the observer, the search's
//! trials land in the version's lineage, profile metrics on the version.

use mlcycle::clock::SystemClock;
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, Observer, Stage, Trigger};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{Algorithm, SearchSpace, SearchTrainer};
use serde_json::json;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Progress(Mutex<Vec<(Stage, String, usize, usize)>>);

impl Observer for Progress {
    fn progress(&self, stage: Stage, _trace: &str, what: &str, done: usize, total: usize) {
        self.0
            .lock()
            .unwrap()
            .push((stage, what.to_string(), done, total));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_trials_and_progress_flow_through_the_lifecycle() {
    let space = SearchSpace::from_json(br#"{"grid": {"max_depth": [2, 4]}}"#).unwrap();
    let trainer = SearchTrainer::new(
        Algorithm::Gbdt,
        &json!({"max_iter": 10}),
        Some(space),
        3,
        None,
    )
    .unwrap();
    let observer = Arc::new(Progress::default());
    let obs = observer.clone();
    let stack = Stack::in_memory_with(
        Arc::new(SystemClock),
        LifecycleConfig::new("credit"),
        move |b| b.trainer(Arc::new(trainer)).observer(obs),
    )
    .unwrap();
    let data = CreditDefault::new(4)
        .sample(1_000, &DriftSpec::none(), 0)
        .unwrap();
    let outcome = stack
        .lifecycle
        .run_training(&data, Trigger::Manual)
        .await
        .unwrap();
    assert_eq!(outcome.algorithm, "gbdt");
    let mv = &outcome.version;
    assert_eq!(mv.flavor, "gbdt");
    let trials = mv.lineage.params["search"]["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 2);
    assert!(mv.metrics.contains_key("profile_latency_p99_us"));
    assert!(mv.metrics.contains_key("train_roc_auc"));
    assert!(outcome.validation.fit.is_some());
    let events = observer.0.lock().unwrap();
    assert!(events.iter().all(|e| e.0 == Stage::Train));
    let trial_events: Vec<_> = events.iter().filter(|e| e.1 == "trial").collect();
    assert_eq!(trial_events.len(), 2);
    assert_eq!(events.iter().filter(|e| e.1 == "fold").count(), 6);
    assert_eq!(events.iter().filter(|e| e.1 == "fit").count(), 10);
}
