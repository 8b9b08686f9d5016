//! Where the controller and the speaker read their configuration from.

use std::path::PathBuf;

/// Where the configuration comes from (the same choice for the controller and the speaker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// A ConfigMap, watched live (key `config`); `ferrolb-system/config` by default,
    /// `metallb-system/config` for a migration from MetalLB.
    ConfigMap {
        /// Namespace of the ConfigMap.
        namespace: String,
        /// Name of the ConfigMap.
        name: String,
    },
    /// A file (a ConfigMap manifest or the bare `config` text), re-read when it changes.
    File(PathBuf),
    /// MetalLB's custom resources (metallb.io) in a namespace, watched live.
    Resources {
        /// Namespace of the objects.
        namespace: String,
    },
    /// The custom resources when any IPAddressPool exists in `namespace`, else the ConfigMap
    /// `namespace/name`; decided again whenever that changes.
    Auto {
        /// Namespace of the objects and of the ConfigMap.
        namespace: String,
        /// Name of the ConfigMap.
        name: String,
    },
}

impl Default for ConfigSource {
    /// The ConfigMap `ferrolb-system/config`.
    fn default() -> Self {
        ConfigSource::ConfigMap {
            namespace: ferrolb_config::CONFIGMAP_NAMESPACE.into(),
            name: ferrolb_config::CONFIGMAP_NAME.into(),
        }
    }
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::ConfigMap { namespace, name } => {
                write!(f, "ConfigMap {namespace}/{name}")
            }
            ConfigSource::File(path) => write!(f, "file {}", path.display()),
            ConfigSource::Resources { namespace } => {
                write!(f, "metallb.io resources in namespace {namespace}")
            }
            ConfigSource::Auto { namespace, name } => write!(
                f,
                "auto (metallb.io resources in namespace {namespace} if an IPAddressPool exists, else ConfigMap {namespace}/{name})"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_ferrolb_system_config_configmap() {
        assert_eq!(
            ConfigSource::default(),
            ConfigSource::ConfigMap {
                namespace: "ferrolb-system".into(),
                name: "config".into(),
            }
        );
        assert_eq!(
            ConfigSource::default().to_string(),
            "ConfigMap ferrolb-system/config"
        );
    }
}
