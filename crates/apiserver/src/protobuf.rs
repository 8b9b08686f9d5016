//! Decoding of the Kubernetes protobuf request bodies that kubectl's `create` generators send
//! (`kubectl create namespace|configmap|secret|service ...`), for Namespace, ConfigMap, Secret and
//! Service. The envelope is the 4-byte magic `k8s\0` followed by a `runtime.Unknown` message
//! (typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2, contentEncoding = 3, contentType = 4); `raw` is
//! the object. Field numbers follow the `generated.proto` files of k8s.io/api. Fields outside these
//! tables are skipped; empty values (Go's zero values, which gogo-protobuf always writes) are dropped,
//! as JSON's `omitempty` would.

use serde_json::{json, Map, Value};

use crate::status::ApiError;

/// How one field decodes.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Str,
    Int,
    Bool,
    Msg(&'static [F]),
    RepStr,
    RepMsg(&'static [F]),
    MapStr,
    /// `map<string, bytes>`, base64 in JSON (Secret data, ConfigMap binaryData).
    MapBytes,
    /// `IntOrString {type = 1, intVal = 2, strVal = 3}`.
    IntOrStr,
}

/// One field: number, JSON name, type.
#[derive(Debug, Clone, Copy)]
struct F(u32, &'static str, Ty);

const META: &[F] = &[
    F(1, "name", Ty::Str),
    F(2, "generateName", Ty::Str),
    F(3, "namespace", Ty::Str),
    F(11, "labels", Ty::MapStr),
    F(12, "annotations", Ty::MapStr),
    F(14, "finalizers", Ty::RepStr),
];
const SERVICE_PORT: &[F] = &[
    F(1, "name", Ty::Str),
    F(2, "protocol", Ty::Str),
    F(3, "port", Ty::Int),
    F(4, "targetPort", Ty::IntOrStr),
    F(5, "nodePort", Ty::Int),
    F(6, "appProtocol", Ty::Str),
];
const SERVICE_SPEC: &[F] = &[
    F(1, "ports", Ty::RepMsg(SERVICE_PORT)),
    F(2, "selector", Ty::MapStr),
    F(3, "clusterIP", Ty::Str),
    F(4, "type", Ty::Str),
    F(5, "externalIPs", Ty::RepStr),
    F(7, "sessionAffinity", Ty::Str),
    F(8, "loadBalancerIP", Ty::Str),
    F(9, "loadBalancerSourceRanges", Ty::RepStr),
    F(10, "externalName", Ty::Str),
    F(11, "externalTrafficPolicy", Ty::Str),
    F(12, "healthCheckNodePort", Ty::Int),
    F(13, "publishNotReadyAddresses", Ty::Bool),
    F(17, "ipFamilyPolicy", Ty::Str),
    F(18, "clusterIPs", Ty::RepStr),
    F(19, "ipFamilies", Ty::RepStr),
    F(20, "allocateLoadBalancerNodePorts", Ty::Bool),
    F(21, "loadBalancerClass", Ty::Str),
    F(22, "internalTrafficPolicy", Ty::Str),
];
const SERVICE: &[F] = &[
    F(1, "metadata", Ty::Msg(META)),
    F(2, "spec", Ty::Msg(SERVICE_SPEC)),
];
const CONFIGMAP: &[F] = &[
    F(1, "metadata", Ty::Msg(META)),
    F(2, "data", Ty::MapStr),
    F(3, "binaryData", Ty::MapBytes),
    F(4, "immutable", Ty::Bool),
];
const SECRET: &[F] = &[
    F(1, "metadata", Ty::Msg(META)),
    F(2, "data", Ty::MapBytes),
    F(3, "type", Ty::Str),
    F(4, "stringData", Ty::MapStr),
    F(5, "immutable", Ty::Bool),
];
const NAMESPACE_SPEC: &[F] = &[F(1, "finalizers", Ty::RepStr)];
const NAMESPACE: &[F] = &[
    F(1, "metadata", Ty::Msg(META)),
    F(2, "spec", Ty::Msg(NAMESPACE_SPEC)),
];
const TYPE_META: &[F] = &[F(1, "apiVersion", Ty::Str), F(2, "kind", Ty::Str)];

/// One protobuf field as read from the wire.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

struct Reader<'a> {
    buf: &'a [u8],
}

fn err(what: &str) -> ApiError {
    ApiError::bad_request(format!("protobuf body: {what}"))
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or_else(|| err("truncated varint"))?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(err("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ApiError> {
        if self.buf.len() < n {
            return Err(err("truncated field"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn next(&mut self) -> Result<Option<(u32, Wire<'a>)>, ApiError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let num = u32::try_from(key >> 3).map_err(|_| err("field number out of range"))?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let len =
                    usize::try_from(self.varint()?).map_err(|_| err("length out of range"))?;
                Wire::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            other => return Err(err(&format!("unsupported wire type {other}"))),
        };
        Ok(Some((num, wire)))
    }
}

fn string(b: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(b.to_vec()).map_err(|_| err("string field is not UTF-8"))
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A `map<string, X>` entry: key = 1, value = 2.
fn map_entry(b: &[u8]) -> Result<(String, &[u8]), ApiError> {
    let mut r = Reader { buf: b };
    let (mut key, mut value) = (String::new(), &b[..0]);
    while let Some((num, wire)) = r.next()? {
        match (num, wire) {
            (1, Wire::Bytes(k)) => key = string(k)?,
            (2, Wire::Bytes(v)) => value = v,
            _ => {}
        }
    }
    Ok((key, value))
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Bool(b) => !b,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

fn message(b: &[u8], fields: &[F]) -> Result<Value, ApiError> {
    let mut out = Map::new();
    let mut r = Reader { buf: b };
    while let Some((num, wire)) = r.next()? {
        let Some(F(_, name, ty)) = fields.iter().find(|f| f.0 == num).copied() else {
            continue;
        };
        let name = name.to_string();
        match (ty, wire) {
            (Ty::Str, Wire::Bytes(v)) => {
                out.insert(name, json!(string(v)?));
            }
            (Ty::Int, Wire::Varint(v)) => {
                out.insert(name, json!(v as i64));
            }
            (Ty::Bool, Wire::Varint(v)) => {
                out.insert(name, json!(v != 0));
            }
            (Ty::Msg(inner), Wire::Bytes(v)) => {
                out.insert(name, message(v, inner)?);
            }
            (Ty::RepStr, Wire::Bytes(v)) => {
                let list = out.entry(name).or_insert_with(|| json!([]));
                if let Value::Array(a) = list {
                    a.push(json!(string(v)?));
                }
            }
            (Ty::RepMsg(inner), Wire::Bytes(v)) => {
                let item = message(v, inner)?;
                if let Value::Array(a) = out.entry(name).or_insert_with(|| json!([])) {
                    a.push(item);
                }
            }
            (Ty::MapStr | Ty::MapBytes, Wire::Bytes(v)) => {
                let (k, val) = map_entry(v)?;
                let val = match ty {
                    Ty::MapBytes => json!(base64(val)),
                    _ => json!(string(val)?),
                };
                if let Value::Object(m) = out.entry(name).or_insert_with(|| json!({})) {
                    m.insert(k, val);
                }
            }
            (Ty::IntOrStr, Wire::Bytes(v)) => {
                let ios = message(
                    v,
                    &[
                        F(1, "type", Ty::Int),
                        F(2, "intVal", Ty::Int),
                        F(3, "strVal", Ty::Str),
                    ],
                )?;
                let value = if ios.get("type").and_then(Value::as_i64) == Some(1) {
                    ios.get("strVal").cloned().unwrap_or(json!(""))
                } else {
                    ios.get("intVal").cloned().unwrap_or(json!(0))
                };
                out.insert(name, value);
            }
            _ => {
                return Err(err(&format!(
                    "field {name} (#{num}) has an unexpected wire type"
                )))
            }
        }
    }
    out.retain(|_, v| !is_empty(v));
    Ok(Value::Object(out))
}

/// Decode a `k8s\0`-prefixed protobuf body into the JSON object it stands for.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let envelope = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| err("missing the k8s\\0 magic prefix"))?;
    let mut r = Reader { buf: envelope };
    let (mut type_meta, mut raw) = (json!({}), None);
    while let Some((num, wire)) = r.next()? {
        match (num, wire) {
            (1, Wire::Bytes(b)) => type_meta = message(b, TYPE_META)?,
            (2, Wire::Bytes(b)) => raw = Some(b),
            _ => {}
        }
    }
    let api_version = type_meta
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let kind = type_meta
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let schema = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ConfigMap") => CONFIGMAP,
        ("v1", "Secret") => SECRET,
        ("v1", "Service") => SERVICE,
        _ => {
            return Err(ApiError::unsupported_media_type(&format!(
                "application/vnd.kubernetes.protobuf for {api_version}/{kind} (protobuf is decoded for v1 Namespace, ConfigMap, Secret and Service only; send JSON)"
            )))
        }
    };
    let mut obj = message(raw.unwrap_or_default(), schema)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bodies captured from `kubectl create` (kubectl 1.32).
    const SECRET_BODY: &[u8] = b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x2b\x0a\x12\x0a\x02s1\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12\x13\x0a\x08password\x12\x07hunter2\x1a\x00\x1a\x00\x22\x00";
    const SERVICE_BODY: &[u8] = b"k8s\0\x0a\x0d\x0a\x02v1\x12\x07Service\x12\x8e\x01\x0a\x21\x0a\x04web2\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x5a\x0b\x0a\x03app\x12\x04web2\x12\x65\x0a\x1b\x0a\x0780-8080\x12\x03TCP\x18\x50\x22\x07\x08\x00\x10\x90\x3f\x1a\x00\x28\x00\x0a\x1d\x0a\x08443-8443\x12\x03TCP\x18\xbb\x03\x22\x07\x08\x00\x10\xfb\x41\x1a\x00\x28\x00\x12\x0b\x0a\x03app\x12\x04web2\x1a\x00\x22\x0cLoadBalancer\x3a\x00\x42\x00\x52\x00\x5a\x00\x60\x00\x68\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00";

    #[test]
    fn decodes_kubectl_create_bodies() {
        assert_eq!(
            decode(SECRET_BODY).unwrap(),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"}, "data": {"password": "aHVudGVyMg=="}})
        );
        assert_eq!(
            decode(SERVICE_BODY).unwrap(),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web2", "labels": {"app": "web2"}},
                "spec": {"type": "LoadBalancer", "selector": {"app": "web2"}, "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "443-8443", "protocol": "TCP", "port": 443, "targetPort": 8443}]}})
        );
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(decode(b"nope").is_err());
        assert!(decode(b"k8s\0\x0a\xff").is_err());
        assert_eq!(decode(b"k8s\0").unwrap_err().code, 415);
        for n in 0..SERVICE_BODY.len() {
            let _ = decode(&SERVICE_BODY[..n]);
        }
    }

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut body = b"k8s\0".to_vec();
            body.extend(bytes);
            let _ = decode(&body);
        }
    }
}
