//! Bad input gets a 4xx `Status` naming the problem, never a 5xx or a dropped connection.

mod common;

use common::{fixture, raw_request};

#[tokio::test]
async fn malformed_requests_get_status_errors() {
    let f = fixture().await;
    let addr = f.server.addr();
    let svc = "/api/v1/namespaces/default/services";
    let cm = "/api/v1/namespaces/default/configmaps";
    f.server
        .store()
        .seed(
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        )
        .unwrap();
    let json = "application/json";
    let merge = "application/merge-patch+json";
    let apply = "application/apply-patch+yaml";
    let jp = "application/json-patch+json";
    let cases: &[(&str, String, &str, &[u8], u16)] = &[
        ("POST", svc.into(), json, b"not json", 400),
        ("POST", svc.into(), json, b"[1,2]", 400),
        ("POST", svc.into(), json, b"\"str\"", 400),
        ("POST", svc.into(), json, br#"{"metadata": "x"}"#, 422),
        (
            "POST",
            svc.into(),
            json,
            br#"{"metadata": {"name": "Bad_Name"}}"#,
            422,
        ),
        (
            "POST",
            svc.into(),
            json,
            br#"{"metadata": {"name": "a", "namespace": "other"}}"#,
            400,
        ),
        (
            "POST",
            svc.into(),
            json,
            br#"{"metadata": {"name": "a"}, "spec": 5}"#,
            201,
        ),
        (
            "POST",
            "/api/v1/services".into(),
            json,
            br#"{"metadata": {"name": "b"}}"#,
            400,
        ),
        ("POST", "/api/v1/widgets".into(), json, b"{}", 404),
        (
            "PUT",
            format!("{cm}/c"),
            json,
            br#"{"metadata": {"name": "other"}}"#,
            400,
        ),
        ("PUT", format!("{cm}/c"), json, br#"{"metadata": 7}"#, 200),
        ("PATCH", format!("{cm}/c"), merge, b"[1]", 400),
        (
            "PATCH",
            format!("{cm}/c"),
            merge,
            br#"{"metadata": {"name": null}}"#,
            200,
        ),
        (
            "PATCH",
            format!("{cm}/c"),
            apply,
            br#"{"metadata": "x"}"#,
            400,
        ),
        (
            "PATCH",
            format!("{cm}/c?fieldManager=t"),
            apply,
            br#"{"metadata": "x"}"#,
            200,
        ),
        (
            "PATCH",
            format!("{cm}/c?fieldManager=t"),
            apply,
            b"[1]",
            400,
        ),
        (
            "PATCH",
            format!("{cm}/c?fieldManager=t"),
            apply,
            b"a: [unclosed",
            400,
        ),
        (
            "PATCH",
            format!("{cm}/c"),
            jp,
            br#"[{"op": "frobnicate", "path": "/x"}]"#,
            400,
        ),
        (
            "PATCH",
            format!("{cm}/c"),
            jp,
            br#"[{"op": "add", "path": "", "value": 5}]"#,
            400,
        ),
        (
            "PATCH",
            format!("{cm}/c"),
            jp,
            br#"[{"op": "remove", "path": "/metadata/nope/deeper"}]"#,
            422,
        ),
        ("PATCH", format!("{cm}/c"), jp, br#"{"op": "add"}"#, 400),
        ("PATCH", format!("{cm}/c"), "text/plain", b"{}", 415),
        ("PATCH", format!("{cm}/c/status"), merge, b"{}", 404),
        (
            "POST",
            svc.into(),
            "application/vnd.kubernetes.protobuf",
            b"k8s\0\x0a\xff\xff",
            400,
        ),
        (
            "GET",
            format!("{svc}?labelSelector=a%20in%20b"),
            json,
            b"",
            400,
        ),
        (
            "GET",
            format!("{svc}?fieldSelector=nonsense"),
            json,
            b"",
            400,
        ),
        ("GET", format!("{svc}?continue=garbage"), json, b"", 400),
        (
            "GET",
            format!("{svc}?watch=true&resourceVersion=abc"),
            json,
            b"",
            400,
        ),
        ("POST", format!("{cm}/c"), json, b"{}", 405),
        ("GET", "/apis/nope.example.com/v1".into(), json, b"", 404),
    ];
    for (method, path, ct, body, want) in cases {
        let (code, text) = raw_request(addr, method, path, ct, body).await;
        assert_eq!(
            code,
            *want,
            "{method} {path} {:?}: {text}",
            String::from_utf8_lossy(body)
        );
        if code >= 400 {
            let status: serde_json::Value = serde_json::from_str(&text).expect("a Status body");
            assert_eq!(status["kind"], "Status", "{text}");
            assert_eq!(status["code"], *want, "{text}");
            assert!(
                !status["message"].as_str().unwrap_or("").is_empty(),
                "{text}"
            );
        }
    }
    // Still serving.
    let (code, _) = raw_request(addr, "GET", "/version", "application/json", b"").await;
    assert_eq!(code, 200);
    let (code, body) = raw_request(addr, "GET", "/readyz", "text/plain", b"").await;
    assert_eq!((code, body.as_str()), (200, "ok"));
}
