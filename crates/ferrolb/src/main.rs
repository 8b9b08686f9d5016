//! `ferrolb`: one binary, one container image; every FerroLB role is a subcommand.

mod cmd;

use clap::{Parser, Subcommand};

/// FerroLB: a load balancer for bare-metal Kubernetes that speaks BGP.
#[derive(Parser)]
#[command(name = "ferrolb", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Standalone BGP announcer: announce prefixes to one peer.
    Announce(cmd::announce::Args),
    /// Configuration tools.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Offline what-if: what the controller would allocate.
    Plan(cmd::plan::Args),
    /// Run the controller (allocates LoadBalancer IPs).
    Controller(cmd::controller::Args),
    /// Run the speaker (announces LoadBalancer IPs over BGP).
    Speaker(cmd::speaker::Args),
    /// Ask the local speaker for its sessions and announcements.
    Status(cmd::status::Args),
    /// Run the whole system in one process on an embedded default.
    Demo(cmd::demo::Args),
    /// Diagnose the node's network (read-only).
    Doctor(cmd::doctor::Args),
    /// Keep the node's default route right across several uplinks.
    Uplinks(cmd::uplinks::Args),
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async move {
        let result = match cli.command {
            Command::Announce(args) => cmd::announce::run(args).await,
            Command::Config(command) => cmd::config::run(command).await,
            Command::Plan(args) => cmd::plan::run(args).await,
            Command::Controller(args) => cmd::controller::run(args).await,
            Command::Speaker(args) => cmd::speaker::run(args).await,
            Command::Status(args) => cmd::status::run(args).await,
            Command::Demo(args) => cmd::demo::run(args).await,
            Command::Doctor(args) => cmd::doctor::run(args).await,
            Command::Uplinks(args) => cmd::uplinks::run(args).await,
        };
        match result {
            Ok(code) => code,
            Err(err) => {
                eprintln!("error: {err:#}");
                1
            }
        }
    });
    std::process::exit(code);
}
