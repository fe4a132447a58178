//! A store written before the storage layer moved into `store/` (schema version 4, the
//! fixture in `tests/fixtures/stores/v1`) opens with today's code: its versions, aliases,
//! histories, artifacts and audit trail read back as written, the chain and its signed
//! checkpoint verify, and new changes go on from there.

use mlcycle::audit::{AuditQuery, CheckpointKey, VerifyOptions};
use mlcycle::clock::SystemClock;
use mlcycle::registry::{Change, Registry, RegistryExt, SqliteRegistry, VersionStatus};
use std::path::Path;
use std::sync::Arc;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stores/v1");
const KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stores/v1.key");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn key() -> CheckpointKey {
    let bytes = std::fs::read(KEY).unwrap();
    CheckpointKey::new(bytes.strip_suffix(b"\n").unwrap_or(&bytes)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_written_by_the_previous_layout_opens_reads_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(FIXTURE), dir.path());
    let r = SqliteRegistry::open_audited(dir.path(), Arc::new(SystemClock), None).unwrap();

    // The registry as written.
    assert_eq!(r.list_models().await.unwrap(), vec!["credit".to_string()]);
    let versions = r.list_versions("credit").await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(versions[0].lineage.created_by, "alice");
    assert_eq!(versions[1].lineage.created_by, "bob");
    assert_eq!(versions[0].status, VersionStatus::Archived);
    assert_eq!(versions[1].status, VersionStatus::Approved);
    assert_eq!(
        versions[1].tags.get("team").map(String::as_str),
        Some("risk")
    );
    assert_eq!(r.get_alias("credit", "production").await.unwrap(), Some(2));
    assert_eq!(r.get_alias("credit", "staging").await.unwrap(), None);
    let history = r.alias_history("credit", None).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|c| (
                c.alias.as_str(),
                c.previous,
                c.version,
                c.change.actor.as_str()
            ))
            .collect::<Vec<_>>(),
        vec![
            ("production", None, Some(1), "carol"),
            ("production", Some(1), Some(2), "dave"),
            ("staging", None, Some(1), "dave"),
            ("staging", Some(1), None, "erin"),
        ]
    );
    assert_eq!(r.status_history("credit", Some(1)).await.unwrap().len(), 3);
    for v in &versions {
        let artifact = r.load_artifact("credit", v.version).await.unwrap();
        assert_eq!(artifact.flavor(), "logistic");
    }
    let (mv, model) = r.load_model("credit@production").await.unwrap();
    assert_eq!(mv.version, 2);
    assert_eq!(model.signature().inputs.features.len(), 3);

    // The audit trail: 19 records, a checkpoint at 18 whose signature checks out.
    let log = r.audit_log().expect("opened with its audit trail");
    let v = log
        .verify_with(&VerifyOptions {
            key: Some(key()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v.records, 19);
    assert_eq!(v.checkpoints, 1);
    assert_eq!(v.last_checkpoint, Some(18));
    assert!(v.signatures_checked);
    let records = log.query(&AuditQuery::default()).await.unwrap();
    assert_eq!(records.len(), 19);
    assert_eq!(records[13].entry.action, "alias.moved");
    assert_eq!(records[13].entry.actor, "carol");

    // A wrong key is noticed, so the check above is a real one.
    let wrong = CheckpointKey::new("another-key-of-enough-bytes").unwrap();
    assert!(
        log.verify_with(&VerifyOptions {
            key: Some(wrong),
            ..Default::default()
        })
        .await
        .is_err()
    );

    // Changes go on from there: record 20, and the chain still verifies.
    r.set_alias("credit", "production", 1, Change::new("gina", "roll back"))
        .await
        .unwrap();
    assert_eq!(r.get_alias("credit", "production").await.unwrap(), Some(1));
    assert_eq!(log.verify().await.unwrap(), 20);
    drop(r);
    let again = SqliteRegistry::open(dir.path(), Arc::new(SystemClock)).unwrap();
    assert_eq!(
        again.get_alias("credit", "production").await.unwrap(),
        Some(1)
    );
}
