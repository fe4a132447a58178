//! The dataset catalog on PostgreSQL: versions added on one host are listed and loaded on
//! another (the file fetched from the database and verified); concurrent adds are numbered
//! without gaps or duplicates.

use crate::pg_support::TestDb;
use mlcycle::datasets::{CatalogSource, DatasetCatalog, DatasetFeed};
use std::sync::Arc;

fn csv(dir: &std::path::Path, name: &str, seed: u32) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut s = String::from("applied_at,x,y\n");
    for i in 0..20u32 {
        s.push_str(&format!(
            "2026-03-01T00:{:02}:00Z,{},{}\n",
            i,
            seed * 100 + i,
            i % 2
        ));
    }
    std::fs::write(&path, s).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_added_on_one_host_are_loaded_on_another() {
    let db = TestDb::create().await;
    let (a_dir, b_dir, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let url = db.url().to_string();
    let (a_path, b_path) = (a_dir.path().to_path_buf(), b_dir.path().to_path_buf());
    let (a, b) = tokio::task::spawn_blocking(move || {
        (
            DatasetCatalog::open_postgres(&url, &a_path).unwrap(),
            DatasetCatalog::open_postgres(&url, &b_path).unwrap(),
        )
    })
    .await
    .unwrap();
    let f1 = csv(files.path(), "march.csv", 1);
    let added = a.add(&f1, "credit", "alice").await.unwrap();
    assert_eq!((added.entry.version, added.new), (1, true));
    // The same content again is the same version, from either host.
    assert!(!b.add(&f1, "credit", "bob").await.unwrap().new);

    assert_eq!(b.list(Some("credit")).unwrap().len(), 1);

    // Host C (nothing local yet) lists it and loads it: the file comes from the database.
    let c = source_catalog(&db, &files).await;
    let listed = c.list(Some("credit")).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!c.path_of(&listed[0]).exists());
    let source = CatalogSource::new(Arc::new(c), "credit", "y");
    let versions = source.versions().await.unwrap();
    assert_eq!(versions.len(), 1);
    let data = source.load(&versions[0]).await.unwrap();
    assert_eq!(data.n_rows(), 20);

    // Concurrent adds of distinct files from both hosts: numbered 2..=9 once each.
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let catalog = if i % 2 == 0 { a.clone() } else { b.clone() };
        let f = csv(files.path(), &format!("f{i}.csv"), i + 10);
        tasks.push(tokio::spawn(async move {
            catalog
                .add(&f, "credit", "someone")
                .await
                .unwrap()
                .entry
                .version
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (2..=9).collect::<Vec<_>>());
}

async fn source_catalog(db: &TestDb, dir: &tempfile::TempDir) -> DatasetCatalog {
    let (url, path) = (db.url().to_string(), dir.path().join("host-b"));
    tokio::task::spawn_blocking(move || DatasetCatalog::open_postgres(&url, path).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_file_in_the_database_is_refused() {
    let db = TestDb::create().await;
    let (a_dir, b_dir, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let url = db.url().to_string();
    let (a_path, b_path) = (a_dir.path().to_path_buf(), b_dir.path().to_path_buf());
    let (a, b) = tokio::task::spawn_blocking(move || {
        (
            DatasetCatalog::open_postgres(&url, &a_path).unwrap(),
            DatasetCatalog::open_postgres(&url, &b_path).unwrap(),
        )
    })
    .await
    .unwrap();
    a.add(&csv(files.path(), "march.csv", 1), "credit", "alice")
        .await
        .unwrap();
    db.client()
        .await
        .execute(
            "UPDATE dataset_files SET bytes = bytes || '\\x0a'::bytea",
            &[],
        )
        .await
        .unwrap();
    let entry = b.get("credit", 1).unwrap();
    let err = b.local_path(&entry).unwrap_err();
    assert!(err.to_string().contains("content hash"), "{err}");
}
