"""Independent computations of a module step, spread over worker processes.

A module step computes every symbol of its run, and symbols do not depend on each other:
the step hands each worker a group of them (see ``compute_module``). The pool is a
``forkserver`` one: workers start from a clean interpreter with the engine preloaded,
never as a fork of the Dagster step process and its threads. The pool is kept for later steps
in a main process and made per call in a multiprocessing child (see :func:`_pool`). Results are the
same as the sequential loop's: the same pure functions on the same inputs, returned in order.
An error in any task is raised as it was raised in the worker (metric and frame errors
name their subject), and the tasks not yet started are cancelled.
"""

import multiprocessing
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

Result = TypeVar("Result")

#: Imported once by the fork server, so that each worker starts with the engine and the model
#: libraries the metrics import lazily (Markov switching, VAR, GARCH, isolation forest, CCA).
PRELOAD = ["quant_assets.modules.inputs", "quant_assets.metrics",
           "statsmodels.tsa.regime_switching.markov_regression", "statsmodels.tsa.api", "arch",
           "sklearn.ensemble", "sklearn.cross_decomposition", "scipy.cluster.hierarchy",
           "scipy.spatial.distance"]


_pools: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> tuple[ProcessPoolExecutor, bool]:
    """A pool of ``workers`` and whether it is to be shut down after the call.

    In a main process the pool is kept for the next steps: the interpreter stops its workers
    at exit before multiprocessing joins its children. A multiprocessing child (a step under
    Dagster's multiprocess executor) joins its children as soon as its work returns, before
    any exit hook, so there a kept pool would never let it end: it gets a pool per call."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    if multiprocessing.parent_process() is not None:
        return ProcessPoolExecutor(max_workers=workers, mp_context=context), True
    if workers not in _pools:
        _pools[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    return _pools[workers], False


def map_tasks(function: Callable[..., Result], tasks: Mapping[str, tuple[Any, ...]],
              workers: int) -> dict[str, Result]:
    """``{name: function(*arguments)}`` for every ``name: arguments`` of ``tasks``, over
    ``workers`` processes (in this process when there is one worker or one task)."""
    if workers <= 1 or len(tasks) <= 1:
        return {name: function(*arguments) for name, arguments in tasks.items()}
    pool, per_call = _pool(workers)
    futures: dict[str, Future[Result]] = {}
    try:
        for name, arguments in tasks.items():
            futures[name] = pool.submit(function, *arguments)
        return {name: future.result() for name, future in futures.items()}
    except BrokenProcessPool:
        _pools.pop(workers, None)  # a worker died (killed, out of memory): start afresh next time
        raise
    finally:
        for future in futures.values():
            future.cancel()
        if per_call:
            pool.shutdown(wait=True, cancel_futures=True)
