#!/usr/bin/env python3
"""librosa peer for benches/analysis.rs: loads FILE and computes the features weft computes
(one shared STFT: RMS, centroid, bandwidth, roll-off, flatness, flux, mel onset strength,
onset detection, chroma, tempo). Prints JSON {"seconds": best wall time, ...}.
Imports and numba JIT are warmed up on the first two seconds before timing.
"""
import argparse
import json
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--fft", type=int, default=2048)
    ap.add_argument("--hop", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    y, sr = sf.read(a.file, dtype="float32")
    if y.ndim > 1:
        y = y.mean(axis=1)
    features(y[: 2 * sr], sr, a.fft, a.hop)  # warm-up: imports, numba JIT, caches
    best = float("inf")
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        y, sr = sf.read(a.file, dtype="float32")
        if y.ndim > 1:
            y = y.mean(axis=1)
        out = features(y, sr, a.fft, a.hop)
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({
        "seconds": best,
        "frames": int(out["rms"].shape[-1]),
        "tempo": float(np.atleast_1d(out["tempo"])[0]),
        "librosa": librosa.__version__,
    }))


if __name__ == "__main__":
    main()
