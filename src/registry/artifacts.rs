//! Content-addressed artifact files: `<dir>/<sha[0..2]>/<sha>`, written atomically and
//! verified against their hash on every read.

use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The sha256 of `bytes`, hex-encoded.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A directory of content-addressed files.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    dir: PathBuf,
}

impl ArtifactStore {
    /// A store rooted at `dir` (created if missing).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(ArtifactStore { dir })
    }

    /// The store at `dir`, without creating the directory (for read-only handles).
    pub(crate) fn at(dir: impl Into<PathBuf>) -> Self {
        ArtifactStore { dir: dir.into() }
    }

    fn path_of(&self, sha: &str) -> Result<PathBuf> {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid(
                "artifact hash",
                format!("`{sha}` is not a sha256"),
            ));
        }
        Ok(self.dir.join(&sha[..2]).join(sha))
    }

    /// Store `bytes`; returns their sha256. Written to a temporary file, fsynced, renamed:
    /// a crash leaves either the complete file or none under the final name.
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let sha = sha256_hex(bytes);
        let path = self.path_of(&sha)?;
        if path.exists() && self.get(&sha).is_ok() {
            return Ok(sha);
        }
        let parent = path.parent().unwrap_or(&self.dir).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(&parent).map_err(|e| Error::io(&parent, e))?;
        tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io(tmp.path(), e))?;
        tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
        if let Ok(d) = std::fs::File::open(&parent) {
            let _ = d.sync_all();
        }
        Ok(sha)
    }

    /// Read the file with hash `sha`, verifying its content.
    pub fn get(&self, sha: &str) -> Result<Vec<u8>> {
        let path = self.path_of(sha)?;
        let bytes = std::fs::read(&path).map_err(|e| Error::CorruptArtifact {
            sha256: sha.into(),
            why: format!("cannot read {}: {e}", path.display()),
        })?;
        let got = sha256_hex(&bytes);
        if got != sha {
            return Err(Error::CorruptArtifact {
                sha256: sha.into(),
                why: format!("{} has content hash {got}", path.display()),
            });
        }
        Ok(bytes)
    }

    /// Whether a file with hash `sha` is present (its content is verified on read).
    pub fn contains(&self, sha: &str) -> bool {
        self.path_of(sha).is_ok_and(|p| p.is_file())
    }

    /// Remove temporary files (from interrupted writes) last modified more than `age` ago.
    /// Returns how many were removed.
    pub fn remove_stale_temp_files(&self, age: std::time::Duration) -> Result<usize> {
        let mut removed = 0;
        // File modification times are wall-clock times, so this compares against the OS
        // clock rather than an injected one.
        let now = std::time::SystemTime::now();
        for sub in std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let sub = sub.map_err(|e| Error::io(&self.dir, e))?.path();
            if !sub.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&sub).map_err(|e| Error::io(&sub, e))? {
                let f = f.map_err(|e| Error::io(&sub, e))?;
                if !f.file_name().to_string_lossy().starts_with(".tmp") {
                    continue;
                }
                let old = f
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|d| d > age);
                if old && std::fs::remove_file(f.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Every stored hash.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for sub in std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let sub = sub.map_err(|e| Error::io(&self.dir, e))?.path();
            if !sub.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&sub).map_err(|e| Error::io(&sub, e))? {
                let name = f.map_err(|e| Error::io(&sub, e))?.file_name();
                let name = name.to_string_lossy();
                if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                    out.push(name.into_owned());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Remove the file with hash `sha` (no error if absent).
    pub fn remove(&self, sha: &str) -> Result<()> {
        let path = self.path_of(sha)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// The root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
