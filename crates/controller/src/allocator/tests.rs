//! Table-style unit tests of the allocator.

use super::*;
use ferrolb_view::{ServicePortView, TrafficPolicy};

fn config(text: &str) -> Config {
    ferrolb_config::parse_config(text).expect("test config parses")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn lb(ns: &str, name: &str) -> ServiceView {
    ServiceView::load_balancer(ns, name)
}

fn ports(list: &[(u16, &str)]) -> Vec<ServicePortView> {
    list.iter()
        .map(|(p, proto)| ServicePortView {
            protocol: proto.to_string(),
            port: *p,
        })
        .collect()
}

fn alloc(text: &str) -> Allocator {
    let mut a = Allocator::new();
    a.set_pools(&config(text)).unwrap();
    a
}

fn assigned(o: &Outcome) -> Vec<IpAddr> {
    match o {
        Outcome::Assign { ips, .. } => ips.clone(),
        other => panic!("expected an assignment, got {other:?}"),
    }
}

const SINGLE: &str =
    "address-pools:\n- name: default\n  protocol: bgp\n  addresses: [198.51.100.10/32]\n";

/// The exhaustion message counts the family's addresses held in the pool and the pool's
/// allocatable size of that family (avoid-buggy-ips leaves 198.51.100.0 out), not the pool-wide
/// count: here 1 IPv4 of 1 allocatable, while the pool holds 3 addresses in all.
#[test]
fn exhaustion_counts_the_family_in_use_and_the_allocatable_size() {
    let mut a = alloc(
        "address-pools:\n- name: dual\n  protocol: bgp\n  avoid-buggy-ips: true\n  \
         addresses: [198.51.100.0/31, '2001:db8::/127']\n",
    );
    assert_eq!(assigned(&a.allocate(&lb("a", "v4"))), [ip("198.51.100.1")]);
    for name in ["v6a", "v6b"] {
        let mut s = lb("a", name);
        s.ip_families = vec![IpFamily::V6];
        assert_eq!(assigned(&a.allocate(&s)).len(), 1);
    }
    assert_eq!(
        a.allocate(&lb("a", "more")),
        Outcome::Error("no available IPv4 address in pool dual (1 of 1 in use)".into())
    );
    let mut s = lb("a", "more6");
    s.ip_families = vec![IpFamily::V6];
    assert_eq!(
        a.allocate(&s),
        Outcome::Error("no available IPv6 address in pool dual (2 of 2 in use)".into())
    );
}

#[test]
fn exhaustion_of_a_slash_32_names_the_pool() {
    let mut a = alloc(SINGLE);
    assert_eq!(
        assigned(&a.allocate(&lb("a", "one"))),
        [ip("198.51.100.10")]
    );
    let second = a.allocate(&lb("a", "two"));
    assert_eq!(
        second,
        Outcome::Error("no available IPv4 address in pool default (1 of 1 in use)".into())
    );
    assert_eq!(
        a.usage(),
        vec![PoolUsage {
            pool: "default".into(),
            total: 1,
            in_use: 1
        }]
    );
    // Releasing the first frees the address for the second.
    assert!(a.release(&ServiceKey::new("a", "one")));
    assert_eq!(
        assigned(&a.allocate(&lb("a", "two"))),
        [ip("198.51.100.10")]
    );
}

#[test]
fn lowest_free_address_and_buggy_ips_skipped() {
    let mut a = alloc(
        "address-pools:\n- name: p\n  protocol: bgp\n  avoid-buggy-ips: true\n  addresses:\n  - 198.51.100.254-198.51.101.2\n",
    );
    let got: Vec<IpAddr> = (0..3)
        .map(|i| assigned(&a.allocate(&lb("ns", &format!("s{i}"))))[0])
        .collect();
    assert_eq!(
        got,
        [ip("198.51.100.254"), ip("198.51.101.1"), ip("198.51.101.2")]
    );
    assert!(matches!(a.allocate(&lb("ns", "s3")), Outcome::Error(_)));
    assert_eq!(a.usage()[0].total, 3);
}

#[test]
fn requested_ip_outside_pools_is_a_clear_error() {
    let mut a = alloc(SINGLE);
    let mut s = lb("a", "x");
    s.requested_ips = vec![ip("1.2.3.4")];
    assert_eq!(
        a.allocate(&s),
        Outcome::Error("requested IP 1.2.3.4 is not in any pool".into())
    );
    s.requested_ips = vec![ip("198.51.100.10")];
    assert_eq!(assigned(&a.allocate(&s)), [ip("198.51.100.10")]);
}

#[test]
fn requested_ip_error_from_the_view_is_reported() {
    let mut a = alloc(SINGLE);
    let mut s = lb("a", "x");
    s.requested_ips_error = Some("both spec.loadBalancerIP and annotation x are set".into());
    assert!(matches!(a.allocate(&s), Outcome::Error(e) if e.contains("both")));
}

#[test]
fn sharing_follows_metallb_rules() {
    let mut a = alloc(SINGLE);
    let mut web = lb("a", "web");
    web.sharing_key = Some("k".into());
    web.ports = ports(&[(80, "TCP")]);
    assert_eq!(assigned(&a.allocate(&web)), [ip("198.51.100.10")]);

    // Same key, different port: shares.
    let mut dns = lb("a", "dns");
    dns.sharing_key = Some("k".into());
    dns.ports = ports(&[(53, "UDP"), (80, "UDP")]);
    assert_eq!(assigned(&a.allocate(&dns)), [ip("198.51.100.10")]);
    assert_eq!(a.usage()[0].in_use, 1);

    // Same key, same port+protocol: conflict naming the holder and port.
    let mut web2 = lb("b", "web2");
    web2.sharing_key = Some("k".into());
    web2.ports = ports(&[(80, "TCP")]);
    web2.requested_ips = vec![ip("198.51.100.10")];
    assert_eq!(
        a.allocate(&web2),
        Outcome::Error(
            "requested IP 198.51.100.10: sharing conflict with a/web on port 80/TCP".into()
        )
    );

    // No key: not shared.
    let mut plain = lb("b", "plain");
    plain.requested_ips = vec![ip("198.51.100.10")];
    assert!(matches!(a.allocate(&plain), Outcome::Error(e) if e.contains("already in use by a/")));

    // eTP Local needs the same selector.
    let mut local = lb("b", "local");
    local.sharing_key = Some("k".into());
    local.ports = ports(&[(443, "TCP")]);
    local.external_traffic_policy = TrafficPolicy::Local;
    local.selector = [("app".to_string(), "x".to_string())].into();
    assert!(matches!(a.allocate(&local), Outcome::Error(e) if e.contains("no available")));
    local.requested_ips = vec![ip("198.51.100.10")];
    assert!(matches!(a.allocate(&local), Outcome::Error(e) if e.contains("select the same pods")));
}

#[test]
fn auto_assign_false_pool_only_on_request() {
    let mut a = alloc(
        "address-pools:\n- name: manual\n  protocol: bgp\n  auto-assign: false\n  addresses: [198.51.100.0/30]\n",
    );
    assert!(matches!(a.allocate(&lb("a", "x")), Outcome::Error(e) if e.contains("auto-assign")));
    let mut s = lb("a", "y");
    s.address_pool = Some("manual".into());
    assert_eq!(assigned(&a.allocate(&s)), [ip("198.51.100.0")]);
    let mut r = lb("a", "z");
    r.requested_ips = vec![ip("198.51.100.3")];
    assert_eq!(assigned(&a.allocate(&r)), [ip("198.51.100.3")]);
    let mut missing = lb("a", "w");
    missing.address_pool = Some("nope".into());
    assert_eq!(
        a.allocate(&missing),
        Outcome::Error("address pool \"nope\" does not exist".into())
    );
}

#[test]
fn dual_stack_and_v6_pools_of_any_size() {
    let mut a = alloc(
        "address-pools:\n- name: ds\n  protocol: bgp\n  addresses: [198.51.100.0/24, '2001:db8::/64']\n- name: v6\n  protocol: bgp\n  auto-assign: false\n  addresses: ['2001:db8:1::/48']\n",
    );
    let mut s = lb("a", "ds");
    s.ip_families = vec![IpFamily::V6, IpFamily::V4];
    s.ip_family_policy = IpFamilyPolicy::RequireDualStack;
    assert_eq!(
        assigned(&a.allocate(&s)),
        [ip("198.51.100.0"), ip("2001:db8::")]
    );
    let mut v6 = lb("a", "six");
    v6.ip_families = vec![IpFamily::V6];
    assert_eq!(assigned(&a.allocate(&v6)), [ip("2001:db8::1")]);
    let mut big = lb("a", "big");
    big.address_pool = Some("v6".into());
    big.ip_families = vec![IpFamily::V6];
    assert_eq!(assigned(&a.allocate(&big)), [ip("2001:db8:1::")]);
    let usage = a.usage();
    assert_eq!(usage[0].total, 256 + (1u128 << 64));
    assert_eq!(usage[1].total, 1u128 << 80);
    // RequireDualStack from a v6-only pool fails with a reason.
    let mut req = lb("a", "req");
    req.address_pool = Some("v6".into());
    req.ip_family_policy = IpFamilyPolicy::RequireDualStack;
    assert!(matches!(a.allocate(&req), Outcome::Error(e) if e.contains("no IPv4 addresses")));
    // PreferDualStack from a v6-only pool takes what there is.
    req.ip_family_policy = IpFamilyPolicy::PreferDualStack;
    assert_eq!(assigned(&a.allocate(&req)), [ip("2001:db8:1::1")]);
}

#[test]
fn load_balancer_class_and_type() {
    let mut a = alloc(SINGLE);
    let mut other = lb("a", "x");
    other.load_balancer_class = Some("example.com/other".into());
    assert!(matches!(a.allocate(&other), Outcome::Skip(_)));
    let mut ours = lb("a", "y");
    ours.load_balancer_class = Some(ferrolb_view::LOAD_BALANCER_CLASS.into());
    assert!(matches!(a.allocate(&ours), Outcome::Skip(_)));
    a.set_load_balancer_class(Some(ferrolb_view::LOAD_BALANCER_CLASS.into()));
    assert!(matches!(a.allocate(&ours), Outcome::Assign { .. }));
    // Stops being a LoadBalancer: to be cleared, but held until the caller releases it (once
    // the status no longer shows it).
    ours.is_load_balancer = false;
    assert_eq!(a.allocate(&ours), Outcome::Clear);
    assert_eq!(a.usage()[0].in_use, 1);
    assert!(a.release(&ours.key()));
    assert_eq!(a.usage()[0].in_use, 0);
    assert!(matches!(a.allocate(&ours), Outcome::Skip(_)));
}

#[test]
fn config_change_that_takes_an_address_is_rejected_naming_services() {
    let mut a =
        alloc("address-pools:\n- name: p\n  protocol: bgp\n  addresses: [198.51.100.0/30]\n");
    for n in ["one", "two"] {
        a.allocate(&lb("web", n));
    }
    let err = a
        .set_pools(&config(
            "address-pools:\n- name: p\n  protocol: bgp\n  addresses: [198.51.100.2/31]\n",
        ))
        .unwrap_err();
    assert_eq!(err.blocking.len(), 2);
    let text = err.to_string();
    assert!(text.contains("web/one (198.51.100.0)"), "{text}");
    assert!(text.contains("web/two (198.51.100.1)"), "{text}");
    // Old pools still in force.
    assert_eq!(a.pools()[0].ranges[0].to_string(), "198.51.100.0/30");
    // A change that keeps every used address (renaming the pool) is accepted.
    a.set_pools(&config(
        "address-pools:\n- name: q\n  protocol: bgp\n  addresses: [198.51.100.0/29]\n",
    ))
    .unwrap();
    assert_eq!(a.ips_of(&ServiceKey::new("web", "one")).unwrap().0, "q");
    assert_eq!(a.usage()[0].in_use, 2);
}

#[test]
fn existing_assignments_are_kept_and_restart_is_stable() {
    let text = "address-pools:\n- name: p\n  protocol: bgp\n  addresses: [198.51.100.0/28]\n";
    let mut a = alloc(text);
    let mut svcs: Vec<ServiceView> = (0..10).map(|i| lb("ns", &format!("s{i}"))).collect();
    for s in svcs.iter_mut().rev() {
        s.ingress_ips = assigned(&a.allocate(s));
    }
    // Restart: a fresh allocator, status first, in a different order.
    let mut b = alloc(text);
    for s in svcs.iter() {
        b.assign(s, &s.ingress_ips.clone()).unwrap();
    }
    svcs.push(lb("ns", "new"));
    for s in &svcs {
        let o = b.allocate(s);
        if s.name == "new" {
            assert_eq!(assigned(&o), [ip("198.51.100.10")]);
        } else {
            assert_eq!(assigned(&o), s.ingress_ips, "{} moved", s.name);
        }
    }
}

#[test]
fn assign_refuses_conflicts_and_foreign_addresses() {
    let mut a = alloc(SINGLE);
    let one = lb("a", "one");
    a.assign(&one, &[ip("198.51.100.10")]).unwrap();
    let two = lb("a", "two");
    let err = a.assign(&two, &[ip("198.51.100.10")]).unwrap_err();
    assert!(err.0.contains("already in use by a/one"), "{err}");
    let err = a.assign(&two, &[ip("10.1.1.1")]).unwrap_err();
    assert!(err.0.contains("not in any pool"), "{err}");
}

#[test]
fn outcome_display_is_readable() {
    let o = Outcome::Assign {
        pool: "default".into(),
        ips: vec![ip("198.51.100.1"), ip("2001:db8::1")],
    };
    assert_eq!(
        o.to_string(),
        "assigned 198.51.100.1, 2001:db8::1 from pool default"
    );
    assert_eq!(Outcome::Skip("x".into()).to_string(), "skipped: x");
}

#[test]
fn a_service_handed_to_another_class_keeps_its_address_while_it_shows_it() {
    let mut a = alloc(SINGLE);
    let mut svc = lb("a", "web");
    let Outcome::Assign { ips, .. } = a.allocate(&svc) else {
        panic!("assigned");
    };
    svc.ingress_ips = ips.clone();
    svc.load_balancer_class = Some("example.com/other".into());
    assert!(matches!(a.allocate(&svc), Outcome::Skip(_)));
    assert_eq!(a.owners_of(ips[0]).count(), 1, "still shown: still held");
    svc.ingress_ips.clear();
    assert!(matches!(a.allocate(&svc), Outcome::Skip(_)));
    assert_eq!(a.owners_of(ips[0]).count(), 0, "no longer shown: free");
}

/// IPAddressPool `serviceAllocation` as MetalLB's allocator applies it: pools for the
/// Service's namespace or labels first, by priority, then the pools without one; a pool for
/// others is never picked automatically, and its annotation is refused.
#[test]
fn service_allocation_pins_pools_by_namespace_labels_and_priority() {
    let pool = |name: &str, cidr: &str, allocation: &str| {
        format!(
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: {name}, namespace: ns}}\nspec:\n  addresses: [{cidr}]\n{allocation}---\n"
        )
    };
    let text = [
        pool("general", "198.51.100.0/30", ""),
        pool(
            "team-a-late",
            "198.51.100.16/30",
            "  serviceAllocation: {namespaces: [team-a], priority: 20}\n",
        ),
        pool(
            "team-a-first",
            "198.51.100.32/30",
            "  serviceAllocation: {namespaces: [team-a], priority: 10}\n",
        ),
        pool(
            "frontend",
            "198.51.100.48/30",
            "  serviceAllocation:\n    serviceSelectors: [{matchLabels: {tier: frontend}}]\n",
        ),
        pool(
            "by-ns-label",
            "198.51.100.64/30",
            "  serviceAllocation:\n    namespaceSelectors: [{matchLabels: {team: b}}]\n",
        ),
    ]
    .concat();
    let config = ferrolb_config::resources::parse_resources(&text).expect("objects parse");
    assert!(config
        .warnings
        .iter()
        .any(|w| w.contains("spec.serviceAllocation.namespaceSelectors: not implemented")));
    let mut a = Allocator::new();
    a.set_pools(&config).unwrap();

    let pool_of = |o: &Outcome| match o {
        Outcome::Assign { pool, .. } => pool.clone(),
        other => panic!("expected an assignment, got {other:?}"),
    };
    assert_eq!(pool_of(&a.allocate(&lb("other", "plain"))), "general");
    assert_eq!(pool_of(&a.allocate(&lb("team-a", "api"))), "team-a-first");
    let mut front = lb("other", "web");
    front.labels = [("tier".to_string(), "frontend".to_string())].into();
    assert_eq!(pool_of(&a.allocate(&front)), "frontend");

    // team-a-first holds 4 addresses; the fifth team-a Service gets team-a-late.
    for i in 0..3 {
        assert_eq!(
            pool_of(&a.allocate(&lb("team-a", &format!("s{i}")))),
            "team-a-first"
        );
    }
    assert_eq!(pool_of(&a.allocate(&lb("team-a", "s4"))), "team-a-late");

    let mut wrong = lb("team-b", "x");
    wrong.address_pool = Some("team-a-first".into());
    assert!(
        matches!(a.allocate(&wrong), Outcome::Error(e) if e.contains("is not for this Service")),
    );
    // A pool selected only by namespace labels is used on request, never automatically.
    let mut asked = lb("team-b", "y");
    asked.address_pool = Some("by-ns-label".into());
    assert_eq!(pool_of(&a.allocate(&asked)), "by-ns-label");
    for i in 0..3 {
        assert_eq!(
            pool_of(&a.allocate(&lb("team-b", &format!("g{i}")))),
            "general"
        );
    }
    assert!(matches!(
        a.allocate(&lb("team-b", "full")),
        Outcome::Error(_)
    ));
}
