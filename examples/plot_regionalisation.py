"""
Regionalisation on the Lez: uniform, multi-linear and neural-network mappings
=============================================================================

A regionalisation mapping learns the parameter maps of a distributed model as a function of physical
descriptors (slope, drainage density, karst, woodland, urban cover, soil water storage), through the
model's exact gradient. Learnt on some gauges, the maps cover every cell, so they can be validated on
gauges never seen in calibration (spatial validation) and on another period (temporal validation).

We compare on hydro-smash's Lez dataset (daily steps, three nested gauges, six descriptors):

* a spatially uniform parameter set (``DistributedModel``, L-BFGS-B);
* a multi-linear mapping (``RegionalModel``, L-BFGS-B);
* the neural-network mapping of the HDA-PR method (``RegionalANNMapping``, Adam).

Spatial validation leaves one gauge out at a time (``GaugeKFold``), temporal validation calibrates on
the first half of the year and validates on the second (``PeriodSplit``). As in the HDA-PR method, the
multi-linear mapping starts from the uniform calibration of the same training units (its first guess is
then that uniform set); the network starts from its random initialisation. The example needs hydro-smash
(for its data) and stops politely without it. Run it with ``python examples/plot_regionalisation.py``;
the figure goes to ``examples/output/regionalisation.png``.
"""

# %%
# Lez as observation units with descriptors
# -----------------------------------------
import contextlib
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files, open no window
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import clone

import skhydro
from skhydro.estimators import DistributedModel, RegionalANNMapping, RegionalModel
from skhydro.model_selection import GaugeKFold, PeriodSplit

try:
    import smash
except ImportError:
    print("hydro-smash is not installed: this example uses its Lez dataset (pip install hydro-smash==1.3.0)")
    sys.exit(0)

with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    setup, mesh_dict = smash.factory.load_dataset("Lez")
    model = smash.Model(setup, mesh_dict)
m = model.mesh
gauges = [dict(code=str(c), row=int(r), col=int(k)) for c, (r, k) in zip(m.code, m.gauge_pos)]
mesh = skhydro.Mesh.from_flow_directions(np.array(m.flwdir), dx=np.array(m.dx), dy=np.array(m.dy), gauges=gauges)
fields = []
for arr in (model.atmos_data.prcp, model.atmos_data.pet):
    a = np.moveaxis(np.array(arr, dtype=np.float64), -1, 0)
    a[a < 0] = np.nan
    fields.append(a)
forcings = skhydro.Forcings(*fields, dt=int(model.setup.dt), start=str(model.setup.start_time))
q = np.array(model.response_data.q, dtype=np.float64).T
q[q < 0] = np.nan
observed = pd.DataFrame(q, index=forcings.index, columns=[g["code"] for g in gauges])
raw = np.array(model.physio_data.descriptor, dtype=np.float64)
descriptors = {name: raw[..., i] for i, name in enumerate(setup["descriptor_name"])}
X, y = skhydro.make_units(mesh, forcings, observed, descriptors, periods=2, warmup=60)
print(X)
print("descriptors:", list(descriptors))

params = ["cp", "ct", "kexc", "llr"]
models = {
    "uniform": DistributedModel("zero-gr4-lr", mapping="uniform", optimizer="lbfgsb", max_iter=40, parameters=params),
    "multi-linear": RegionalModel("zero-gr4-lr", mapping="multi-linear", max_iter=60, parameters=params),
    "ANN": RegionalANNMapping("zero-gr4-lr", max_iter=200, learning_rate=0.005, parameters=params, random_state=0),
}

# %%
# Validation table
# ----------------
splits = {"spatial (leave one gauge out)": GaugeKFold(n_splits=3),
          "temporal (period 0 -> 1)": PeriodSplit(train_periods=[0], test_periods=[1])}
rows = []
for label, cv in splits.items():
    scores = {name: {k: [] for k in ("NSE_cal", "NSE_val", "KGE_cal", "KGE_val")} for name in models}
    for train, test in cv.split(X, y):
        fitted = {"uniform": clone(models["uniform"]).fit(X[train], y[train])}
        fitted["multi-linear"] = clone(models["multi-linear"]).set_params(
            init_parameters=fitted["uniform"].parameters_).fit(X[train], y[train])
        fitted["ANN"] = clone(models["ANN"]).fit(X[train], y[train])
        for name, est in fitted.items():
            for part, idx in (("cal", train), ("val", test)):
                scores[name][f"NSE_{part}"].append(est.set_params(scoring="nse").score(X[idx], y[idx]))
                scores[name][f"KGE_{part}"].append(est.set_params(scoring="kge").score(X[idx], y[idx]))
    rows += [dict(validation=label, model=name, **{k: np.mean(v) for k, v in s.items()}) for name, s in scores.items()]
table = pd.DataFrame(rows)
print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))

# %%
# Learnt maps and how they use the descriptors
# --------------------------------------------
ann = models["ANN"].fit(X, y)
print("\nANN mapping, correlation of each descriptor with each learnt map:")
print(ann.descriptor_correlations_.round(2).to_string())

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, name in zip(axes[:2], ("cp", "ct")):
    im = ax.imshow(np.where(mesh.active, ann.parameters_[name], np.nan))
    ax.set_title(f"ANN-learnt {name} (mm)")
    fig.colorbar(im, ax=ax, shrink=0.8)
pivot = table.pivot(index="model", columns="validation", values="NSE_val").loc[list(models)]
pivot.plot.bar(ax=axes[2], rot=0)
axes[2].set_ylabel("mean NSE in validation")
axes[2].legend(fontsize=7)
fig.tight_layout()
out = Path(__file__).resolve().parent / "output"
out.mkdir(exist_ok=True)
fig.savefig(out / "regionalisation.png", dpi=120)
print(f"\nfigure: {out / 'regionalisation.png'}")
