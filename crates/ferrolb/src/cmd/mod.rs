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

use std::path::PathBuf;

use anyhow::Context;
use ferrolb_view::ConfigSource;

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

/// The flags choosing where the configuration comes from, shared by `ferrolb controller` and
/// `ferrolb speaker`.
#[derive(clap::Args)]
pub struct ConfigSourceArgs {
    /// Namespace of the config ConfigMap.
    #[arg(long, default_value = ferrolb_config::CONFIGMAP_NAMESPACE)]
    config_namespace: String,
    /// Name of the config ConfigMap (its `config` key holds the configuration).
    #[arg(long, default_value = ferrolb_config::CONFIGMAP_NAME)]
    config_name: String,
    /// The config ConfigMap as NAMESPACE/NAME, e.g. `metallb-system/config` when migrating from
    /// MetalLB (overrides --config-namespace and --config-name).
    #[arg(long, value_name = "NAMESPACE/NAME", conflicts_with = "config_file")]
    configmap: Option<String>,
    /// Read the configuration from a file (a ConfigMap manifest, the bare config text or
    /// metallb.io objects) instead of a ConfigMap; the file is re-read when it changes.
    #[arg(long, value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Where the configuration comes from: `configmap`, `resources` (MetalLB's metallb.io
    /// objects in the config namespace), or `auto`: the resources when any IPAddressPool exists
    /// there, else the ConfigMap (decided again when that changes; the log says which).
    #[arg(long, value_enum, default_value_t = SourceKind::Auto, conflicts_with = "config_file")]
    config_source: SourceKind,
}

impl ConfigSourceArgs {
    /// `--config-file`, else `--configmap NAMESPACE/NAME`, else `--config-namespace` and
    /// `--config-name`; `--config-source` then turns a ConfigMap choice into the resources or
    /// `auto`.
    pub fn config_source(&self) -> anyhow::Result<ConfigSource> {
        if let Some(path) = &self.config_file {
            return Ok(ConfigSource::File(path.clone()));
        }
        let (namespace, name) = match &self.configmap {
            Some(reference) => match reference.split_once('/') {
                Some((namespace, name))
                    if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
                {
                    (namespace.to_string(), name.to_string())
                }
                _ => anyhow::bail!(
                    "--configmap: {reference:?}: expected NAMESPACE/NAME, e.g. metallb-system/config"
                ),
            },
            None => (self.config_namespace.clone(), self.config_name.clone()),
        };
        Ok(match self.config_source {
            SourceKind::Configmap => ConfigSource::ConfigMap { namespace, name },
            SourceKind::Resources => ConfigSource::Resources { namespace },
            SourceKind::Auto => ConfigSource::Auto { namespace, name },
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn from(
        file: Option<&str>,
        configmap: Option<&str>,
        kind: SourceKind,
    ) -> anyhow::Result<ConfigSource> {
        ConfigSourceArgs {
            config_namespace: "ferrolb-system".into(),
            config_name: "config".into(),
            configmap: configmap.map(str::to_string),
            config_file: file.map(PathBuf::from),
            config_source: kind,
        }
        .config_source()
    }

    #[test]
    fn config_source_flags_pick_file_configmap_resources_or_auto() {
        assert_eq!(
            from(Some("/etc/ferrolb/config.yaml"), None, SourceKind::Auto).unwrap(),
            ConfigSource::File("/etc/ferrolb/config.yaml".into())
        );
        assert_eq!(
            from(None, None, SourceKind::Configmap).unwrap(),
            ConfigSource::ConfigMap {
                namespace: "ferrolb-system".into(),
                name: "config".into()
            }
        );
        assert_eq!(
            from(None, Some("metallb-system/config"), SourceKind::Resources).unwrap(),
            ConfigSource::Resources {
                namespace: "metallb-system".into()
            }
        );
        assert_eq!(
            from(None, Some("metallb-system/lb"), SourceKind::Auto).unwrap(),
            ConfigSource::Auto {
                namespace: "metallb-system".into(),
                name: "lb".into()
            }
        );
    }

    #[test]
    fn malformed_configmap_flag_names_the_flag_and_value() {
        for bad in ["config", "/config", "metallb-system/", "a/b/c"] {
            let err = from(None, Some(bad), SourceKind::Auto).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "--configmap: {bad:?}: expected NAMESPACE/NAME, e.g. metallb-system/config"
                )
            );
        }
    }
}
