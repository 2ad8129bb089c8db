#!/usr/bin/env bash
# Creates the Python peer environment for the analysis bench and fixture generator:
# benches/peers/.venv-analysis with a pinned librosa (and its pinned numeric stack).
# Usage: bash benches/peers/analysis/make_venv.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.venv-analysis"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet \
    librosa==0.11.0 numpy==2.2.6 scipy==1.15.3 numba==0.61.2 soundfile==0.13.1
"$venv/bin/python" -c 'import librosa, numpy; print("librosa", librosa.__version__, "numpy", numpy.__version__)'
