//! The controller's lease on PostgreSQL: a session advisory lock. A second controller of the
//! same model is refused while the first runs, and takes over once the first is gone —
//! dropped, or its process killed.
//!
//! The child process is this test binary itself, run with `--exact pg_controller::holder`
//! and `PG_HOLDER_URL`; without it `holder` does nothing.

use crate::pg_support::TestDb;
use mlcycle::Error;
use mlcycle::clock::SystemClock;
use mlcycle::controller::{Controller, ControllerConfig};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::LifecycleConfig;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn controller(url: &str) -> mlcycle::Result<Controller> {
    let clock = Arc::new(SystemClock);
    let stack = Stack::in_memory(clock.clone(), LifecycleConfig::new("credit")).unwrap();
    Controller::new(
        Arc::new(stack.lifecycle),
        clock,
        ControllerConfig::default(),
    )
    .unwrap()
    .with_postgres_store(url)
}

/// Take the lease, retrying while another controller holds it, for at most `limit`.
fn take_over(url: &str, limit: Duration) -> Controller {
    let start = Instant::now();
    loop {
        match controller(url) {
            Ok(c) => return c,
            Err(Error::Conflict(_)) if start.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("the lease was not free within {limit:?}: {e}"),
        }
    }
}

/// The child-process entry point: hold the lease until killed.
#[test]
fn holder() {
    let Ok(url) = std::env::var("PG_HOLDER_URL") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _in_runtime = rt.enter();
    let c = controller(&url).unwrap();
    println!("LEASED");
    // Hold it until the parent kills this process (or closes stdin).
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_controller_waits_for_the_first_to_go() {
    let db = TestDb::create().await;
    let url = db.url().to_string();
    tokio::task::spawn_blocking(move || {
        let first = controller(&url).unwrap();
        match controller(&url) {
            Err(Error::Conflict(m)) => {
                assert!(m.contains("model `credit`"), "{m}");
                assert!(
                    m.contains(&format!("process {}", std::process::id())),
                    "{m}"
                );
            }
            other => panic!("expected a conflict, got {:?}", other.map(|_| ())),
        }
        // Another model is not concerned.
        let clock = Arc::new(SystemClock);
        let other = Stack::in_memory(clock.clone(), LifecycleConfig::new("churn")).unwrap();
        Controller::new(
            Arc::new(other.lifecycle),
            clock,
            ControllerConfig::default(),
        )
        .unwrap()
        .with_postgres_store(&url)
        .unwrap();
        drop(first);
        take_over(&url, Duration::from_secs(30));
    })
    .await
    .unwrap();
}

#[test]
fn a_killed_controllers_lease_is_taken_over() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(TestDb::create());
    let _in_runtime = rt.enter();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "pg_controller::holder", "--nocapture"])
        .env("PG_HOLDER_URL", db.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let leased = BufReader::new(out)
        .lines()
        .map_while(|l| l.ok())
        .any(|l| l.contains("LEASED"));
    assert!(leased, "the child did not take the lease");
    match controller(db.url()) {
        Err(Error::Conflict(m)) => assert!(m.contains(&format!("process {}", child.id())), "{m}"),
        other => panic!("expected a conflict, got {:?}", other.map(|_| ())),
    }
    child.kill().unwrap();
    child.wait().unwrap();
    take_over(db.url(), Duration::from_secs(30));
    drop(db);
}
