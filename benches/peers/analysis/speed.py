#!/usr/bin/env python3
"""librosa peer for benches/analysis.rs: loads FILE and computes the features weft computes
(one shared STFT: RMS, centroid, bandwidth, roll-off, flatness, flux, mel onset strength,
onset detection, chroma, tempo). Prints JSON {"seconds": best wall time, ...}; with
--serve, times one run per line of stdin (the bench interleaves them with weft's runs).
Imports and numba JIT are warmed up on the first two seconds before timing.
"""
import argparse
import json
import sys
import time

import librosa
import numpy as np
import soundfile as sf


def features(y, sr, n_fft, hop):
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, window="hann", center=True, pad_mode="constant"))
    P = S**2
    out = {
        "rms": librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop, center=True, pad_mode="constant"),
        "centroid": librosa.feature.spectral_centroid(S=S, sr=sr, n_fft=n_fft, hop_length=hop),
        "bandwidth": librosa.feature.spectral_bandwidth(S=S, sr=sr, n_fft=n_fft, hop_length=hop),
        "rolloff": librosa.feature.spectral_rolloff(S=S, sr=sr, n_fft=n_fft, hop_length=hop),
        "flatness": librosa.feature.spectral_flatness(S=S),
        "flux": librosa.onset.onset_strength(S=S, lag=1, max_size=1, detrend=False, center=False),
        "chroma": librosa.feature.chroma_stft(S=P, sr=sr, n_fft=n_fft, tuning=0.0),
    }
    mel = librosa.feature.melspectrogram(S=P, sr=sr, n_fft=n_fft, hop_length=hop)
    env = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=sr, hop_length=hop)
    out["onsets"] = librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=hop)
    out["tempo"] = librosa.feature.tempo(onset_envelope=env, sr=sr, hop_length=hop)
    return out


def timed_run(path, n_fft, hop):
    """One timed run: read the file and compute every feature. Returns (seconds, features)."""
    t0 = time.perf_counter()
    y, sr = sf.read(path, dtype="float32")
    if y.ndim > 1:
        y = y.mean(axis=1)
    out = features(y, sr, n_fft, hop)
    return time.perf_counter() - t0, out


def summary(out):
    return {
        "frames": int(out["rms"].shape[-1]),
        "tempo": float(np.atleast_1d(out["tempo"])[0]),
        "librosa": librosa.__version__,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--fft", type=int, default=2048)
    ap.add_argument("--hop", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--serve",
        action="store_true",
        help="after the warm-up print one JSON line, then time one run per line read from "
        "stdin and print {\"seconds\": ...} for each; a summary line at end of input. "
        "Lets the bench alternate weft and librosa runs so both see the same host load.",
    )
    a = ap.parse_args()
    y, sr = sf.read(a.file, dtype="float32")
    if y.ndim > 1:
        y = y.mean(axis=1)
    features(y[: 2 * sr], sr, a.fft, a.hop)  # warm-up: imports, numba JIT, caches
    if a.serve:
        print(json.dumps({"ready": True, "librosa": librosa.__version__}), flush=True)
        out = None
        for _ in sys.stdin:
            secs, out = timed_run(a.file, a.fft, a.hop)
            print(json.dumps({"seconds": secs}), flush=True)
        if out is not None:
            print(json.dumps(summary(out)), flush=True)
        return
    best = float("inf")
    for _ in range(a.repeat):
        secs, out = timed_run(a.file, a.fft, a.hop)
        best = min(best, secs)
    print(json.dumps({"seconds": best, **summary(out)}))


if __name__ == "__main__":
    main()
