//! Uplink manager configuration: from `--uplink key=value,...` flags or a small YAML file.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::Error;

/// How an uplink's interface is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Exact interface name.
    Name(String),
    /// Glob over interface names (`*`, `?`), e.g. `*f0np0`.
    Glob(String),
    /// PCI ids from `/sys/class/net/IF/device/{vendor,device}`; vendor optional.
    Pci {
        /// Vendor id (e.g. 0x15b3), any when `None`.
        vendor: Option<u16>,
        /// Device id (e.g. 0xa2dc).
        device: u16,
    },
}

/// One uplink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UplinkSpec {
    /// Name used in logs, metrics and status.
    pub name: String,
    /// How its interface is found.
    pub selector: Selector,
    /// The gateway; `None` = learn it from an existing default route on the interface.
    pub gateway: Option<IpAddr>,
    /// Higher is preferred.
    pub priority: u32,
    /// Whether the gateway is probed (ICMP echo); without probes only the link state counts.
    pub probe: bool,
}

/// Health probe timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Time between probes (and the reply timeout).
    pub interval: Duration,
    /// Consecutive failures that make an uplink unhealthy, and consecutive successes that make
    /// it healthy again.
    pub count: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            interval: Duration::from_secs(1),
            count: 3,
        }
    }
}

/// The whole manager configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerConfig {
    /// The uplinks, in configuration order (ties in priority keep this order).
    pub uplinks: Vec<UplinkSpec>,
    /// Probe timing.
    pub probe: ProbeConfig,
    /// Metric of the preferred route; fallbacks get `base_metric + n * metric_step`.
    pub base_metric: u32,
    /// Distance between the metrics of consecutive uplinks.
    pub metric_step: u32,
    /// Routing table the default routes go into.
    pub table: u32,
    /// Leave the installed routes in place on exit.
    pub leave_routes: bool,
    /// Directories with DHCP client leases, read for uplinks that name no gateway when no
    /// default route on their interface shows one (see [`super::dhcp`]).
    pub dhcp_lease_dirs: Vec<PathBuf>,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            uplinks: Vec::new(),
            probe: ProbeConfig::default(),
            base_metric: 10,
            metric_step: 10,
            table: 254,
            leave_routes: false,
            dhcp_lease_dirs: super::dhcp::default_lease_dirs(),
        }
    }
}

impl ManagerConfig {
    /// Checks the whole configuration.
    pub fn validate(&self) -> Result<(), Error> {
        if self.uplinks.is_empty() {
            return Err(Error::config(
                "uplinks",
                "[]",
                "at least one uplink is needed",
            ));
        }
        for (i, u) in self.uplinks.iter().enumerate() {
            if self.uplinks[..i].iter().any(|o| o.name == u.name) {
                return Err(Error::config(
                    format!("uplinks[{i}].name"),
                    &u.name,
                    "duplicate uplink name",
                ));
            }
        }
        if self.probe.interval < Duration::from_millis(10) {
            return Err(Error::config(
                "probe.interval",
                format!("{:?}", self.probe.interval),
                "must be at least 10ms",
            ));
        }
        if self.probe.count == 0 {
            return Err(Error::config("probe.count", "0", "must be at least 1"));
        }
        if self.metric_step == 0 {
            return Err(Error::config("metric-step", "0", "must be at least 1"));
        }
        Ok(())
    }
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn selector_for_name(s: &str) -> Selector {
    if is_glob(s) {
        Selector::Glob(s.to_string())
    } else {
        Selector::Name(s.to_string())
    }
}

fn parse_hex_u16(field: &str, s: &str) -> Result<u16, Error> {
    let t = s.trim().trim_start_matches("0x").trim_start_matches("0X");
    u16::from_str_radix(t, 16)
        .map_err(|_| Error::config(field, s, "expected a hex PCI id such as 0xa2dc"))
}

/// Parses `VENDOR:DEVICE` or `DEVICE` (hex, `0x` optional).
pub fn parse_pci(field: &str, s: &str) -> Result<Selector, Error> {
    match s.split_once(':') {
        Some((v, d)) => Ok(Selector::Pci {
            vendor: Some(parse_hex_u16(field, v)?),
            device: parse_hex_u16(field, d)?,
        }),
        None => Ok(Selector::Pci {
            vendor: None,
            device: parse_hex_u16(field, s)?,
        }),
    }
}

/// Parses one `--uplink` flag: `name=eth0,gateway=10.255.1.1,priority=10` with optional
/// `interface=GLOB`, `pci=VENDOR:DEVICE`, `probe=icmp|none`. `index` names it in errors.
pub fn parse_uplink_flag(index: usize, text: &str) -> Result<UplinkSpec, Error> {
    let field = |k: &str| format!("--uplink[{index}].{k}");
    let mut name = None;
    let mut selector = None;
    let mut gateway = None;
    let mut priority = 0;
    let mut probe = true;
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(Error::config(
                format!("--uplink[{index}]"),
                part,
                "expected key=value",
            ));
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "name" => name = Some(v.to_string()),
            "interface" | "if" => selector = Some(selector_for_name(v)),
            "pci" => selector = Some(parse_pci(&field(k), v)?),
            "gateway" | "gw" => {
                gateway = Some(
                    v.parse::<IpAddr>()
                        .map_err(|_| Error::config(field(k), v, "not an IP address"))?,
                )
            }
            "priority" | "prio" => {
                priority = v
                    .parse()
                    .map_err(|_| Error::config(field(k), v, "not a non-negative integer"))?
            }
            "probe" => {
                probe = match v {
                    "icmp" => true,
                    "none" => false,
                    _ => return Err(Error::config(field(k), v, "expected icmp or none")),
                }
            }
            _ => {
                return Err(Error::config(
                    field(k),
                    v,
                    "unknown key (known: name, interface, pci, gateway, priority, probe)",
                ))
            }
        }
    }
    let Some(name) = name else {
        return Err(Error::config(
            field("name"),
            text,
            "every uplink needs name=...",
        ));
    };
    let selector = selector.unwrap_or_else(|| selector_for_name(&name));
    Ok(UplinkSpec {
        name,
        selector,
        gateway,
        priority,
        probe,
    })
}

/// Parses a duration such as `500ms`, `2s`, `1m`, or a bare number of seconds.
pub fn parse_duration(field: &str, s: &str) -> Result<Duration, Error> {
    let t = s.trim();
    let bad = || Error::config(field, s, "expected a duration such as 500ms, 2s or 1m");
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(bad()),
    };
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    #[serde(default)]
    probe: Option<FileProbe>,
    #[serde(default)]
    base_metric: Option<u32>,
    #[serde(default)]
    metric_step: Option<u32>,
    #[serde(default)]
    table: Option<u32>,
    #[serde(default)]
    dhcp_lease_dirs: Option<Vec<String>>,
    uplinks: Vec<FileUplink>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProbe {
    interval: Option<String>,
    count: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUplink {
    name: String,
    interface: Option<String>,
    pci: Option<String>,
    gateway: Option<String>,
    #[serde(default)]
    priority: u32,
    probe: Option<String>,
}

/// Parses the YAML configuration file's text.
pub fn parse_yaml(text: &str) -> Result<ManagerConfig, Error> {
    let file: FileConfig = serde_saphyr::from_str(text)
        .map_err(|e| Error::config("config file", "(YAML)", e.to_string()))?;
    let mut cfg = ManagerConfig::default();
    if let Some(p) = file.probe {
        if let Some(i) = p.interval {
            cfg.probe.interval = parse_duration("probe.interval", &i)?;
        }
        if let Some(c) = p.count {
            cfg.probe.count = c;
        }
    }
    if let Some(m) = file.base_metric {
        cfg.base_metric = m;
    }
    if let Some(m) = file.metric_step {
        cfg.metric_step = m;
    }
    if let Some(t) = file.table {
        cfg.table = t;
    }
    if let Some(dirs) = file.dhcp_lease_dirs {
        cfg.dhcp_lease_dirs = dirs.into_iter().map(PathBuf::from).collect();
    }
    for (i, u) in file.uplinks.into_iter().enumerate() {
        let f = |k: &str| format!("uplinks[{i}].{k}");
        let selector = match (&u.interface, &u.pci) {
            (_, Some(p)) => parse_pci(&f("pci"), p)?,
            (Some(n), None) => selector_for_name(n),
            (None, None) => selector_for_name(&u.name),
        };
        let gateway = match &u.gateway {
            Some(g) => Some(
                g.parse()
                    .map_err(|_| Error::config(f("gateway"), g, "not an IP address"))?,
            ),
            None => None,
        };
        let probe = match u.probe.as_deref() {
            None | Some("icmp") => true,
            Some("none") => false,
            Some(other) => return Err(Error::config(f("probe"), other, "expected icmp or none")),
        };
        cfg.uplinks.push(UplinkSpec {
            name: u.name,
            selector,
            gateway,
            priority: u.priority,
            probe,
        });
    }
    cfg.validate()?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_flag_form() {
        let u = parse_uplink_flag(0, "name=eth0,gateway=10.255.1.1,priority=10").unwrap();
        assert_eq!(u.selector, Selector::Name("eth0".into()));
        assert_eq!(u.gateway, Some("10.255.1.1".parse().unwrap()));
        assert_eq!(u.priority, 10);
        let u = parse_uplink_flag(1, "name=dpu,interface=*f0np0,pci=15b3:a2dc").unwrap();
        assert_eq!(
            u.selector,
            Selector::Pci {
                vendor: Some(0x15b3),
                device: 0xa2dc
            }
        );
        let u = parse_uplink_flag(1, "name=dpu,interface=*f0np0").unwrap();
        assert_eq!(u.selector, Selector::Glob("*f0np0".into()));
    }

    #[test]
    fn flag_errors_name_the_field_and_value() {
        let e = parse_uplink_flag(2, "name=x,gateway=10.255.1.300")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--uplink[2].gateway") && e.contains("10.255.1.300"),
            "{e}"
        );
        let e = parse_uplink_flag(0, "gateway=10.255.1.1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("name"), "{e}");
        let e = parse_uplink_flag(0, "name=a,colour=red")
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
        let e = parse_uplink_flag(0, "name=a,pci=zz")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pci") && e.contains("zz"), "{e}");
    }

    #[test]
    fn parses_yaml_and_durations() {
        let cfg = parse_yaml(
            "probe:\n  interval: 500ms\n  count: 2\nuplinks:\n  - name: dpu\n    interface: \"*f0np0\"\n    gateway: 10.255.1.1\n    priority: 100\n  - name: mgmt\n    gateway: 10.255.2.1\n",
        )
        .unwrap();
        assert_eq!(cfg.probe.interval, Duration::from_millis(500));
        assert_eq!(cfg.probe.count, 2);
        assert_eq!(cfg.uplinks.len(), 2);
        assert_eq!(cfg.uplinks[1].selector, Selector::Name("mgmt".into()));
        assert!(parse_yaml("uplinks: []\n").is_err());
        let e = parse_yaml("uplinks:\n  - name: a\n    gateway: nope\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("uplinks[0].gateway") && e.contains("nope"),
            "{e}"
        );
        assert!(parse_duration("x", "2h").is_err());
        assert_eq!(parse_duration("x", "2").unwrap(), Duration::from_secs(2));
    }

    #[test]
    fn dhcp_lease_dirs_default_replace_or_off() {
        let one = "uplinks:\n  - name: eth0\n";
        let defaults = parse_yaml(one).unwrap().dhcp_lease_dirs;
        assert!(
            defaults.contains(&PathBuf::from("/var/lib/dhcp")),
            "{defaults:?}"
        );
        let set = parse_yaml(&format!("dhcp-lease-dirs: [/srv/leases]\n{one}")).unwrap();
        assert_eq!(set.dhcp_lease_dirs, [PathBuf::from("/srv/leases")]);
        let off = parse_yaml(&format!("dhcp-lease-dirs: []\n{one}")).unwrap();
        assert!(off.dhcp_lease_dirs.is_empty());
    }
}
