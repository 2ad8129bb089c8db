#!/usr/bin/env bash
# Make the Python venv for the peer comparison: `implicit` (ALS) and `statsforecast`.
# Usage: benches/peers/logs/make_venv.sh [VENV_DIR]   (default: benches/peers/logs/.venv)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$here/.venv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "implicit==0.7.2" "statsforecast>=1.7,<3" "numpy<2.3" "pandas" "scipy"
"$venv/bin/python" -c "import implicit, statsforecast; print('implicit', implicit.__version__, 'statsforecast', statsforecast.__version__)"
