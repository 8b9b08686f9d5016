//! One module per subcommand. Each has `Args` (clap) and `run(args) -> anyhow::Result<i32>`
//! returning the process exit code.

pub mod announce;
mod announce_bfd;
pub mod cluster_status;
pub mod config;
pub mod controller;
pub mod demo;
pub mod doctor;
pub mod logging;
#[cfg(test)]
mod migrate_roundtrip;
pub mod plan;
pub mod speaker;
pub mod status;
pub mod uplinks;

use anyhow::Context;

/// `--config-source` of the controller and the speaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceKind {
    /// The ConfigMap only.
    Configmap,
    /// The metallb.io custom resources only.
    Resources,
    /// The resources when an IPAddressPool exists, else the ConfigMap.
    Auto,
}

/// A Kubernetes client for `--server URL` (plain, e.g. `ferrolb demo --listen`), else the
/// in-cluster config or the kubeconfig.
pub(crate) async fn kube_client(server: Option<&str>) -> anyhow::Result<kube::Client> {
    match server {
        Some(url) => {
            let uri = url
                .parse()
                .with_context(|| format!("--server: {url:?} is not a URL"))?;
            kube::Client::try_from(kube::Config::new(uri))
                .context("cannot build a Kubernetes client for --server")
        }
        None => kube::Client::try_default()
            .await
            .context("cannot find a Kubernetes API (in-cluster config or kubeconfig)"),
    }
}

/// Writes `text` to `name` in a per-process scratch folder for `tag` (unit tests of commands).
#[cfg(test)]
pub(crate) fn temp_file(tag: &str, name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrolb-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}
