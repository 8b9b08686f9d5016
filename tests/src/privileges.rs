//! A container's privileges as a container runtime (runc under containerd or CRI-O) gives them
//! for a Kubernetes `securityContext`, reproduced with setpriv(1) so the real `ferrolb` binary
//! runs in a test namespace exactly as it would in the pod: same uid and gid, no supplementary
//! groups, the bounding set the manifest leaves, empty inheritable and ambient sets, and
//! `no_new_privs` when `allowPrivilegeEscalation: false`.
//!
//! What the process then holds after exec is the kernel's rule, not this module's: uid 0 gets
//! its bounding set, any other uid nothing (the image has no file capabilities and Kubernetes
//! sets no ambient capabilities).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::netns::Netns;

/// The capabilities runc gets from containerd and CRI-O when `capabilities.drop` does not
/// remove them (lowercase, without `cap_`).
pub const RUNTIME_DEFAULT_CAPS: &[&str] = &[
    "chown",
    "dac_override",
    "fsetid",
    "fowner",
    "mknod",
    "net_raw",
    "setgid",
    "setuid",
    "setfcap",
    "setpcap",
    "net_bind_service",
    "sys_chroot",
    "kill",
    "audit_write",
];

/// The privileges of one container's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPrivileges {
    /// `runAsUser` (container, else pod, else the image's user).
    pub uid: u32,
    /// `runAsGroup` (container, else pod, else the image's group).
    pub gid: u32,
    /// The bounding set: the runtime's defaults minus `drop` plus `add` (lowercase, no `cap_`).
    pub bounding: Vec<String>,
    /// `allowPrivilegeEscalation: false`.
    pub no_new_privs: bool,
}

impl ContainerPrivileges {
    /// The privileges of `container` in the first DaemonSet or Deployment of the multi-document
    /// YAML file `manifest`. `image_user` (uid, gid) applies where the manifest sets none.
    /// Panics with the reason when the file or the container is not there.
    pub fn from_manifest(manifest: &Path, container: &str, image_user: (u32, u32)) -> Self {
        let text = std::fs::read_to_string(manifest)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
        Self::from_yaml(&text, container, image_user)
            .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()))
    }

    /// As [`ContainerPrivileges::from_manifest`], from the YAML text.
    pub fn from_yaml(text: &str, container: &str, image_user: (u32, u32)) -> Result<Self, String> {
        for doc in text.split("\n---") {
            if doc.trim().is_empty() {
                continue;
            }
            let v: Value = serde_saphyr::from_str(doc).map_err(|e| format!("YAML: {e}"))?;
            if !matches!(v["kind"].as_str(), Some("DaemonSet" | "Deployment")) {
                continue;
            }
            let pod = &v["spec"]["template"]["spec"];
            let containers = pod["containers"].as_array().cloned().unwrap_or_default();
            if let Some(c) = containers.iter().find(|c| c["name"] == container) {
                return Self::from_security_contexts(
                    &pod["securityContext"],
                    &c["securityContext"],
                    image_user,
                );
            }
        }
        Err(format!(
            "no container {container:?} in a DaemonSet or Deployment"
        ))
    }

    /// From a pod-level and a container-level `securityContext` (either may be null).
    pub fn from_security_contexts(
        pod: &Value,
        container: &Value,
        image_user: (u32, u32),
    ) -> Result<Self, String> {
        if container["privileged"] == true {
            return Err("privileged containers are not modelled".into());
        }
        let id = |key: &str, image: u32| -> Result<u32, String> {
            match container[key].as_u64().or_else(|| pod[key].as_u64()) {
                Some(n) => u32::try_from(n).map_err(|_| format!("{key}: {n} out of range")),
                None => Ok(image),
            }
        };
        let names = |key: &str| -> Vec<String> {
            container["capabilities"][key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(|s| s.trim_start_matches("CAP_").to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default()
        };
        let drop = names("drop");
        let add = names("add");
        if add.iter().any(|c| c == "all") {
            return Err("capabilities.add: [ALL] is not modelled".into());
        }
        let mut bounding: Vec<String> = if drop.iter().any(|c| c == "all") {
            Vec::new()
        } else {
            RUNTIME_DEFAULT_CAPS
                .iter()
                .map(|c| c.to_string())
                .filter(|c| !drop.contains(c))
                .collect()
        };
        for c in add {
            if !bounding.contains(&c) {
                bounding.push(c);
            }
        }
        Ok(ContainerPrivileges {
            uid: id("runAsUser", image_user.0)?,
            gid: id("runAsGroup", image_user.1)?,
            bounding,
            no_new_privs: container["allowPrivilegeEscalation"] == false,
        })
    }

    /// The setpriv(1) arguments up to and including `--`; the program and its arguments follow.
    pub fn setpriv_args(&self) -> Vec<String> {
        let mut bounding = String::from("-all");
        for c in &self.bounding {
            bounding.push_str(",+");
            bounding.push_str(c);
        }
        let mut args = vec![
            "setpriv".to_string(),
            format!("--reuid={}", self.uid),
            format!("--regid={}", self.gid),
            "--clear-groups".into(),
            "--inh-caps=-all".into(),
            "--ambient-caps=-all".into(),
            format!("--bounding-set={bounding}"),
        ];
        if self.no_new_privs {
            args.push("--no-new-privs".into());
        }
        args.push("--".into());
        args
    }

    /// A `Command` running `program` inside `ns` with these privileges.
    pub fn command(&self, ns: &Netns, program: &str) -> Command {
        let args = self.setpriv_args();
        let mut c = ns.command(&args[0]);
        c.args(&args[1..]).arg(program);
        c
    }
}

/// The image's default user from the last `USER uid[:gid]` line of a Dockerfile (numeric, as
/// distroless images use). Panics when there is none.
pub fn dockerfile_user(dockerfile: &Path) -> (u32, u32) {
    let text = std::fs::read_to_string(dockerfile)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dockerfile.display()));
    let user = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("USER "))
        .unwrap_or_else(|| panic!("{}: no USER line", dockerfile.display()))
        .trim();
    let (u, g) = user.split_once(':').unwrap_or((user, user));
    let parse = |s: &str| {
        s.parse::<u32>()
            .unwrap_or_else(|_| panic!("{}: USER {user:?} is not numeric", dockerfile.display()))
    };
    (parse(u), parse(g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn security_context_to_runtime_privileges() {
        // the speaker as shipped before: non-root with two capabilities added
        let p = ContainerPrivileges::from_security_contexts(
            &json!({"seccompProfile": {"type": "RuntimeDefault"}}),
            &json!({"allowPrivilegeEscalation": false, "runAsUser": 65532, "runAsGroup": 65532,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]}}),
            (1, 1),
        )
        .unwrap();
        assert_eq!((p.uid, p.gid), (65532, 65532));
        assert_eq!(p.bounding, vec!["net_admin", "net_raw"]);
        assert!(p.no_new_privs);
        assert_eq!(
            p.setpriv_args(),
            [
                "setpriv",
                "--reuid=65532",
                "--regid=65532",
                "--clear-groups",
                "--inh-caps=-all",
                "--ambient-caps=-all",
                "--bounding-set=-all,+net_admin,+net_raw",
                "--no-new-privs",
                "--"
            ]
        );
        // pod-level user, image group, runtime defaults minus a drop, escalation allowed
        let p = ContainerPrivileges::from_security_contexts(
            &json!({"runAsUser": 0}),
            &json!({"capabilities": {"drop": ["CAP_NET_RAW"], "add": ["NET_ADMIN"]}}),
            (65532, 65532),
        )
        .unwrap();
        assert_eq!((p.uid, p.gid), (0, 65532));
        assert!(!p.bounding.contains(&"net_raw".to_string()));
        assert!(p.bounding.contains(&"chown".to_string()));
        assert_eq!(p.bounding.last().map(String::as_str), Some("net_admin"));
        assert!(!p.no_new_privs);
    }
}
