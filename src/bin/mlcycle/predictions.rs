//! `mlcycle predictions`: the prediction log of a store as JSON lines.

use crate::audit::StoreArg;
use chrono::{DateTime, TimeDelta, Utc};
use mlcycle::collect::{FilePredictionLog, PredictionRecord};
use mlcycle::{Error, Result};
use std::io::Write;

/// Arguments of `mlcycle predictions`.
#[derive(clap::Args, Debug)]
pub struct PredictionsArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Start of the window (RFC 3339, e.g. 2026-03-01T12:00:00Z; inclusive). Default: the
    /// first record.
    #[arg(long)]
    from: Option<DateTime<Utc>>,
    /// End of the window (RFC 3339; exclusive). Default: after the last record.
    #[arg(long)]
    to: Option<DateTime<Utc>>,
    /// Only the record of this request id (the latest, should an id have been reused).
    #[arg(long)]
    request_id: Option<String>,
    /// Print the number of records instead of the records.
    #[arg(long)]
    count: bool,
}

/// Print the records (one JSON object per line, hour by hour, each hour in the order
/// written; NaN and infinities as `null`) or their number.
pub async fn run(args: PredictionsArgs) -> Result<()> {
    let (from, to) = (args.from, args.to);
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(Error::invalid(
            "--from/--to",
            format!("the window {from} .. {to} is empty; --from must be before --to"),
        ));
    }
    let dir = args.store.existing()?;
    let log = FilePredictionLog::open(dir.join("predictions"))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut print = |r: &PredictionRecord| -> Result<()> {
        let mut line = serde_json::to_vec(r)?;
        line.push(b'\n');
        out.write_all(&line)
            .map_err(|e| Error::io("standard output", e))
    };
    if let Some(id) = &args.request_id {
        use mlcycle::collect::PredictionLog;
        let found = log.find_request(id).await;
        crate::audit::warn_skipped(&log);
        let found = found?;
        if args.count {
            println!("{}", usize::from(found.is_some()));
            return Ok(());
        }
        return match found {
            Some(r) => print(&r).and_then(|()| finish(out)),
            None => Err(Error::not_found(
                "prediction",
                id,
                "no record in the prediction log has this request id",
            )),
        };
    }
    let hours = log.hours()?;
    let (Some(first), Some(last)) = (hours.first(), hours.last()) else {
        if args.count {
            println!("0");
        }
        return Ok(());
    };
    // Only the hours that hold records are read.
    let from = from.map_or(*first, |t| t.max(*first));
    let to = to.map_or(*last + TimeDelta::hours(1), |t| {
        t.min(*last + TimeDelta::hours(1))
    });
    let mut n = 0u64;
    let count = args.count;
    let scanned = tokio::task::block_in_place(|| {
        log.scan_window(from, to, |r| {
            n += 1;
            if count { Ok(()) } else { print(&r) }
        })
    });
    crate::audit::warn_skipped(&log);
    match scanned {
        // A closed pipe (`| head`) ends the listing quietly.
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(());
        }
        r => r?,
    }
    if count {
        println!("{n}");
        return Ok(());
    }
    finish(out)
}

fn finish(mut out: impl Write) -> Result<()> {
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("standard output", e))
        }
        _ => Ok(()),
    }
}
