//! Batch jobs never clobber what they should not (the input, each other, devices, FIFOs),
//! write through symbolic links, clean up the temporaries of killed jobs, and bound lines
//! (an over-long or endless one fails the job; nothing of it is copied). A duplicate
//! column name is refused.

use mlcycle::clock::SystemClock;
use mlcycle::data::write_csv;
use mlcycle::deploy::batch::{remove_own_temporaries, remove_stale_temporaries};
use mlcycle::deploy::{BatchJob, BatchOptions, BatchOutcome, score_file};
use mlcycle::model::Model;
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use std::path::{Path, PathBuf};

struct Fixture {
    dir: tempfile::TempDir,
    model: Box<dyn Model>,
    input: PathBuf,
    header: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = CreditDefault::new(3)
        .sample(500, &DriftSpec::none(), 0)
        .unwrap();
    let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    let rows = CreditDefault::new(3)
        .sample(50, &DriftSpec::none(), 1)
        .unwrap()
        .without_target();
    let input = dir.path().join("in.csv");
    write_csv(&rows, &input).unwrap();
    let header = std::fs::read_to_string(&input)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    Fixture {
        dir,
        model: Box::new(model),
        input,
        header,
    }
}

fn run(
    f: &Fixture,
    input: &Path,
    output: &Path,
    options: &BatchOptions,
) -> mlcycle::Result<mlcycle::deploy::BatchSummary> {
    score_file(&BatchJob {
        model: f.model.as_ref(),
        model_name: "credit",
        model_version: 1,
        input,
        output,
        options,
        clock: &SystemClock,
        progress: None,
        collect: None,
    })
}

#[track_caller]
fn fails_with(r: mlcycle::Result<mlcycle::deploy::BatchSummary>, needles: &[&str]) {
    let e = r.expect_err("the job should have been refused").to_string();
    for n in needles {
        assert!(e.contains(n), "`{e}` does not say `{n}`");
    }
}

#[test]
fn output_or_rejects_equal_to_the_input_is_refused_and_the_input_kept() {
    let f = fixture();
    let before = std::fs::read(&f.input).unwrap();
    let opts = BatchOptions::default();
    // The same path, another spelling of it, a hard link and a symbolic link to it.
    let dotted = f.dir.path().join(".").join("in.csv");
    let hard = f.dir.path().join("hard.csv");
    std::fs::hard_link(&f.input, &hard).unwrap();
    #[cfg(unix)]
    let soft = {
        let soft = f.dir.path().join("soft.csv");
        std::os::unix::fs::symlink(&f.input, &soft).unwrap();
        soft
    };
    #[cfg(not(unix))]
    let soft = hard.clone();
    for out in [&f.input, &dotted, &hard, &soft] {
        fails_with(
            run(&f, &f.input, out, &opts),
            &["--output", "is the input file"],
        );
        let rejects_on_input = BatchOptions {
            rejects: Some(out.clone()),
            ..BatchOptions::default()
        };
        let elsewhere = f.dir.path().join("out.csv");
        fails_with(
            run(&f, &f.input, &elsewhere, &rejects_on_input),
            &["--rejects", "is the input file"],
        );
        assert!(!elsewhere.exists());
    }
    assert_eq!(std::fs::read(&f.input).unwrap(), before);
    // Rejects and output the same file.
    let out = f.dir.path().join("out.csv");
    let same = BatchOptions {
        rejects: Some(f.dir.path().join(".").join("out.csv")),
        ..BatchOptions::default()
    };
    fails_with(
        run(&f, &f.input, &out, &same),
        &["--rejects", "is the output file"],
    );
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_is_written_through_a_fifo_or_dangling_link_refused() {
    let f = fixture();
    let opts = BatchOptions::default();
    let target = f.dir.path().join("target.csv");
    std::fs::write(&target, "old").unwrap();
    let link = f.dir.path().join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let s = run(&f, &f.input, &link, &opts).unwrap();
    assert_eq!(s.outcome, BatchOutcome::Published);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced by a file"
    );
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.starts_with("prediction"), "{text}");
    assert_eq!(text.lines().count(), 51);

    // A FIFO stays a FIFO.
    let fifo = f.dir.path().join("fifo.csv");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo does not keep the pointer.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    fails_with(run(&f, &f.input, &fifo, &opts), &["not a regular file"]);
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    let rejects_to_fifo = BatchOptions {
        rejects: Some(fifo.clone()),
        ..BatchOptions::default()
    };
    let out = f.dir.path().join("out.csv");
    fails_with(
        run(&f, &f.input, &out, &rejects_to_fifo),
        &["--rejects", "not a regular file"],
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // A directory is refused too.
    fails_with(
        run(&f, &f.input, f.dir.path(), &opts),
        &["not a regular file"],
    );
    // A dangling link is refused, and left as it was.
    let dangling = f.dir.path().join("dangling.csv");
    std::os::unix::fs::symlink(f.dir.path().join("nowhere/x.csv"), &dangling).unwrap();
    fails_with(
        run(&f, &f.input, &dangling, &opts),
        &["symbolic link", "does not exist"],
    );
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn stale_temporaries_of_killed_jobs_are_removed_by_the_next_job_and_nothing_else() {
    let f = fixture();
    let d = f.dir.path();
    let me = std::process::id();
    // No process has a pid above 2^22 on Linux: these writers are gone.
    let dead = [
        ".mlcycle-score-999999999-AbC123",
        ".mlcycle-rejects-999999999-xYz",
    ];
    let kept = [
        format!(".mlcycle-score-{me}-running"),
        ".mlcycle-scorefoo".to_string(),
        "mlcycle-score-999999999-x".to_string(),
        "notes.txt".to_string(),
    ];
    for n in dead
        .iter()
        .map(|s| s.to_string())
        .chain(kept.iter().cloned())
    {
        std::fs::write(d.join(&n), "x").unwrap();
    }
    let out = d.join("out.csv");
    run(&f, &f.input, &out, &BatchOptions::default()).unwrap();
    if cfg!(target_os = "linux") {
        for n in dead {
            assert!(!d.join(n).exists(), "{n} was left");
        }
    }
    for n in &kept {
        assert!(d.join(n).exists(), "{n} was removed");
    }
    // Nothing of the finished job is left over.
    let ours = std::fs::read_dir(d)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            let n = n.to_string_lossy();
            n.starts_with(".mlcycle-") && !kept.iter().any(|k| *k == n)
        })
        .count();
    assert_eq!(ours, 0);
    // This process's own (as on SIGINT), and only those.
    assert!(remove_stale_temporaries(d).unwrap().is_empty());
    let removed = remove_own_temporaries(d).unwrap();
    assert_eq!(removed, vec![d.join(&kept[0])]);
    assert!(d.join(&kept[1]).exists());
}

#[test]
fn an_over_long_line_fails_the_job_naming_it_and_nothing_is_copied() {
    let f = fixture();
    let text = std::fs::read_to_string(&f.input).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let long = format!("{},{}", lines[3], "9".repeat(5_000));
    lines[3] = long;
    let input = f.dir.path().join("long.csv");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = f.dir.path().join("out.csv");
    let opts = BatchOptions {
        max_line_bytes: 1_000,
        chunk_rows: 2,
        max_reject_fraction: 1.0,
        ..BatchOptions::default()
    };
    fails_with(
        run(&f, &input, &out, &opts),
        &[
            "line 4",
            "longer than the line limit of 1000 bytes",
            "--max-line-bytes",
        ],
    );
    assert!(!out.exists());
    assert!(!f.dir.path().join("out.csv.rejects.csv").exists());
    // Under a larger limit the row is scored (rejected: one field too many).
    let raised = BatchOptions {
        max_line_bytes: 10_000,
        ..opts.clone()
    };
    let s = run(&f, &input, &out, &raised).unwrap();
    assert_eq!(s.rows_rejected, 1);
    // An endless header, and an endless input that is not a file.
    let endless = f.dir.path().join("endless.csv");
    std::fs::write(&endless, "a".repeat(3_000)).unwrap();
    fails_with(run(&f, &endless, &out, &opts), &["header line is longer"]);
    #[cfg(unix)]
    fails_with(
        run(
            &f,
            Path::new("/dev/zero"),
            &f.dir.path().join("z.csv"),
            &opts,
        ),
        &["header line is longer"],
    );
    // A header that fits followed by an endless record.
    let mut f2 = f.header.clone();
    f2.push('\n');
    f2.push_str(&"1".repeat(3_000));
    std::fs::write(&endless, f2).unwrap();
    fails_with(
        run(&f, &endless, &out, &opts),
        &["line 2", "longer than the line limit"],
    );
}

#[test]
fn a_duplicate_column_name_is_refused_naming_it() {
    let f = fixture();
    let text = std::fs::read_to_string(&f.input).unwrap();
    let first = f.header.split(',').next().unwrap().to_string();
    let dup = text.replacen(&f.header, &format!("{},{first}", f.header), 1);
    let input = f.dir.path().join("dup.csv");
    std::fs::write(&input, dup).unwrap();
    fails_with(
        run(
            &f,
            &input,
            &f.dir.path().join("o.csv"),
            &BatchOptions::default(),
        ),
        &[&format!("`{first}` twice")],
    );
}
