#!/usr/bin/env python3
"""`implicit` ALS as a peer for weft's recommend evaluation, tuned on the same validation split.

Reads the split weft dumped (`weft recommend --eval --dump DIR`): `valid_train.tsv` /
`valid.tsv` (the validation split inside training, the same one weft tunes its recency
half-life and hybrid mix on) and `train.tsv` (all training plays), `catalogue.txt`.
Grid-searches factors × regularization × alpha by `period` HR@10 on validation (share of the
validation plays whose item is in the user's top 10, repeats counted, ties by popularity then
item id as in weft), refits the best on all training plays, and writes per user its top-20
list over the whole catalogue (`all`) and with the user's training items removed (`unheard`):

    # implicit-als factors=.. regularization=.. alpha=.. valid_hr10=..
    <user>\tall\t<item>,<item>,...
    <user>\tunheard\t<item>,...

weft scores the file with its own metric code: `weft recommend --eval --peer OUT`.

Usage: implicit_topn.py DUMP_DIR OUT.tsv
"""
import itertools, os, sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

dump, out = sys.argv[1], sys.argv[2]
n_users, n_items = map(int, open(os.path.join(dump, "catalogue.txt")).read().split())


def read(name):
    a = np.loadtxt(os.path.join(dump, name), dtype=np.int64, skiprows=1, ndmin=2)
    return a[:, 0], a[:, 1]


def matrix(u, i):
    m = sp.coo_matrix((np.ones(len(u), np.float32), (u, i)), shape=(n_users, n_items))
    return m.tocsr()  # duplicates summed: play counts


def ranked(ui, uf, itf, u, exclude):
    pop = np.asarray(ui.sum(axis=0)).ravel()
    sc = (itf @ uf[u]).astype(np.float64) + 1e-6 * pop / max(pop.max(), 1.0)
    if exclude:
        sc[ui[u].indices] = -np.inf
    # Higher score first, then lower item id (stable sort of the negated scores).
    order = np.argsort(-sc, kind="stable")
    return [int(x) for x in order[:20] if np.isfinite(sc[x])]


def fit(ui, factors, reg, alpha):
    m = AlternatingLeastSquares(factors=factors, regularization=reg, alpha=alpha, iterations=15,
                                random_state=42, use_cg=True, calculate_training_loss=False)
    m.fit(ui, show_progress=False)
    return np.asarray(m.user_factors), np.asarray(m.item_factors)


vu, vi = read("valid_train.tsv")
tu, ti = read("valid.tsv")
vui = matrix(vu, vi)
truth = {}
for u, i in zip(tu, ti):
    if vui[u].nnz:  # users with training plays, as in weft's period cases
        truth.setdefault(int(u), []).append(int(i))
best = (-1.0, None)
for factors, reg, alpha in itertools.product([16, 32, 64], [0.01, 0.1, 1.0], [1.0, 10.0, 40.0]):
    uf, itf = fit(vui, factors, reg, alpha)
    hits = plays = 0
    for u, items in truth.items():
        top = set(ranked(vui, uf, itf, u, False)[:10])
        hits += sum(i in top for i in items)
        plays += len(items)
    hr = hits / max(plays, 1)
    print(f"factors={factors} regularization={reg} alpha={alpha}: valid period HR@10 {hr:.4f}",
          file=sys.stderr)
    if hr > best[0] + 1e-12:
        best = (hr, (factors, reg, alpha))

hr, (factors, reg, alpha) = best
au, ai = read("train.tsv")
ui = matrix(au, ai)
uf, itf = fit(ui, factors, reg, alpha)
with open(out, "w") as f:
    f.write(f"# implicit-als factors={factors} regularization={reg} alpha={alpha} "
            f"iterations=15 valid_hr10={hr:.4f}\n")
    for u in range(n_users):
        if ui[u].nnz == 0:
            continue
        for kind, excl in (("all", False), ("unheard", True)):
            f.write(f"{u}\t{kind}\t{','.join(map(str, ranked(ui, uf, itf, u, excl)))}\n")
print(f"best: factors={factors} regularization={reg} alpha={alpha} valid HR@10 {hr:.4f} -> {out}",
      file=sys.stderr)
