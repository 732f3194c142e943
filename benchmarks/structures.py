"""Every hydrological module: forward and gradient, skhydro beside hydro-smash 1.3.0, in one run.

Usage: python benchmarks/structures.py [--dataset Cance] [--routing lr] [--modules gr4 gr5 ...]
                                       [--threads 1] [--repeat 5]

One row per hydrological module (structure ``zero-<module>-<routing>``, default routing ``lr``, the
dataset's own). The four calls of a row are those of ``gradient.py`` (identical inputs read from the
hydro-smash model; public entry points; best of ``--repeat`` interleaved rounds after a warm-up call):

* forward: ``skhydro.simulate`` and ``Model.forward_run``;
* gradient: ``skhydro.value_and_gradient`` (1 - NSE at the outlet, dJ/dx for every parameter and initial
  state map) and ``Model.backward_run(diff_target="j", mapping="distributed")`` (hydro-smash's Tapenade
  adjoint, every optimisable parameter map).

The ratios are hydro-smash's time over ours (higher is better for skhydro). A sanity check prints both
costs and the largest gradient difference on hydro-smash's control, ``kexc`` excluded: at the datasets'
default ``kexc = 0`` the cost has a kink (on dry steps the direct branch ``max(0, prd + l)`` switches on
with the sign of ``l``; the percolation keeps our ``prd`` at ~1e-13 where hydro-smash's float32 gives 0),
so ours is the derivative for ``kexc > 0`` and hydro-smash's the one for ``kexc < 0`` (checked with
one-sided differences). The snow module is left out: the datasets carry no temperature
(``test_parity_structures`` feeds both models a synthetic one instead).
"""
import argparse

from gradient import (build, gradient_difference, interleaved_best_times, our_forward, our_gradient,
                      smash_forward, smash_gradient)

MODULES = ["gr4", "gr5", "gr6", "grc", "grd", "loieau", "vic3l"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="Cance")
    parser.add_argument("--routing", default="lr", choices=["lag0", "lr", "kw"])
    parser.add_argument("--modules", nargs="+", default=MODULES)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    nt = args.threads

    rows = []
    for module in args.modules:
        case = build(args.dataset, f"zero-{module}-{args.routing}")
        j_ours, g_ours = our_gradient(case, nt)
        ret = smash_gradient(case, nt)
        check = (j_ours, float(ret.cost), gradient_difference(case, g_ours, ret.grad, exclude=("kexc",)))
        f1, f2, g1, g2 = interleaved_best_times([lambda: our_forward(case, nt), lambda: smash_forward(case, nt),
                                                 lambda: our_gradient(case, nt), lambda: smash_gradient(case, nt)],
                                                args.repeat)
        rows.append((module, f1, f2, g1, g2, check))

    case_info = f"{args.dataset}, zero-<module>-{args.routing}, {nt} thread{'s' if nt > 1 else ''}"
    print(f"Forward and gradient per hydrological module ({case_info}; seconds, best of {args.repeat})")
    head = (f"{'module':8} | {'fwd s':>8} {'smash':>8} {'ratio':>6} | {'grad s':>8} {'smash':>8} {'ratio':>6} | "
            f"{'grad/fwd':>8} | {'J skhydro':>10} {'J smash':>10} {'grad diff':>9}")
    print(head)
    print("-" * len(head))
    for module, f1, f2, g1, g2, (j1, j2, gdiff) in rows:
        print(f"{module:8} | {f1:>8.4f} {f2:>8.4f} {f2 / f1:>6.1f} | {g1:>8.4f} {g2:>8.4f} {g2 / g1:>6.1f} | "
              f"{g1 / f1:>8.1f} | {j1:>10.6f} {j2:>10.6f} {gdiff:>9.1e}")
    print("ratio = hydro-smash time / skhydro time; grad diff = max over parameters of max|ours - smash| / "
          "max|smash| on hydro-smash's control (kexc excluded, see the docstring)")


if __name__ == "__main__":
    main()
