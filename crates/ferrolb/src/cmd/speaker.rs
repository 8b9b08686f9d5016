//! `ferrolb speaker`.

/// Flags of `ferrolb speaker`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ferrolb speaker`; returns the exit code.
pub async fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("ferrolb speaker is not built yet")
}
