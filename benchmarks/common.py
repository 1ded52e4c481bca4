"""Timing and memory helpers shared by the benchmarks."""

from __future__ import annotations

import gc
import os
import platform
import random
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Timing:
    """Best and median wall time of ``repeats`` calls, after ``warmup`` calls."""

    best: float
    median: float

    def __str__(self) -> str:
        return f"{self.best * 1e3:.3f} ms (median {self.median * 1e3:.3f} ms)"


def timeit(fn: Callable[[], object], *, repeats: int = 20, warmup: int = 3) -> Timing:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        gc.disable()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        gc.enable()
    times.sort()
    return Timing(times[0], times[len(times) // 2])


def timed(fn: Callable[[], object], sync: Callable[[], None] | None = None
          ) -> tuple[object, float]:
    """``fn()``'s result and its wall time in seconds (``sync`` before and after: e.g. a CUDA
    synchronise, so queued device work is counted)."""
    if sync is not None:
        sync()
    start = time.perf_counter()
    out = fn()
    if sync is not None:
        sync()
    return out, time.perf_counter() - start


def interleaved(fns: dict[str, Callable[[], object]], *, rounds: int = 30,
                warmup: int = 3) -> dict[str, Timing]:
    """Time several functions in interleaved rounds, in a new random order each round, so drifting
    load and cache effects hit them all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns)
    shuffle = random.Random(0).shuffle
    for _ in range(rounds):
        shuffle(order)  # no function always runs right after the same other one
        for name in order:
            fn = fns[name]
            gc.disable()
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
            gc.enable()
    out = {}
    for name, times in samples.items():
        times.sort()
        out[name] = Timing(times[0], times[len(times) // 2])
    return out


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"Python {platform.python_version()}")
