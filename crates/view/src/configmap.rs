//! The ConfigMap that holds the configuration.

use k8s_openapi::api::core::v1::ConfigMap;

/// Where the configuration lives: namespace, name and data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMapLocation {
    /// Namespace.
    pub namespace: String,
    /// ConfigMap name.
    pub name: String,
    /// Key in `data`.
    pub key: String,
}

impl ConfigMapLocation {
    /// FerroLB's own: `ferrolb-system/config`, key `config`.
    pub fn ferrolb() -> Self {
        ConfigMapLocation {
            namespace: ferrolb_config::CONFIGMAP_NAMESPACE.into(),
            name: ferrolb_config::CONFIGMAP_NAME.into(),
            key: ferrolb_config::CONFIGMAP_KEY.into(),
        }
    }

    /// MetalLB's legacy one: `metallb-system/config`, key `config` (for migration).
    pub fn metallb() -> Self {
        ConfigMapLocation {
            namespace: ferrolb_config::METALLB_CONFIGMAP_NAMESPACE.into(),
            name: ferrolb_config::METALLB_CONFIGMAP_NAME.into(),
            key: ferrolb_config::CONFIGMAP_KEY.into(),
        }
    }
}

impl std::fmt::Display for ConfigMapLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} (key {})", self.namespace, self.name, self.key)
    }
}

/// The config text stored under `key` in the ConfigMap's `data` (`None` when absent).
pub fn config_text_from_configmap<'a>(cm: &'a ConfigMap, key: &str) -> Option<&'a str> {
    cm.data.as_ref()?.get(key).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_config_key() {
        let mut cm = ConfigMap::default();
        assert_eq!(config_text_from_configmap(&cm, "config"), None);
        cm.data = Some([("config".to_string(), "peers: []".to_string())].into());
        assert_eq!(config_text_from_configmap(&cm, "config"), Some("peers: []"));
        assert_eq!(config_text_from_configmap(&cm, "other"), None);
        assert_eq!(ConfigMapLocation::ferrolb().namespace, "ferrolb-system");
        assert_eq!(ConfigMapLocation::metallb().namespace, "metallb-system");
    }
}
