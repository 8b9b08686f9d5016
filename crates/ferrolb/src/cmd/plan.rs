//! `ferrolb plan`.

/// Flags of `ferrolb plan`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ferrolb plan`; returns the exit code.
pub async fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("ferrolb plan is not built yet")
}
