//! Forwarding and reverse-path sysctls from `/proc/sys` (read-only).

use std::path::Path;

use crate::snapshot::{InterfaceConf, Sysctls};

fn read_u8(path: &Path) -> Option<u8> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Reads the sysctls under `root` (normally `/proc/sys`) for the interfaces named (plus `all`
/// and `default`).
pub fn read_sysctls(root: &Path, interfaces: &[String]) -> Sysctls {
    let conf = root.join("net/ipv4/conf");
    let mut names: Vec<String> = vec!["all".into(), "default".into()];
    names.extend(interfaces.iter().cloned());
    let ipv4_conf = names
        .into_iter()
        .map(|name| {
            let dir = conf.join(&name);
            InterfaceConf {
                rp_filter: read_u8(&dir.join("rp_filter")),
                accept_local: read_u8(&dir.join("accept_local")),
                src_valid_mark: read_u8(&dir.join("src_valid_mark")),
                forwarding: read_u8(&dir.join("forwarding")),
                name,
            }
        })
        .collect();
    Sysctls {
        ipv4_forward: read_u8(&root.join("net/ipv4/ip_forward")),
        ipv6_forward: read_u8(&root.join("net/ipv6/conf/all/forwarding")),
        ipv4_conf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_fake_proc_tree_and_computes_effective_rp_filter() {
        let dir = std::env::temp_dir().join(format!("flb-sysctl-{}", std::process::id()));
        let put = |rel: &str, v: &str| {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v).unwrap();
        };
        put("net/ipv4/ip_forward", "1\n");
        put("net/ipv4/conf/all/rp_filter", "1\n");
        put("net/ipv4/conf/eth0/rp_filter", "0\n");
        put("net/ipv4/conf/eth1/rp_filter", "2\n");
        let s = read_sysctls(&dir, &["eth0".into(), "eth1".into()]);
        assert_eq!(s.ipv4_forward, Some(1));
        assert_eq!(s.effective_rp_filter("eth0"), Some(1));
        assert_eq!(s.effective_rp_filter("eth1"), Some(2));
        assert_eq!(s.effective_rp_filter("eth9"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
