//! Watches through the real kube client: resourceVersion, bookmarks, DELETED, selectors, timeouts,
//! 410 Gone forcing kube's watcher to relist, and streaming lists.

mod common;

use std::time::Duration;

use common::{fixture, lb_service};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use tokio::time::timeout;

const DEADLINE: Duration = Duration::from_secs(10);

/// The resourceVersion of a fresh list: where a watch that misses nothing starts.
async fn list_version<K>(api: &Api<K>) -> String
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap()
}

#[tokio::test]
async fn watch_from_list_version_sees_changes_bookmarks_and_deletes() {
    let f = fixture().await;
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    svcs.create(&PostParams::default(), &lb_service("default", "before"))
        .await
        .unwrap();
    let rv = list_version(&svcs).await;
    let mut stream = svcs
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();

    svcs.create(&PostParams::default(), &lb_service("default", "web"))
        .await
        .unwrap();
    let patch = json!({"metadata": {"labels": {"tier": "front"}}});
    svcs.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    svcs.delete("web", &DeleteParams::default()).await.unwrap();

    let mut seen = Vec::new();
    let mut bookmarks = 0;
    while seen.len() < 3 || bookmarks == 0 {
        let ev = timeout(DEADLINE, stream.try_next())
            .await
            .expect("event in time")
            .unwrap()
            .expect("stream open");
        match ev {
            WatchEvent::Added(s) => seen.push(("ADDED", s.metadata.name.unwrap())),
            WatchEvent::Modified(s) => seen.push(("MODIFIED", s.metadata.name.unwrap())),
            WatchEvent::Deleted(s) => seen.push(("DELETED", s.metadata.name.unwrap())),
            WatchEvent::Bookmark(b) => {
                assert!(
                    b.metadata.resource_version.parse::<u64>().unwrap()
                        >= rv.parse::<u64>().unwrap()
                );
                bookmarks += 1;
            }
            WatchEvent::Error(e) => panic!("unexpected error event {e:?}"),
        }
    }
    // "before" existed at the list's version, so the watch does not replay it.
    assert_eq!(
        seen,
        [
            ("ADDED", "web".into()),
            ("MODIFIED", "web".into()),
            ("DELETED", "web".into())
        ]
    );
    assert_eq!(f.server.calls().count("watch", "services"), 1);
}

#[tokio::test]
async fn watch_with_label_selector_sees_objects_enter_and_leave() {
    let f = fixture().await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let wp = WatchParams::default()
        .labels("pick=yes")
        .disable_bookmarks();
    let mut stream = cms.watch(&wp, "0").await.unwrap().boxed();
    let cm = |pick: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": "c", "labels": {"pick": pick}}}))
            .unwrap()
    };
    cms.create(&PostParams::default(), &cm("no")).await.unwrap();
    cms.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"pick": "yes"}}})),
    )
    .await
    .unwrap();
    cms.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"pick": "no"}}})),
    )
    .await
    .unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        match timeout(DEADLINE, stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            WatchEvent::Added(_) => kinds.push("ADDED"),
            WatchEvent::Modified(_) => kinds.push("MODIFIED"),
            WatchEvent::Deleted(_) => kinds.push("DELETED"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED", "DELETED"]);
}

#[tokio::test]
async fn watch_ends_after_timeout_seconds_and_old_versions_get_410() {
    let f = fixture().await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let rv = list_version(&cms).await;
    let mut stream = cms
        .watch(&WatchParams::default().timeout(1).disable_bookmarks(), &rv)
        .await
        .unwrap()
        .boxed();
    let end = timeout(DEADLINE, stream.try_next())
        .await
        .expect("stream ends by itself");
    assert!(matches!(end, Ok(None)), "got {end:?}");

    f.server
        .store()
        .seed(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}))
        .unwrap();
    f.server.store().compact();
    let mut stream = cms
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match timeout(DEADLINE, stream.try_next()).await.unwrap().unwrap() {
        Some(WatchEvent::Error(e)) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
}

/// Drive a kube watcher until `pred` holds on the names it has seen applied/deleted; returns the events.
async fn next_matching<S>(
    stream: &mut S,
    mut pred: impl FnMut(&Event<Service>) -> bool,
) -> Event<Service>
where
    S: futures::Stream<Item = Result<Event<Service>, watcher::Error>> + Unpin,
{
    loop {
        let ev = timeout(DEADLINE, stream.next())
            .await
            .expect("watcher event in time")
            .expect("stream open");
        match ev {
            Ok(ev) if pred(&ev) => return ev,
            Ok(_) => {}
            Err(e) => tracing_note(&e),
        }
    }
}

fn tracing_note(e: &watcher::Error) {
    eprintln!("watcher error (it retries): {e}");
}

fn name(ev: &Event<Service>) -> Option<&str> {
    match ev {
        Event::Apply(s) | Event::Delete(s) | Event::InitApply(s) => s.metadata.name.as_deref(),
        _ => None,
    }
}

#[tokio::test]
async fn kube_watcher_relists_after_410_gone() {
    let f = fixture().await;
    f.server
        .store()
        .seed(serde_json::to_value(lb_service("default", "a")).unwrap())
        .unwrap();
    let svcs: Api<Service> = Api::all(f.client.clone());
    let mut stream = watcher::watcher(svcs.clone(), watcher::Config::default()).boxed();

    let init = next_matching(&mut stream, |e| matches!(e, Event::InitApply(_))).await;
    assert_eq!(name(&init), Some("a"));
    next_matching(&mut stream, |e| matches!(e, Event::InitDone)).await;
    f.server
        .store()
        .seed(serde_json::to_value(lb_service("default", "b")).unwrap())
        .unwrap();
    let ev = next_matching(&mut stream, |e| matches!(e, Event::Apply(_))).await;
    assert_eq!(name(&ev), Some("b"));
    assert_eq!(f.server.calls().count("list", "services"), 1);

    // The open watch gets an ERROR 410 and ends; the watcher relists and sees everything again.
    f.server.store().expire_watches();
    next_matching(&mut stream, |e| matches!(e, Event::Init)).await;
    let mut relisted = Vec::new();
    loop {
        match next_matching(&mut stream, |e| {
            matches!(e, Event::InitApply(_) | Event::InitDone)
        })
        .await
        {
            Event::InitDone => break,
            ev => relisted.push(name(&ev).unwrap().to_string()),
        }
    }
    assert_eq!(relisted, ["a", "b"]);
    assert_eq!(f.server.calls().count("list", "services"), 2);

    // Changes after the relist arrive through the new watch.
    f.server.store().remove("services", "default", "a").unwrap();
    let ev = next_matching(&mut stream, |e| matches!(e, Event::Delete(_))).await;
    assert_eq!(name(&ev), Some("a"));

    // A dropped connection plus a compacted history: the re-watch at the old version gets 410, relist.
    f.server.store().compact();
    f.server
        .store()
        .seed(serde_json::to_value(lb_service("default", "c")).unwrap())
        .unwrap();
    f.server.store().compact();
    f.server.store().close_watches();
    next_matching(&mut stream, |e| {
        matches!(e, Event::InitApply(_)) && name(e) == Some("c")
    })
    .await;
    assert_eq!(f.server.calls().count("list", "services"), 3);
}

#[tokio::test]
async fn kube_watcher_streaming_list_uses_initial_events_bookmark() {
    let f = fixture().await;
    f.server
        .store()
        .seed(serde_json::to_value(lb_service("default", "a")).unwrap())
        .unwrap();
    let svcs: Api<Service> = Api::all(f.client.clone());
    let mut stream = watcher::watcher(svcs, watcher::Config::default().streaming_lists()).boxed();
    let init = next_matching(&mut stream, |e| matches!(e, Event::InitApply(_))).await;
    assert_eq!(name(&init), Some("a"));
    next_matching(&mut stream, |e| matches!(e, Event::InitDone)).await;
    f.server
        .store()
        .seed(serde_json::to_value(lb_service("default", "b")).unwrap())
        .unwrap();
    let ev = next_matching(&mut stream, |e| matches!(e, Event::Apply(_))).await;
    assert_eq!(name(&ev), Some("b"));
    assert_eq!(f.server.calls().count("list", "services"), 0);
    assert!(f.server.calls().count("watch", "services") >= 1);
}

#[tokio::test]
async fn metadata_watcher_and_get_metadata() {
    let f = fixture().await;
    f.server
        .store()
        .seed(serde_json::to_value(lb_service("default", "a")).unwrap())
        .unwrap();
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    let meta = svcs.get_metadata("a").await.unwrap();
    assert_eq!(
        meta.metadata.labels.unwrap().get("app").map(String::as_str),
        Some("a")
    );
    let list = svcs.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let meta_api: Api<kube::core::PartialObjectMeta<Service>> =
        Api::namespaced(f.client.clone(), "default");
    let mut stream = watcher::watcher(meta_api, watcher::Config::default()).boxed();
    loop {
        let ev = timeout(DEADLINE, stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Event::InitApply(m) = ev {
            assert_eq!(m.metadata.name.as_deref(), Some("a"));
            break;
        }
    }
    f.server
        .store()
        .seed(serde_json::to_value(lb_service("default", "b")).unwrap())
        .unwrap();
    loop {
        let ev = timeout(DEADLINE, stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Event::Apply(m) = ev {
            assert_eq!(m.metadata.name.as_deref(), Some("b"));
            assert_eq!(m.types.unwrap().kind, "PartialObjectMetadata");
            break;
        }
    }
}

#[tokio::test]
async fn shutdown_ends_open_watches_and_stops_listening() {
    let f = fixture().await;
    let addr = f.server.addr();
    let cms: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let rv = list_version(&cms).await;
    let mut stream = cms
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await
        .unwrap()
        .boxed();
    timeout(DEADLINE, f.server.shutdown())
        .await
        .expect("shutdown in time");
    let end = timeout(DEADLINE, stream.try_next())
        .await
        .expect("watch ends");
    assert!(!matches!(end, Ok(Some(_))), "got {end:?}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn seeding_with_status_is_one_event() {
    let f = fixture().await;
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    let rv = list_version(&svcs).await;
    let mut stream = svcs
        .watch(&WatchParams::default().disable_bookmarks(), &rv)
        .await
        .unwrap()
        .boxed();
    let mut svc = serde_json::to_value(lb_service("default", "a")).unwrap();
    svc["status"] = json!({"loadBalancer": {"ingress": [{"ip": "198.51.100.4"}]}});
    f.server.store().seed(svc).unwrap();
    f.server
        .store()
        .seed(serde_json::to_value(lb_service("default", "b")).unwrap())
        .unwrap();
    let first = timeout(DEADLINE, stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let WatchEvent::Added(a) = first else {
        panic!("expected ADDED, got {first:?}")
    };
    let ingress = a.status.unwrap().load_balancer.unwrap().ingress.unwrap();
    assert_eq!(ingress[0].ip.as_deref(), Some("198.51.100.4"));
    let second = timeout(DEADLINE, stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        matches!(second, WatchEvent::Added(ref b) if b.metadata.name.as_deref() == Some("b")),
        "{second:?}"
    );
}
