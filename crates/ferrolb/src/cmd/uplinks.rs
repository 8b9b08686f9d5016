//! `ferrolb uplinks`.

/// Flags of `ferrolb uplinks`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ferrolb uplinks`; returns the exit code.
pub async fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("ferrolb uplinks is not built yet")
}
