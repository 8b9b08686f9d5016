//! Per-test scratch directories (configs, sockets, logs), removed on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory `/tmp/flb-<tag>-<pid>-<n>`, removed with its content on drop.
/// Set `FERROLB_E2E_KEEP=1` to keep it for inspection after a failure.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates the directory. Panics when it cannot.
    pub fn new(tag: &str) -> ScratchDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("flb-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        if let Err(e) = std::fs::create_dir_all(&path) {
            panic!("cannot create scratch dir {}: {e}", path.display());
        }
        ScratchDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `content` to `name` inside the directory and returns its path. Panics on error.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.join(name);
        if let Err(e) = std::fs::write(&p, content) {
            panic!("cannot write {}: {e}", p.display());
        }
        p
    }

    /// Reads `name` inside the directory; empty when missing.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.join(name)).unwrap_or_default()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if std::env::var("FERROLB_E2E_KEEP").is_ok_and(|v| v == "1") {
            eprintln!("kept scratch dir {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
