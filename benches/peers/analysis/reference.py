#!/usr/bin/env python3
"""Renders the analysis test WAVs and writes librosa reference features next to them.

Run from the repository root with the peer venv (see make_venv.sh):
    benches/peers/.venv-analysis/bin/python benches/peers/analysis/reference.py
Writes tests/fixtures/analysis/<name>.wav and <name>.json. The Rust test
tests/analysis_librosa.rs compares weft's frames against these JSON files without Python.
"""
import json
import os
import sys

import librosa
import numpy as np
import soundfile as sf

OUT = os.path.join("tests", "fixtures", "analysis")


def render_chord(sr):
    """1.2 s stereo A-major chord with decays, a fade-in and a little noise on the right."""
    rng = np.random.default_rng(1)
    t = np.arange(int(1.2 * sr)) / sr
    env = np.minimum(t / 0.05, 1.0) * np.exp(-1.5 * t)
    left = sum(a * np.sin(2 * np.pi * f * t) for f, a in [(220.0, 0.3), (277.18, 0.2), (329.63, 0.2)])
    right = left + 0.02 * rng.standard_normal(t.size)
    return np.stack([left * env, right * env], axis=1)


def render_sweep_clicks(sr):
    """1 s exponential sweep 100 Hz → 8 kHz, clicks every 250 ms, low noise floor."""
    rng = np.random.default_rng(2)
    n = sr
    t = np.arange(n) / sr
    f0, f1 = 100.0, 8000.0
    phase = 2 * np.pi * f0 * (np.power(f1 / f0, t) - 1) / np.log(f1 / f0)
    y = 0.3 * np.sin(phase) + 0.003 * rng.standard_normal(n)
    for k in range(4):
        i = int((0.1 + 0.25 * k) * sr)
        y[i : i + 64] += 0.5 * np.exp(-np.arange(64) / 8.0)
    return y


def render_bursts(sr):
    """1 s: a 1 kHz tone under three enveloped bursts of low-passed noise; float samples."""
    rng = np.random.default_rng(3)
    n = sr
    t = np.arange(n) / sr
    noise = np.convolve(rng.standard_normal(n), np.ones(8) / 8, mode="same")
    env = np.zeros(n)
    for start in (0.1, 0.45, 0.8):
        env += np.exp(-np.maximum(t - start, 0) / 0.05) * (t >= start)
    return 0.1 * np.sin(2 * np.pi * 1000 * t) + 0.8 * env * noise


CASES = [
    # name, render, sr, subtype, settings [(fft, hop)]
    ("chord_16bit_stereo_22050", render_chord, 22050, "PCM_16", [(2048, 512), (512, 128)]),
    ("sweep_clicks_24bit_mono_44100", render_sweep_clicks, 44100, "PCM_24", [(2048, 512), (1024, 256)]),
    ("bursts_float_mono_48000", render_bursts, 48000, "FLOAT", [(4096, 1024), (2048, 512)]),
]


def features(y, sr, n_fft, hop):
    kw = dict(n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant")
    S = np.abs(librosa.stft(y, window="hann", **kw))
    return {
        "rms": librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop, center=True, pad_mode="constant")[0],
        "centroid": librosa.feature.spectral_centroid(y=y, sr=sr, **kw)[0],
        "bandwidth": librosa.feature.spectral_bandwidth(y=y, sr=sr, **kw)[0],
        "rolloff": librosa.feature.spectral_rolloff(y=y, sr=sr, roll_percent=0.85, **kw)[0],
        "flatness": librosa.feature.spectral_flatness(y=y, amin=1e-10, power=2.0, **kw)[0],
        "flux": librosa.onset.onset_strength(S=S, lag=1, max_size=1, detrend=False, center=False),
        "chroma": librosa.feature.chroma_stft(S=S**2, sr=sr, n_fft=n_fft, tuning=0.0, norm=np.inf).T,
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, render, sr, subtype, settings in CASES:
        wav = os.path.join(OUT, name + ".wav")
        sf.write(wav, render(sr), sr, subtype=subtype)
        data, file_sr = sf.read(wav, dtype="float64", always_2d=True)
        y = data.mean(axis=1)  # librosa.to_mono, in float64
        runs = []
        for n_fft, hop in settings:
            feats = features(y, file_sr, n_fft, hop)
            runs.append({"fft": n_fft, "hop": hop, **{k: np.asarray(v).tolist() for k, v in feats.items()}})
        doc = {
            "file": name + ".wav",
            "sample_rate": file_sr,
            "librosa": librosa.__version__,
            "numpy": np.__version__,
            "runs": runs,
        }
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(doc, f)
        print(f"{wav}: {len(y)} samples, runs {[(r['fft'], r['hop'], len(r['rms'])) for r in runs]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
