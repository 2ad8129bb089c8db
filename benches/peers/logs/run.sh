#!/usr/bin/env bash
# Build weft (release), make the venv if needed, run the peer comparison on the demo logs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
[ -x "$here/.venv/bin/python" ] || "$here/make_venv.sh"
(cd "$root" && cargo build --release --bin weft)
"$here/.venv/bin/python" "$here/run_peers.py" "${1:-$root/samples/logs}" "$root/target/release/weft"
