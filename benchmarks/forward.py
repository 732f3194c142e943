"""Forward-run throughput: skhydro beside hydro-smash 1.3.0 on the same data, in one run.

Usage: python benchmarks/forward.py [--datasets Cance France] [--repeat 5]

Both models get identical inputs (forcings, parameters with the adjusted ci, mesh) read from the
hydro-smash model. Times are the best of ``--repeat`` calls of the public entry points
(``skhydro.simulate`` and ``smash.Model.forward_run``), so skhydro's time includes its Python wrapper.
Throughput is in cell-steps per second (active cells x time steps).
"""
import argparse

import numpy as np

import skhydro
from _smash_inputs import skhydro_inputs
from _timing import best_time




def main():
    import smash

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["Cance", "France"])
    parser.add_argument("--structures", nargs="+", default=None,
                        help="default: zero-gr4-kw for gauged datasets and the dataset default for France")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rows = []
    for name in args.datasets:
        setup, mesh_dict = smash.factory.load_dataset(name)
        structures = args.structures or (["zero-gr4-lr"] if name == "France" else ["zero-gr4-kw"])
        for structure in structures:
            _, hydro, routing = structure.split("-")
            setup = dict(setup, hydrological_module=hydro, routing_module=routing)
            model = smash.Model(setup, mesh_dict)
            mesh, forcings, params = skhydro_inputs(model)
            cell_steps = mesh.n_active * forcings.ntime
            repeat = max(2, args.repeat // 2) if cell_steps > 5e6 else args.repeat
            for nt in args.threads:
                ours = best_time(lambda: skhydro.simulate(mesh, forcings, structure, params, num_threads=nt),
                                 repeat)
                ref = best_time(lambda: model.forward_run(common_options={"verbose": False, "ncpu": nt}), repeat)
                rows.append((name, structure, nt, mesh.n_active, forcings.ntime, ours, ref))
            if mesh.gauge_codes:  # same answer on the same inputs
                q = skhydro.simulate(mesh, forcings, structure, params).discharge.to_numpy().T
                model.forward_run(common_options={"verbose": False, "ncpu": 1})
                qref = np.asarray(model.response.q)
                err = (np.abs(q - qref).max(axis=1) / np.abs(qref).max(axis=1)).max()
                print(f"{name} {structure}: max relative gauge difference vs hydro-smash {err:.2e}")

    head = (f"{'dataset':8} {'structure':12} {'thr':>3} {'cells':>8} {'steps':>6} {'skhydro s':>10} "
            f"{'smash s':>9} {'skhydro Mcs/s':>13} {'smash Mcs/s':>11} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for name, structure, nt, nac, ntime, ours, ref in rows:
        cs = nac * ntime
        print(f"{name:8} {structure:12} {nt:>3} {nac:>8} {ntime:>6} {ours:>10.4f} {ref:>9.4f} "
              f"{cs / ours / 1e6:>13.1f} {cs / ref / 1e6:>11.1f} {ref / ours:>6.2f}")
    print("ratio = hydro-smash time / skhydro time (higher is better for skhydro)")


if __name__ == "__main__":
    main()
