#!/usr/bin/env bash
# Make the Python venv for the peers: `implicit` ALS (recommend, implicit_topn.py) and
# statsforecast AutoETS/AutoTheta (forecast, statsforecast_folds.py).
# Usage: benches/peers/logs/setup.sh [VENV_DIR]   (default: benches/peers/logs/.venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$here/.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "implicit==0.7.2" "statsforecast==2.1.1" "numpy<2.3" "pandas" "scipy"
"$venv/bin/python" -c "import implicit, statsforecast; print('implicit', implicit.__version__, 'statsforecast', statsforecast.__version__)"
