"""ANN regionalisation: seconds per training iteration, skhydro beside hydro-smash 1.3.0, in one run.

Usage: python benchmarks/regionalisation.py [--dataset Lez] [--iterations 2 8] [--repeat 3] [--threads 1]

Both libraries train the reference's default network (descriptors -> Dense 3nd, ReLU -> Dense
round(sqrt(nd ncv) ln(nrow ncol)), ReLU -> Dense 3 ncv, ReLU -> Dense ncv, tanh -> scaled to the bounds)
with Adam from ``random_state=0`` on the dataset's descriptors (standardised), calibrating every
parameter of its structure but ``ci`` (Lez: zero-gr4-lr, cp, ct, kexc, llr):

* hydro-smash: ``smash.optimize(model, mapping="ann", optimize_options={"random_state": 0,
  "termination_crit": {"maxiter": n}})`` (cost at its default gauge, the most downstream one);
* skhydro: ``RegionalANNMapping(structure, max_iter=n, random_state=0).fit(X, y)`` on the units of
  every gauge (one period), with the same descriptors, forcings and ``ci``.

A training call also holds fixed costs (set-up, first gradient, the final forward run), so the time of
one iteration is taken as the slope between two iteration budgets: (t(n2) - t(n1)) / (n2 - n1), each
t the best of ``--repeat`` calls (the libraries' calls interleaved round by round).
"""
import argparse
import contextlib
import math
import os
import time

import numpy as np
import pandas as pd

import skhydro
from _smash_inputs import skhydro_inputs
from skhydro.estimators import RegionalANNMapping


@contextlib.contextmanager
def quiet():
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), contextlib.redirect_stderr(devnull):
        yield


def build(name):
    import smash

    with quiet():
        setup, mesh_dict = smash.factory.load_dataset(name)
        model = smash.Model(setup, mesh_dict)
    mesh, forcings, params = skhydro_inputs(model)
    codes = [str(c) for c in model.mesh.code]
    q = np.array(model.response_data.q, dtype=np.float64).T
    q[q < 0] = np.nan
    observed = pd.DataFrame(q, index=forcings.index, columns=codes)
    raw = np.array(model.physio_data.descriptor, dtype=np.float64)  # (nrow, ncol, nd)
    descriptors = {n: raw[..., i] for i, n in enumerate(setup["descriptor_name"])}
    X, y = skhydro.make_units(mesh, forcings, observed, descriptors)
    structure = str(model.setup.structure)
    return model, X, y, structure, {"ci": params["ci"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="Lez")
    parser.add_argument("--iterations", nargs=2, type=int, default=[2, 8])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import smash

    model, X, y, structure, fixed = build(args.dataset)
    n1, n2 = args.iterations

    def smash_fit(n):
        with quiet():
            smash.optimize(model, mapping="ann",
                           optimize_options={"random_state": 0, "termination_crit": {"maxiter": n}},
                           common_options={"ncpu": args.threads, "verbose": False})

    def our_fit(n):
        return RegionalANNMapping(structure, max_iter=n, random_state=0, init_parameters=fixed,
                                  num_threads=args.threads).fit(X, y)

    calls = {("smash", n1): lambda: smash_fit(n1), ("smash", n2): lambda: smash_fit(n2),
             ("skhydro", n1): lambda: our_fit(n1), ("skhydro", n2): lambda: our_fit(n2)}
    for fn in calls.values():  # warm-up
        fn()
    best = {k: math.inf for k in calls}
    for _ in range(args.repeat):
        for k, fn in calls.items():
            time.sleep(0.1)  # the other library's idle OpenMP threads stop spinning
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    per_it = {lib: (best[lib, n2] - best[lib, n1]) / (n2 - n1) for lib in ("skhydro", "smash")}
    net = our_fit(n1).mapping_
    print(f"ANN regionalisation, {args.dataset} ({structure}, {X.mesh.n_active} cells, {X.forcings.ntime} steps, "
          f"{len(net.descriptors.T)} descriptors, network {net.layer_sizes}, {net.n_weights} weights), "
          f"{args.threads} thread(s)")
    print(f"{'library':8} | {f't({n1} its) s':>12} {f't({n2} its) s':>12} | {'s / iteration':>13}")
    for lib in ("skhydro", "smash"):
        print(f"{lib:8} | {best[lib, n1]:>12.4f} {best[lib, n2]:>12.4f} | {per_it[lib]:>13.4f}")
    print(f"ratio (smash / skhydro, per iteration): {per_it['smash'] / per_it['skhydro']:.1f}")


if __name__ == "__main__":
    main()
