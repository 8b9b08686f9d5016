# kube-proxy in iptables mode on a kubeadm node (iptables-nft): the nat table's chains that
# decide source NAT. Only packets marked 0x4000 (by KUBE-MARK-MASQ) are masqueraded.
set -e
iptables-nft -t nat -N KUBE-SERVICES
iptables-nft -t nat -N KUBE-NODEPORTS
iptables-nft -t nat -N KUBE-POSTROUTING
iptables-nft -t nat -N KUBE-MARK-MASQ
iptables-nft -t nat -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
iptables-nft -t nat -A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
iptables-nft -t nat -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
iptables-nft -t nat -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
iptables-nft -t nat -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
iptables-nft -t nat -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
iptables-nft -t nat -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
iptables-nft -t nat -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
