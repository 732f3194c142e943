"""Distributed L-BFGS-B calibration: skhydro beside hydro-smash 1.3.0 on the same data, same budget.

Usage: python benchmarks/calibration.py [--dataset Cance] [--structure zero-gr4-kw] [--max-iter 50]

hydro-smash: ``smash.optimize(model, mapping="distributed", optimizer="lbfgsb",
optimize_options={"termination_crit": {"maxiter": N}})`` with its default cost (1 - NSE at the most
downstream gauge over the whole window), parameters (every rr parameter but ``ci``), bounds and
``normalize`` control transform. skhydro: ``DistributedGR4(structure, mapping="distributed",
optimizer="lbfgsb", max_iter=N)`` fitted on one observation unit (that gauge over the whole window), from
the same starting maps (hydro-smash's defaults and adjusted ``ci``). Both use SciPy's L-BFGS-B with the
same options; the cost and wall time of each are printed with their ratio.
"""
import argparse
import time

import numpy as np
import pandas as pd

import skhydro
from _smash_inputs import skhydro_inputs
from skhydro.estimators import DistributedGR4


def main():
    import smash

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="Cance")
    parser.add_argument("--structure", default="zero-gr4-kw")
    parser.add_argument("--max-iter", type=int, default=50)
    args = parser.parse_args()

    setup, mesh_dict = smash.factory.load_dataset(args.dataset)
    _, hydro, routing = args.structure.split("-")
    model = smash.Model(dict(setup, hydrological_module=hydro, routing_module=routing), mesh_dict)
    mesh, forcings, params = skhydro_inputs(model)
    q = np.array(model.response_data.q, dtype=np.float64).T
    q[q < 0] = np.nan
    observed = pd.DataFrame(q, index=forcings.index, columns=mesh.gauge_codes)
    outlet = mesh.gauge_codes[int(np.argmax(np.asarray(model.mesh.area)))]

    t = time.perf_counter()
    _, info = smash.optimize(model, mapping="distributed", optimizer="lbfgsb",
                             optimize_options={"termination_crit": {"maxiter": args.max_iter}},
                             common_options={"verbose": False, "ncpu": 1},
                             return_options={"cost": True, "n_iter": True})
    smash_time = time.perf_counter() - t

    X, y = skhydro.make_units(mesh, forcings, observed, gauges=[outlet])
    estimator = DistributedGR4(args.structure, mapping="distributed", optimizer="lbfgsb", max_iter=args.max_iter,
                               init_parameters=params, num_threads=1)
    t = time.perf_counter()
    estimator.fit(X, y)
    our_time = time.perf_counter() - t

    print(f"{args.dataset} {args.structure}, distributed L-BFGS-B, max_iter={args.max_iter}, gauge {outlet}, "
          f"{mesh.n_active} cells x {forcings.ntime} steps, 1 thread")
    print(f"{'':10} {'cost (1-NSE)':>13} {'iterations':>10} {'wall s':>8}")
    print(f"{'hydro-smash':10} {info.cost:>13.6f} {info.n_iter:>10d} {smash_time:>8.2f}")
    print(f"{'skhydro':10} {estimator.cost_:>13.6f} {estimator.n_iter_:>10d} {our_time:>8.2f}")
    print(f"speed-up (hydro-smash time / skhydro time): {smash_time / our_time:.1f}")


if __name__ == "__main__":
    main()
