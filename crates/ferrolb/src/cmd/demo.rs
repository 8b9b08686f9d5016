//! `ferrolb demo`.

/// Flags of `ferrolb demo`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ferrolb demo`; returns the exit code.
pub async fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("ferrolb demo is not built yet")
}
