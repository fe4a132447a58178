//! Open flavors: an application's model type stored as a flavored artifact, loaded back by
//! the flavor registered under its name; unregistered flavors, reserved and invalid names;
//! artifacts written by earlier versions loaded through the flavor registry.

use mlcycle::Error;
use mlcycle::clock::{Clock, SystemClock};
use mlcycle::data::{Feature, Schema, Target, TargetKind};
use mlcycle::drift::DatasetProfile;
use mlcycle::model::{
    BUILTIN_FLAVORS, FlavorRegistry, Model, ModelArtifact, ModelFlavor, Prediction, Signature,
};
use mlcycle::registry::{InMemoryRegistry, Lineage, NewVersion, Registry, RegistryExt};
use mlcycle::testing::{CreditDefault, DriftSpec};
use ndarray::{Array1, Array2, ArrayView2, array};
use std::collections::BTreeMap;
use std::sync::Arc;

/// y = w·x + b, stored as little-endian f64s.
#[derive(Debug, Clone, PartialEq)]
struct Affine {
    signature: Signature,
    flavor: &'static str,
    w: Vec<f64>,
    b: f64,
}

impl Model for Affine {
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn predict(&self, x: ArrayView2<'_, f64>) -> mlcycle::Result<Prediction> {
        if x.ncols() != self.w.len() {
            return Err(Error::SchemaMismatch("wrong width".into()));
        }
        let values: Array1<f64> = x
            .rows()
            .into_iter()
            .map(|r| r.iter().zip(&self.w).map(|(a, b)| a * b).sum::<f64>() + self.b)
            .collect();
        Ok(Prediction {
            values,
            probabilities: None,
        })
    }
    fn to_artifact(&self) -> mlcycle::Result<ModelArtifact> {
        let mut bytes: Vec<u8> = self.w.iter().flat_map(|v| v.to_le_bytes()).collect();
        bytes.extend(self.b.to_le_bytes());
        ModelArtifact::flavored(self.flavor, self.signature.clone(), bytes)
    }
}

#[derive(Debug)]
struct AffineFlavor(&'static str);

impl ModelFlavor for AffineFlavor {
    fn name(&self) -> &str {
        self.0
    }
    fn load(&self, bytes: &[u8], signature: &Signature) -> mlcycle::Result<Arc<dyn Model>> {
        let p = signature.inputs.n_features();
        if bytes.len() != 8 * (p + 1) {
            return Err(Error::Data(format!(
                "an affine model of {p} inputs needs {} bytes, found {}",
                8 * (p + 1),
                bytes.len()
            )));
        }
        let v: Vec<f64> = bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        Ok(Arc::new(Affine {
            signature: signature.clone(),
            flavor: self.0,
            w: v[..p].to_vec(),
            b: v[p],
        }))
    }
}

fn signature() -> Signature {
    let schema = Schema::new(
        vec![Feature::numeric("a"), Feature::numeric("b")],
        Some(Target {
            name: "y".into(),
            kind: TargetKind::Regression,
        }),
    )
    .unwrap();
    Signature::from_training_schema(&schema).unwrap()
}

fn model(flavor: &'static str) -> Affine {
    Affine {
        signature: signature(),
        flavor,
        w: vec![0.5, -2.25],
        b: 1.0 / 3.0,
    }
}

#[test]
fn a_flavored_artifact_round_trips_through_bytes_and_its_registered_flavor() {
    let m = model("test_affine");
    let art = m.to_artifact().unwrap();
    assert_eq!(art.flavor(), "test_affine");
    assert_eq!(art.signature(), &signature());
    let bytes = art.to_bytes().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["flavor"], "test_affine");
    assert!(json["model"]["bytes"].is_string(), "{json}");
    let back = ModelArtifact::from_bytes(&bytes).unwrap();
    assert_eq!(back, art);
    assert_eq!(back.to_bytes().unwrap(), bytes, "written back unchanged");

    let flavors = FlavorRegistry::new();
    flavors
        .register(Arc::new(AffineFlavor("test_affine")))
        .unwrap();
    assert!(flavors.names().contains(&"test_affine".to_string()));
    let loaded = flavors.load(back).unwrap();
    let x = array![[1.0, 2.0], [-3.0, 0.125]];
    assert_eq!(
        loaded.predict(x.view()).unwrap(),
        m.predict(x.view()).unwrap()
    );
}

#[test]
fn a_flavored_artifact_carries_the_reference_profile() {
    let data = CreditDefault::new(1)
        .sample(300, &DriftSpec::none(), 0)
        .unwrap();
    let profile = DatasetProfile::reference(&data.without_target()).unwrap();
    let art = model("test_affine_profiled")
        .to_artifact()
        .unwrap()
        .with_reference_profile(profile.clone());
    let back = ModelArtifact::from_bytes(&art.to_bytes().unwrap()).unwrap();
    assert_eq!(back.reference_profile(), Some(&profile));
    assert_eq!(back.flavor(), "test_affine_profiled");
    let flavors = FlavorRegistry::new();
    flavors
        .register(Arc::new(AffineFlavor("test_affine_profiled")))
        .unwrap();
    let loaded = flavors.load(back).unwrap();
    assert_eq!(loaded.signature(), &signature());
}

#[test]
fn loading_an_unregistered_flavor_names_it_and_says_how_to_register_it() {
    let art = model("test_never_registered").to_artifact().unwrap();
    let bytes = art.to_bytes().unwrap();
    // The bytes parse without the flavor (the store can list and verify them) ...
    let back = ModelArtifact::from_bytes(&bytes).unwrap();
    // ... but loading needs its loader.
    for err in [
        FlavorRegistry::new().load(back.clone()).unwrap_err(),
        back.into_model().unwrap_err(),
    ] {
        assert!(
            matches!(&err, Error::NotFound { kind: "model flavor", name, .. } if name == "test_never_registered"),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("test_never_registered"), "{msg}");
        assert!(msg.contains("LifecycleBuilder::flavor"), "{msg}");
        assert!(msg.contains("FlavorRegistry::global().register"), "{msg}");
    }
}

#[test]
fn built_in_and_invalid_flavor_names_are_refused() {
    let flavors = FlavorRegistry::new();
    for name in BUILTIN_FLAVORS {
        let err = flavors.register(Arc::new(AffineFlavor(name))).unwrap_err();
        assert!(err.to_string().contains("built-in"), "{err}");
        assert!(ModelArtifact::flavored(*name, signature(), vec![]).is_err());
    }
    for bad in ["", "Upper", "with space", "9starts_with_digit"] {
        let leaked: &'static str = Box::leak(bad.to_string().into_boxed_str());
        assert!(flavors.register(Arc::new(AffineFlavor(leaked))).is_err());
        assert!(ModelArtifact::flavored(bad, signature(), vec![]).is_err());
    }
    // A stored artifact with an invalid flavor name is refused when read.
    let bad = br#"{"flavor": "Not Valid", "model": {"signature": {}, "bytes": ""}}"#;
    assert!(ModelArtifact::from_bytes(bad).is_err());
}

#[test]
fn a_flavor_whose_loader_fails_reports_the_loader_error() {
    let mut art =
        serde_json::to_value(model("test_affine_damaged").to_artifact().unwrap()).unwrap();
    art["model"]["bytes"] = "00ff".into();
    let art = ModelArtifact::from_bytes(&serde_json::to_vec(&art).unwrap()).unwrap();
    let flavors = FlavorRegistry::new();
    flavors
        .register(Arc::new(AffineFlavor("test_affine_damaged")))
        .unwrap();
    let err = flavors.load(art).unwrap_err();
    assert!(err.to_string().contains("needs 24 bytes"), "{err}");
    // Bytes that are not hex are a parse error, not a panic.
    let mut art =
        serde_json::to_value(model("test_affine_damaged").to_artifact().unwrap()).unwrap();
    art["model"]["bytes"] = "zz".into();
    assert!(ModelArtifact::from_bytes(&serde_json::to_vec(&art).unwrap()).is_err());
}

#[tokio::test]
async fn the_registry_stores_verifies_and_loads_a_flavored_model_once_its_flavor_is_registered() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registry = InMemoryRegistry::new(clock);
    let m = model("test_affine_registry");
    let mv = registry
        .register(
            "affine",
            NewVersion {
                artifact: m.to_artifact().unwrap(),
                lineage: Lineage::default(),
                metrics: BTreeMap::new(),
                tags: BTreeMap::new(),
                description: String::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(mv.flavor, "test_affine_registry");
    assert_eq!(mv.signature, signature());
    let stored = registry.load_artifact("affine", mv.version).await.unwrap();
    assert_eq!(stored, m.to_artifact().unwrap());
    let err = registry.load_model("affine/1").await.unwrap_err();
    assert!(err.to_string().contains("test_affine_registry"), "{err}");
    FlavorRegistry::global()
        .register(Arc::new(AffineFlavor("test_affine_registry")))
        .unwrap();
    let (_, loaded) = registry.load_model("affine/1").await.unwrap();
    let x = Array2::from_shape_vec((1, 2), vec![4.0, 1.0]).unwrap();
    assert_eq!(
        loaded.predict(x.view()).unwrap().values[0],
        2.0 - 2.25 + 1.0 / 3.0
    );
}

#[test]
fn artifacts_written_by_earlier_versions_load_through_the_flavor_registry() {
    let flavors = FlavorRegistry::new();
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/train/tree_artifacts"
    );
    for flavor in ["gbdt", "decision_tree", "random_forest"] {
        let bytes = std::fs::read(format!("{dir}/{flavor}.json")).unwrap();
        let art = ModelArtifact::from_bytes(&bytes).unwrap();
        let via_global = art.clone().into_model().unwrap();
        let model = flavors.load(art).unwrap();
        assert_eq!(model.signature(), via_global.signature());
    }
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/registry/conformance_artifact.json"
    ))
    .unwrap();
    let art = ModelArtifact::from_bytes(&bytes).unwrap();
    assert_eq!(art.flavor(), "logistic");
    // The built-in flavor loads the `model` member's bytes like any flavor.
    let model_bytes =
        serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["model"])
            .unwrap();
    let loaded = flavors
        .get("logistic")
        .unwrap()
        .load(&model_bytes, art.signature())
        .unwrap();
    let direct = flavors.load(art).unwrap();
    let n = direct.signature().inputs.n_features();
    let x = Array2::from_elem((2, n), 0.0);
    assert_eq!(
        loaded.predict(x.view()).unwrap(),
        direct.predict(x.view()).unwrap()
    );
}

#[test]
fn artifacts_of_a_store_written_by_an_earlier_version_verify_and_load_with_their_profiles() {
    // tests/fixtures/stores/v1: content-addressed artifacts written before flavors were open
    // (bundles of a logistic model and its reference profile).
    let root = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stores/v1/artifacts"
    );
    let flavors = FlavorRegistry::new();
    let mut n = 0;
    for shard in std::fs::read_dir(root).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            assert_eq!(mlcycle::registry::artifacts::sha256_hex(&bytes), name);
            let art = ModelArtifact::from_bytes(&bytes).unwrap();
            assert_eq!(art.flavor(), "logistic");
            assert!(art.reference_profile().is_some());
            // Written back byte for byte: the stored format did not change.
            assert_eq!(art.to_bytes().unwrap(), bytes);
            let model = flavors.load(art.clone()).unwrap();
            assert_eq!(model.signature(), art.signature());
            n += 1;
        }
    }
    assert_eq!(n, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_keeps_a_flavored_version_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let m = model("test_affine_sqlite");
    let artifact = m.to_artifact().unwrap();
    {
        let registry = mlcycle::registry::SqliteRegistry::open(dir.path(), clock.clone()).unwrap();
        let mv = registry
            .register(
                "affine",
                NewVersion {
                    artifact: artifact.clone(),
                    lineage: Lineage::default(),
                    metrics: BTreeMap::new(),
                    tags: BTreeMap::new(),
                    description: String::new(),
                },
            )
            .await
            .unwrap();
        assert_eq!(mv.flavor, "test_affine_sqlite");
        assert_eq!(
            mv.artifact_sha256,
            mlcycle::registry::artifacts::sha256_hex(&artifact.to_bytes().unwrap())
        );
    }
    FlavorRegistry::global()
        .register(Arc::new(AffineFlavor("test_affine_sqlite")))
        .unwrap();
    let registry = mlcycle::registry::SqliteRegistry::open(dir.path(), clock).unwrap();
    let (mv, loaded) = registry.load_model("affine/1").await.unwrap();
    assert_eq!(mv.flavor, "test_affine_sqlite");
    let x = array![[2.0, 0.0]];
    assert_eq!(
        loaded.predict(x.view()).unwrap(),
        m.predict(x.view()).unwrap()
    );
}
