"""statsforecast AutoETS / AutoTheta (and SeasonalNaive) on the folds `weft forecast --eval
--dump DIR` wrote (series.csv: series,t,y; folds.csv: series,h,origin). Each fold refits on
y[:origin] and forecasts h days with the models' own 80 %/95 % intervals. Writes one CSV,
`model,series,h,origin,step,mean,lo80,hi80,lo95,hi95`, that `weft forecast --eval --peer OUT`
scores with weft's own metric code (so the comparison needs no Python afterwards).

Usage: statsforecast_folds.py DIR OUT.csv
"""
import sys

import numpy as np
import pandas as pd
from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive

d, out = sys.argv[1], sys.argv[2]
series = pd.read_csv(f"{d}/series.csv")
folds = pd.read_csv(f"{d}/folds.csv")
ys = {k: g.sort_values("t").y.to_numpy(float) for k, g in series.groupby("series")}
models = {
    "sf-snaive": lambda: SeasonalNaive(season_length=7),
    "sf-autoets": lambda: AutoETS(season_length=7),
    "sf-autotheta": lambda: AutoTheta(season_length=7),
}
lines = ["model,series,h,origin,step,mean,lo80,hi80,lo95,hi95"]
for name, mk in models.items():
    for _, f in folds.sort_values(["series", "h", "origin"]).iterrows():
        k, h, o = int(f.series), int(f.h), int(f.origin)
        fc = mk().forecast(y=ys[k][:o], h=h, level=[80, 95])
        for j in range(h):
            v = [fc["mean"][j], fc["lo-80"][j], fc["hi-80"][j], fc["lo-95"][j], fc["hi-95"][j]]
            lines.append(f"{name},{k},{h},{o},{j}," + ",".join(f"{float(x):.6g}" for x in v))
with open(out, "w") as fh:
    fh.write("\n".join(lines) + "\n")
print(f"wrote {len(lines) - 1} rows to {out}", file=sys.stderr)
