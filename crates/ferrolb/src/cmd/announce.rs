//! `ferrolb announce`.

/// Flags of `ferrolb announce`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ferrolb announce`; returns the exit code.
pub async fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("ferrolb announce is not built yet")
}
