//! The CLI refuses bad numeric flags at parse time, before touching any store.

use std::process::Command;

fn mlcycle(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn serve_poll_ms_zero_and_other_bad_numbers_are_refused_at_parse_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().to_str().unwrap();
    for (flag, value, needle) in [
        ("--poll-ms", "0", "--poll-ms"),
        ("--timeout-ms", "0", "--timeout-ms"),
        ("--max-rows", "0", "--max-rows"),
        ("--max-body-bytes", "0", "--max-body-bytes"),
        ("--collect-capacity", "0", "--collect-capacity"),
        ("--collect-max-bytes", "0", "--collect-max-bytes"),
        ("--collect-sample", "0", "--collect-sample"),
        ("--collect-sample", "1.5", "--collect-sample"),
        ("--challenger-weight", "-0.1", "--challenger-weight"),
        ("--challenger-weight", "NaN", "--challenger-weight"),
    ] {
        let arg = format!("{flag}={value}");
        let out = mlcycle(&["serve", "--store", store, "--model", "m@production", &arg]);
        let err = String::from_utf8_lossy(&out.stderr);
        // clap's usage error (exit 2), naming the flag and the value.
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(needle) && err.contains(value),
            "{flag} {value}: {err}"
        );
    }
    // Nothing was created: the flags were refused before the store was opened.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn score_bad_fraction_and_thread_counts_are_refused_at_parse_time() {
    for (flag, value) in [
        ("--max-reject-fraction", "2"),
        ("--max-reject-fraction", "-1"),
        ("--threads", "100000"),
    ] {
        let arg = format!("{flag}={value}");
        let out = mlcycle(&[
            "score",
            "--store",
            "/nonexistent",
            "--model",
            "m/1",
            "--input",
            "a.csv",
            "--output",
            "b.csv",
            &arg,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
}

#[test]
fn a_zero_poll_interval_is_raised_instead_of_panicking_later() {
    use mlcycle::deploy::http::FollowSpec;
    let spec = FollowSpec::new("m@production").with_poll_interval(std::time::Duration::ZERO);
    assert!(spec.poll_interval > std::time::Duration::ZERO);
    let spec =
        FollowSpec::new("m@production").with_poll_interval(std::time::Duration::from_millis(5));
    assert_eq!(spec.poll_interval, std::time::Duration::from_millis(5));
}

#[tokio::test]
async fn predictions_count_skips_and_reports_a_bad_json_line() {
    use chrono::TimeZone;
    use mlcycle::collect::{FilePredictionLog, LogFormat, PredictionLog, PredictionRecord};
    let dir = tempfile::tempdir().unwrap();
    mlcycle::registry::SqliteRegistry::open(
        dir.path(),
        std::sync::Arc::new(mlcycle::clock::SystemClock),
    )
    .unwrap();
    let log =
        FilePredictionLog::open_with_format(dir.path().join("predictions"), LogFormat::JsonLines)
            .unwrap();
    let t = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let record = |id: &str| PredictionRecord {
        request_id: id.into(),
        at: t,
        model_name: "credit".into(),
        model_version: 1,
        inputs: vec![vec![1.0]],
        outputs: vec![0.0],
        probabilities: vec![],
        latency_us: 1,
        error: None,
        notes: vec![],
    };
    log.append(vec![record("a")]).await.unwrap();
    let path = log.partition(t);
    let mut text = std::fs::read(&path).unwrap();
    text.extend_from_slice(b"{\"request_id\": \"broken\"}\n");
    std::fs::write(&path, text).unwrap();
    log.append(vec![record("b")]).await.unwrap();
    let store = dir.path().to_str().unwrap();
    let out = mlcycle(&["predictions", "--store", store, "--count"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("skipped 1 damaged record(s)"),
        "{out:?}"
    );
    let out = mlcycle(&["predictions", "--store", store, "--request-id", "b"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"request_id\":\"b\""));
}
