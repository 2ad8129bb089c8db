#!/usr/bin/env bash
# Fetch the Bach chorales bundled in the music21 wheel (PyPI) and convert them to MIDI.
#
#   tools/corpus/fetch_bach.sh [OUT_DIR]      (default: target/corpus/bach)
#
# Nothing here is vendored into the repository: the wheel is downloaded into a throwaway
# directory, music21 is installed into a throwaway venv there, and only the converted .mid
# files are kept in OUT_DIR (a build cache, ignored by git). Only the .mxl/.xml chorales are
# converted; the three Humdrum .krn files (CCARH encodings, rights reserved) are skipped.
# See samples/CORPUS.md for the licence situation.
set -euo pipefail

MUSIC21_VERSION="${MUSIC21_VERSION:-10.5.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/target/corpus/bach}"
PY="${PYTHON:-python3}"

if [ -f "$OUT/.complete" ]; then
    echo "corpus already present in $OUT ($(ls "$OUT"/*.mid | wc -l) files)"
    exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "creating throwaway venv in $WORK"
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "music21==$MUSIC21_VERSION"

mkdir -p "$OUT"
"$WORK/venv/bin/python" "$ROOT/tools/corpus/convert_bach.py" "$OUT"
touch "$OUT/.complete"
echo "done: $(ls "$OUT"/*.mid | wc -l) MIDI files in $OUT"
