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
