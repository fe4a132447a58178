//! The dashboard in a real browser: `mlcycle ui` on a demo store, each page loaded by
//! headless Chromium, which must render it without any console message (the pages have no
//! script: a console line is an error, a blocked resource or an injected script), show the
//! store's models, versions and SVG charts, and leave a screenshot in `target/ui-screens/`.
//!
//! Without Chromium the tests print a loud "skipped" and pass, unless
//! `MLCYCLE_REQUIRE_BROWSER=1` (which `.ci/run` sets, after installing Debian's `chromium`),
//! in which case they fail.

use crate::support::demo_store;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The browser binary on `PATH`, if any.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The browser, or `None` after saying loudly that the test is skipped; panics when
/// `MLCYCLE_REQUIRE_BROWSER=1`.
fn browser_or_skip(test: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        if std::env::var("MLCYCLE_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!(
                "{test}: MLCYCLE_REQUIRE_BROWSER=1 but chromium is not installed \
                 (apt-get install -y chromium)"
            );
        }
        // Straight to the process's standard error, past the test harness's capture, so the
        // skip shows in a passing run.
        let _ = writeln!(
            std::io::stderr(),
            "\n**********\n{test}: skipped: chromium not installed \
             (apt-get install -y chromium, or set MLCYCLE_REQUIRE_BROWSER=1 to fail)\n**********\n"
        );
    }
    found
}

/// What a browser run printed.
struct Run {
    stdout: String,
    stderr: String,
}

/// Run headless Chromium on `url` with `extra` arguments, in a fresh profile, waiting up to
/// two minutes.
fn run_browser(browser: &Path, extra: &[String], url: &str) -> Run {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().expect("chromium starts");
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(out) => out.expect("chromium output"),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("chromium did not finish loading {url} within 120 s");
        }
    };
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The console messages Chromium logged (`…:CONSOLE(…)] "message", source: …`): every
/// `console.*` call and every uncaught exception, CSP violation or failed resource load.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// `mlcycle ui` running on a free port; stopped (by its own process id) when dropped.
pub struct Ui {
    /// The process.
    pub child: Child,
    /// `http://ADDR` it announced.
    pub base: String,
    /// Its standard error lines after the announcement.
    pub stderr: mpsc::Receiver<String>,
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_ui(store: &Path) -> Ui {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["ui", "--store"])
        .arg(store)
        .args(["--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mlcycle ui starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let base = loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                if let Some(rest) = line.split("on http://").nth(1) {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .trim_end_matches('/');
                    break format!("http://{addr}");
                }
                seen.push(line);
            }
            Err(_) => {
                let _ = child.kill();
                panic!("mlcycle ui did not announce its address: {seen:?}");
            }
        }
    };
    Ui {
        child,
        base,
        stderr: rx,
    }
}

fn screens_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("ui-screens");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_console_check_catches_a_deliberate_script_error() {
    let Some(browser) = browser_or_skip("the_console_check_catches_a_deliberate_script_error")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>x</p><script>throw new Error('deliberate-ui-test-error')</script></body></html>",
    )
    .unwrap();
    let run = run_browser(
        &browser,
        &["--dump-dom".into()],
        &format!("file://{}", page.display()),
    );
    assert!(run.stdout.contains("<p>x</p>"), "the page was not loaded");
    let lines = console_lines(&run.stderr);
    assert!(
        lines.iter().any(|l| l.contains("deliberate-ui-test-error")),
        "the deliberate error was not caught; stderr:\n{}",
        run.stderr
    );
}

#[test]
fn every_page_renders_in_a_real_browser_without_console_errors() {
    let Some(browser) =
        browser_or_skip("every_page_renders_in_a_real_browser_without_console_errors")
    else {
        return;
    };
    let store = demo_store();
    let ui = start_ui(store.path());
    let screens = screens_dir();
    // (screenshot name, path, texts the DOM must hold, least number of SVG charts)
    let pages: &[(&str, &str, &[&str], usize)] = &[
        (
            "overview",
            "/",
            &[
                "credit-default",
                "credit-default/2",
                "chain verified",
                "&lt;script&gt;",
            ],
            0,
        ),
        (
            "model",
            "/models/credit-default",
            &[
                "credit-default/1",
                "credit-default/2",
                "production",
                "drift per monitoring window of credit-default",
                "Alias history",
            ],
            4,
        ),
        (
            "version",
            "/models/credit-default/versions/2",
            &["Model card: credit-default/2", "Approval request"],
            0,
        ),
        (
            "timeline",
            "/models/credit-default/timeline",
            &["Lifecycle of credit-default", "v2 registered"],
            1,
        ),
        (
            "approvals",
            "/approvals",
            &["1 pending", "Model card: credit-default/2"],
            0,
        ),
        ("alerts", "/alerts", &["credit-default", "&lt;img src=x"], 0),
        (
            "audit",
            "/audit",
            &["chain verified", "version.registered"],
            0,
        ),
    ];
    for (name, path, texts, charts) in pages {
        let url = format!("{}{path}", ui.base);
        let run = run_browser(&browser, &["--dump-dom".into()], &url);
        let dom = &run.stdout;
        assert!(
            dom.contains("mlcycle dashboard"),
            "{path}: not rendered:\n{dom}"
        );
        for t in *texts {
            assert!(dom.contains(t), "{path}: the page does not show `{t}`");
        }
        assert!(
            dom.matches("<svg").count() >= *charts,
            "{path}: fewer than {charts} charts"
        );
        assert!(
            !dom.contains("<script") && !dom.contains("<img"),
            "{path}: markup from the store became elements"
        );
        let console = console_lines(&run.stderr);
        assert!(
            console.is_empty(),
            "{path}: console messages:\n{}",
            console.join("\n")
        );
        let shot = screens.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&shot);
        let run = run_browser(
            &browser,
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1280,1600".into(),
                "--hide-scrollbars".into(),
            ],
            &url,
        );
        let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 10_000,
            "{path}: no screenshot ({size} bytes); stderr:\n{}",
            run.stderr
        );
        let console = console_lines(&run.stderr);
        assert!(
            console.is_empty(),
            "{path}: console messages:\n{}",
            console.join("\n")
        );
    }
}
