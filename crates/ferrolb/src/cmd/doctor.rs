//! `ferrolb doctor`.

/// Flags of `ferrolb doctor`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ferrolb doctor`; returns the exit code.
pub async fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("ferrolb doctor is not built yet")
}
