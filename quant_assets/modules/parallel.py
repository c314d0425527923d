"""Independent computations of a module step, spread over worker processes.

A module step computes every symbol of its run, and symbols do not depend on each other:
the step hands each worker a group of them (see ``compute_module``). The pool is a
``forkserver`` one: workers start from a clean interpreter with the engine preloaded,
never as a fork of the Dagster step process and its threads. It is kept for
the life of the process, so a run's later steps do not pay the start again. Results are the
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

#: Imported once by the fork server, so that each worker starts with the engine loaded.
PRELOAD = ["quant_assets.modules.inputs", "quant_assets.metrics"]
_pools: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    pool = _pools.get(workers)
    if pool is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        pool = _pools[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    return pool


def map_tasks(function: Callable[..., Result], tasks: Mapping[str, tuple[Any, ...]],
              workers: int) -> dict[str, Result]:
    """``{name: function(*arguments)}`` for every ``name: arguments`` of ``tasks``, over
    ``workers`` processes (in this process when there is one worker or one task)."""
    if workers <= 1 or len(tasks) <= 1:
        return {name: function(*arguments) for name, arguments in tasks.items()}
    pool = _pool(workers)
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
