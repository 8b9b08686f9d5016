//! HTTP request handling: path parsing, verb mapping, and the list/get/create/update/patch/delete/watch
//! semantics on top of the store.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::apply::apply;
use crate::calls::{Call, Calls, RequestRecord};
use crate::discovery;
use crate::faults::{Injected, Target as FaultTarget};
use crate::meta;
use crate::openapi;
use crate::patch;
use crate::protobuf;
use crate::registry::ResourceInfo;
use crate::routes::{route, verb, ResourcePath, Route};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{set_meta, Store, Target};
use crate::table::{self, IncludeObject};
use crate::watch::{self, Start, WatchRequest};

/// Shared state of the HTTP handlers.
#[derive(Clone, Debug)]
pub struct App {
    /// The object store.
    pub store: Store,
    /// The call log.
    pub calls: Calls,
    /// Interval between watch bookmarks.
    pub bookmark_interval: Duration,
}

fn json_response(code: u16, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn error_response(err: &ApiError) -> Response {
    json_response(err.code, &err.to_status())
}

/// An injected fault as the real server would answer it: a `Status` with the code (and `Retry-After`),
/// or for a 410 on a watch, HTTP 200 with one ERROR event carrying the 410 `Expired` Status.
fn fault_response(fault: &Injected, call: &Call, name: Option<&str>) -> Response {
    let status = fault.status(call, name);
    if call.verb == "watch" && fault.code == 410 {
        let line = format!("{}\n", json!({ "type": "ERROR", "object": status }));
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(line))
            .unwrap_or_default();
    }
    let mut response = json_response(fault.code, &status);
    if let Some(secs) = fault.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    response
}

/// The one handler: every request comes here.
pub async fn handle(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q: HashMap<String, String> = Query::try_from_uri(&uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    let path = uri.path().to_string();
    let header_str = |h: header::HeaderName| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let content_type = header_str(header::CONTENT_TYPE);
    let accept = header_str(header::ACCEPT);
    let mut record = RequestRecord {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().unwrap_or("").to_string(),
        call: None,
        namespace: None,
        name: None,
        field_manager: q.get("fieldManager").cloned(),
        content_type: (!content_type.is_empty()).then(|| content_type.clone()),
        status: 200,
        at: std::time::Instant::now(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        injected: false,
        retry_after: None,
    };
    let registry = app.store.registry();
    let result = match route(&path, &registry) {
        Route::Version => Ok(json_response(200, &discovery::version())),
        Route::Health => Ok(Response::builder()
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Body::from("ok"))
            .unwrap_or_default()),
        Route::CoreVersions => Ok(json_response(200, &discovery::core_versions())),
        Route::Groups => Ok(json_response(200, &discovery::group_list(&registry))),
        Route::Group(g) => discovery::group(&registry, &g)
            .map(|d| json_response(200, &d))
            .ok_or_else(|| ApiError::no_route(&path)),
        Route::Resources(g, v) => discovery::resource_list(&registry, &g, &v)
            .map(|d| json_response(200, &d))
            .ok_or_else(|| ApiError::no_route(&path)),
        Route::Resource(p) => {
            record.namespace = p.namespace.clone();
            record.name = p.name.clone();
            match verb(&method, &p, &q) {
                None => Err(ApiError::method_not_allowed(format!(
                    "{method} is not supported on {path}"
                ))),
                Some(verb) => {
                    let call = Call {
                        verb: verb.to_string(),
                        group: p.res.group.to_string(),
                        resource: p.res.plural.to_string(),
                        subresource: p.subresource.clone(),
                    };
                    record.call = Some(call.clone());
                    let target = FaultTarget {
                        call: &call,
                        name: p.name.as_deref(),
                        user_agent: record.user_agent.as_deref().unwrap_or(""),
                    };
                    match app.calls.take_injection(target) {
                        Some(fault) => {
                            record.injected = true;
                            record.retry_after = fault.retry_after;
                            Ok(fault_response(&fault, &call, p.name.as_deref()))
                        }
                        None => {
                            let req = Req {
                                app: &app,
                                p: &p,
                                q: &q,
                                content_type: &content_type,
                                accept: &accept,
                                body: &body,
                            };
                            req.dispatch(verb)
                        }
                    }
                }
            }
        }
        Route::OpenApiRoot => Ok(json_response(
            200,
            &openapi::root(&registry, &|r| app.store.schema_of(r)),
        )),
        Route::OpenApiDoc(gv) => openapi::document(&registry, &gv, &|r| app.store.schema_of(r))
            .map(|d| json_response(200, &d))
            .ok_or_else(|| ApiError::no_route(&path)),
        Route::Unknown => Err(ApiError::no_route(&path)),
    };
    let response = result.unwrap_or_else(|e| error_response(&e));
    record.status = response.status().as_u16();
    tracing::debug!(method = %record.method, path = %record.path, query = %record.query, status = record.status, "api request");
    app.calls.record(record);
    response
}

struct Req<'a> {
    app: &'a App,
    p: &'a ResourcePath,
    q: &'a HashMap<String, String>,
    content_type: &'a str,
    accept: &'a str,
    body: &'a Bytes,
}

fn parse_body(body: &[u8], content_type: &str) -> Result<Value, ApiError> {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    if ct == "application/vnd.kubernetes.protobuf" {
        return protobuf::decode(body);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(json_err) if ct.ends_with("yaml") => {
            let text = std::str::from_utf8(body)
                .map_err(|e| ApiError::bad_request(format!("body is not UTF-8: {e}")))?;
            serde_saphyr::from_str::<Value>(text).map_err(|e| {
                ApiError::bad_request(format!("body is neither JSON ({json_err}) nor YAML ({e})"))
            })
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "body is not valid JSON: {e}"
        ))),
    }
}

impl Req<'_> {
    fn res(&self) -> &'static ResourceInfo {
        self.p.res
    }

    fn ns(&self) -> &str {
        self.p.namespace.as_deref().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.p.name.as_deref().unwrap_or("")
    }

    fn dry_run(&self) -> bool {
        self.q.get("dryRun").is_some_and(|d| d == "All")
    }

    fn target(&self) -> Result<Target, ApiError> {
        match self.p.subresource.as_deref() {
            None => Ok(Target::Main),
            Some("status") if self.res().status_subresource => Ok(Target::Status),
            Some(other) => Err(ApiError::no_route(&format!(
                "{}/{}/{other}",
                self.res().plural,
                self.name()
            ))),
        }
    }

    fn wants_table(&self) -> bool {
        self.accept
            .split(',')
            .next()
            .is_some_and(|first| first.contains("as=Table"))
            || (self.accept.contains("as=Table")
                && !self.accept.contains("as=PartialObjectMetadata"))
    }

    fn wants_metadata(&self) -> bool {
        self.accept
            .split(',')
            .next()
            .is_some_and(|first| first.contains("as=PartialObjectMetadata"))
    }

    fn dispatch(&self, verb: &str) -> Result<Response, ApiError> {
        let target = self.target()?;
        if self.res().namespaced && self.p.namespace.is_none() && !matches!(verb, "list" | "watch")
        {
            return Err(ApiError::bad_request(format!(
                "{} is namespaced: the path must name a namespace for {verb}",
                self.res().qualified_name()
            )));
        }
        match verb {
            "get" => {
                let obj = self.app.store.get(self.res(), self.ns(), self.name())?;
                if self.wants_table() {
                    let include =
                        IncludeObject::parse(self.q.get("includeObject").map(String::as_str));
                    let meta =
                        json!({ "resourceVersion": obj.pointer("/metadata/resourceVersion") });
                    return Ok(json_response(
                        200,
                        &table::table(self.res(), &[obj], meta, include),
                    ));
                }
                if self.wants_metadata() {
                    return Ok(json_response(200, &table::partial_metadata(&obj)));
                }
                Ok(json_response(200, &obj))
            }
            "list" => self.list(),
            "watch" => self.watch(),
            "create" => self.create(),
            "update" => self.update(target),
            "patch" => self.patch(target),
            "delete" => self.delete(),
            "deletecollection" => self.delete_collection(),
            _ => Err(ApiError::method_not_allowed(verb.to_string())),
        }
    }

    fn selected(&self) -> Result<(Vec<Value>, u64), ApiError> {
        let labels = LabelSelector::parse(
            self.q
                .get("labelSelector")
                .map(String::as_str)
                .unwrap_or(""),
        )?;
        let fields = FieldSelector::parse(
            self.q
                .get("fieldSelector")
                .map(String::as_str)
                .unwrap_or(""),
        )?;
        let (items, rv) = self.app.store.list(self.res(), self.p.namespace.as_deref());
        Ok((
            items
                .into_iter()
                .filter(|o| labels.matches(o) && fields.matches(o))
                .collect(),
            rv,
        ))
    }

    fn list(&self) -> Result<Response, ApiError> {
        let labels = LabelSelector::parse(
            self.q
                .get("labelSelector")
                .map(String::as_str)
                .unwrap_or(""),
        )?;
        let fields = FieldSelector::parse(
            self.q
                .get("fieldSelector")
                .map(String::as_str)
                .unwrap_or(""),
        )?;
        // Pagination: `continue` is "<resourceVersion>/<namespace>/<name>" of the last item returned.
        let token = self.q.get("continue").filter(|t| !t.is_empty());
        let after = match token {
            None => None,
            Some(token) => {
                let bad = || ApiError::bad_request(format!("continue: invalid token {token:?}"));
                let mut parts = token.splitn(3, '/');
                let (Some(trv), Some(tns), Some(tname)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad());
                };
                Some((trv.parse::<u64>().map_err(|_| bad())?, tns, tname))
            }
        };
        let limit = self
            .q
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .filter(|l| *l > 0);
        let (items, snapshot_rv, remaining) = self.app.store.list_page(
            self.res(),
            self.p.namespace.as_deref(),
            after.map(|(_, n, name)| (n, name)),
            limit,
            |o| labels.matches(o) && fields.matches(o),
        );
        // Later pages report the first page's resourceVersion, as the real server does.
        let rv = after.map_or(snapshot_rv, |(rv, _, _)| rv);
        let mut meta = Map::new();
        if remaining > 0 {
            if let Some(last) = items.last() {
                let text = |ptr: &str| {
                    last.pointer(ptr)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                let token = format!(
                    "{rv}/{}/{}",
                    text("/metadata/namespace"),
                    text("/metadata/name")
                );
                meta.insert("continue".into(), json!(token));
                meta.insert("remainingItemCount".into(), json!(remaining));
            }
        }
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        if self.wants_table() {
            let include = IncludeObject::parse(self.q.get("includeObject").map(String::as_str));
            return Ok(json_response(
                200,
                &table::table(self.res(), &items, Value::Object(meta), include),
            ));
        }
        if self.wants_metadata() {
            let items: Vec<Value> = items.iter().map(table::partial_metadata).collect();
            let list = json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": items,
            });
            return Ok(json_response(200, &list));
        }
        let list = json!({
            "kind": self.res().list_kind(),
            "apiVersion": self.res().api_version(),
            "metadata": meta,
            "items": items,
        });
        Ok(json_response(200, &list))
    }

    fn watch(&self) -> Result<Response, ApiError> {
        let mut fields = self.q.get("fieldSelector").cloned().unwrap_or_default();
        if let Some(name) = &self.p.name {
            // Watching one object by path: the same as a metadata.name field selector.
            if !fields.is_empty() {
                fields.push(',');
            }
            fields.push_str(&format!("metadata.name={name}"));
        }
        let start = match self.q.get("resourceVersion").map(String::as_str) {
            None | Some("") | Some("0") => Start::Current,
            Some(rv) => Start::After(rv.parse().map_err(|_| {
                ApiError::bad_request(format!("resourceVersion: invalid value {rv:?}"))
            })?),
        };
        let timeout = self
            .q
            .get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .map(Duration::from_secs);
        let render: watch::Render = if self.wants_table() {
            table::watch_row
        } else if self.wants_metadata() {
            |_, o| table::partial_metadata(o)
        } else {
            |_, o| o.clone()
        };
        let req = WatchRequest {
            resource: self.res(),
            namespace: self.p.namespace.clone(),
            labels: LabelSelector::parse(
                self.q
                    .get("labelSelector")
                    .map(String::as_str)
                    .unwrap_or(""),
            )?,
            fields: FieldSelector::parse(&fields)?,
            start,
            bookmarks: self
                .q
                .get("allowWatchBookmarks")
                .is_some_and(|b| b == "true"),
            send_initial_events: self.q.get("sendInitialEvents").is_some_and(|b| b == "true"),
            bookmark_interval: self.app.bookmark_interval,
            timeout,
            render,
        };
        let body = watch::stream(self.app.store.clone(), req);
        Ok(Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::TRANSFER_ENCODING, "chunked")
            .body(body)
            .unwrap_or_default())
    }

    /// The body, which must be an object (an array too when `array_ok`, for JSON patches).
    fn body_checked(&self, array_ok: bool) -> Result<Value, ApiError> {
        let v = parse_body(self.body, self.content_type)?;
        if v.is_object() || (array_ok && v.is_array()) {
            return Ok(v);
        }
        Err(ApiError::bad_request(if array_ok {
            "body must be a JSON object or array"
        } else {
            "body must be a JSON object"
        }))
    }

    fn body(&self) -> Result<Value, ApiError> {
        self.body_checked(false)
    }

    fn check_body_namespace(&self, obj: &Value) -> Result<(), ApiError> {
        if !self.res().namespaced {
            return Ok(());
        }
        match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() && ns != self.ns() => Err(ApiError::bad_request(format!(
                "the namespace of the provided object ({ns}) does not match the namespace sent on the request ({})",
                self.ns()
            ))),
            _ => Ok(()),
        }
    }

    fn create(&self) -> Result<Response, ApiError> {
        let mut obj = self.body()?;
        self.check_body_namespace(&obj)?;
        let name = match obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            Some(n) => n.to_string(),
            None => match obj
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                Some(prefix) => format!("{prefix}{}", meta::name_suffix()),
                None => {
                    return Err(ApiError::invalid(
                        self.res().group,
                        self.res().plural,
                        "",
                        "metadata.name: Required value: name or generateName is required",
                    ))
                }
            },
        };
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        let res = self.res();
        let created =
            self.app
                .store
                .write(
                    res,
                    self.ns(),
                    &name,
                    Target::Main,
                    self.dry_run(),
                    |old| match old {
                        Some(_) => Err(ApiError::already_exists(res.group, res.plural, &name)),
                        None => Ok(obj),
                    },
                )?;
        Ok(json_response(201, &created))
    }

    fn update(&self, target: Target) -> Result<Response, ApiError> {
        let mut obj = self.body()?;
        self.check_body_namespace(&obj)?;
        let res = self.res();
        let name = self.name().to_string();
        if let Some(body_name) = obj.pointer("/metadata/name").and_then(Value::as_str) {
            if body_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
        }
        let updated =
            self.app
                .store
                .write(res, self.ns(), &name, target, self.dry_run(), |old| {
                    let old =
                        old.ok_or_else(|| ApiError::not_found(res.group, res.plural, &name))?;
                    if obj.pointer("/metadata/managedFields").is_none() {
                        if let Some(mf) = old.pointer("/metadata/managedFields") {
                            set_meta(&mut obj, "managedFields", mf.clone());
                        }
                    }
                    Ok(obj)
                })?;
        Ok(json_response(200, &updated))
    }

    fn patch(&self, target: Target) -> Result<Response, ApiError> {
        let ct = self
            .content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let body = self.body_checked(ct == "application/json-patch+json")?;
        let res = self.res();
        let name = self.name().to_string();
        let field_manager = self.q.get("fieldManager").cloned();
        let mut created = false;
        let out = match ct.as_str() {
            "application/apply-patch+yaml" => {
                let manager = field_manager.ok_or_else(|| {
                    ApiError::bad_request(
                        "fieldManager: Required value: is required for apply patch",
                    )
                })?;
                let force = self.q.get("force").is_some_and(|f| f == "true");
                self.check_body_namespace(&body)?;
                let subresource = match target {
                    Target::Status => Some("status"),
                    Target::Main | Target::Whole => None,
                };
                self.app
                    .store
                    .write(res, self.ns(), &name, target, self.dry_run(), |old| {
                        created = old.is_none();
                        apply(old, &body, &manager, res, subresource, force)
                    })?
            }
            "application/merge-patch+json"
            | "application/strategic-merge-patch+json"
            | "application/json-patch+json" => {
                self.app
                    .store
                    .write(res, self.ns(), &name, target, self.dry_run(), |old| {
                        let mut obj = old
                            .cloned()
                            .ok_or_else(|| ApiError::not_found(res.group, res.plural, &name))?;
                        match ct.as_str() {
                            "application/merge-patch+json" => patch::merge(&mut obj, &body),
                            "application/strategic-merge-patch+json" => {
                                patch::strategic_merge(&mut obj, &body)
                            }
                            _ => patch::json_patch(&mut obj, &body)?,
                        }
                        Ok(obj)
                    })?
            }
            other => return Err(ApiError::unsupported_media_type(other)),
        };
        Ok(json_response(if created { 201 } else { 200 }, &out))
    }

    fn preconditions(&self) -> Option<(Option<String>, Option<String>)> {
        let opts: Value = serde_json::from_slice(self.body).ok()?;
        let pre = opts.get("preconditions")?;
        let get = |k: &str| pre.get(k).and_then(Value::as_str).map(str::to_string);
        Some((get("uid"), get("resourceVersion")))
    }

    fn delete(&self) -> Result<Response, ApiError> {
        if self.dry_run() {
            return Ok(json_response(
                200,
                &self.app.store.get(self.res(), self.ns(), self.name())?,
            ));
        }
        let deleted =
            self.app
                .store
                .delete(self.res(), self.ns(), self.name(), self.preconditions())?;
        Ok(json_response(200, &deleted))
    }

    fn delete_collection(&self) -> Result<Response, ApiError> {
        let (items, _) = self.selected()?;
        let mut deleted = Vec::new();
        for obj in items {
            let ns = obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if self.dry_run() {
                deleted.push(obj.clone());
            } else if let Ok(d) = self.app.store.delete(self.res(), ns, name, None) {
                deleted.push(d);
            }
        }
        let rv = self.app.store.resource_version();
        let list = json!({
            "kind": self.res().list_kind(),
            "apiVersion": self.res().api_version(),
            "metadata": { "resourceVersion": rv.to_string() },
            "items": deleted,
        });
        Ok(json_response(200, &list))
    }
}
