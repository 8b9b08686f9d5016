//! Resolving an uplink's interface selector against the links present now.

use std::path::Path;

use super::config::Selector;
use crate::snapshot::Link;

/// Matches `name` against a glob with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with backtracking on the last `*`.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn read_hex(path: &Path) -> Option<u16> {
    let s = std::fs::read_to_string(path).ok()?;
    u16::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
}

/// The first link (lowest index) that the selector matches. `sys_class_net` is normally
/// `/sys/class/net`.
pub fn resolve<'a>(
    selector: &Selector,
    links: &'a [Link],
    sys_class_net: &Path,
) -> Option<&'a Link> {
    let mut candidates: Vec<&Link> = links.iter().filter(|l| l.name != "lo").collect();
    candidates.sort_by_key(|l| l.index);
    candidates.into_iter().find(|l| match selector {
        Selector::Name(n) => &l.name == n,
        Selector::Glob(g) => glob_match(g, &l.name),
        Selector::Pci { vendor, device } => {
            let dir = sys_class_net.join(&l.name).join("device");
            read_hex(&dir.join("device")) == Some(*device)
                && vendor.is_none_or(|v| read_hex(&dir.join("vendor")) == Some(v))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*f0np0", "enp3s0f0np0"));
        assert!(!glob_match("*f0np0", "enp3s0f1np1"));
        assert!(glob_match("eth?", "eth1"));
        assert!(!glob_match("eth?", "eth10"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn resolves_pci_ids_from_a_sysfs_tree() {
        let root = std::env::temp_dir().join(format!("flb-sys-{}", std::process::id()));
        let dev = root.join("enp3s0f0np0/device");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("vendor"), "0x15b3\n").unwrap();
        std::fs::write(dev.join("device"), "0xa2dc\n").unwrap();
        let link = |index, name: &str| Link {
            index,
            name: name.into(),
            kind: None,
            admin_up: true,
            lower_up: true,
            oper_state: "up".into(),
            parent: None,
            macvlan_mode: None,
        };
        let links = vec![link(2, "eno1"), link(3, "enp3s0f0np0")];
        let sel = Selector::Pci {
            vendor: Some(0x15b3),
            device: 0xa2dc,
        };
        assert_eq!(resolve(&sel, &links, &root).map(|l| l.index), Some(3));
        let wrong = Selector::Pci {
            vendor: Some(0x8086),
            device: 0xa2dc,
        };
        assert!(resolve(&wrong, &links, &root).is_none());
        let _ = std::fs::remove_dir_all(&root);
    }
}
