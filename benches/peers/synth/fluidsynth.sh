#!/usr/bin/env bash
# Peer for benches/synth.rs: render a MIDI file with FluidSynth (Debian package
# `fluidsynth`) the same way weft does — same SoundFont, same sample rate, 16-bit WAV,
# 64-voice polyphony, reverb and chorus off (weft's GM voices have none; weft's own effect
# buses are not used by the bench). Usage: fluidsynth.sh SF2 MID OUT.wav RATE
set -euo pipefail
sf2=$1 mid=$2 out=$3 rate=${4:-48000}
command -v fluidsynth >/dev/null || { echo "fluidsynth not installed (apt-get install -y fluidsynth)" >&2; exit 127; }
exec fluidsynth -ni -q -F "$out" -T wav -O s16 -r "$rate" -o synth.polyphony=64 -R 0 -C 0 "$sf2" "$mid" >/dev/null
