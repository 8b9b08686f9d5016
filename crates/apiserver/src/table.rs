//! `meta.k8s.io/v1` Table responses for kubectl (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`),
//! with the columns `kubectl get` prints for the common kinds (Services: TYPE, CLUSTER-IP, EXTERNAL-IP,
//! PORT(S), AGE) and NAME, AGE otherwise.

use serde_json::{json, Value};

use crate::meta;
use crate::registry::{PrinterColumn, ResourceInfo};

/// What each row's `object` holds (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// `PartialObjectMetadata` (the default): kubectl reads namespace and labels from it.
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// From the `includeObject` query parameter.
    pub fn parse(s: Option<&str>) -> IncludeObject {
        match s {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

fn col(name: &str, ty: &str, description: &str) -> Value {
    json!({ "name": name, "type": ty, "format": if name == "Name" { "name" } else { "" }, "description": description, "priority": 0 })
}

fn s<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// Human age as kubectl prints it (`5s`, `3m`, `2h`, `4d`), from `metadata.creationTimestamp`.
pub fn age(obj: &Value) -> String {
    since(s(obj, "/metadata/creationTimestamp"))
}

/// Human time since an RFC 3339 timestamp.
fn since(timestamp: &str) -> String {
    let Some(created) = meta::parse_rfc3339(timestamp) else {
        return "<unknown>".into();
    };
    let now = meta::parse_rfc3339(&meta::now_rfc3339()).unwrap_or(created);
    let d = now.saturating_sub(created);
    match d {
        0..120 => format!("{d}s"),
        120..7200 => format!("{}m", d / 60),
        7200..172_800 => format!("{}h", d / 3600),
        _ => format!("{}d", d / 86_400),
    }
}

/// EXTERNAL-IP of a Service, as kubectl computes it.
fn external_ip(obj: &Value) -> String {
    let ty = s(obj, "/spec/type");
    let ingress: Vec<String> = obj
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| {
                    i.get("ip")
                        .or_else(|| i.get("hostname"))
                        .and_then(Value::as_str)
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let external: Vec<String> = obj
        .pointer("/spec/externalIPs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    match ty {
        "LoadBalancer" => {
            let all: Vec<String> = ingress.into_iter().chain(external).collect();
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => s(obj, "/spec/externalName").to_string(),
        _ if !external.is_empty() => external.join(","),
        _ => "<none>".into(),
    }
}

fn ports(obj: &Value) -> String {
    let ports: Vec<String> = obj
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|p| {
                    let port = p.get("port").map(Value::to_string).unwrap_or_default();
                    let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    match p.get("nodePort") {
                        Some(np) => format!("{port}:{np}/{proto}"),
                        None => format!("{port}/{proto}"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if ports.is_empty() {
        "<none>".into()
    } else {
        ports.join(",")
    }
}

/// A simple JSONPath as CRDs' `additionalPrinterColumns` use (`.status.state`, `.spec.peers[0].name`).
fn json_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for part in path
        .trim_start_matches('.')
        .split('.')
        .filter(|p| !p.is_empty())
    {
        let (field, index) = match part.split_once('[') {
            Some((f, rest)) => (f, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if !field.is_empty() {
            cur = cur.get(field)?;
        }
        if let Some(i) = index {
            cur = cur.get(i)?;
        }
    }
    Some(cur)
}

/// A cell of a custom resource's printer column, as the real server renders it (dates as ages).
fn printer_cell(obj: &Value, column: &PrinterColumn) -> Value {
    match json_path(obj, column.json_path) {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(t)) if column.type_ == "date" => json!(since(t)),
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v.clone(),
        Some(other) => json!(other.to_string()),
    }
}

fn columns(res: &ResourceInfo) -> Vec<Value> {
    let name = col("Name", "string", "Name must be unique within a namespace.");
    if !res.columns.is_empty() {
        // A custom resource with additionalPrinterColumns: NAME, then exactly those (no automatic AGE).
        let mut out = vec![name];
        out.extend(res.columns.iter().map(|c| {
            let ty = if c.type_ == "date" { "string" } else { c.type_ };
            let mut v = col(c.name, ty, "");
            v["priority"] = json!(c.priority);
            v
        }));
        return out;
    }
    let age = col("Age", "string", "Time since creation.");
    match (res.group, res.plural) {
        ("", "services") => vec![
            name,
            col("Type", "string", "The type of the service."),
            col("Cluster-IP", "string", "The cluster IP of the service."),
            col("External-IP", "string", "The external IPs of the service."),
            col("Port(s)", "string", "The ports of the service."),
            age,
            col("Selector", "string", "The selector of the service.").tap_priority(1),
        ],
        ("", "configmaps") => vec![name, col("Data", "integer", "Number of data entries."), age],
        ("", "namespaces") => vec![name, col("Status", "string", "The namespace phase."), age],
        ("coordination.k8s.io", "leases") => {
            vec![name, col("Holder", "string", "The holder identity."), age]
        }
        ("", "nodes") => vec![
            name,
            col("Status", "string", "Ready condition."),
            col("Roles", "string", "node-role.kubernetes.io labels."),
            age,
            col("Version", "string", "Kubelet version."),
            col("Internal-IP", "string", "InternalIP address.").tap_priority(1),
        ],
        ("", "pods") => vec![
            name,
            col("Ready", "string", "Ready containers."),
            col("Status", "string", "Phase."),
            col("Restarts", "integer", "Container restarts."),
            age,
            col("IP", "string", "Pod IP.").tap_priority(1),
            col("Node", "string", "Node name.").tap_priority(1),
        ],
        ("discovery.k8s.io", "endpointslices") => vec![
            name,
            col("AddressType", "string", "Address type."),
            col("Ports", "string", "Ports."),
            col("Endpoints", "string", "Endpoint addresses."),
            age,
        ],
        ("" | "events.k8s.io", "events") => vec![
            col(
                "Last Seen",
                "string",
                "Time since the event was last observed.",
            ),
            col("Type", "string", "Normal or Warning."),
            col("Reason", "string", "Why the event happened."),
            col("Object", "string", "The object the event is about."),
            col("Message", "string", "What happened."),
            name.tap_priority(1),
        ],
        _ => vec![name, age],
    }
}

trait Priority {
    fn tap_priority(self, p: u32) -> Self;
}

impl Priority for Value {
    fn tap_priority(mut self, p: u32) -> Self {
        self["priority"] = json!(p);
        self
    }
}

fn cells(res: &ResourceInfo, obj: &Value) -> Vec<Value> {
    let name = json!(s(obj, "/metadata/name"));
    if !res.columns.is_empty() {
        let mut out = vec![name];
        out.extend(res.columns.iter().map(|c| printer_cell(obj, c)));
        return out;
    }
    let age = json!(age(obj));
    match (res.group, res.plural) {
        ("", "services") => {
            let selector = obj
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .filter(|x| !x.is_empty())
                .unwrap_or_else(|| "<none>".into());
            let cluster_ip = match s(obj, "/spec/clusterIP") {
                "" => "<none>",
                ip => ip,
            };
            vec![
                name,
                json!(s(obj, "/spec/type")),
                json!(cluster_ip),
                json!(external_ip(obj)),
                json!(ports(obj)),
                age,
                json!(selector),
            ]
        }
        ("", "configmaps") => {
            let n = obj
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
                + obj
                    .get("binaryData")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len());
            vec![name, json!(n), age]
        }
        ("", "namespaces") => vec![name, json!(s(obj, "/status/phase")), age],
        ("coordination.k8s.io", "leases") => vec![name, json!(s(obj, "/spec/holderIdentity")), age],
        ("", "nodes") => {
            let conditions = obj.pointer("/status/conditions").and_then(Value::as_array);
            let ready = conditions
                .and_then(|c| {
                    c.iter()
                        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
                })
                .and_then(|c| c.get("status").and_then(Value::as_str));
            let status = match ready {
                Some("True") => "Ready",
                _ => "NotReady",
            };
            let mut roles: Vec<&str> = obj
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|l| {
                    l.keys()
                        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                        .collect()
                })
                .unwrap_or_default();
            roles.sort_unstable();
            let roles = if roles.is_empty() {
                "<none>".to_string()
            } else {
                roles.join(",")
            };
            let internal = obj
                .pointer("/status/addresses")
                .and_then(Value::as_array)
                .and_then(|a| {
                    a.iter()
                        .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))
                })
                .and_then(|a| a.get("address").and_then(Value::as_str))
                .unwrap_or("<none>");
            vec![
                name,
                json!(status),
                json!(roles),
                age,
                json!(s(obj, "/status/nodeInfo/kubeletVersion")),
                json!(internal),
            ]
        }
        ("", "pods") => {
            let statuses = obj
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array);
            let total = obj
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses.map_or(0, |c| {
                c.iter()
                    .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                    .count()
            });
            let restarts: i64 = statuses.map_or(0, |c| {
                c.iter()
                    .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
                    .sum()
            });
            let or_none = |v: &str| {
                if v.is_empty() {
                    "<none>".to_string()
                } else {
                    v.to_string()
                }
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(or_none(s(obj, "/status/phase"))),
                json!(restarts),
                age,
                json!(or_none(s(obj, "/status/podIP"))),
                json!(or_none(s(obj, "/spec/nodeName"))),
            ]
        }
        ("discovery.k8s.io", "endpointslices") => {
            let list = |ptr: &str, f: &dyn Fn(&Value) -> Vec<String>| -> String {
                let items: Vec<String> = obj
                    .pointer(ptr)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().flat_map(f).collect())
                    .unwrap_or_default();
                if items.is_empty() {
                    "<unset>".to_string()
                } else {
                    items.join(",")
                }
            };
            let ports = list("/ports", &|p| {
                p.get("port").map(Value::to_string).into_iter().collect()
            });
            let endpoints = list("/endpoints", &|e| {
                e.get("addresses")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default()
            });
            vec![
                name,
                json!(s(obj, "/addressType")),
                json!(ports),
                json!(endpoints),
                age,
            ]
        }
        ("" | "events.k8s.io", "events") => {
            let first = |ptrs: &[&str]| {
                ptrs.iter()
                    .map(|p| s(obj, p))
                    .find(|v| !v.is_empty())
                    .unwrap_or("")
                    .to_string()
            };
            let last_seen = first(&[
                "/series/lastObservedTime",
                "/lastTimestamp",
                "/deprecatedLastTimestamp",
                "/eventTime",
                "/metadata/creationTimestamp",
            ]);
            let kind = first(&["/involvedObject/kind", "/regarding/kind"]).to_ascii_lowercase();
            let target = first(&["/involvedObject/name", "/regarding/name"]);
            vec![
                json!(since(&last_seen)),
                json!(s(obj, "/type")),
                json!(s(obj, "/reason")),
                json!(format!("{kind}/{target}")),
                json!(first(&["/message", "/note"])),
                name,
            ]
        }
        _ => vec![name, age],
    }
}

fn row(res: &ResourceInfo, obj: &Value, include: IncludeObject) -> Value {
    let object = match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => obj.clone(),
        IncludeObject::Metadata => partial_metadata(obj),
    };
    json!({ "cells": cells(res, obj), "object": object })
}

/// The object as `PartialObjectMetadata` (`Accept: ...;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`,
/// what kube's `metadata_watcher` and `Api::get_metadata` ask for).
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A Table of `items`.
pub fn table(
    res: &ResourceInfo,
    items: &[Value],
    list_meta: Value,
    include: IncludeObject,
) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns(res),
        "rows": items.iter().map(|o| row(res, o, include)).collect::<Vec<_>>(),
    })
}

/// A one-row Table for a watch event (kubectl `get -w`); column definitions included as the real server does.
pub fn watch_row(res: &'static ResourceInfo, obj: &Value) -> Value {
    let rv = obj
        .pointer("/metadata/resourceVersion")
        .cloned()
        .unwrap_or(Value::Null);
    table(
        res,
        std::slice::from_ref(obj),
        json!({ "resourceVersion": rv }),
        IncludeObject::Metadata,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    #[test]
    fn node_and_slice_rows() {
        let nodes = registry::find("", "v1", "nodes").unwrap();
        let node = json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "10.255.0.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0"}}});
        let row = cells(nodes, &node);
        assert_eq!(&row[1..3], &[json!("Ready"), json!("control-plane")]);
        assert_eq!(row[5], json!("10.255.0.2"));
        let slices = registry::find("discovery.k8s.io", "v1", "endpointslices").unwrap();
        let slice = json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4", "ports": [{"port": 8080}],
            "endpoints": [{"addresses": ["10.244.1.5"]}, {"addresses": ["10.244.2.7"]}]});
        let row = cells(slices, &slice);
        assert_eq!(
            &row[1..4],
            &[json!("IPv4"), json!("8080"), json!("10.244.1.5,10.244.2.7")]
        );
    }

    #[test]
    fn service_row_shows_external_ip() {
        let res = registry::find("", "v1", "services").unwrap();
        let svc = json!({"metadata": {"name": "web", "creationTimestamp": meta::now_rfc3339()},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "nodePort": 30000, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}});
        let t = table(
            res,
            std::slice::from_ref(&svc),
            json!({}),
            IncludeObject::Metadata,
        );
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[3], json!("198.51.100.7"));
        assert_eq!(cells[4], json!("80:30000/TCP"));
        let mut pending = svc;
        pending["status"] = json!({"loadBalancer": {}});
        assert_eq!(external_ip(&pending), "<pending>");
    }
}
