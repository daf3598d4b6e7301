#!/usr/bin/env bash
# How much faster canarysim runs the flagship than the same world in SimPy
# (the peer a user would write instead: ../shared/peers/simpy_peer.py,
# 60 req/s for 2h15m, per request). Installs SimPy from PyPI into a virtual
# environment under target/tools/ on first use. Runs each side REPEAT times
# (default 3) and compares the fastest runs, because the build machine is
# shared and single runs are noisy. Prints both times and the ratio.
#
# Usage: scripts/peer-ratio.sh [PEER.py] [MODEL]   (MODEL: per-request | batched)
set -euo pipefail
cd "$(dirname "$0")/.."
peer=${1:-../shared/peers/simpy_peer.py}
model=${2:-per-request}
repeat=${REPEAT:-3}
venv=target/tools/simpy-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet simpy==4.1.2
fi
cargo build --release --quiet
scenario=scenarios/checkout-leak.toml
if [ "$model" = batched ]; then
  scenario=target/tools/checkout-leak-batched.toml
  sed 's/^endpoints_delay = "1s"/endpoints_delay = "1s"\ntraffic_model = "batched"/' \
    scenarios/checkout-leak.toml > "$scenario"
  cp -r scenarios/argo target/tools/ 2>/dev/null || true
fi
best() { sort -g | head -n 1; }
ours=$(for _ in $(seq "$repeat"); do
  target/release/canarysim run "$scenario" --policy manual 2>&1 >/dev/null |
    sed -n 's/.* in \([0-9.]*\) s wall.*/\1/p'
done | best)
theirs=$(for _ in $(seq "$repeat"); do
  "$venv/bin/python" "$peer" --rps 60 --hours 2.25 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["wall_s"])'
done | best)
python3 - "$ours" "$theirs" "$model" <<'PY'
import sys
ours, theirs, model = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
print(f"canarysim flagship ({model}, manual): {ours:.3f} s wall (engine only)")
print(f"SimPy peer, 60 req/s for 2.25 h:      {theirs:.3f} s wall")
print(f"ratio: {theirs / ours:.0f}x")
PY
