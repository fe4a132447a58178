//! Prepares the HTTP serving benchmark (not a timing harness itself): an embedded store
//! holding a logistic regression with 30 numeric features as `bench30@production`, and
//! the request bodies the load generator sends. Run by `scripts/bench_http.sh`.
//!
//! Usage: `cargo bench --bench http_setup -- STORE_DIR`

use mlcycle::clock::SystemClock;
use mlcycle::data::{Dataset, Feature, Schema, Target, TargetKind};
use mlcycle::model::Model;
use mlcycle::registry::{Change, Lineage, NewVersion, Registry, SqliteRegistry};
use mlcycle::train::{LogisticParams, fit_logistic};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use std::sync::Arc;

const FEATURES: usize = 30;

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .expect("usage: http_setup STORE_DIR");
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let n = 2_000;
    let x = Array2::from_shape_fn((n, FEATURES), |_| rng.random::<f64>() * 4.0 - 2.0);
    let w: Vec<f64> = (0..FEATURES)
        .map(|j| ((j % 7) as f64 - 3.0) / 3.0)
        .collect();
    let y: Array1<f64> = x
        .outer_iter()
        .map(|r| {
            let z: f64 = r.iter().zip(&w).map(|(a, b)| a * b).sum();
            f64::from(u8::from(z + rng.random::<f64>() - 0.5 > 0.0))
        })
        .collect();
    let names: Vec<String> = (0..FEATURES).map(|j| format!("f{j:02}")).collect();
    let schema = Schema::new(
        names.iter().map(Feature::numeric).collect(),
        Some(Target {
            name: "label".into(),
            kind: TargetKind::classification(["0", "1"]).unwrap(),
        }),
    )
    .unwrap();
    let data = Dataset::new(schema, x.clone(), Some(y), None).unwrap();
    let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let registry = SqliteRegistry::open(&dir, Arc::new(SystemClock)).unwrap();
        let v = registry
            .register(
                "bench30",
                NewVersion {
                    artifact: model.to_artifact().unwrap(),
                    lineage: Lineage::default(),
                    metrics: Default::default(),
                    tags: Default::default(),
                    description: "30-feature logistic regression for the HTTP benchmark".into(),
                },
            )
            .await
            .unwrap();
        registry
            .set_alias(
                "bench30",
                "production",
                v.version,
                Change::new("bench", "setup"),
            )
            .await
            .unwrap();
    });
    for rows in [1usize, 100] {
        let data: Vec<Vec<f64>> = (0..rows).map(|r| x.row(r).to_vec()).collect();
        let body = serde_json::json!({"dataframe_split": {"columns": names, "data": data}});
        std::fs::write(dir.join(format!("body_{rows}.json")), body.to_string()).unwrap();
    }
    let mut csv = names.join(",") + ",label\n";
    for (r, row) in x.outer_iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        csv += &format!("{},{}\n", cells.join(","), data.target().unwrap()[r]);
    }
    std::fs::write(dir.join("train.csv"), csv).unwrap();
    println!("store ready in {}", dir.display());
}
