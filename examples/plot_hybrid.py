"""
Hybrid physics-AI: a neural network that corrects GR's internal fluxes
======================================================================

A small network φ1 (4 inputs, 16 Leaky ReLU units, 4 tanh outputs) runs inside the time loop, at every
cell and step. From the states at the start of the step and the net rain and PET it gives four
corrections in ]-1, 1[: of the infiltration into the production store (f1), of its evaporation (f2), of
the split of the runoff between the transfer store and the direct branch (f3, mass-conserving) and of
the groundwater exchange (f4). ``HybridFluxCorrector`` trains φ1 jointly with the GR parameters through
the model's exact adjoint.

We compare four models, as in the hybrid-modelling article: classical GR with spatially uniform (GR.U)
or distributed (GR.D) parameters, and the hybrid GRNN.U and GRNN.D. Each is calibrated on the first
period and validated on the second (temporal validation), on two basins:

* hydro-smash's Cance dataset (hourly, three nested gauges), when hydro-smash is installed;
* the embedded synthetic basin, whose observations come from plain GR4 with known distributed maps (no
  structural error for the network to correct: it shows what the hybrid does when GR is right).

The distributed and hybrid models start from the GR.U calibration. Run it with
``python examples/plot_hybrid.py``; the figure goes to ``examples/output/hybrid.png``.
"""

# %%
# Two basins as observation units
# -------------------------------
import contextlib
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files, open no window
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import skhydro
from skhydro.estimators import DistributedModel, HybridFluxCorrector
from skhydro.model_selection import PeriodSplit


def cance():
    """Cance from hydro-smash's bundled data: mesh, forcings, observations and the adjusted ci."""
    try:
        import smash
    except ImportError:
        print("hydro-smash is not installed: Cance is skipped (pip install hydro-smash==1.3.0)")
        return None
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        setup, mesh_dict = smash.factory.load_dataset("Cance")
        model = smash.Model(setup, mesh_dict)
    m = model.mesh
    gauges = [dict(code=str(c), row=int(r), col=int(k)) for c, (r, k) in zip(m.code, m.gauge_pos)]
    mesh = skhydro.Mesh.from_flow_directions(np.array(m.flwdir), dx=np.array(m.dx), dy=np.array(m.dy),
                                             gauges=gauges)
    fields = []
    for arr in (model.atmos_data.prcp, model.atmos_data.pet):
        a = np.moveaxis(np.array(arr, dtype=np.float64), -1, 0)
        a[a < 0] = np.nan
        fields.append(a)
    forcings = skhydro.Forcings(*fields, dt=int(model.setup.dt), start=str(model.setup.start_time))
    q = np.array(model.response_data.q, dtype=np.float64).T
    q[q < 0] = np.nan
    observed = pd.DataFrame(q, index=forcings.index, columns=[g["code"] for g in gauges])
    X, y = skhydro.make_units(mesh, forcings, observed, periods=2, warmup=24 * 7)
    return X, y, "zero-gr4-lr", {}


def synthetic():
    wet = {"hp": 0.5, "ht": 0.3}
    basin = skhydro.datasets.make_synthetic_basin(random_state=1, n_steps=1200, initial_states=wet)
    X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=2, warmup=100)
    return X, y, basin.structure, wet


basins = {"synthetic": synthetic()}
data = cance()
if data is not None:
    basins = {"Cance": data, **basins}

# %%
# Calibration and temporal validation
# -----------------------------------
split = PeriodSplit(train_periods=[0], test_periods=[1])
rows, fitted = [], {}
for basin, (X, y, structure, states) in basins.items():
    (train, test), = split.split(X, y)
    hybrid = structure.replace("-gr4-", "-gr4_mlp-")
    gr_u = DistributedModel(structure, optimizer="lbfgsb", max_iter=60, init_states=states).fit(X[train], y[train])
    start = dict(init_parameters=gr_u.parameters_, init_states=states)
    models = {
        "GR.U": gr_u,
        "GR.D": DistributedModel(structure, mapping="distributed", max_iter=60, **start),
        "GRNN.U": HybridFluxCorrector(hybrid, max_iter=100, random_state=0, **start),
        "GRNN.D": HybridFluxCorrector(hybrid, mapping="distributed", max_iter=100, random_state=0, **start),
    }
    for name, est in models.items():
        if name != "GR.U":
            est.fit(X[train], y[train])
        row = dict(basin=basin, model=name)
        for part, idx in (("cal", train), ("val", test)):
            row[f"NSE_{part}"] = est.set_params(scoring="nse").score(X[idx], y[idx])
            row[f"KGE_{part}"] = est.set_params(scoring="kge").score(X[idx], y[idx])
        rows.append(row)
        fitted[basin, name] = est
table = pd.DataFrame(rows)[["basin", "model", "NSE_cal", "NSE_val", "KGE_cal", "KGE_val"]]
print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))

# %%
# What the network learnt
# -----------------------
# The corrections averaged over the catchment of the outlet, step by step, and the infiltration they
# give beside the one the same parameters give without correction.
basin = next(iter(basins))
X, y, _, _ = basins[basin]
grnn = fitted[basin, "GRNN.U"]
outlet = X.mesh.gauge_codes[0]
series = grnn.correction_series(X, gauge=outlet)
print(f"\nGRNN.U on {basin}: mean corrections over the window\n{series.mean().round(3).to_string()}")
corrected = grnn.simulate_fluxes(X)
original = grnn.simulate_fluxes(X, corrected=False)
ps = pd.DataFrame({"original ps": np.nanmean(original["ps"], axis=(1, 2)),
                   "corrected ps": np.nanmean(corrected["ps"], axis=(1, 2))}, index=X.forcings.index)

fig, axes = plt.subplots(3, 1, figsize=(11, 8), sharex=True)
q = grnn.simulate(X)[outlet]
observed = y.observed[outlet].where(y.observed[outlet] >= 0)
axes[0].plot(observed.index, observed.values, "k", lw=0.8, label="observed")
axes[0].plot(q.index, q.values, "C3", lw=0.8, label="GRNN.U")
axes[0].plot(q.index, fitted[basin, "GR.U"].simulate(X)[outlet].values, "C0", lw=0.8, label="GR.U")
axes[0].set_ylabel("discharge (m³/s)")
axes[0].legend(fontsize=8)
# matplotlib's own date axis in every panel (pandas' .plot would use another unit on a shared axis)
for column, label in zip(series, ["f1 infiltration", "f2 evaporation", "f3 split", "f4 exchange"]):
    axes[1].plot(series.index, series[column].values, lw=0.8, label=label)
axes[1].set_ylabel(f"corrections over {outlet}")
axes[1].legend(fontsize=8, ncol=4)
for column in ps:
    axes[2].plot(ps.index, ps[column].values, lw=0.8, label=column)
axes[2].set_ylabel("mean infiltration ps (mm/step)")
axes[2].legend(fontsize=8)
fig.tight_layout()
out = Path(__file__).resolve().parent / "output"
out.mkdir(exist_ok=True)
fig.savefig(out / "hybrid.png", dpi=120)
print(f"\nfigure: {out / 'hybrid.png'}")
