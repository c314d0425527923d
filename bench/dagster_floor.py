"""Benchmark: what Dagster's bookkeeping alone costs for the module graph's shape.

One multi-asset with as many asset specs as the bar modules' job has (every metric node and
score of the per-symbol modules on bars), on the same day × symbol partitions, whose
step computes nothing and reports each selected asset. Runs one single-run backfill per
symbol over ``--days`` days in an in-memory instance (as ``bench/pipeline.py`` does) and
prints the time per asset-partition materialization and what that makes for the full
``--symbols`` × ``--days`` module backfill: the floor under ``bench/pipeline.py``'s wall
time that no speed-up of the modules can remove. Usage::

    python bench/dagster_floor.py [--symbols 20] [--days 90] [--runs 2]
"""

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from quant_assets.automation.backfill import QUIET_LOGS, range_tags
from quant_assets.automation.jobs import MODULES_BARS_JOB
from quant_assets.definitions import build_definitions, build_partitions
from quant_assets.settings import DEFAULT_SYMBOLS, load_settings


def module_keys(defs: dg.Definitions, job: str) -> list[dg.AssetKey]:
    return sorted(defs.resolve_job_def(job).asset_layer.executable_asset_keys)


def empty_multi_asset(count: int, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    specs = [dg.AssetSpec(dg.AssetKey(["floor", f"node_{i:03d}"])) for i in range(count)]

    @dg.multi_asset(specs=specs, can_subset=True, partitions_def=partitions_def,
                    backfill_policy=dg.BackfillPolicy.single_run())
    def nothing(context: dg.AssetExecutionContext):
        for key in sorted(context.selected_asset_keys):
            yield dg.MaterializeResult(asset_key=key)

    return nothing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=20, help="symbols of the backfill to extrapolate to")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=2, help="symbol runs actually timed")
    args = parser.parse_args()
    symbols = list(DEFAULT_SYMBOLS)[: max(1, min(args.runs, len(DEFAULT_SYMBOLS)))]
    last = datetime.now(UTC).date() - timedelta(days=2)
    first = last - timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({**os.environ, "QUANT_DATA_DIR": tmp, "QUANT_SYMBOLS": ",".join(symbols),
                                  "QUANT_START_DATE": first.isoformat()})
        defs = build_definitions(settings)
        count = len(module_keys(defs, MODULES_BARS_JOB))
        floor = dg.Definitions(assets=[empty_multi_asset(count, build_partitions(settings)["symbol"])])
        job = floor.resolve_implicit_global_asset_job_def()
        print(f"bench/dagster_floor: {count} assets (the bar modules' nodes and scores) × "
              f"{args.days} days per symbol run, steps that compute nothing")
        seconds, materializations = 0.0, 0
        with dg.DagsterInstance.ephemeral() as instance:
            for symbol in symbols:
                started = time.perf_counter()
                result = job.execute_in_process(instance=instance, run_config=QUIET_LOGS,
                                                tags=range_tags(f"{first}|{symbol}", f"{last}|{symbol}"))
                seconds += time.perf_counter() - started
                materializations += len(result.get_asset_materialization_events())
        per = seconds / materializations
        total = count * args.days * args.symbols
        print(f"  {len(symbols)} runs: {seconds:.1f} s for {materializations:,} asset-partition "
              f"materializations ({per * 1000:.2f} ms each)")
        print(f"  {args.symbols} symbols × {args.days} days = {total:,} materializations: "
              f"{total * per:.0f} s of Dagster bookkeeping for the bar modules alone, before any "
              "module computes (the tick and daily modules add to it)")


if __name__ == "__main__":
    main()
