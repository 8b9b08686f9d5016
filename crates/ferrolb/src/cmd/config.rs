//! `ferrolb config ...`.

/// Subcommands of `ferrolb config`.
#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate a ConfigMap manifest or the bare `config` text.
    Check(CheckArgs),
}

/// Flags of `ferrolb config check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// A ConfigMap manifest (YAML) or the bare config text.
    pub file: std::path::PathBuf,
}

/// Runs `ferrolb config ...`; returns the exit code.
pub async fn run(command: ConfigCommand) -> anyhow::Result<i32> {
    match command {
        ConfigCommand::Check(_args) => anyhow::bail!("ferrolb config check is not built yet"),
    }
}
