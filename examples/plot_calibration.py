"""
Calibration, spatial and temporal validation
============================================

``DistributedGR4`` calibrates a distributed GR4 model with ``fit`` and scores it with ``score``, on
*observation units* (one gauge over one period). The model always runs over the whole basin and the
whole window; the units only choose which observations enter the cost or the score. So the
scikit-learn machinery applies unchanged: ``cross_validate`` with a gauge splitter is a spatial
validation, with a period splitter a temporal one.

We calibrate a uniform model (gradient-free SBS) and a distributed one (L-BFGS-B with exact adjoint
gradients, starting from the uniform optimum) on the synthetic basin, then on hydro-smash's Cance
dataset when hydro-smash is installed. Run it with ``python examples/plot_calibration.py``; the figure
goes to ``examples/output/calibration.png``.
"""

# %%
# The synthetic basin as X, y
# ---------------------------
# 800 hourly steps from wet stores, a 100-step warm-up, then two periods: 4 gauges x 2 periods = 8
# units.
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files, open no window
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import cross_validate

import skhydro
from skhydro.estimators import DistributedGR4
from skhydro.model_selection import GaugeSplit, PeriodSplit

WET = {"hp": 0.5, "ht": 0.3}
basin = skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=800, initial_states=WET)
X, y = skhydro.make_units(basin.mesh, basin.forcings, basin.observed, periods=2, warmup=100)
print(X)
print(X.units)

uniform = DistributedGR4(mapping="uniform", optimizer="sbs", max_iter=15, init_states=WET)
distributed = DistributedGR4(mapping="distributed", optimizer="lbfgsb", max_iter=30, init_states=WET)


def two_stage(X, y, estimator_u, estimator_d):
    """Uniform calibration, then distributed calibration starting from its maps."""
    u = estimator_u.fit(X, y)
    d = estimator_d.set_params(init_parameters=u.parameters_).fit(X, y)
    return u, d


# %%
# Validation table
# ----------------
# Temporal: calibrate on period 0 of every gauge, validate on period 1. Spatial: calibrate on the two
# main-stem gauges, validate on the two others (over both periods). Scores are mean NSE and KGE over
# the validation units.
splits = {"temporal (period 0 -> 1)": PeriodSplit(train_periods=[0], test_periods=[1]),
          "spatial (SYN001, SYN002 -> SYN003, SYN004)": GaugeSplit(["SYN001", "SYN002"], ["SYN003", "SYN004"])}
rows = []
for label, cv in splits.items():
    for name, estimator in [("uniform SBS", uniform), ("distributed L-BFGS-B", distributed)]:
        scores = cross_validate(estimator, X, y, cv=cv, scoring=["nse", "kge"], return_train_score=True)
        rows.append(dict(validation=label, model=name,
                         NSE_cal=scores["train_nse"].mean(), NSE_val=scores["test_nse"].mean(),
                         KGE_cal=scores["train_kge"].mean(), KGE_val=scores["test_kge"].mean()))
table = pd.DataFrame(rows)
print("\nSynthetic basin (each distributed model starts from the registry defaults here):")
print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))

# %%
# Two-stage calibration on period 0 and the hydrographs
# ------------------------------------------------------
train = X.units["period"].to_numpy() == 0
u_model, d_model = two_stage(X[train], y[train], uniform, distributed)
true_run = skhydro.simulate(basin.mesh, basin.forcings, basin.structure, basin.true_parameters, WET).discharge
sim_u, sim_d = u_model.simulate(X), d_model.simulate(X)
print(f"\ntwo-stage, calibrated on period 0: NSE period 1 uniform {u_model.score(X[~train], y[~train]):.3f}, "
      f"distributed {d_model.score(X[~train], y[~train]):.3f}")

fig = plt.figure(figsize=(13, 8), layout="constrained")
grid = fig.add_gridspec(2, 3)
split_time = X.units.loc[~train, "start"].iloc[0]
for k, code in enumerate(["SYN001", "SYN003"]):
    ax = fig.add_subplot(grid[k, :2])
    ax.plot(basin.observed.index, basin.observed[code], "k.", ms=2, label="observed")
    ax.plot(sim_u.index, sim_u[code], label="uniform")
    ax.plot(sim_d.index, sim_d[code], label="distributed")
    ax.plot(true_run.index, true_run[code], "--", lw=0.8, label="true parameters")
    ax.axvline(split_time, color="grey", lw=1)
    ax.set_title(f"{code}: calibration | validation")
    ax.set_ylabel("m³/s")
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.legend(loc="upper right", fontsize=8)
for k, (title, values) in enumerate([("true ct (mm)", basin.true_parameters["ct"]),
                                     ("distributed ct (mm)", d_model.parameters_["ct"])]):
    ax = fig.add_subplot(grid[k, 2])
    image = ax.imshow(np.where(basin.mesh.active, values, np.nan), cmap="viridis")
    ax.set_title(title)
    ax.set_axis_off()
    fig.colorbar(image, ax=ax, shrink=0.8)

# %%
# Cance (hydro-smash's dataset), when hydro-smash is installed
# ------------------------------------------------------------
try:
    import smash
except ImportError:  # the rest of the example needs hydro-smash's data
    smash = None
if smash is not None:
    setup, mesh_dict = smash.factory.load_dataset("Cance")
    model = smash.Model(dict(setup, routing_module="kw"), mesh_dict)
    m = model.mesh
    gauges = [dict(code=str(c), row=int(r), col=int(cc)) for c, (r, cc) in zip(m.code, m.gauge_pos)]
    cance_mesh = skhydro.Mesh.from_flow_directions(np.array(m.flwdir), dx=np.array(m.dx), dy=np.array(m.dy),
                                                   gauges=gauges)
    prcp, pet = (np.moveaxis(np.array(a, dtype=float), -1, 0) for a in (model.atmos_data.prcp, model.atmos_data.pet))
    prcp[prcp < 0] = np.nan
    pet[pet < 0] = np.nan
    cance_forcings = skhydro.Forcings(prcp, pet, dt=int(model.setup.dt), start=str(model.setup.start_time))
    q = np.array(model.response_data.q, dtype=float).T
    observed = pd.DataFrame(np.where(q < 0, np.nan, q), index=cance_forcings.index, columns=cance_mesh.gauge_codes)
    Xc, yc = skhydro.make_units(cance_mesh, cance_forcings, observed, periods=2, warmup=24 * 7)
    rows = []
    for label, cv in {"temporal": PeriodSplit(train_periods=[0], test_periods=[1]),
                      "spatial (outlet -> upstream)": GaugeSplit([cance_mesh.gauge_codes[0]],
                                                                 cance_mesh.gauge_codes[1:])}.items():
        for name, estimator in [("uniform SBS", DistributedGR4(mapping="uniform", optimizer="sbs", max_iter=10)),
                                ("distributed L-BFGS-B", DistributedGR4(mapping="distributed", max_iter=20))]:
            scores = cross_validate(estimator, Xc, yc, cv=cv, scoring=["nse", "kge"], return_train_score=True)
            rows.append(dict(validation=label, model=name,
                             NSE_cal=scores["train_nse"].mean(), NSE_val=scores["test_nse"].mean(),
                             KGE_cal=scores["train_kge"].mean(), KGE_val=scores["test_kge"].mean()))
    print("\nCance (zero-gr4-kw):")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))

output = Path(__file__).resolve().parent / "output"
output.mkdir(exist_ok=True)
fig.savefig(output / "calibration.png", dpi=110)
print(f"\nfigure: {output / 'calibration.png'}")
