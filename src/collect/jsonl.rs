use super::{PredictionLog, PredictionRecord};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Datelike, DurationRound, TimeDelta, Timelike, Utc};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// A prediction log on disk: JSON lines partitioned by hour (see the module docs).
#[derive(Debug, Clone)]
pub struct JsonlPredictionLog {
    dir: PathBuf,
}

impl JsonlPredictionLog {
    /// A log rooted at `dir` (created if missing).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(JsonlPredictionLog { dir })
    }

    /// The file holding records of the hour containing `t`.
    pub fn partition(&self, t: DateTime<Utc>) -> PathBuf {
        self.dir
            .join(format!("{:04}", t.year()))
            .join(format!("{:02}", t.month()))
            .join(format!("{:02}", t.day()))
            .join(format!("{:02}.jsonl", t.hour()))
    }

    fn append_blocking(dir: &Path, records: Vec<PredictionRecord>) -> Result<()> {
        let this = JsonlPredictionLog {
            dir: dir.to_path_buf(),
        };
        let mut by_file: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
        for r in &records {
            let buf = by_file.entry(this.partition(r.at)).or_default();
            serde_json::to_writer(&mut *buf, r)?;
            buf.push(b'\n');
        }
        for (path, buf) in by_file {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            f.write_all(&buf).map_err(|e| Error::io(&path, e))?;
            f.flush().map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    fn read_blocking(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PredictionRecord>> {
        let mut out = Vec::new();
        let hour = TimeDelta::hours(1);
        let mut t = from.duration_trunc(hour).unwrap_or(from);
        while t < to {
            let path = self.partition(t);
            if path.exists() {
                let f = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
                for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
                    let line = line.map_err(|e| Error::io(&path, e))?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    // A torn last line (crash mid-write) is skipped, not fatal.
                    match serde_json::from_str::<PredictionRecord>(&line) {
                        Ok(r) if r.at >= from && r.at < to => out.push(r),
                        Ok(_) => {}
                        Err(e) => {
                            if !line.ends_with('}') {
                                continue;
                            }
                            return Err(Error::Serde(format!(
                                "{} line {}: {e}",
                                path.display(),
                                i + 1
                            )));
                        }
                    }
                }
            }
            t += hour;
        }
        out.sort_by_key(|r| r.at);
        Ok(out)
    }
}

#[async_trait]
impl PredictionLog for JsonlPredictionLog {
    async fn append(&self, records: Vec<PredictionRecord>) -> Result<()> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || Self::append_blocking(&dir, records))
            .await
            .map_err(|e| Error::Backend {
                backend: "filesystem",
                source: Box::new(e),
            })?
    }

    async fn read_window(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PredictionRecord>> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read_blocking(from, to))
            .await
            .map_err(|e| Error::Backend {
                backend: "filesystem",
                source: Box::new(e),
            })?
    }
}
