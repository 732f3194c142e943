"""Timing helper shared by the benchmark scripts."""
import time


def best_time(fn, repeat, warmup=False):
    """Best wall time of ``repeat`` calls of ``fn`` (after one untimed call when ``warmup``)."""
    if warmup:  # the first multi-threaded call of a process can be much slower (OpenMP start-up)
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
