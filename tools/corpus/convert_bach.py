"""Convert music21's bundled Bach chorales (.mxl/.xml only) to Standard MIDI Files.

Usage: python convert_bach.py OUT_DIR   (run inside a venv that has music21 installed)

Each chorale is written as OUT_DIR/<stem>.mid with one track per part (soprano first, as
music21 orders them). Files that fail to parse are reported and skipped; .krn files are
never read (their encoding is not free).
"""
import os
import pathlib
import sys

from music21 import corpus, converter  # noqa: F401  (corpus locates the bundled files)


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    bach_dir = pathlib.Path(corpus.__file__).parent / "bach"
    files = sorted(p for p in bach_dir.iterdir() if p.suffix in (".mxl", ".xml"))
    ok = failed = 0
    seen = set()
    for i, path in enumerate(files):
        stem = path.stem
        if stem in seen:  # e.g. bwv.mxl and bwv.xml of the same chorale
            continue
        seen.add(stem)
        target = out / f"{stem}.mid"
        try:
            score = converter.parse(str(path))
            score.write("midi", fp=str(target))
            ok += 1
        except Exception as e:  # music21 raises many kinds; skip the odd broken file
            failed += 1
            print(f"skip {path.name}: {e}", file=sys.stderr)
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(files)} converted", flush=True)
    print(f"converted {ok}, skipped {failed}")
    return 0 if ok > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
