//! The resources this server knows: group, version, plural, kind, scope and subresources.
//!
//! One owner, [`Registry`]: the built-in resources ([`RESOURCES`]) plus the ones that
//! CustomResourceDefinitions in the store define at run time (see [`crate::crd`]). Each store has its
//! own registry, so servers in one process do not see each other's definitions.

/// One served resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group, "" for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Plural resource name used in URLs (`services`).
    pub plural: &'static str,
    /// Kind (`Service`).
    pub kind: &'static str,
    /// Namespaced (true) or cluster-scoped (false).
    pub namespaced: bool,
    /// Has a `/status` subresource: main-resource writes ignore `.status`, status writes change only `.status`.
    pub status_subresource: bool,
    /// kubectl short names (`svc`).
    pub short_names: &'static [&'static str],
    /// In kubectl's `all` category (`kubectl get all`).
    pub in_all: bool,
    /// Stored as another resource (group, plural), as events.k8s.io/v1 Events are core v1 Events in the
    /// real server: one object, two views (see `convert`).
    pub stored_as: Option<(&'static str, &'static str)>,
    /// The CustomResourceDefinition that defines this resource (None: built in).
    pub crd: Option<&'static str>,
    /// `additionalPrinterColumns` of a custom resource (kubectl table columns after NAME).
    pub columns: &'static [PrinterColumn],
}

/// One `additionalPrinterColumns` entry of a CustomResourceDefinition version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: &'static str,
    /// OpenAPI type (`string`, `integer`, `date`, ...).
    pub type_: &'static str,
    /// Simple JSONPath into the object (`.status.state`).
    pub json_path: &'static str,
    /// 0: always shown; more: only with `-o wide`.
    pub priority: i64,
}

impl ResourceInfo {
    /// `v1` or `coordination.k8s.io/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Singular name (`service`): the kind in lower case.
    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }

    /// `ServiceList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// `services` or `leases.coordination.k8s.io`.
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

const fn res(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
) -> ResourceInfo {
    ResourceInfo {
        group,
        version,
        plural,
        kind,
        namespaced: true,
        status_subresource: false,
        short_names: &[],
        in_all: false,
        stored_as: None,
        crd: None,
        columns: &[],
    }
}

impl ResourceInfo {
    const fn cluster(mut self) -> Self {
        self.namespaced = false;
        self
    }

    const fn status(mut self) -> Self {
        self.status_subresource = true;
        self
    }

    const fn short(mut self, names: &'static [&'static str]) -> Self {
        self.short_names = names;
        self
    }

    const fn stored_as(mut self, group: &'static str, plural: &'static str) -> Self {
        self.stored_as = Some((group, plural));
        self
    }

    const fn all(mut self) -> Self {
        self.in_all = true;
        self
    }
}

/// Every resource the server serves.
pub static RESOURCES: &[ResourceInfo] = &[
    res("", "v1", "namespaces", "Namespace")
        .cluster()
        .status()
        .short(&["ns"]),
    res("", "v1", "nodes", "Node")
        .cluster()
        .status()
        .short(&["no"]),
    res("", "v1", "services", "Service")
        .status()
        .short(&["svc"])
        .all(),
    res("", "v1", "endpoints", "Endpoints").short(&["ep"]),
    res("", "v1", "pods", "Pod").status().short(&["po"]).all(),
    res("", "v1", "configmaps", "ConfigMap").short(&["cm"]),
    res("", "v1", "secrets", "Secret"),
    res("", "v1", "events", "Event").short(&["ev"]),
    res("", "v1", "serviceaccounts", "ServiceAccount").short(&["sa"]),
    res("events.k8s.io", "v1", "events", "Event")
        .short(&["ev"])
        .stored_as("", "events"),
    res("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    res("coordination.k8s.io", "v1", "leases", "Lease"),
    res("apps", "v1", "deployments", "Deployment")
        .status()
        .short(&["deploy"])
        .all(),
    res("apps", "v1", "daemonsets", "DaemonSet")
        .status()
        .short(&["ds"])
        .all(),
    res(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
    )
    .cluster(),
    res(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
    )
    .cluster(),
    res("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    res(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
    )
    .cluster()
    .status()
    .short(&["crd", "crds"]),
    res(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
    ),
];

/// The served resources of one server: the built-in ones and those defined by CustomResourceDefinitions.
/// Cloning is cheap (references to interned entries).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    custom: Vec<&'static ResourceInfo>,
}

/// The built-in resources only (what every registry starts with).
static BUILTIN: Registry = Registry { custom: Vec::new() };

/// Kubernetes version priority: GA before beta before alpha, higher numbers first (`v1` > `v1beta2` >
/// `v1beta1` > `v1alpha1`); other names last, alphabetically.
fn version_priority(v: &str) -> (u8, u64, u64, String) {
    let Some(rest) = v.strip_prefix('v') else {
        return (3, 0, 0, v.to_string());
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<u64>() else {
        return (3, 0, 0, v.to_string());
    };
    let tail = &rest[digits.len()..];
    let (class, minor) = match tail {
        "" => (0, 0),
        t => match (t.strip_prefix("beta"), t.strip_prefix("alpha")) {
            (Some(n), _) => (1, n.parse().unwrap_or(u64::MAX)),
            (_, Some(n)) => (2, n.parse().unwrap_or(u64::MAX)),
            _ => return (3, 0, 0, v.to_string()),
        },
    };
    if minor == u64::MAX {
        return (3, 0, 0, v.to_string());
    }
    (class, u64::MAX - major, u64::MAX - minor, String::new())
}

impl Registry {
    /// The registry of built-in resources.
    pub fn builtin() -> &'static Registry {
        &BUILTIN
    }

    /// Every served resource: built-in first, then custom ones in definition order.
    pub fn all(&self) -> impl Iterator<Item = &'static ResourceInfo> + '_ {
        RESOURCES.iter().chain(self.custom.iter().copied())
    }

    /// Replace the resources defined by the CustomResourceDefinition `crd_name` with `entries` (empty:
    /// remove them). Entries whose group and plural a built-in resource already serves are ignored.
    pub fn define(&mut self, crd_name: &str, entries: Vec<&'static ResourceInfo>) {
        self.custom.retain(|r| r.crd != Some(crd_name));
        self.custom.extend(entries.into_iter().filter(|e| {
            !RESOURCES
                .iter()
                .any(|b| b.group == e.group && b.plural == e.plural)
        }));
    }

    /// The resources a CustomResourceDefinition defined.
    pub fn defined_by(&self, crd_name: &str) -> Vec<&'static ResourceInfo> {
        self.custom
            .iter()
            .copied()
            .filter(|r| r.crd == Some(crd_name))
            .collect()
    }

    /// The resource whose objects hold `res`'s data (itself, unless `stored_as` says otherwise).
    pub fn storage(&self, res: &'static ResourceInfo) -> &'static ResourceInfo {
        res.stored_as
            .and_then(|(g, p)| {
                self.all()
                    .find(|r| r.group == g && r.plural == p && r.stored_as.is_none())
            })
            .unwrap_or(res)
    }

    /// The resource served at `group/version/plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
        self.all()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// The resource for an object's `apiVersion` and `kind`.
    pub fn find_kind(&self, api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
        self.all()
            .find(|r| r.api_version() == api_version && r.kind == kind)
    }

    /// The resource named `services`, `svc`, `leases.coordination.k8s.io` or `ipaddresspools.metallb.io`
    /// (as kubectl and RBAC name them), in its preferred version. A bare plural that exists in several
    /// groups (`events`) resolves to the core group.
    pub fn find_name(&self, name: &str) -> Option<&'static ResourceInfo> {
        let (plural, group) = name.split_once('.').unwrap_or((name, ""));
        let mut found: Vec<&'static ResourceInfo> = self
            .all()
            .filter(|r| r.group == group && (r.plural == plural || r.short_names.contains(&plural)))
            .collect();
        found.sort_by_key(|r| version_priority(r.version));
        found.first().copied()
    }

    /// The groups served under `/apis`, in registry order, each with its versions, preferred first.
    pub fn groups(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
        for r in self.all().filter(|r| !r.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
                Some(_) => {}
                None => out.push((r.group, vec![r.version])),
            }
        }
        for (_, versions) in &mut out {
            versions.sort_by_key(|v| version_priority(v));
        }
        out
    }
}

/// [`Registry::storage`] among the built-in resources.
pub fn storage(res: &'static ResourceInfo) -> &'static ResourceInfo {
    BUILTIN.storage(res)
}

/// [`Registry::find`] among the built-in resources.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    BUILTIN.find(group, version, plural)
}

/// [`Registry::find_kind`] among the built-in resources.
pub fn find_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    BUILTIN.find_kind(api_version, kind)
}

/// [`Registry::find_name`] among the built-in resources.
pub fn find_name(name: &str) -> Option<&'static ResourceInfo> {
    BUILTIN.find_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_as_kubernetes_does() {
        let mut v = vec![
            "v1alpha1",
            "foo",
            "v1beta1",
            "v2",
            "v1",
            "v1beta2",
            "v10alpha1",
        ];
        v.sort_by_key(|v| version_priority(v));
        assert_eq!(
            v,
            [
                "v2",
                "v1",
                "v1beta2",
                "v1beta1",
                "v10alpha1",
                "v1alpha1",
                "foo"
            ]
        );
    }
}
