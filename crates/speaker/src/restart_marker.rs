//! How a new speaker process knows that it is a restart (the R flag of RFC 4724 §3).
//!
//! A speaker that stops for a restart leaves a marker file in its state directory; the next
//! process on the node takes it and sets R in its OPENs. A departure removes the marker. The
//! directory is meant to outlive the container but not the node (a hostPath under `/run`,
//! a tmpfs): after a reboot the forwarding state is gone too, and so is the marker.

use std::io;
use std::path::{Path, PathBuf};

use tracing::warn;

/// The marker file inside a state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartMarker {
    path: PathBuf,
}

impl RestartMarker {
    /// The marker in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        RestartMarker {
            path: dir.join("speaker-restarting"),
        }
    }

    /// True when a previous process left the marker (this start is a restart); the marker is
    /// removed so that a later start is not taken for one.
    pub fn take(&self) -> bool {
        match std::fs::remove_file(&self.path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                warn!(path = %self.path.display(), error = %e, "cannot remove the restart marker");
                true
            }
        }
    }

    /// Leaves the marker for the next process (a stop for a restart).
    pub fn leave(&self) {
        let result = self
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&self.path, b"restart\n"));
        if let Err(e) = result {
            warn!(path = %self.path.display(), error = %e, "cannot write the restart marker");
        }
    }

    /// Removes the marker (a departure: the next start is a first start).
    pub fn clear(&self) {
        let _ = self.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_by_a_restart_taken_once_cleared_by_a_departure() {
        let dir = std::env::temp_dir().join(format!("ferrolb-marker-{}", std::process::id()));
        let marker = RestartMarker::in_dir(&dir);
        assert!(!marker.take(), "no marker before any stop");
        marker.leave();
        assert!(marker.take(), "the restart left it");
        assert!(!marker.take(), "taken once");
        marker.leave();
        marker.clear();
        assert!(!marker.take(), "a departure removed it");
        let _ = std::fs::remove_dir(&dir);
    }
}
