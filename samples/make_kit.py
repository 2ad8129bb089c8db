#!/usr/bin/env python3
"""Makes weft's tiny example kit in the Dirt-Samples layout (bd/, sd/, hh/; mono, 16-bit,
48 kHz) from formulas, so its provenance is this file. Deterministic: rerunning writes
identical files. Run inside `samples/`: `python3 make_kit.py`."""
import math, os, random, struct, wave

SR = 48_000

def write(name, samples):
    os.makedirs(os.path.dirname(name), exist_ok=True)
    with wave.open(name, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(b"".join(struct.pack("<h", max(-32768, min(32767, round(s * 32767)))) for s in samples))

def bd(n=int(0.2 * SR)):
    out, ph = [], 0.0
    for i in range(n):
        t = i / SR
        ph += 2 * math.pi * (48 + 110 * math.exp(-t / 0.03)) / SR
        out.append(0.9 * math.sin(ph) * math.exp(-t / 0.07))
    return out

def sd(n=int(0.12 * SR)):
    rng, out = random.Random(11), []
    for i in range(n):
        t = i / SR
        out.append(0.45 * math.sin(2 * math.pi * 190 * t) * math.exp(-t / 0.04) + 0.4 * rng.uniform(-1, 1) * math.exp(-t / 0.05))
    return out

def hh(seed, decay, n=int(0.04 * SR)):
    rng, out, prev = random.Random(seed), [], 0.0
    for i in range(n):
        x = rng.uniform(-1, 1)
        out.append(0.5 * (x - prev) / 2 * math.exp(-i / (decay * SR)))
        prev = x
    return out

write("bd/bd0.wav", bd())
write("sd/sd0.wav", sd())
write("hh/hh0.wav", hh(3, 0.008))
write("hh/hh1.wav", hh(5, 0.02))
