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

    /// Entries of `dir` that are partition levels (all digits) or hour files, newest first.
    fn entries_desc(dir: &Path, files: bool) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(dir, e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let stem = if files {
                name.strip_suffix(".jsonl")
            } else {
                Some(name.as_ref())
            };
            if stem.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) {
                out.push(entry.path());
            }
        }
        out.sort();
        out.reverse();
        Ok(out)
    }

    fn find_blocking(&self, request_id: &str) -> Result<Option<PredictionRecord>> {
        // Cheap pre-filter on the serialised id before parsing a line.
        let needle = format!("\"request_id\":{}", serde_json::to_string(request_id)?);
        for year in Self::entries_desc(&self.dir, false)? {
            for month in Self::entries_desc(&year, false)? {
                for day in Self::entries_desc(&month, false)? {
                    for path in Self::entries_desc(&day, true)? {
                        let f = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
                        let mut found = None;
                        for line in std::io::BufReader::new(f).lines() {
                            let line = line.map_err(|e| Error::io(&path, e))?;
                            if !line.contains(&needle) {
                                continue;
                            }
                            // A torn line (crash mid-write) is skipped, as in `read_window`.
                            if let Ok(r) = serde_json::from_str::<PredictionRecord>(&line)
                                && r.request_id == request_id
                            {
                                found = Some(r);
                            }
                        }
                        if found.is_some() {
                            return Ok(found);
                        }
                    }
                }
            }
        }
        Ok(None)
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

    async fn find_request(&self, request_id: &str) -> Result<Option<PredictionRecord>> {
        let this = self.clone();
        let id = request_id.to_string();
        tokio::task::spawn_blocking(move || this.find_blocking(&id))
            .await
            .map_err(|e| Error::Backend {
                backend: "filesystem",
                source: Box::new(e),
            })?
    }
}
