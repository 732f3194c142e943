"""Resolve the number of OpenMP threads once, in Python, before entering the kernels."""
import os
import numbers


def resolve_num_threads(num_threads):
    """Turn ``num_threads`` into a positive count.

    ``None`` or ``-1`` means all available CPUs (respecting the process's CPU affinity); other negative
    values count back from there (``-2``: all but one).
    """
    if isinstance(num_threads, bool) or not (num_threads is None or isinstance(num_threads, numbers.Integral)):
        raise ValueError(f"num_threads must be a positive integer, -1 or None, got {num_threads!r}")
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        available = os.cpu_count() or 1
    if num_threads is None:
        return available
    if num_threads == 0:
        raise ValueError("num_threads must not be 0")
    if num_threads < 0:
        return max(1, available + 1 + int(num_threads))
    return int(num_threads)
