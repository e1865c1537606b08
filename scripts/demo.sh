#!/usr/bin/env bash
# The main command: set-up, then the whole system on this machine (see scripts/demo.ts).
# As root it runs inside a network namespace with its own nftables firewall, so the demo
# can turn that firewall off without touching this machine's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
# The service runs as it ships: its bundle, built here in a few seconds (scripts/build-service.ts).
node --import tsx scripts/build-service.ts >&2

WHY_NO_NETNS="not root"
[ "$(id -u)" -eq 0 ] && WHY_NO_NETNS="ip netns add failed"
if [ "$(id -u)" -eq 0 ] && ip netns add "dta-demo-$$"; then
  NS="dta-demo-$$"
  trap 'ip netns delete "$NS" 2>/dev/null || true' EXIT
  ip netns exec "$NS" ip link set lo up
  ip netns exec "$NS" nft -f - <<'NFT'
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif "lo" accept
  }
}
NFT
  DTA_DEMO_NETNS=1 ip netns exec "$NS" bash scripts/with-keyring.sh node --import tsx scripts/demo.ts "$@" 2> >(grep -v -E 'fd limit|dbus-daemon' >&2)
else
  echo "(${WHY_NO_NETNS}: running without the network namespace; the firewall step is skipped)" >&2
  bash scripts/with-keyring.sh node --import tsx scripts/demo.ts "$@" 2> >(grep -v -E 'fd limit|dbus-daemon' >&2)
fi
