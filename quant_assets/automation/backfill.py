"""Single-run backfills: a long range is a few runs, not one per partition.

:func:`plan` turns a date range, symbols and modules into runs of the partitioned jobs,
each over a partition range (``dagster/asset_partition_range_start`` / ``_end`` tags):
per symbol over the whole range, or per date over every symbol (``by="date"``), plus one
run per on-chain asset, one for the ETF flows and one for the daily modules. :func:`execute`
runs them in the given Dagster instance (so they show in the UI's runs), reporting each
run's outcome, checks and timing to a callback, and never stops at a failed run: the
summary says which failed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import dagster as dg

from quant_assets.automation.jobs import (
    MODULES_BARS_JOB,
    MODULES_DAILY_JOB,
    MODULES_TICKS_JOB,
    RAW_BARS_JOB,
    RAW_ETF_JOB,
    RAW_ONCHAIN_JOB,
    RAW_TICKS_JOB,
)
from quant_assets.modules import Module
from quant_assets.modules.frames import TICK_FRAMES
from quant_assets.sources.onchain_catalog import ONCHAIN_ASSETS

#: Run config that keeps a run's console to errors (the progress lines say the rest).
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
By = Literal["symbol", "date"]


@dataclass(frozen=True)
class PlannedRun:
    """One run of ``job`` over the partition keys ``first..last``, optionally of some assets."""

    job: str
    label: str
    first: str
    last: str
    assets: tuple[dg.AssetKey, ...] | None = None  # None: every asset of the job


@dataclass
class RunOutcome:
    run: PlannedRun
    success: bool
    seconds: float
    checks: Counter = field(default_factory=Counter)
    failed_checks: list[str] = field(default_factory=list)
    error: str = ""


def _module_job(module: Module) -> str:
    declaration = module.declaration
    if declaration.partitioning == "day":
        return MODULES_DAILY_JOB
    ticks = any(node.frame in TICK_FRAMES for node in declaration.nodes.values())
    return MODULES_TICKS_JOB if ticks else MODULES_BARS_JOB


def module_asset_keys(module: Module) -> tuple[dg.AssetKey, ...]:
    declaration = module.declaration
    return (*(dg.AssetKey([declaration.id, name]) for name in declaration.nodes),
            dg.AssetKey(["scores", declaration.score_table]))


def _days(first: date, last: date, by: By) -> list[tuple[date, date]]:
    if by == "symbol":
        return [(first, last)]
    return [(first + timedelta(days=i), first + timedelta(days=i)) for i in range((last - first).days + 1)]


def plan(first: date, last: date, symbols: Sequence[str], all_symbols: Sequence[str],
         modules: Sequence[Module], *, raw: bool = True, ticks: bool = True, ticks_first: date | None = None,
         by: By = "symbol", all_modules: int | None = None) -> list[PlannedRun]:
    """Runs that materialize ``first..last``: raw data (tick families from ``ticks_first``,
    default ``first``; none without ``ticks``, nor the modules that read them) then
    ``modules`` (``all_modules``: how many exist, to run whole jobs when every module is
    asked for). ``by="date"`` needs every symbol."""
    if last < first:
        raise ValueError(f"--end {last} is before --start {first}")
    unknown = [s for s in symbols if s not in all_symbols]
    if unknown:
        raise ValueError(f"unknown symbol(s) {', '.join(unknown)}: the configured ones are "
                         f"{', '.join(all_symbols)} (QUANT_SYMBOLS)")
    if by == "date" and list(symbols) != list(all_symbols):
        raise ValueError("a backfill by date runs every configured symbol at once: leave out --symbols")
    ticks_first = max(ticks_first or first, first)
    runs: list[PlannedRun] = []

    def per_symbol(job: str, label: str, start: date, assets: tuple[dg.AssetKey, ...] | None = None) -> None:
        for a, b in _days(start, last, by):
            if by == "symbol":
                runs.extend(PlannedRun(job, f"{label} {symbol} {a}..{b}", f"{a}|{symbol}", f"{b}|{symbol}",
                                       assets) for symbol in symbols)
            else:
                runs.append(PlannedRun(job, f"{label} all symbols {a}", f"{a}|{symbols[0]}",
                                       f"{b}|{symbols[-1]}", assets))

    span = f"{first}..{last}"
    if raw:
        per_symbol(RAW_BARS_JOB, "raw bars", first)
        if ticks:
            per_symbol(RAW_TICKS_JOB, "raw ticks", ticks_first)
        runs += [PlannedRun(RAW_ONCHAIN_JOB, f"raw on-chain {asset} {span}", f"{asset}|{first}",
                            f"{asset}|{last}") for asset in ONCHAIN_ASSETS]
        runs.append(PlannedRun(RAW_ETF_JOB, f"raw ETF flows {span}", first.isoformat(), last.isoformat()))
    by_job: dict[str, list[Module]] = {}
    for module in modules:
        by_job.setdefault(_module_job(module), []).append(module)
    whole = all_modules is not None and len(modules) == all_modules
    per_symbol_jobs = [(MODULES_BARS_JOB, "modules", first), (MODULES_TICKS_JOB, "tick modules", ticks_first)]
    for job, label, start in per_symbol_jobs:
        if job in by_job and (ticks or job != MODULES_TICKS_JOB):
            assets = None if whole else tuple(k for m in by_job[job] for k in module_asset_keys(m))
            per_symbol(job, label, start, assets)
    if MODULES_DAILY_JOB in by_job:
        assets = None if whole else tuple(k for m in by_job[MODULES_DAILY_JOB] for k in module_asset_keys(m))
        runs.append(PlannedRun(MODULES_DAILY_JOB, f"daily modules {span}", first.isoformat(),
                               last.isoformat(), assets))
    return runs


def range_tags(first: str, last: str) -> dict[str, str]:
    """Tags of one run over the partition keys ``first..last`` (a single-run backfill)."""
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def execute_run(defs: dg.Definitions, instance: dg.DagsterInstance, run: PlannedRun) -> RunOutcome:
    started = time.perf_counter()
    tags = range_tags(run.first, run.last) if run.first else {}  # "": not partitioned
    result = defs.resolve_job_def(run.job).execute_in_process(
        instance=instance, run_config=QUIET_LOGS, raise_on_error=False, tags=tags,
        asset_selection=list(run.assets) if run.assets is not None else None)
    outcome = RunOutcome(run, result.success, 0.0)
    for evaluation in result.get_asset_check_evaluations():
        outcome.checks["passed" if evaluation.passed else f"failed ({evaluation.severity.value})"] += 1
        if not evaluation.passed:
            outcome.failed_checks.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}: "
                                         f"{evaluation.description}")
    if not result.success:
        failures = [event.message for event in result.all_events if event.is_failure]
        outcome.error = (failures[0] if failures else "the run failed").splitlines()[0][:300]
    outcome.seconds = time.perf_counter() - started
    return outcome


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, runs: Sequence[PlannedRun],
            report: Callable[[int, int, RunOutcome, float], None]) -> list[RunOutcome]:
    """Every run in order; ``report(done, total, outcome, elapsed)`` after each."""
    started = time.perf_counter()
    outcomes = []
    for number, run in enumerate(runs, start=1):
        outcomes.append(execute_run(defs, instance, run))
        report(number, len(runs), outcomes[-1], time.perf_counter() - started)
    return outcomes


def progress_line(done: int, total: int, outcome: RunOutcome, elapsed: float, width: int = 20) -> str:
    """``[#####-----] 5/10  label  ok 3.1 s, checks: 12 passed  ETA 15 s``."""
    filled = round(width * done / total)
    eta = elapsed / done * (total - done)
    state = "ok" if outcome.success else "FAILED"
    checks = ", ".join(f"{n} {s}" for s, n in sorted(outcome.checks.items())) or "none"
    line = (f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total}  {outcome.run.label:<44} {state} in "
            f"{outcome.seconds:5.1f} s, checks: {checks}  ETA {eta:.0f} s")
    details = [f"\n    check failed: {text}" for text in outcome.failed_checks[:5]]
    if outcome.error:
        details.append(f"\n    {outcome.error}")
    return line + "".join(details)


def summary(outcomes: Sequence[RunOutcome]) -> tuple[str, bool]:
    """A closing line and whether everything succeeded with no failed check."""
    totals: Counter = sum((o.checks for o in outcomes), Counter())
    failed_runs = [o.run.label for o in outcomes if not o.success]
    failed_checks = sum(n for status, n in totals.items() if status != "passed")
    succeeded = len(outcomes) - len(failed_runs)
    text = (f"Checks: {totals['passed']} passed, {failed_checks} failed; runs: {succeeded} succeeded, "
            f"{len(failed_runs)} failed ({sum(o.seconds for o in outcomes):.0f} s)")
    if failed_runs:
        text += "\nFailed runs: " + "; ".join(failed_runs)
    return text, not failed_runs and not failed_checks
