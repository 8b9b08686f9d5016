//! `ferrolb controller`.

/// Flags of `ferrolb controller`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ferrolb controller`; returns the exit code.
pub async fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("ferrolb controller is not built yet")
}
