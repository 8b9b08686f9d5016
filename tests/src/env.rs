//! Environment checks: root, peer binaries, and where the `ferrolb` binary is.

use std::path::{Path, PathBuf};

/// True when the end-to-end tests are required (env `FERROLB_E2E_REQUIRED=1` or `CI=true`):
/// then a missing prerequisite fails the test instead of skipping it.
pub fn e2e_required() -> bool {
    std::env::var("FERROLB_E2E_REQUIRED").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Returns true when running as root. Otherwise panics when the e2e tests are required
/// ([`e2e_required`]), else prints `skipped: <test>: needs root` and returns false.
pub fn require_root(test_name: &str) -> bool {
    if is_root() {
        return true;
    }
    if e2e_required() {
        panic!("{test_name}: must run as root in CI (FERROLB_E2E_REQUIRED=1 or CI=true)");
    }
    println!("skipped: {test_name}: needs root");
    false
}

/// Returns true when `binary` (a name looked up in PATH, or an absolute path) exists.
/// Otherwise panics when the e2e tests are required, else prints `skipped: ...` and returns false.
pub fn require_binary(binary: &str) -> bool {
    if find_binary(binary).is_some() {
        return true;
    }
    if e2e_required() {
        panic!(
            "required peer binary `{binary}` is missing (run scripts/install-test-deps.sh as root)"
        );
    }
    println!("skipped: needs `{binary}` (run scripts/install-test-deps.sh as root)");
    false
}

/// `require_root` and `require_binary` for each binary, in one call.
pub fn require_root_and(test_name: &str, binaries: &[&str]) -> bool {
    require_root(test_name) && binaries.iter().all(|b| require_binary(b))
}

/// Finds `binary` in PATH (or checks an absolute path).
pub fn find_binary(binary: &str) -> Option<PathBuf> {
    let path = Path::new(binary);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&dirs)
        .chain(
            ["/usr/sbin", "/sbin", "/usr/lib/frr"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|d| d.join(binary))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    // The `Uid:` line of /proc/self/status lists the real, effective, saved and fs uids;
    // the effective one is the second.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Path of the `ferrolb` binary: env `FERROLB_BIN`, else `<target>/debug/ferrolb` where
/// `<target>` is `CARGO_TARGET_DIR` or `<workspace>/target`. Panics when it does not exist.
pub fn ferrolb_bin() -> PathBuf {
    let path = match std::env::var_os("FERROLB_BIN") {
        Some(p) => PathBuf::from(p),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .map(|t| {
                    if t.is_absolute() {
                        t
                    } else {
                        workspace_dir().join(t)
                    }
                })
                .unwrap_or_else(|| workspace_dir().join("target"));
            target.join("debug").join("ferrolb")
        }
    };
    assert!(
        path.is_file(),
        "ferrolb binary not found at {}: run `cargo build -p ferrolb` first (or set FERROLB_BIN)",
        path.display()
    );
    path
}
