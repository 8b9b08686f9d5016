//! The resources this server knows: group, version, plural, kind, scope and subresources.

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
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
    ),
];

/// The resource whose objects hold `res`'s data (itself, unless `stored_as` says otherwise).
pub fn storage(res: &'static ResourceInfo) -> &'static ResourceInfo {
    res.stored_as
        .and_then(|(g, p)| RESOURCES.iter().find(|r| r.group == g && r.plural == p))
        .unwrap_or(res)
}

/// The resource served at `group/version/plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource for an object's `apiVersion` and `kind`.
pub fn find_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    RESOURCES
        .iter()
        .find(|r| r.api_version() == api_version && r.kind == kind)
}

/// The resource named `services`, `svc`, or `leases.coordination.k8s.io` (as kubectl and RBAC name them).
/// A bare plural that exists in several groups (`events`) resolves to the core group.
pub fn find_name(name: &str) -> Option<&'static ResourceInfo> {
    let (plural, group) = name.split_once('.').unwrap_or((name, ""));
    RESOURCES
        .iter()
        .find(|r| r.group == group && (r.plural == plural || r.short_names.contains(&plural)))
}

/// The groups served under `/apis`, in registry order, each with its one version.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !out.iter().any(|(g, _)| *g == r.group) {
            out.push((r.group, r.version));
        }
    }
    out
}
