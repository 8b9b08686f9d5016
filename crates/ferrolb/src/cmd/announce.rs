//! `ferrolb announce`: a standalone BGP announcer for one peer.
//!
//! Every flag and file is checked before any connection is made; a bad one is reported with the
//! flag (or file and line) named, and the exit code is 2. See docs/announce.md.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use ferrolb_bgp::bfd::{admin_down, SessionHandle};
use ferrolb_bgp::driver::{DriverError, Password, PeerConfig, Speaker};
use ferrolb_bgp::rib_out::{
    AdvertisementSet, Community, LargeCommunity, LinkBandwidth, RouteAttributes,
};
use ipnet::IpNet;

use super::announce_bfd::{self, BfdPlan};

/// Flags of `ferrolb announce`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Our AS number (1-4294967295; 4-octet ASNs are supported).
    #[arg(long, value_name = "ASN")]
    pub local_as: u32,
    /// The peer's address (IPv4 or IPv6).
    #[arg(long, value_name = "ADDR")]
    pub peer: IpAddr,
    /// The peer's AS number; equal to --local-as makes an iBGP session.
    #[arg(long, value_name = "ASN")]
    pub peer_as: u32,
    /// BGP identifier; default: --local-address if IPv4, else the IPv4 source address towards
    /// the peer, else derived from the local IPv6 address.
    #[arg(long, value_name = "IPV4")]
    pub router_id: Option<Ipv4Addr>,
    /// The peer's TCP port (and our listening port with --passive).
    #[arg(long, value_name = "N", default_value_t = 179)]
    pub port: u16,
    /// Source address of the session.
    #[arg(long, value_name = "ADDR")]
    pub local_address: Option<IpAddr>,
    /// File holding the TCP MD5 password (RFC 2385); one trailing newline is ignored.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Hold time we offer: 0 (no keepalives) or 3-65535 seconds.
    #[arg(long, value_name = "SECS", default_value_t = 90)]
    pub hold_time: u32,
    /// GTSM (RFC 5082): send with TTL 255 and accept only TTL >= 254.
    #[arg(long, conflicts_with = "ebgp_multihop")]
    pub ttl_security: bool,
    /// TTL of our packets for a multihop eBGP session (1-255).
    #[arg(long, value_name = "TTL")]
    pub ebgp_multihop: Option<u32>,
    /// Do not connect; wait for the peer to connect to us (on --port).
    #[arg(long)]
    pub passive: bool,
    /// IPv4 next hop of IPv4 routes (default: the session's local address).
    #[arg(long, value_name = "ADDR")]
    pub next_hop: Option<IpAddr>,
    /// IPv6 next hop of IPv6 routes (default: the session's local IPv6 address, or a global
    /// IPv6 address of the interface that carries an IPv4 session).
    #[arg(long, value_name = "ADDR")]
    pub next_hop_v6: Option<IpAddr>,
    /// MULTI_EXIT_DISC of every route.
    #[arg(long, value_name = "N")]
    pub med: Option<u32>,
    /// LOCAL_PREF of every route (iBGP only; ignored with a warning towards an eBGP peer).
    #[arg(long, value_name = "N")]
    pub local_pref: Option<u32>,
    /// Communities: A:B or a well-known name (no-export, no-advertise, no-peer, local-AS,
    /// blackhole, graceful-shutdown). Repeat the flag or give several values.
    #[arg(long, value_name = "A:B", num_args = 1.., value_delimiter = ',')]
    pub community: Vec<String>,
    /// Large communities A:B:C (RFC 8092). Repeat the flag or give several values.
    #[arg(long, value_name = "A:B:C", num_args = 1.., value_delimiter = ',')]
    pub large_community: Vec<String>,
    /// Attach a Link Bandwidth extended community (non-transitive, our AS) to every prefix:
    /// bytes per second, or a number with a unit (bit, Kbit, Mbit, Gbit, Tbit; B, KB, MB, GB,
    /// TB), e.g. `100Mbit`. Routers with weighted ECMP split traffic by it.
    #[arg(long, value_name = "RATE")]
    pub link_bandwidth: Option<String>,
    /// File with one prefix per line; `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    pub prefixes_file: Option<PathBuf>,
    /// Read `announce PREFIX` / `withdraw PREFIX` lines from standard input while running.
    #[arg(long)]
    pub stdin: bool,
    /// Maximum-prefix: prefixes per family accepted from the peer before a warning (past it
    /// they are only estimated, never held); 0 means no limit.
    #[arg(long, value_name = "N", default_value_t = ferrolb_bgp::session::DEFAULT_MAX_PREFIXES)]
    pub max_prefix: u32,
    /// Past --max-prefix, close the session with Cease/Maximum Number of Prefixes Reached
    /// (6/1, RFC 4486) instead of only warning.
    #[arg(long)]
    pub max_prefix_cease: bool,
    /// Run BFD (RFC 5880) with the peer and couple it to the session (RFC 5882): BFD Down tears
    /// the BGP session down at once, and it stays down until BFD is Up again.
    #[arg(long)]
    pub bfd: bool,
    /// BFD transmit and receive interval in milliseconds (10-60000).
    #[arg(long, value_name = "MS", default_value_t = 300, requires = "bfd")]
    pub bfd_interval: u64,
    /// BFD detect multiplier (1-255).
    #[arg(long, value_name = "N", default_value_t = 3, requires = "bfd")]
    pub bfd_multiplier: u32,
    /// BFD passive role: send nothing until the peer has sent a BFD packet.
    #[arg(long, requires = "bfd")]
    pub bfd_passive: bool,
    /// Graceful Restart (RFC 4724, RFC 8538) as the restarting speaker: SIGTERM leaves without a
    /// NOTIFICATION so the peer keeps the routes as stale until a new process takes over.
    #[arg(long)]
    pub graceful_restart: bool,
    /// Restart time offered with --graceful-restart: how long the peer keeps the routes after
    /// SIGTERM (1-4095 seconds).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 120,
        requires = "graceful_restart"
    )]
    pub restart_time: u32,
    /// With --graceful-restart, SIGTERM too withdraws at once (Cease/Hard Reset), like SIGINT.
    #[arg(long)]
    pub withdraw_on_exit: bool,
    /// Prefixes to announce (IPv4 and IPv6; an address without length is a host route).
    #[arg(value_name = "PREFIX")]
    pub prefixes: Vec<String>,
}

/// A user error: printed as `error: ...`, exit code 2, before any connection is made.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// Everything `announce` needs, validated.
struct Plan {
    peer: PeerConfig,
    attrs: Arc<RouteAttributes>,
    prefixes: AdvertisementSet,
    stdin: bool,
    listen: Option<SocketAddr>,
    /// `--bfd`: the BFD parameters and our address toward the peer.
    bfd: Option<(BfdPlan, IpAddr)>,
    graceful_restart: bool,
    withdraw_on_exit: bool,
    warnings: Vec<String>,
}

/// How `announce` ends its session on a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExitMode {
    /// Cease/Administrative Shutdown (6/2): the routes leave at once (no graceful restart).
    Shutdown,
    /// Close without NOTIFICATION: the peer keeps the routes as stale for the restart time.
    Restart,
    /// Cease/Hard Reset (6/9) around the 6/2: the routes leave at once.
    HardReset,
}

/// SIGTERM with --graceful-restart is a restart unless --withdraw-on-exit; SIGINT with
/// --graceful-restart is a Hard Reset; without --graceful-restart both shut down as before.
fn exit_mode(signal: &str, graceful_restart: bool, withdraw_on_exit: bool) -> ExitMode {
    match (graceful_restart, signal == "SIGTERM" && !withdraw_on_exit) {
        (false, _) => ExitMode::Shutdown,
        (true, true) => ExitMode::Restart,
        (true, false) => ExitMode::HardReset,
    }
}

/// Parses a prefix: `A.B.C.D/N`, `X::/N`, or a bare address (a /32 or /128 host route).
/// Host bits must be clear.
pub(crate) fn parse_prefix(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    let net: IpNet = if text.contains('/') {
        text.parse()
            .map_err(|_| format!("{text:?} is not a prefix (A.B.C.D/N or X:X::/N)"))?
    } else {
        let addr: IpAddr = text
            .parse()
            .map_err(|_| format!("{text:?} is not a prefix or an address"))?;
        IpNet::from(addr)
    };
    if net.trunc() != net {
        return Err(format!(
            "{text:?} has host bits set (did you mean {}?)",
            net.trunc()
        ));
    }
    Ok(net)
}

fn read_prefixes_file(path: &Path) -> Result<Vec<IpNet>, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("--prefixes-file {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let p = parse_prefix(content).map_err(|e| {
            usage(format!(
                "--prefixes-file {} line {}: {e}",
                path.display(),
                i + 1
            ))
        })?;
        out.push(p);
    }
    Ok(out)
}

fn read_password(path: &Path) -> Result<Password, UsageError> {
    let bytes = std::fs::read(path)
        .map_err(|e| usage(format!("--password-file {}: {e}", path.display())))?;
    let mut key = bytes.as_slice();
    if let Some(stripped) = key.strip_suffix(b"\n") {
        key = stripped.strip_suffix(b"\r").unwrap_or(stripped);
    }
    Password::new(key.to_vec())
        .map_err(|e| usage(format!("--password-file {}: {e}", path.display())))
}

/// The local IP the kernel would use towards `peer` (a UDP route lookup; nothing is sent).
fn source_address_towards(peer: IpAddr, local: Option<IpAddr>) -> Option<IpAddr> {
    let bind: SocketAddr = match (local, peer) {
        (Some(l), _) => SocketAddr::new(l, 0),
        (None, IpAddr::V4(_)) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        (None, IpAddr::V6(_)) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    };
    let sock = std::net::UdpSocket::bind(bind).ok()?;
    sock.connect(SocketAddr::new(peer, 9)).ok()?;
    sock.local_addr().ok().map(|a| a.ip())
}

fn derive_router_id(args: &Args) -> Ipv4Addr {
    if let Some(IpAddr::V4(v4)) = args.local_address {
        return v4;
    }
    match source_address_towards(args.peer, args.local_address) {
        Some(IpAddr::V4(v4)) => v4,
        Some(IpAddr::V6(v6)) => {
            let o = v6.octets();
            Ipv4Addr::new(o[12], o[13], o[14], o[15])
        }
        None => Ipv4Addr::new(10, 255, 255, 254),
    }
}

/// Splits values given to a multi-value flag into real values and prefixes: `--community
/// 65000:1 10.0.0.0/24` gives the prefix to the positional list, since a community never
/// contains `/` or `.`.
fn split_flag_values(values: &[String], prefixes: &mut Vec<String>) -> Vec<String> {
    let mut kept = Vec::new();
    for v in values {
        if v.contains('/') || v.contains('.') || v.contains("::") || v.matches(':').count() >= 3 {
            prefixes.push(v.clone());
        } else {
            kept.push(v.clone());
        }
    }
    kept
}

/// `--link-bandwidth RATE` as the extended community to attach (None without the flag).
fn link_bandwidth(
    args: &Args,
) -> Result<Option<ferrolb_bgp::rib_out::ExtendedCommunity>, UsageError> {
    let Some(text) = &args.link_bandwidth else {
        return Ok(None);
    };
    let rate = ferrolb_bgp::wire::parse_rate(text)
        .map_err(|e| usage(format!("--link-bandwidth {text:?}: {e}")))?;
    Ok(Some(
        LinkBandwidth::non_transitive(args.local_as, rate).to_extended(),
    ))
}

fn validate(args: &Args) -> Result<Plan, UsageError> {
    let mut warnings = Vec::new();
    if args.local_as == 0 {
        return Err(usage("--local-as 0: AS 0 is reserved (RFC 7607)"));
    }
    if args.peer_as == 0 {
        return Err(usage("--peer-as 0: AS 0 is reserved (RFC 7607)"));
    }
    if args.peer.is_unspecified() || args.peer.is_multicast() {
        return Err(usage(format!(
            "--peer {}: not a unicast peer address",
            args.peer
        )));
    }
    if args.port == 0 {
        return Err(usage("--port 0: the port must be 1-65535"));
    }
    if let Some(local) = args.local_address {
        if local.is_ipv4() != args.peer.is_ipv4() {
            return Err(usage(format!(
                "--local-address {local}: not of the same family as --peer {}",
                args.peer
            )));
        }
    }
    if args.hold_time != 0 && !(3..=65535).contains(&args.hold_time) {
        return Err(usage(format!(
            "--hold-time {}: must be 0 or 3-65535 seconds",
            args.hold_time
        )));
    }
    if let Some(ttl) = args.ebgp_multihop {
        if !(1..=255).contains(&ttl) {
            return Err(usage(format!("--ebgp-multihop {ttl}: must be 1-255")));
        }
    }
    let ebgp = args.local_as != args.peer_as;
    if !ebgp && args.ebgp_multihop.is_some() {
        warnings.push("--ebgp-multihop has no effect on an iBGP session".to_string());
    }
    let next_hop_v4 = match args.next_hop {
        None => None,
        Some(IpAddr::V4(v4)) if !v4.is_unspecified() => Some(v4),
        Some(other) => {
            return Err(usage(format!(
                "--next-hop {other}: must be a unicast IPv4 address (use --next-hop-v6 for IPv6 routes)"
            )))
        }
    };
    let next_hop_v6 = match args.next_hop_v6 {
        None => None,
        Some(IpAddr::V6(v6)) if !v6.is_unspecified() => Some(v6),
        Some(other) => {
            return Err(usage(format!(
                "--next-hop-v6 {other}: must be a unicast IPv6 address"
            )))
        }
    };
    if ebgp && args.local_pref.is_some() {
        warnings.push("--local-pref is sent to iBGP peers only; ignored for this eBGP peer".into());
    }
    let mut positional = args.prefixes.clone();
    let mut communities = Vec::new();
    for c in split_flag_values(&args.community, &mut positional) {
        let parsed: Community = c.parse().map_err(|_| {
            usage(format!(
                "--community {c:?}: expected A:B (each 0-65535) or a well-known name \
                 (no-export, no-advertise, no-peer, local-AS, blackhole, graceful-shutdown)"
            ))
        })?;
        communities.push(parsed);
    }
    let mut large_communities = Vec::new();
    for c in split_flag_values(&args.large_community, &mut positional) {
        let parsed: LargeCommunity = c.parse().map_err(|_| {
            usage(format!(
                "--large-community {c:?}: expected A:B:C (each 0-4294967295)"
            ))
        })?;
        large_communities.push(parsed);
    }
    let attrs = Arc::new(RouteAttributes {
        next_hop_v4,
        next_hop_v6,
        med: args.med,
        local_pref: args.local_pref,
        communities,
        large_communities,
        extended_communities: link_bandwidth(args)?.into_iter().collect(),
    });
    let mut prefixes = AdvertisementSet::new();
    for p in &positional {
        let net = parse_prefix(p).map_err(|e| usage(format!("PREFIX argument: {e}")))?;
        prefixes.insert(net, Arc::clone(&attrs));
    }
    if let Some(path) = &args.prefixes_file {
        for net in read_prefixes_file(path)? {
            prefixes.insert(net, Arc::clone(&attrs));
        }
    }
    let password = match &args.password_file {
        Some(path) => Some(read_password(path)?),
        None => None,
    };
    let router_id = args.router_id.unwrap_or_else(|| derive_router_id(args));
    if router_id.is_unspecified() {
        return Err(usage(
            "--router-id 0.0.0.0: the BGP identifier must not be zero",
        ));
    }
    let (v4, v6) = prefixes.count_by_family();
    let mut peer = PeerConfig::new(args.peer, args.local_as, args.peer_as, router_id);
    peer.port = args.port;
    peer.local_address = args.local_address;
    peer.password = password;
    peer.session.hold_time = args.hold_time as u16;
    peer.session.passive = args.passive;
    peer.session.connect_retry = std::time::Duration::from_secs(2);
    peer.session.max_prefixes = (args.max_prefix != 0).then_some(args.max_prefix);
    peer.session.max_prefixes_cease = args.max_prefix_cease;
    if args.graceful_restart {
        if !(1..=4095).contains(&args.restart_time) {
            return Err(usage(format!(
                "--restart-time {}: must be 1-4095 seconds",
                args.restart_time
            )));
        }
        // Forwarding of what we announce does not depend on this process: F for every family.
        peer.session.restart_time = args.restart_time as u16;
        peer.session.forwarding_state = true;
    } else if args.withdraw_on_exit {
        warnings.push(
            "--withdraw-on-exit: routes are always withdrawn on exit without --graceful-restart"
                .into(),
        );
    }
    peer.ttl_security = args.ttl_security;
    peer.ebgp_multihop = args.ebgp_multihop.map(|t| t as u8);
    // Both families are offered (the defaults): --stdin may add either later, and the
    // session carries what the peer supports.
    if v6 > 0 && args.peer.is_ipv4() && next_hop_v6.is_none() {
        warnings.push(
            "IPv6 prefixes over an IPv4 session: the next hop will be a global IPv6 address of \
             the session's interface (set --next-hop-v6 to choose)"
                .into(),
        );
    }
    let _ = v4;
    let bfd = if args.bfd {
        let multihop = ebgp && args.ebgp_multihop.is_some_and(|t| t > 1);
        let bfd_plan = announce_bfd::plan(
            args.bfd_interval,
            args.bfd_multiplier,
            args.bfd_passive,
            multihop,
        )
        .map_err(usage)?;
        let local = args
            .local_address
            .or_else(|| source_address_towards(args.peer, None))
            .ok_or_else(|| {
                usage(format!(
                    "--bfd: no local address towards {}; set --local-address",
                    args.peer
                ))
            })?;
        Some((bfd_plan, local))
    } else {
        None
    };
    let listen = args.passive.then(|| {
        let ip = args.local_address.unwrap_or(match args.peer {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        SocketAddr::new(ip, args.port)
    });
    Ok(Plan {
        peer,
        attrs,
        prefixes,
        stdin: args.stdin,
        listen,
        bfd,
        graceful_restart: args.graceful_restart,
        withdraw_on_exit: args.withdraw_on_exit,
        warnings,
    })
}

/// One parsed `--stdin` command.
#[derive(Debug)]
enum StdinCommand {
    Announce(IpNet),
    Withdraw(IpNet),
}

fn parse_stdin_line(line: &str) -> Result<Option<StdinCommand>, String> {
    let content = line.split('#').next().unwrap_or("").trim();
    if content.is_empty() {
        return Ok(None);
    }
    let mut words = content.split_whitespace();
    let verb = words.next().unwrap_or("");
    let announce = match verb {
        "announce" => true,
        "withdraw" => false,
        other => {
            return Err(format!(
                "unknown command {other:?} (expected `announce PREFIX` or `withdraw PREFIX`)"
            ))
        }
    };
    let prefix = words
        .next()
        .ok_or_else(|| format!("{verb:?} needs a prefix"))?;
    if let Some(extra) = words.next() {
        return Err(format!("unexpected {extra:?} after the prefix"));
    }
    let net = parse_prefix(prefix)?;
    Ok(Some(if announce {
        StdinCommand::Announce(net)
    } else {
        StdinCommand::Withdraw(net)
    }))
}

/// Hands the set to the session; also records it in `desired` (what `--bfd` restores).
fn publish(speaker: &Speaker, peer: IpAddr, set: &AdvertisementSet, desired: &Desired) {
    // Under the lock: the `--bfd` coupling adds the peer back under it, with this set or
    // before this change reaches the peer.
    let mut current = desired.lock().unwrap_or_else(|p| p.into_inner());
    *current = set.clone();
    match speaker.set_advertisements(peer, Arc::new(set.clone())) {
        Ok(()) => {}
        // The BGP peer is removed while BFD is down; the set goes out when it is back.
        Err(DriverError::UnknownPeer(_)) => {
            tracing::info!("BGP session held down by BFD: the change is sent when it is back")
        }
        Err(e) => tracing::error!("cannot update the announced set: {e}"),
    }
}

/// The announced set as last set by `--stdin` (shared with the `--bfd` coupling).
type Desired = Arc<std::sync::Mutex<AdvertisementSet>>;

async fn stdin_loop(
    speaker: Speaker,
    peer: IpAddr,
    mut set: AdvertisementSet,
    attrs: Arc<RouteAttributes>,
    desired: Desired,
) {
    // Standard input is read on a plain thread (blocking reads) and handed over line by line.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<String>>(256);
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::stdin().lock().lines() {
            let failed = line.is_err();
            if tx.blocking_send(line).is_err() || failed {
                return;
            }
        }
    });
    let mut number = 0usize;
    loop {
        let line = match rx.recv().await {
            Some(Ok(line)) => line,
            None => {
                tracing::info!("standard input closed; the announced set stays as it is");
                return;
            }
            Some(Err(e)) => {
                eprintln!("error: reading standard input: {e}");
                return;
            }
        };
        number += 1;
        match parse_stdin_line(&line) {
            Ok(None) => {}
            Ok(Some(StdinCommand::Announce(net))) => {
                set.insert(net, Arc::clone(&attrs));
                tracing::info!(prefix = %net, "announce");
                publish(&speaker, peer, &set, &desired);
            }
            Ok(Some(StdinCommand::Withdraw(net))) => {
                if set.remove(&net).is_none() {
                    eprintln!("warning: stdin line {number}: {line:?}: {net} was not announced");
                } else {
                    tracing::info!(prefix = %net, "withdraw");
                    publish(&speaker, peer, &set, &desired);
                }
            }
            Err(e) => eprintln!("error: stdin line {number}: {line:?}: {e}"),
        }
    }
}

async fn wait_for_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

/// Logs the session's final message and prefix counters (the counters `ferrolb status` and
/// the speaker's metrics show).
fn log_counters(s: &ferrolb_bgp::driver::PeerStatus) {
    tracing::info!(
        messages_in = s.messages_in,
        messages_out = s.messages_out,
        updates_in = s.updates_in,
        updates_out = s.updates_out,
        prefixes_sent_v4 = s.prefixes_sent.ipv4,
        prefixes_sent_v6 = s.prefixes_sent.ipv6,
        prefixes_received_v4 = s.prefixes_received.ipv4,
        prefixes_received_v6 = s.prefixes_received.ipv6,
        "session counters"
    );
}

/// Runs `ferrolb announce`; returns the exit code.
pub async fn run(args: Args) -> anyhow::Result<i32> {
    let plan = match validate(&args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    super::logging::init();
    for w in &plan.warnings {
        tracing::warn!("{w}");
    }
    let peer_addr = plan.peer.address;
    let (v4, v6) = plan.prefixes.count_by_family();
    tracing::info!(
        peer = %peer_addr,
        peer_as = plan.peer.session.peer_as,
        local_as = plan.peer.session.local_as,
        router_id = %plan.peer.session.router_id,
        ipv4_prefixes = v4,
        ipv6_prefixes = v6,
        passive = plan.peer.session.passive,
        "starting"
    );
    let speaker = Speaker::new();
    if let Some(listen) = plan.listen {
        speaker
            .listen(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
    }
    let desired: Desired = Arc::new(std::sync::Mutex::new(plan.prefixes.clone()));
    let initial = Arc::new(plan.prefixes);
    let stdin_set = plan.stdin.then(|| (*initial).clone());
    // With graceful restart and BFD, BGP waits for BFD's first Up (RFC 5882 §4.3.2: the
    // router must see our new BFD session before the new BGP session); the coupling adds it.
    let wait_for_bfd = plan.graceful_restart && plan.bfd.is_some();
    add_peer(&speaker, &plan.peer, initial, wait_for_bfd)?;
    // BFD starts with the BGP session (RFC 5882), not once it is Established.
    let bfd = match plan.bfd {
        Some((bfd_plan, local)) => {
            let (service, session) = announce_bfd::start(bfd_plan, peer_addr, local)
                .with_context(|| format!("starting BFD towards {peer_addr} from {local}"))?;
            let session = Arc::new(session);
            let task = tokio::spawn(announce_bfd::couple(
                speaker.clone(),
                plan.peer,
                Arc::clone(&session),
                Arc::clone(&desired),
                wait_for_bfd,
            ));
            Some((service, session, task))
        }
        None => None,
    };
    let stdin_task = stdin_set.map(|set| {
        tokio::spawn(stdin_loop(
            speaker.clone(),
            peer_addr,
            set,
            plan.attrs,
            desired,
        ))
    });
    let signal = wait_for_signal().await?;
    let mode = exit_mode(signal, plan.graceful_restart, plan.withdraw_on_exit);
    if let Some(task) = stdin_task {
        task.abort();
    }
    let status = speaker.watch(peer_addr);
    let bfd_session = bfd.as_ref().map(|(_, session, task)| {
        task.abort();
        session.as_ref()
    });
    close(&speaker, mode, signal, bfd_session).await;
    drop(bfd);
    if let Some(status) = status {
        log_counters(&status.borrow());
    }
    Ok(0)
}

/// Adds the BGP peer, or with `wait_for_bfd` only checks its configuration (the BFD coupling
/// adds it once BFD is Up, and a bad configuration must still stop us at start).
fn add_peer(
    speaker: &Speaker,
    peer: &PeerConfig,
    routes: Arc<AdvertisementSet>,
    wait_for_bfd: bool,
) -> anyhow::Result<()> {
    let address = peer.address;
    if wait_for_bfd {
        peer.session
            .validate()
            .with_context(|| format!("peer {address}"))
    } else {
        speaker
            .add_peer_with(peer.clone(), routes)
            .with_context(|| format!("adding peer {address}"))
    }
}

/// Closes the BGP session as `mode` says, with BFD's AdminDown in the right place: for a
/// restart after BGP closed (RFC 5882 §4.3.2: the router takes BFD Down with BGP still up
/// for a failure and flushes the stale routes), otherwise first, so the router does not take
/// the shutdown for a failure.
async fn close(speaker: &Speaker, mode: ExitMode, signal: &str, bfd: Option<&SessionHandle>) {
    const MESSAGE: &str = "ferrolb announce shutting down";
    if let (Some(session), false) = (bfd, mode == ExitMode::Restart) {
        admin_down(session).await;
    }
    match mode {
        ExitMode::Shutdown => {
            tracing::info!("{signal} received: shutting down the session");
            speaker.shutdown(MESSAGE).await
        }
        ExitMode::Restart => {
            tracing::info!(
                "{signal} received: restarting (closing without NOTIFICATION; the peer keeps the routes as stale)"
            );
            speaker.shutdown_for_restart().await;
            if let Some(session) = bfd {
                admin_down(session).await;
            }
        }
        ExitMode::HardReset => {
            tracing::info!("{signal} received: withdrawing (Cease/Hard Reset)");
            speaker.shutdown_hard_reset(MESSAGE).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use ferrolb_bgp::rib_out::ExtendedCommunity;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    const BASE: [&str; 7] = [
        "announce",
        "--local-as",
        "65001",
        "--peer",
        "10.255.0.1",
        "--peer-as",
        "65000",
    ];

    fn parse(extra: &[&str]) -> Result<Args, clap::Error> {
        let argv: Vec<&str> = BASE.iter().chain(extra.iter()).copied().collect();
        Cli::try_parse_from(argv).map(|c| c.args)
    }

    /// The validation error for these extra flags (which must parse).
    fn invalid(extra: &[&str]) -> String {
        let args = parse(extra).expect("flags parse");
        match validate(&args) {
            Ok(_) => panic!("{extra:?} must be rejected"),
            Err(e) => e.to_string(),
        }
    }

    fn temp_file(name: &str, content: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("flb-announce-{}-{name}", std::process::id()));
        std::fs::write(&path, content).expect("write temp file");
        path
    }

    #[test]
    fn graceful_restart_flags() {
        let args = parse(&["--graceful-restart", "--restart-time", "30", "10.0.0.0/8"]).unwrap();
        let plan = validate(&args).expect("valid");
        assert_eq!(plan.peer.session.restart_time, 30);
        assert!(plan.peer.session.forwarding_state);
        let args = parse(&["--graceful-restart", "10.0.0.0/8"]).unwrap();
        assert_eq!(
            validate(&args).expect("valid").peer.session.restart_time,
            120
        );
        let args = parse(&["10.0.0.0/8"]).unwrap();
        let plan = validate(&args).expect("valid");
        assert_eq!(plan.peer.session.restart_time, 0);
        assert!(!plan.peer.session.forwarding_state);
        assert_eq!(
            invalid(&["--graceful-restart", "--restart-time", "4096"]),
            "--restart-time 4096: must be 1-4095 seconds"
        );
        assert_eq!(
            invalid(&["--graceful-restart", "--restart-time", "0"]),
            "--restart-time 0: must be 1-4095 seconds"
        );
        let err = parse(&["--restart-time", "30"]).expect_err("needs --graceful-restart");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--graceful-restart"), "{err}");
    }

    #[test]
    fn link_bandwidth_flag_attaches_the_community_to_every_prefix() {
        let args = parse(&["--link-bandwidth", "100Mbit", "10.0.0.0/8", "fd00::/8"]).unwrap();
        let plan = validate(&args).expect("valid");
        // 100 Mbit/s = 12,500,000 bytes/s = 0x4b3ebc20; non-transitive, AS 65001.
        let want = vec![ExtendedCommunity([
            0x40, 0x04, 0xfd, 0xe9, 0x4b, 0x3e, 0xbc, 0x20,
        ])];
        assert_eq!(plan.attrs.extended_communities, want);
        let args = parse(&["10.0.0.0/8"]).unwrap();
        assert!(validate(&args)
            .unwrap()
            .attrs
            .extended_communities
            .is_empty());
        let err = invalid(&["--link-bandwidth", "10furlongs", "10.0.0.0/8"]);
        assert!(
            err.starts_with("--link-bandwidth \"10furlongs\": invalid bandwidth"),
            "{err}"
        );
        assert!(err.contains("unknown unit"), "{err}");
    }

    #[test]
    fn signal_decides_restart_or_withdraw() {
        assert_eq!(exit_mode("SIGTERM", false, false), ExitMode::Shutdown);
        assert_eq!(exit_mode("SIGINT", false, false), ExitMode::Shutdown);
        assert_eq!(exit_mode("SIGTERM", false, true), ExitMode::Shutdown);
        assert_eq!(exit_mode("SIGTERM", true, false), ExitMode::Restart);
        assert_eq!(exit_mode("SIGINT", true, false), ExitMode::HardReset);
        assert_eq!(exit_mode("SIGTERM", true, true), ExitMode::HardReset);
    }

    #[test]
    fn clap_errors_name_the_flag_and_exit_2() {
        for (extra, flag) in [
            (vec!["--port", "x"], "--port"),
            (vec!["--med", "abc"], "--med"),
            (vec!["--router-id", "1.2.3"], "--router-id"),
            (
                vec!["--ebgp-multihop", "2", "--ttl-security"],
                "--ttl-security",
            ),
            (vec!["--bogus"], "--bogus"),
            (vec!["--bfd-interval", "100"], "--bfd"),
            (vec!["--bfd", "--bfd-multiplier", "x"], "--bfd-multiplier"),
        ] {
            let err = parse(&extra)
                .err()
                .unwrap_or_else(|| panic!("{extra:?} must fail"));
            assert_eq!(err.exit_code(), 2, "{extra:?}");
            assert!(err.to_string().contains(flag), "{extra:?}: {err}");
        }
        let missing = Cli::try_parse_from(["announce", "--local-as", "1", "--peer", "10.255.0.1"])
            .err()
            .expect("missing --peer-as");
        assert_eq!(missing.exit_code(), 2);
        assert!(missing.to_string().contains("--peer-as"), "{missing}");
    }

    #[test]
    fn validation_errors_name_the_flag() {
        assert!(invalid(&["--hold-time", "2"]).starts_with("--hold-time 2"));
        assert!(invalid(&["--ebgp-multihop", "0"]).starts_with("--ebgp-multihop 0"));
        assert!(invalid(&["--next-hop", "2001:db8::1"]).starts_with("--next-hop 2001:db8::1"));
        assert!(invalid(&["--next-hop-v6", "10.0.0.1"]).starts_with("--next-hop-v6 10.0.0.1"));
        assert!(invalid(&["--local-address", "fd00:255::2"]).starts_with("--local-address"));
        assert!(invalid(&["--community", "65000:70000"]).starts_with("--community \"65000:70000\""));
        assert!(invalid(&["--community", "no-such-name"]).contains("no-such-name"));
        assert!(invalid(&["--large-community", "1:2"]).starts_with("--large-community \"1:2\""));
        assert!(invalid(&["--port", "0"]).starts_with("--port 0"));
        assert!(invalid(&["--router-id", "0.0.0.0"]).starts_with("--router-id"));
        assert!(invalid(&["--bfd", "--bfd-interval", "5"]).starts_with("--bfd-interval 5"));
        assert!(invalid(&["--bfd", "--bfd-multiplier", "0"]).starts_with("--bfd-multiplier 0"));
        let e = invalid(&["10.0.0.1/8"]);
        assert!(e.contains("PREFIX") && e.contains("10.0.0.0/8"), "{e}");
        let zero = Cli::try_parse_from([
            "announce",
            "--local-as",
            "0",
            "--peer",
            "10.255.0.1",
            "--peer-as",
            "1",
        ])
        .expect("parse")
        .args;
        let e = validate(&zero)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("--local-as 0"), "{e}");
    }

    #[test]
    fn files_are_checked_with_the_line_named() {
        let good = temp_file(
            "good",
            b"# list\n198.51.100.1/32\n\n2001:db8::/48  # v6\n198.51.100.2\n",
        );
        let args = parse(&["--prefixes-file", good.to_str().expect("utf8")]).expect("parse");
        let plan = validate(&args).map_err(|e| e.to_string()).expect("valid");
        assert_eq!(plan.prefixes.count_by_family(), (2, 1));
        let bad = temp_file("bad", b"198.51.100.1/32\n# ok\nnot-a-prefix\n");
        let e = invalid(&["--prefixes-file", bad.to_str().expect("utf8")]);
        assert!(e.contains("line 3") && e.contains("not-a-prefix"), "{e}");
        let e = invalid(&["--prefixes-file", "/nonexistent/flb"]);
        assert!(e.starts_with("--prefixes-file /nonexistent/flb"), "{e}");
        let e = invalid(&["--password-file", "/nonexistent/flb"]);
        assert!(e.starts_with("--password-file /nonexistent/flb"), "{e}");
        let long = temp_file("long", &[b'x'; 81]);
        let e = invalid(&["--password-file", long.to_str().expect("utf8")]);
        assert!(e.contains("81 bytes"), "{e}");
        let empty = temp_file("empty", b"\n");
        assert!(invalid(&["--password-file", empty.to_str().expect("utf8")]).contains("empty"));
        for p in [good, bad, long, empty] {
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn password_is_read_without_newline_and_never_printed() {
        let pw = temp_file("pw", b"top-secret-pw\n");
        let args = parse(&["--password-file", pw.to_str().expect("utf8")]).expect("parse");
        let plan = validate(&args).map_err(|e| e.to_string()).expect("valid");
        let _ = std::fs::remove_file(&pw);
        let expected = Password::new(b"top-secret-pw".to_vec()).expect("pw");
        assert_eq!(plan.peer.password.as_ref(), Some(&expected));
        let printed = format!("{:?}", plan.peer);
        assert!(!printed.contains("top-secret"), "{printed}");
    }

    #[test]
    fn communities_names_and_prefixes_after_multi_value_flags() {
        let args = parse(&[
            "--community",
            "65001:100",
            "no-export",
            "198.51.100.7/32",
            "--large-community",
            "65001:1:2",
            "2001:db8::7",
        ])
        .expect("parse");
        let plan = validate(&args).map_err(|e| e.to_string()).expect("valid");
        assert_eq!(
            plan.attrs.communities,
            vec![Community::new(65001, 100), Community::NO_EXPORT]
        );
        assert_eq!(
            plan.attrs.large_communities,
            vec![LargeCommunity::new(65001, 1, 2)]
        );
        assert_eq!(plan.prefixes.count_by_family(), (1, 1));
    }

    #[test]
    fn router_id_defaults_to_an_ipv4_local_address() {
        let args = parse(&["--local-address", "10.255.0.2"]).expect("parse");
        let plan = validate(&args).map_err(|e| e.to_string()).expect("valid");
        assert_eq!(plan.peer.session.router_id, Ipv4Addr::new(10, 255, 0, 2));
    }

    #[tokio::test]
    async fn run_returns_2_before_connecting() {
        let args = parse(&["--hold-time", "1"]).expect("parse");
        assert_eq!(run(args).await.expect("run"), 2);
    }

    #[test]
    fn prefixes_parse_with_clear_errors() {
        assert_eq!(
            parse_prefix("10.0.0.1").expect("host"),
            "10.0.0.1/32".parse::<IpNet>().expect("net")
        );
        assert_eq!(
            parse_prefix("2001:db8::1").expect("host"),
            "2001:db8::1/128".parse::<IpNet>().expect("net")
        );
        let err = parse_prefix("10.0.0.1/24").expect_err("host bits");
        assert!(err.contains("10.0.0.0/24"), "{err}");
        assert!(parse_prefix("banana").expect_err("junk").contains("banana"));
    }

    #[test]
    fn stdin_lines() {
        assert!(matches!(
            parse_stdin_line("announce 10.0.0.0/24"),
            Ok(Some(StdinCommand::Announce(_)))
        ));
        assert!(matches!(
            parse_stdin_line(" withdraw 2001:db8::/64 # x"),
            Ok(Some(StdinCommand::Withdraw(_)))
        ));
        assert!(matches!(parse_stdin_line("# nothing"), Ok(None)));
        assert!(parse_stdin_line("announce").is_err());
        assert!(parse_stdin_line("add 10.0.0.0/24")
            .expect_err("verb")
            .contains("add"));
        assert!(parse_stdin_line("bogus line here")
            .expect_err("verb")
            .contains("bogus"));
        assert!(parse_stdin_line("announce 10.0.0.0/24 extra").is_err());
        assert!(parse_stdin_line("withdraw 10.0.0.1/8")
            .expect_err("host bits")
            .contains("10.0.0.0/8"));
    }
}
