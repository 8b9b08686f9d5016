//! One module per subcommand. Each has `Args` (clap) and `run(args) -> anyhow::Result<i32>`
//! returning the process exit code.

pub mod announce;
mod announce_bfd;
pub mod config;
pub mod controller;
pub mod demo;
pub mod doctor;
pub mod logging;
#[cfg(test)]
mod migrate_roundtrip;
pub mod plan;
pub mod speaker;
pub mod status;
pub mod uplinks;

/// Writes `text` to `name` in a per-process scratch folder for `tag` (unit tests of commands).
#[cfg(test)]
pub(crate) fn temp_file(tag: &str, name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrolb-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}
