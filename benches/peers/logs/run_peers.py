#!/usr/bin/env python3
"""Peer comparison for weft's listening-log models on the *same* split and folds.

Runs `weft recommend --eval --json --dump` and `weft forecast --eval --json --dump`, reads the
dumped temporal split / series / fold origins, evaluates `implicit` ALS + popularity and
statsforecast SeasonalNaive / AutoETS / AutoTheta with the same metrics, and prints weft's
rows and the peers' rows side by side.

Usage: run_peers.py [LOGS] [WEFT_BINARY]   (defaults: samples/logs, target/release/weft)
"""
import json, math, os, subprocess, sys, tempfile

import numpy as np
import pandas as pd
import scipy.sparse as sp

root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
logs = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "samples", "logs")
weft = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "target", "release", "weft")
work = tempfile.mkdtemp(prefix="weft-peers-")


def run(args):
    out = subprocess.run([weft] + args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


# ---------------------------------------------------------------- recommend
wrec = run(["recommend", "--logs", logs, "--eval", "--json", "--dump", f"{work}/rec"])
train = pd.read_csv(f"{work}/rec/train.csv")
n_users, n_items = map(int, open(f"{work}/rec/catalogue.txt").read().split())
cases = pd.read_csv(f"{work}/rec/next_cases.csv")
disc = pd.read_csv(f"{work}/rec/discover_cases.csv")
counts = train.groupby(["user", "item"]).size().reset_index(name="n")
ui = sp.csr_matrix((counts.n.astype(np.float32), (counts.user, counts.item)), shape=(n_users, n_items))
pop = np.asarray(ui.sum(axis=0)).ravel().astype(np.float64)
catalogue = int((pop > 0).sum())
tie = 1e-6 * pop / max(pop.max(), 1.0)


def rank_of(scores, t):
    s = scores[t]
    return int(np.sum(scores > s) + np.sum(scores[:t] == s))


def evaluate(name, score_fn):
    rows = []
    # next: (user, target) — these models ignore the session prefix.
    acc = dict(n=0, hr10=0, hr20=0, ndcg=0, mrr=0)
    cov = np.zeros(n_items, bool)
    for u, t in zip(cases.user, cases.target):
        sc = score_fn(u) + tie
        r = rank_of(sc, t)
        acc["n"] += 1
        acc["hr10"] += r < 10
        acc["hr20"] += r < 20
        acc["mrr"] += 1 / (r + 1) if r < 20 else 0
        acc["ndcg"] += 1 / math.log2(r + 2) if r < 10 else 0
        cov[np.argsort(-sc, kind="stable")[:10]] = True
    n = max(acc["n"], 1)
    rows.append(dict(model=name, mode="next", cases=acc["n"], hr10=acc["hr10"] / n, hr20=acc["hr20"] / n,
                     ndcg10=acc["ndcg"] / n, mrr20=acc["mrr"] / n, coverage=cov.sum() / catalogue))
    acc = dict(n=0, hr10=0, hr20=0, ndcg=0, mrr=0)
    cov = np.zeros(n_items, bool)
    for u, g in disc.groupby("user"):
        sc = (score_fn(u) + tie).astype(np.float64)
        seen = ui[u].indices
        sc[seen] = -np.inf
        ranks = sorted(rank_of(sc, t) for t in g.item)
        acc["n"] += 1
        acc["hr10"] += ranks[0] < 10
        acc["hr20"] += ranks[0] < 20
        acc["mrr"] += 1 / (ranks[0] + 1) if ranks[0] < 20 else 0
        ideal = sum(1 / math.log2(k + 2) for k in range(min(len(ranks), 10)))
        acc["ndcg"] += sum(1 / math.log2(r + 2) for r in ranks if r < 10) / ideal
        cov[np.argsort(-sc, kind="stable")[:10]] = True
    n = max(acc["n"], 1)
    rows.append(dict(model=name, mode="discover", cases=acc["n"], hr10=acc["hr10"] / n, hr20=acc["hr20"] / n,
                     ndcg10=acc["ndcg"] / n, mrr20=acc["mrr"] / n, coverage=cov.sum() / catalogue))
    return rows


from implicit.cpu.als import AlternatingLeastSquares

als = AlternatingLeastSquares(factors=32, regularization=0.1, alpha=10.0, iterations=12,
                              calculate_training_loss=False, random_state=42, use_cg=True)
als.fit(ui, show_progress=False)
uf, itf = np.asarray(als.user_factors), np.asarray(als.item_factors)
prec = evaluate("popularity", lambda u: pop.copy())
prec += evaluate("implicit-als", lambda u: itf @ uf[u])

# ---------------------------------------------------------------- forecast
wfc = run(["forecast", "--logs", logs, "--eval", "--json", "--dump", f"{work}/fc"])
series = pd.read_csv(f"{work}/fc/series.csv")
folds = pd.read_csv(f"{work}/fc/folds.csv")
from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive

models = {"sf-snaive": lambda: SeasonalNaive(season_length=7),
          "sf-autoets": lambda: AutoETS(season_length=7),
          "sf-autotheta": lambda: AutoTheta(season_length=7)}
pfc = []
for h in sorted(folds.h.unique()):
    for name, mk in models.items():
        acc = []
        for _, f in folds[folds.h == h].iterrows():
            y = series[series.series == f.series].sort_values("t").y.to_numpy(float)
            o = int(f.origin)
            tr, te = y[:o], y[o:o + h]
            scale = np.mean(np.abs(tr[7:] - tr[:-7]))
            if scale <= 0:
                continue
            fc = mk().forecast(y=tr, h=int(h), level=[80, 95])
            m = fc["mean"]
            den = np.abs(te) + np.abs(m)
            smape = np.mean(np.where(den > 0, 200 * np.abs(te - m) / np.where(den > 0, den, 1), 0))
            acc.append(dict(mase=np.mean(np.abs(te - m)) / scale, smape=smape,
                            cov80=np.mean((te >= fc["lo-80"]) & (te <= fc["hi-80"])),
                            width80=np.mean(fc["hi-80"] - fc["lo-80"]),
                            cov95=np.mean((te >= fc["lo-95"]) & (te <= fc["hi-95"])),
                            width95=np.mean(fc["hi-95"] - fc["lo-95"])))
        d = pd.DataFrame(acc).mean()
        pfc.append(dict(model=name, h=int(h), folds=len(acc), **d.to_dict()))


# ---------------------------------------------------------------- print side by side
def table(rows, cols, fmt):
    lines = ["  ".join(f"{c:>9}" for c in cols)]
    for r in rows:
        lines.append("  ".join(fmt(c, r[c]) for c in cols))
    return lines


def f(c, v):
    return f"{v:>9}" if isinstance(v, str) or isinstance(v, (int, np.integer)) and c in ("cases", "h", "folds") else f"{v:>9.4f}"


def side(left, right, title_l, title_r):
    w = max(len(x) for x in left)
    print(f"{title_l:<{w}}   |   {title_r}")
    for k in range(max(len(left), len(right))):
        a = left[k] if k < len(left) else ""
        b = right[k] if k < len(right) else ""
        print(f"{a:<{w}}   |   {b}")
    print()


rc = ["model", "mode", "cases", "hr10", "hr20", "ndcg10", "mrr20", "coverage"]
side(table(wrec, rc, f), table(prec, rc, f), "weft recommend --eval", "peers (implicit, numpy popularity)")
fcc = ["model", "h", "folds", "mase", "smape", "cov80", "width80", "cov95", "width95"]
side(table(wfc, fcc, f), table(pfc, fcc, f), "weft forecast --eval", "peers (statsforecast, model intervals)")
