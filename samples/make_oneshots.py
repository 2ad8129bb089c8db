#!/usr/bin/env python3
"""Makes weft's tiny one-shot samples (mono, 16-bit, 48 kHz) from formulas, so their
provenance is this file. Deterministic: rerunning writes identical files."""
import math, random, struct, wave

SR = 48_000

def write(name, samples):
    with wave.open(name, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(b"".join(struct.pack("<h", max(-32768, min(32767, round(s * 32767)))) for s in samples))

def blip(n=int(0.25 * SR)):
    return [0.8 * math.sin(2 * math.pi * 880 * i / SR) * math.exp(-i / (0.06 * SR)) for i in range(n)]

def thump(n=int(0.4 * SR)):
    out, ph = [], 0.0
    for i in range(n):
        t = i / SR
        ph += 2 * math.pi * (50 + 90 * math.exp(-t / 0.04)) / SR
        out.append(0.9 * math.sin(ph) * math.exp(-t / 0.12))
    return out

def shaker(n=int(0.15 * SR)):
    rng, out, prev = random.Random(7), [], 0.0
    for i in range(n):
        x = rng.uniform(-1, 1)
        out.append(0.6 * (x - prev) / 2 * math.exp(-i / (0.03 * SR)) * min(1, i / 240))
        prev = x
    return out

write("blip.wav", blip())
write("shaker.wav", shaker())
write("thump.wav", thump())
