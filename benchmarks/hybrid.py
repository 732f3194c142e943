"""Hybrid flux correction (gr4_mlp): seconds per training iteration, skhydro beside hydro-smash 1.3.0, in one run.

Usage: python benchmarks/hybrid.py [--dataset Cance] [--iterations 2 6] [--repeat 3] [--threads 1] [--smash-only]

Both libraries train the structure ``zero-gr4_mlp-lr`` (GR4 whose production, evaporation, routing split and
exchange are corrected by a network (hp, ht, pn, en) -> Dense 16, SiLU -> Dense 4, tanh; 148 weights) with
the uniform mapping and Adam, calibrating cp, ct, kexc, llr and every network weight, ``ci`` fixed at the
dataset's value:

* hydro-smash: ``smash.optimize(model, mapping="uniform", optimizer="adam", optimize_options={
  "termination_crit": {"maxiter": n}})`` (cost at its default gauge, the most downstream one; Adam's
  early stopping is off by default, so every call runs its n iterations). The network starts from
  ``set_nn_parameters_weight(initializer="glorot_uniform", random_state=0)``: from smash's all-zero
  default only the output bias would ever train (the hidden SiLU units stay at silu(0) = 0, so no other
  weight gets a gradient). The cost of an iteration does not depend on the weights' values;
* skhydro: ``HybridFluxCorrector(structure, mapping="uniform", optimizer="adam", max_iter=n,
  activation="silu").fit(X, y)`` (the reference's network, SiLU hidden units, rather than the estimator's
  default Leaky ReLU, which is cheaper) on the units of every gauge (one period), with the same forcings
  and ``ci``.

A training call also holds fixed costs (set-up, the final forward run), so the time of one iteration is
taken as the slope between two iteration budgets: (t(n2) - t(n1)) / (n2 - n1), each t the best of
``--repeat`` calls (the libraries' calls interleaved round by round). ``--smash-only`` times hydro-smash
alone and does not import skhydro.
"""
import argparse
import contextlib
import math
import os
import time

import numpy as np
import pandas as pd

STRUCTURE = "zero-gr4_mlp-lr"


@contextlib.contextmanager
def quiet():
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), contextlib.redirect_stderr(devnull):
        yield


def build_smash(name):
    """The dataset's smash model with the gr4_mlp module and a Glorot-initialised network."""
    import smash

    with quiet():
        setup, mesh_dict = smash.factory.load_dataset(name)
        setup["hydrological_module"] = "gr4_mlp"
        setup["routing_module"] = "lr"
        setup["read_descriptor"] = False
        model = smash.Model(setup, mesh_dict)
    model.set_nn_parameters_weight(initializer="glorot_uniform", random_state=0)
    model.set_nn_parameters_bias(initializer="zeros")
    return model


def build_units(model):
    """skhydro units (every gauge, one period) on the smash model's inputs, and its ``ci`` map."""
    import skhydro
    from _smash_inputs import skhydro_inputs

    mesh, forcings, params = skhydro_inputs(model)
    codes = [str(c) for c in model.mesh.code]
    q = np.array(model.response_data.q, dtype=np.float64).T
    q[q < 0] = np.nan
    observed = pd.DataFrame(q, index=forcings.index, columns=codes)
    X, y = skhydro.make_units(mesh, forcings, observed)
    return X, y, params["ci"]


def smash_fit(model, n, threads):
    """n Adam iterations of hydro-smash's uniform calibration of ``model`` (left unchanged)."""
    import smash

    with quiet():
        return smash.optimize(model, mapping="uniform", optimizer="adam",
                              optimize_options={"termination_crit": {"maxiter": n}},
                              common_options={"ncpu": threads, "verbose": False})


def skhydro_fit(X, y, n, threads, ci):
    """n Adam iterations of skhydro's hybrid estimator on the units ``X, y``."""
    from skhydro.estimators import HybridFluxCorrector

    return HybridFluxCorrector(structure=STRUCTURE, mapping="uniform", optimizer="adam", max_iter=n,
                               activation="silu", init_parameters={"ci": ci}, num_threads=threads).fit(X, y)


def measure(calls, repeat):
    """Best wall time of each call over ``repeat`` rounds (one untimed warm-up round first).

    ``calls`` maps a key to a function of no argument; the calls are interleaved round by round.
    """
    for fn in calls.values():
        fn()
    best = {k: math.inf for k in calls}
    for _ in range(repeat):
        for k, fn in calls.items():
            time.sleep(0.1)  # the other library's idle OpenMP threads stop spinning
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="Cance")
    parser.add_argument("--iterations", nargs=2, type=int, default=[2, 6])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--smash-only", action="store_true", help="time hydro-smash alone (no skhydro import)")
    args = parser.parse_args()

    model = build_smash(args.dataset)
    n1, n2 = args.iterations
    libs = ["smash"] if args.smash_only else ["skhydro", "smash"]
    calls = {("smash", n): (lambda n=n: smash_fit(model, n, args.threads)) for n in (n1, n2)}
    if not args.smash_only:
        X, y, ci = build_units(model)
        calls.update({("skhydro", n): (lambda n=n: skhydro_fit(X, y, n, args.threads, ci)) for n in (n1, n2)})
    best = measure(calls, args.repeat)
    per_it = {lib: (best[lib, n2] - best[lib, n1]) / (n2 - n1) for lib in libs}

    layers = [w.shape for w in model.get_nn_parameters_weight()]
    n_weights = sum(int(np.prod(s)) + s[0] for s in layers)
    sizes = [layers[0][1]] + [s[0] for s in layers]
    n_active = int(np.sum(np.array(model.mesh.active_cell) == 1))
    print(f"Hybrid flux correction, {args.dataset} ({STRUCTURE}, uniform mapping, Adam; {n_active} cells, "
          f"{int(model.setup.ntime_step)} steps, network {sizes}, {n_weights} weights), {args.threads} thread(s)")
    print(f"{'library':8} | {f't({n1} its) s':>12} {f't({n2} its) s':>12} | {'s / iteration':>13}")
    for lib in libs:
        print(f"{lib:8} | {best[lib, n1]:>12.4f} {best[lib, n2]:>12.4f} | {per_it[lib]:>13.4f}")
    if not args.smash_only:
        print(f"ratio (smash / skhydro, per iteration): {per_it['smash'] / per_it['skhydro']:.1f}")


if __name__ == "__main__":
    main()
