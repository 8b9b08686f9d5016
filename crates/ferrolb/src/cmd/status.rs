//! `ferrolb status`.

/// Flags of `ferrolb status`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ferrolb status`; returns the exit code.
pub async fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("ferrolb status is not built yet")
}
