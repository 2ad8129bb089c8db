#!/usr/bin/env bash
# Make the Python venv for the recommend peer (`implicit` ALS tuned on validation).
# Usage: benches/peers/logs/setup.sh [VENV_DIR]   (default: benches/peers/logs/.venv)
# make_venv.sh adds statsforecast for the forecast peers; this one is enough for implicit_topn.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$here/.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "implicit==0.7.2" "numpy<2.3" "scipy"
"$venv/bin/python" -c "import implicit; print('implicit', implicit.__version__)"
