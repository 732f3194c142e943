"""
A synthetic basin with known parameters
=======================================

``skhydro.datasets.make_synthetic_basin`` builds a small gauged basin from a random seed: a terrain model
and its D8 flow directions, four nested gauges, hourly moving storms and PET, physiographic descriptors,
and parameter maps made from the descriptors by a known law. Its "observed" discharge was simulated with
those true parameters, then made noisy and gappy.

Here we simulate the basin twice, with the registry's default (uniform) parameters and with the true
parameter maps, and score both against the observations with the Nash-Sutcliffe efficiency (NSE).
Run it with ``python examples/plot_synthetic_basin.py``; the figure goes to
``examples/output/synthetic_basin.png``.
"""

# %%
# Build the basin
# ---------------
# The same ``random_state`` always gives the same basin.
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files, open no window
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np

import skhydro
from skhydro.datasets import make_synthetic_basin

basin = make_synthetic_basin(random_state=0)
mesh, forcings = basin.mesh, basin.forcings
print(basin)
print(mesh.gauges[["row", "col", "area_dln"]])

# %%
# Simulate with default and with true parameters
# ----------------------------------------------
# Parameters left out take the registry defaults (``ci`` is adjusted to the forcings in both runs).
default_run = skhydro.simulate(mesh, forcings, basin.structure)
true_run = skhydro.simulate(mesh, forcings, basin.structure, parameters=basin.true_parameters)

# %%
# Score the simulations
# ---------------------
# NSE = 1 - sum((sim - obs)^2) / sum((obs - mean(obs))^2), over the steps where the observation exists.
# The true parameters do not reach NSE = 1 because of the observation noise.


def nse(sim, obs):
    ok = ~np.isnan(obs)
    sim, obs = sim[ok], obs[ok]
    return 1.0 - np.sum((sim - obs) ** 2) / np.sum((obs - obs.mean()) ** 2)


observed = basin.observed
print(f"\n{'gauge':8s} {'area km2':>9s} {'NSE default':>12s} {'NSE true':>9s} {'missing':>8s}")
for code in mesh.gauge_codes:
    obs = observed[code].to_numpy()
    print(f"{code:8s} {mesh.gauges.area_dln[code]:9.0f} "
          f"{nse(default_run.discharge[code].to_numpy(), obs):12.3f} "
          f"{nse(true_run.discharge[code].to_numpy(), obs):9.3f} {np.isnan(obs).sum():8d}")

# %%
# Plot the hydrographs and the flow network
# -----------------------------------------
# Left: the drained area of every cell (log scale), the active cells (the outlet's upstream area)
# and the gauges. Right: basin rainfall and the hydrographs at each gauge.
codes = mesh.gauge_codes
fig = plt.figure(figsize=(13, 8), layout="constrained")
grid = fig.add_gridspec(len(codes) + 1, 2, width_ratios=[1, 1.8], height_ratios=[0.6] + [1] * len(codes))

ax_map = fig.add_subplot(grid[:, 0])
left, top = mesh.transform.c / 1e3, mesh.transform.f / 1e3
nrow, ncol = mesh.shape
extent = (left, left + ncol, top - nrow, top)  # km
acc = np.ma.masked_where(~mesh.active, mesh.flow_accumulation_cells)
image = ax_map.imshow(np.log10(acc), extent=extent, cmap="Blues")
ax_map.contour(mesh.active, levels=[0.5], colors="k", linewidths=0.8,
               extent=(left, left + ncol, top, top - nrow), origin="upper")
for code, gauge in mesh.gauges.iterrows():
    x, y = left + gauge.col + 0.5, top - gauge.row - 0.5
    ax_map.plot(x, y, "o", color="tab:red", markersize=7, markeredgecolor="k")
    ax_map.annotate(code, (x, y), xytext=(5, 5), textcoords="offset points", fontsize=9, color="tab:red",
                    fontweight="bold")
fig.colorbar(image, ax=ax_map, shrink=0.6, label="log10 drained cells (1 km²)")
ax_map.set(title=f"Flow accumulation, {mesh.n_active} active cells", xlabel="x (km)", ylabel="y (km)")

ax_rain = fig.add_subplot(grid[0, 1])
rain = mesh.to_vector(forcings.prcp).mean(axis=1)
ax_rain.bar(forcings.index, rain, width=1 / 24, color="tab:blue")
ax_rain.invert_yaxis()
ax_rain.set(ylabel="rain\n(mm/h)", title="Basin-average rainfall and discharge at the gauges")
ax_rain.tick_params(labelbottom=False)
locator = mdates.AutoDateLocator()
ax_rain.xaxis.set_major_locator(locator)
ax_rain.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))

for i, code in enumerate(codes):
    ax = fig.add_subplot(grid[i + 1, 1], sharex=ax_rain)
    ax.plot(observed.index, observed[code], color="k", lw=1.2, label="observed")
    ax.plot(true_run.discharge.index, true_run.discharge[code], color="tab:green", lw=0.9, label="true parameters")
    ax.plot(default_run.discharge.index, default_run.discharge[code], color="tab:orange", lw=0.9,
            label="default parameters")
    ax.set_ylabel(f"{code}\n(m³/s)")
    if i < len(codes) - 1:
        ax.tick_params(labelbottom=False)
    if i == 0:
        ax.legend(loc="upper left", fontsize=8, ncols=3)

output = Path(__file__).resolve().parent / "output"
output.mkdir(exist_ok=True)
fig.savefig(output / "synthetic_basin.png", dpi=110)
print(f"\nsaved {output / 'synthetic_basin.png'}")
