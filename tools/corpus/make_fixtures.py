"""Write the tiny MIDI fixtures in tests/fixtures/midi/ (weft's own, no third-party music).

Usage: python3 tools/corpus/make_fixtures.py   (standard library only)

Each fixture is a short four-part (or fewer) phrase on a 16th-note grid, one monophonic
track per voice, 480 ticks per quarter. They exercise key normalisation (several keys),
rests, holds, repeated notes and pickups.
"""
import pathlib
import struct

TPQ = 480
STEP = TPQ // 4  # one 16th


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def track(events):
    """events: list of (tick, bytes). Returns an MTrk chunk."""
    data = b""
    last = 0
    for t, ev in sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90)):
        data += vlq(t - last) + ev
        last = t
    data += vlq(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(data)) + data


def voice(channel, notes):
    """notes: list of (start_16th, length_16ths, pitch)."""
    evs = []
    for start, length, pitch in notes:
        evs.append((start * STEP, bytes([0x90 | channel, pitch, 90])))
        evs.append(((start + length) * STEP, bytes([0x80 | channel, pitch, 0])))
    return track(evs)


def smf(voices):
    tempo = track([(0, b"\xff\x51\x03\x07\xa1\x20")])  # 120 bpm
    chunks = [tempo] + [voice(i, v) for i, v in enumerate(voices)]
    head = b"MThd" + struct.pack(">IHHH", 6, 1, len(chunks), TPQ)
    return head + b"".join(chunks)


def line(start, spec, shift=0):
    """spec: list of (pitch or None for rest, length in 16ths)."""
    out, t = [], start
    for p, n in spec:
        if p is not None:
            out.append((t, n, p + shift))
        t += n
    return out


Q, H, E, S = 4, 8, 2, 1
# A C-major phrase in four parts (two bars of 4/4 and a half-bar cadence).
SOP = [(72, Q), (71, Q), (69, E), (71, E), (72, Q), (74, Q), (72, E), (71, E), (69, H), (67, H)]
ALT = [(67, Q), (67, Q), (65, Q), (67, Q), (67, Q), (65, Q), (64, H), (64, H)]
TEN = [(64, Q), (62, Q), (60, Q), (64, Q), (64, Q), (62, Q), (60, H), (59, H)]
BAS = [(48, Q), (55, Q), (53, Q), (52, Q), (48, Q), (53, Q), (57, Q), (45, Q), (43, H)]


def main():
    out = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "midi"
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "chorale_c.mid": [line(0, SOP), line(0, ALT), line(0, TEN), line(0, BAS)],
        # Same phrase in G and in F: tokenizes to the same normalised lines.
        "chorale_g.mid": [line(0, SOP, 7 - 12), line(0, ALT, 7 - 12), line(0, TEN, 7 - 12), line(0, BAS, 7 - 12)],
        "chorale_f.mid": [line(0, SOP, 5 - 12), line(0, ALT, 5 - 12), line(0, TEN, 5 - 12), line(0, BAS, 5 - 12)],
        # A-minor phrase with a quarter pickup, rests, a repeated note and 16ths.
        "minor_pickup.mid": [
            line(12, [(76, Q), (76, Q), (74, E), (72, E), (71, Q), (69, Q), (None, Q), (72, S), (71, S), (69, S), (68, S), (69, H)]),
            line(12, [(72, Q), (69, Q), (69, Q), (68, Q), (64, Q), (None, Q), (64, Q), (64, H)]),
            line(12, [(57, Q), (57, Q), (62, Q), (59, Q), (60, Q), (None, Q), (59, Q), (57, H)]),
            line(12, [(45, Q), (48, Q), (50, Q), (52, Q), (45, Q), (None, Q), (52, Q), (45, H)]),
        ],
        # A lone melody in D major (one track → soprano).
        "melody_d.mid": [line(0, [(62, E), (64, E), (66, Q), (69, Q), (71, E), (69, E), (66, H), (64, Q), (62, Q), (None, Q), (62, H)])],
        # Two voices: tune and bass in B-flat major.
        "duet_bb.mid": [
            line(0, [(70, Q), (74, Q), (72, E), (70, E), (69, Q), (70, H), (77, H), (75, Q), (74, Q), (72, H)]),
            line(0, [(46, H), (53, H), (51, H), (50, H), (48, H), (53, H)]),
        ],
    }
    for name, voices in files.items():
        (out / name).write_bytes(smf(voices))
        print("wrote", out / name)


if __name__ == "__main__":
    main()
