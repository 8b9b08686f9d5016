//! Property tests: no address to two Services unless sharing allows it, every address inside
//! its pool, and stability across a simulated restart.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use ferrolb_view::ServicePortView;

const CONFIG: &str = "address-pools:
- name: small
  protocol: bgp
  avoid-buggy-ips: true
  addresses: [198.51.100.250-198.51.101.5]
- name: v6
  protocol: bgp
  addresses: ['2001:db8::/126']
- name: manual
  protocol: bgp
  auto-assign: false
  addresses: [198.51.100.16/30]
";

#[derive(Debug, Clone)]
struct Spec {
    name: u8,
    key: Option<u8>,
    port: u16,
    pool: Option<&'static str>,
    requested: Option<u8>,
    v6: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..30,
        proptest::option::of(0u8..2),
        prop_oneof![Just(80u16), Just(443), Just(53)],
        proptest::option::of(prop_oneof![
            Just("small"),
            Just("manual"),
            Just("v6"),
            Just("nope")
        ]),
        proptest::option::of(0u8..12),
        any::<bool>(),
    )
        .prop_map(|(name, key, port, pool, requested, v6)| Spec {
            name,
            key,
            port,
            pool,
            requested,
            v6,
        })
}

fn view(s: &Spec) -> ServiceView {
    let mut v = ServiceView::load_balancer("ns", format!("s{}", s.name));
    v.sharing_key = s.key.map(|k| format!("key{k}"));
    v.ports = vec![ServicePortView {
        protocol: "TCP".into(),
        port: s.port,
    }];
    v.address_pool = s.pool.map(str::to_string);
    if s.v6 {
        v.ip_families = vec![IpFamily::V6];
    }
    if let Some(r) = s.requested {
        let ip: IpAddr = if s.v6 {
            format!("2001:db8::{r}").parse().unwrap()
        } else {
            format!("198.51.100.{}", 14 + r).parse().unwrap()
        };
        v.requested_ips = vec![ip];
    }
    v
}

fn check_invariants(a: &Allocator, views: &BTreeMap<ServiceKey, ServiceView>) {
    let config = ferrolb_config::parse_config(CONFIG).unwrap();
    for (ip, owners) in &a.owners {
        let pool = config.pool_for(*ip).expect("address inside a pool");
        assert!(
            pool.can_allocate(*ip),
            "{ip} not allocatable in {}",
            pool.name
        );
        let owners: Vec<&ServiceKey> = owners.iter().collect();
        for (i, x) in owners.iter().enumerate() {
            for y in &owners[i + 1..] {
                let (vx, vy) = (&views[*x], &views[*y]);
                assert!(
                    vx.sharing_key.is_some() && vx.sharing_key == vy.sharing_key,
                    "{ip} held by {x} and {y} without a common sharing key"
                );
                assert_ne!(vx.ports, vy.ports, "{ip}: {x} and {y} collide on a port");
            }
        }
    }
    for (key, asg) in &a.services {
        let pool = config.pool(&asg.pool).expect("pool exists");
        for ip in &asg.ips {
            assert!(
                pool.contains(*ip),
                "{key}: {ip} outside its pool {}",
                asg.pool
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn invariants_hold_and_restart_moves_nothing(
        specs in proptest::collection::vec(spec(), 1..40),
        shuffle in any::<u64>(),
    ) {
        let config = ferrolb_config::parse_config(CONFIG).unwrap();
        let mut a = Allocator::new();
        a.set_pools(&config).unwrap();
        let mut views: BTreeMap<ServiceKey, ServiceView> = BTreeMap::new();
        for s in &specs {
            let v = view(s);
            a.allocate(&v);
            views.insert(v.key(), v);
            check_invariants(&a, &views);
        }
        // Deallocate every third Service and allocate again, checking as we go.
        let keys: Vec<ServiceKey> = views.keys().cloned().collect();
        for k in keys.iter().step_by(3) {
            a.release(k);
        }
        for v in views.values() {
            a.allocate(v);
            check_invariants(&a, &views);
        }

        // Simulated restart: status of every Service, registered first in a shuffled order.
        let mut with_status: Vec<ServiceView> = views.values().cloned().map(|mut v| {
            v.ingress_ips = a.ips_of(&v.key()).map(|(_, ips)| ips.to_vec()).unwrap_or_default();
            v
        }).collect();
        let n = with_status.len();
        for i in 0..n {
            let j = (shuffle.wrapping_mul(i as u64 + 7).wrapping_add(13) % n as u64) as usize;
            with_status.swap(i, j);
        }
        let mut b = Allocator::new();
        b.set_pools(&config).unwrap();
        for v in &with_status {
            if !v.ingress_ips.is_empty() {
                b.assign(v, &v.ingress_ips).unwrap();
            }
        }
        for v in &with_status {
            let before = a.ips_of(&v.key()).map(|(p, ips)| (p.to_string(), ips.to_vec()));
            let o = b.allocate(v);
            if let Some((pool, ips)) = before {
                prop_assert_eq!(o, Outcome::Assign { pool, ips });
            }
        }
    }

    #[test]
    fn same_inputs_same_result(specs in proptest::collection::vec(spec(), 1..30)) {
        let config = ferrolb_config::parse_config(CONFIG).unwrap();
        let run = || {
            let mut a = Allocator::new();
            a.set_pools(&config).unwrap();
            specs.iter().map(|s| a.allocate(&view(s))).collect::<Vec<_>>()
        };
        prop_assert_eq!(run(), run());
    }
}
