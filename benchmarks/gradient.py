"""Gradient cost: skhydro beside hydro-smash 1.3.0 on the same data, in one run.

Usage: python benchmarks/gradient.py [--datasets Cance Lez] [--structures zero-gr4-kw] [--threads 1 2]
                                     [--repeat 5] [--long-steps 5000 20000 50000] [--skip-long]
                                     [--skip-memory]

What is timed (best of ``--repeat`` calls after one untimed warm-up call, public entry points only; the
four calls of a row are interleaved round by round):

* gradient, skhydro: ``skhydro.value_and_gradient(mesh, forcings, structure, parameters=params,
  states=None, observed=observed, cost="nse", gauges=[outlet], num_threads=nt)``: one forward and one
  reverse sweep (with checkpointing) giving the cost and dJ/dx for every parameter map and every initial
  state map of the structure (ci included).
* gradient, hydro-smash: ``Model.backward_run(diff_target="j", mapping="distributed",
  optimize_options={"control_tfm": "keep"}, common_options={"ncpu": nt, "verbose": False},
  return_options={"grad": True, "cost": True})``: the Tapenade adjoint with cotangent 1 on the cost,
  default cost options (``1 - NSE`` at the most downstream gauge), gradient w.r.t. the distributed
  control of every optimizable rr parameter (all but ``ci``, which hydro-smash never optimizes) in raw
  units (``control_tfm="keep"``, so the values compare directly with ours; ``"normalize"`` only rescales
  them). ``smash.backward_run(model, ...)`` is this method on ``model.copy()``; the method is timed so
  that the copy is not charged to hydro-smash. Note that the public call, after the adjoint, also runs one
  more forward pass to refresh the model outputs: that is part of what a user pays for a gradient.
* forward: ``skhydro.simulate(mesh, forcings, structure, params, num_threads=nt)`` and
  ``Model.forward_run(common_options={"ncpu": nt, "verbose": False})``, as in ``forward.py``.

The two libraries bring their own OpenMP runtimes (two libgomp copies): each timed call is preceded by a
0.1 s pause so that the idle, still spinning threads of the other runtime do not steal its cores.

Both models get identical inputs read from the hydro-smash model (``_smash_inputs.skhydro_inputs``); our
observations are hydro-smash's ``response_data.q`` (negative -> NaN) and our cost gauge is the gauge with
the largest drained area (hydro-smash's default ``gauge="dws"``). The cost values of both and the largest
gradient difference are printed as a sanity check.

Memory: peak resident memory *growth* during one gradient call, for both libraries measured the same way:
in a fresh "spawn" child process per measurement the model is built, one untimed warm-up gradient is
computed (one-time costs: lazy imports, code pages, OpenMP threads), the kernel's peak-RSS counter is
reset (``/proc/self/clear_refs``; where that is not allowed, ``ru_maxrss`` before/after is used), one
gradient is computed, and (peak RSS) - (RSS before the call) is reported. The child runs with fixed
glibc malloc thresholds (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``) so that memory freed by the
warm-up call goes back to the system instead of hiding the measured call's peak. This counts Fortran
allocations, which ``tracemalloc`` cannot see. For skhydro the ``tracemalloc`` peak of one call is also
given (numpy allocations only).

Long series: ``skhydro.datasets.make_synthetic_basin(random_state=0, n_steps=N)``, one gradient
(``checkpoint_interval=None``, i.e. about sqrt(N) steps per segment) timed and its ``tracemalloc`` peak
measured for each N, next to ``nac * N * 8`` bytes (one double per cell-step: what storing even a single
value of every step would need). The "exp" column is the growth exponent of the peak between successive
N (log peak ratio / log N ratio): about 0.5 for sqrt(N) memory, 1 for storing the trajectory. ``ci`` is
adjusted once beforehand and passed in, as on Cance / Lez. The forcings and their packed active-cell copy
(cached by ``Forcings`` at first use, here by ``adjust_interception``) are inputs and are not counted;
the forward (``simulate``) time and traced peak are given for reference.
"""
import argparse
import contextlib
import gc
import math
import multiprocessing
import os
import resource
import time
import tracemalloc

import numpy as np
import pandas as pd

import skhydro
from _smash_inputs import skhydro_inputs
from _timing import best_time

MiB = 2.0 ** 20
PAUSE = 0.1  # s before each timed call
SMASH_OPTIMIZE_OPTIONS = {"control_tfm": "keep"}  # default parameters: every optimizable rr parameter


@contextlib.contextmanager
def quiet():
    """Silence hydro-smash's prints and progress bars while a model is built."""
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), \
            contextlib.redirect_stderr(devnull):
        yield




def interleaved_best_times(fns, repeat):
    """Best time of each function over ``repeat`` rounds calling each once in turn (after one warm-up
    call each), so that a passing disturbance of the machine does not hit one library only."""
    for fn in fns:
        fn()
    best = [math.inf] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            time.sleep(PAUSE)  # lets the other library's idle OpenMP threads stop spinning (two runtimes)
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def build(name, structure):
    """hydro-smash model (dataset defaults, observations read) and the equivalent skhydro inputs."""
    import smash

    with quiet():
        setup, mesh_dict = smash.factory.load_dataset(name)
        _, hydro, routing = structure.split("-")
        setup = dict(setup, hydrological_module=hydro, routing_module=routing)
        model = smash.Model(setup, mesh_dict)
    mesh, forcings, params = skhydro_inputs(model)
    codes = [str(c) for c in model.mesh.code]
    outlet = codes[int(np.argmax(np.asarray(model.mesh.area)))]
    q = np.array(model.response_data.q, dtype=np.float64).T
    q[q < 0] = np.nan
    observed = pd.DataFrame(q, index=forcings.index, columns=codes)
    return dict(model=model, mesh=mesh, forcings=forcings, params=params, observed=observed, outlet=outlet,
                structure=structure)


def default_interval(n):
    """Steps per checkpoint segment chosen by ``checkpoint_interval=None`` (about sqrt(N))."""
    try:
        from skhydro.gradient import default_checkpoint_interval
    except ImportError:  # pragma: no cover - documented default
        return math.ceil(math.sqrt(n))
    return default_checkpoint_interval(n)


def our_gradient(case, nt):
    return skhydro.value_and_gradient(case["mesh"], case["forcings"], case["structure"],
                                      parameters=case["params"], states=None, observed=case["observed"],
                                      cost="nse", gauges=[case["outlet"]], num_threads=nt)


def smash_gradient(case, nt):
    return case["model"].backward_run(diff_target="j", mapping="distributed",
                                      optimize_options=SMASH_OPTIMIZE_OPTIONS,
                                      common_options={"ncpu": nt, "verbose": False},
                                      return_options={"grad": True, "cost": True})


def our_forward(case, nt):
    return skhydro.simulate(case["mesh"], case["forcings"], case["structure"], case["params"], num_threads=nt)


def smash_forward(case, nt):
    case["model"].forward_run(common_options={"ncpu": nt, "verbose": False})


# --- memory -------------------------------------------------------------------------------------------

def _proc_status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _peak_rss_growth(fn):
    """Bytes of (peak RSS during ``fn()``) - (RSS just before it)."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak-RSS counter (VmHWM) to the current RSS (Linux >= 4.0)
    except OSError:  # fall back on the lifetime peak, which the call may not exceed
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    before = _proc_status_kib("VmRSS")
    fn()
    return (_proc_status_kib("VmHWM") - before) * 1024


def _child_rss(side, name, structure, nt):
    case = build(name, structure)
    fn = {"skhydro": our_gradient, "smash": smash_gradient}[side]
    fn(case, nt)  # warm-up: lazy imports, code pages, OpenMP threads are not charged to the call
    return _peak_rss_growth(lambda: fn(case, nt))


# Fixed malloc thresholds in the child, so that glibc returns freed blocks to the system instead of keeping
# them after the warm-up call (its dynamic mmap threshold would otherwise hide the second call's peak).
_CHILD_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}


def rss_in_fresh_process(side, name, structure, nt):
    """Peak RSS growth of one gradient call (after one warm-up call) in a new "spawn" process."""
    saved = {k: os.environ.get(k) for k in _CHILD_MALLOC_ENV}
    os.environ.update(_CHILD_MALLOC_ENV)
    try:
        pool = multiprocessing.get_context("spawn").Pool(1)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k)
            else:
                os.environ[k] = v
    try:
        return pool.apply(_child_rss, (side, name, structure, nt))
    finally:
        pool.close()
        pool.join()


def traced_peak(fn):
    """Peak of memory traced by tracemalloc during ``fn()`` (bytes)."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- checks -------------------------------------------------------------------------------------------

def gradient_difference(case, ours, ref_grad, exclude=()):
    """max over parameters (but ``exclude``) of max|ours - smash| / max|smash| on the distributed control of
    hydro-smash."""
    import smash

    info = smash.optimize_control_info(case["model"], mapping="distributed",
                                       optimize_options=SMASH_OPTIMIZE_OPTIONS)
    ref, mine = {}, {}
    for label, g in zip(info["name"], np.asarray(ref_grad, dtype=np.float64)):
        key, row, col = str(label).rsplit("-", 2)  # "cp-28-1": 1-based row and column
        if key in exclude:
            continue
        ref.setdefault(key, []).append(g)
        mine.setdefault(key, []).append(ours[key][int(row) - 1, int(col) - 1])
    worst = 0.0
    for key in ref:
        r, m = np.array(ref[key]), np.array(mine[key])
        worst = max(worst, np.abs(m - r).max() / max(np.abs(r).max(), 1e-300))
    return worst


# --- benchmarks ---------------------------------------------------------------------------------------

def mib(nbytes, width):
    return f"{'-':>{width}}" if math.isnan(nbytes) else f"{nbytes / MiB:>{width}.1f}"


def compare_times(args):
    """Timings and sanity checks on the hydro-smash datasets; memory columns left NaN."""
    rows, checks = [], []
    for name in args.datasets:
        for structure in args.structures:
            case = build(name, structure)
            mesh, forcings = case["mesh"], case["forcings"]
            j_ours, g_ours = our_gradient(case, 1)
            ret = smash_gradient(case, 1)
            j_ref = float(ret.cost)
            checks.append((name, structure, case["outlet"], j_ours, j_ref, abs(j_ours - j_ref) / abs(j_ref),
                           gradient_difference(case, g_ours, ret.grad)))
            for nt in args.threads:
                g1, g2, f1, f2 = interleaved_best_times([lambda: our_gradient(case, nt),
                                                         lambda: smash_gradient(case, nt),
                                                         lambda: our_forward(case, nt),
                                                         lambda: smash_forward(case, nt)], args.repeat)
                t1 = math.nan if args.skip_memory else traced_peak(lambda: our_gradient(case, nt))
                rows.append([name, structure, nt, mesh.n_active, forcings.ntime, g1, g2, f1, f2,
                             math.nan, math.nan, t1])
    return rows, checks


def compare_memory(rows):
    """Fill the RSS columns, one fresh process per measurement (after every timing: the child processes
    and the memory they give back must not disturb the timed calls)."""
    for row in rows:
        name, structure, nt = row[:3]
        row[9] = rss_in_fresh_process("skhydro", name, structure, nt)
        row[10] = rss_in_fresh_process("smash", name, structure, nt)


def print_compare(rows, checks):
    head = (f"{'dataset':8} {'structure':12} {'thr':>3} {'cells':>6} {'steps':>6} | {'grad s':>8} {'smash':>8} | "
            f"{'fwd s':>8} {'smash':>8} | {'grad/fwd':>8} {'smash':>6} | {'speed-up':>8} | "
            f"{'RSS MiB':>8} {'smash':>7} | {'traced':>7}")
    print("Gradient (forward + reverse) of 1 - NSE at the outlet w.r.t. every distributed parameter map")
    print("columns: skhydro first, then hydro-smash; speed-up = smash gradient s / skhydro gradient s")
    print(head)
    print("-" * len(head))
    for name, structure, nt, nac, ntime, g1, g2, f1, f2, m1, m2, t1 in rows:
        print(f"{name:8} {structure:12} {nt:>3} {nac:>6} {ntime:>6} | {g1:>8.4f} {g2:>8.4f} | "
              f"{f1:>8.4f} {f2:>8.4f} | {g1 / f1:>8.1f} {g2 / f2:>6.1f} | {g2 / g1:>8.2f} | "
              f"{mib(m1, 8)} {mib(m2, 7)} | {mib(t1, 7)}")
    print("RSS MiB = peak resident-memory growth during one gradient call (the second, after a warm-up call) "
          "in a fresh process,\n          measured the same way for both libraries; "
          "traced = tracemalloc peak of one skhydro gradient call (numpy allocations)")
    print()
    head = (f"{'dataset':8} {'structure':12} {'gauge':>9} | {'J skhydro':>12} {'J smash':>12} {'rel diff':>9} | "
            f"{'max grad rel diff':>17}")
    print("Sanity check, 1 thread (J = 1 - NSE; gradient difference on hydro-smash's control, per parameter "
          "max|diff| / max|smash|)")
    print(head)
    print("-" * len(head))
    for name, structure, outlet, j1, j2, rel, grel in checks:
        print(f"{name:8} {structure:12} {outlet:>9} | {j1:>12.8f} {j2:>12.8f} {rel:>9.1e} | {grel:>17.1e}")


def long_series(args):
    from skhydro.datasets import make_synthetic_basin

    nt = min(args.threads)
    rows = []
    for n in args.long_steps:
        basin = make_synthetic_basin(random_state=0, n_steps=n)
        mesh, forcings, structure, outlet = basin.mesh, basin.forcings, basin.structure, basin.mesh.gauge_codes[0]
        # ci adjusted once beforehand (as given to both models on Cance / Lez), so that neither the gradient
        # nor the forward time includes the interception adjustment
        params = dict(basin.true_parameters, ci=skhydro.adjust_interception(mesh, forcings, nt))

        def grad():
            return skhydro.value_and_gradient(mesh, forcings, structure, parameters=params, states=None,
                                              observed=basin.observed, cost="nse", gauges=[outlet],
                                              checkpoint_interval=None, num_threads=nt)

        def fwd():
            return skhydro.simulate(mesh, forcings, structure, params, num_threads=nt)

        t_grad = best_time(grad, 1, warmup=False)
        t_fwd = best_time(fwd, 1, warmup=False)
        peak_grad, peak_fwd = traced_peak(grad), traced_peak(fwd)
        rows.append((n, mesh.n_active, default_interval(n), t_grad, t_fwd, peak_grad, peak_fwd))
    return nt, rows


def print_long(nt, rows):
    print()
    print(f"Long synthetic series (make_synthetic_basin(random_state=0, n_steps=N), {rows[0][1] if rows else 0} "
          f"cells, zero-gr4-kw, {nt} thread(s), checkpoint_interval=None)")
    head = (f"{'N steps':>7} {'seg':>4} | {'grad s':>7} {'fwd s':>7} {'grad/fwd':>8} | {'grad MiB':>8} {'exp':>5} "
            f"{'fwd MiB':>8} | {'nac*N*8 MiB':>11} {'grad/nac*N*8':>12}")
    print(head)
    print("-" * len(head))
    prev = None
    for n, nac, seg, tg, tf, pg, pf in rows:
        ref = nac * n * 8
        exp = f"{math.log(pg / prev[1]) / math.log(n / prev[0]):>5.2f}" if prev else f"{'':>5}"
        print(f"{n:>7} {seg:>4} | {tg:>7.3f} {tf:>7.3f} {tg / tf:>8.2f} | {pg / MiB:>8.2f} {exp} {pf / MiB:>8.2f} | "
              f"{ref / MiB:>11.2f} {pg / ref:>12.4f}")
        prev = (n, pg)
    print("grad / fwd MiB = tracemalloc peak of one value_and_gradient / simulate call (checkpoints, segment tape, "
          "cotangents,\nper-gauge series); exp = growth exponent of the gradient peak vs the previous N (0.5: like "
          "sqrt(N), 1: like N);\nnac*N*8 = one double per cell-step; seg = steps per checkpoint segment. Not "
          "counted: the forcings, and their\npacked active-cell copy that Forcings caches at its first use "
          "(here by adjust_interception, before the timed calls)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="*", default=["Cance", "Lez"],
                        help="hydro-smash datasets to compare on (none: only the long series)")
    parser.add_argument("--structures", nargs="+", default=["zero-gr4-kw"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--long-steps", nargs="+", type=int, default=[5_000, 20_000, 50_000])
    parser.add_argument("--skip-long", action="store_true", help="leave out the long synthetic series")
    parser.add_argument("--skip-memory", action="store_true", help="leave out the memory measurements")
    args = parser.parse_args()

    # every timing first, then the memory child processes
    rows, checks = compare_times(args) if args.datasets else ([], [])
    long_rows = None if args.skip_long else long_series(args)
    if rows and not args.skip_memory:
        compare_memory(rows)
    if rows:
        print_compare(rows, checks)
    if long_rows is not None:
        print_long(*long_rows)


if __name__ == "__main__":
    main()
