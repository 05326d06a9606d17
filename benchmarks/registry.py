"""Benchmark the results registry: what storing a run costs next to computing it.

For a demo experiment of ``--users`` users over 14 exposure days and 3 platforms (a parquet
file), times, in one process after a warm-up run:

* ``readout``: `ablens.run_readout` (the analysis, as ``ablens analyze`` computes it);
* ``moments``: `ablens.registry.plan_moments` (the per-day, per-segment moments query);
* ``store``: `Registry.store` of the readout and moments (one transaction), on a DuckDB file
  and, with ``--postgres URL``, on PostgreSQL;
* ``latest`` and ``moments read``: reading the run and the moments back.

Run by hand, e.g.::

    pip install -e '.[registry,postgres]' polars
    python benchmarks/registry.py --users 200000 2000000 --repeats 5 [--postgres URL]

It prints a markdown table of the median seconds and the rows each table received.
"""

# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

DAY = dt.date(2026, 3, 14)
PLAN = Path(__file__).resolve().parents[1] / "src" / "ablens" / "demo_plan.yaml"


def _median_seconds(action: Any, repeats: int) -> float:  # noqa: ANN401 - any callable
    action()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _experiment(folder: Path, users: int) -> Any:  # noqa: ANN401 - an AnalysisPlan
    import polars as pl

    from ablens import demo
    from ablens.analysis_plan import load_plan

    pl.DataFrame(demo.generate(users=users)).write_parquet(folder / "users.parquet")
    text = PLAN.read_text().replace(
        "  duckdb:\n    file: ablens_demo.duckdb   # relative to this file's folder\n"
        "    table: users\n",
        "  path: users.parquet\n",
    )
    text = text.replace("sequential: none", "sequential: none\ntime: exposure_day")
    (folder / "plan.yaml").write_text(text)
    return load_plan(folder / "plan.yaml")


def _bench(users: int, repeats: int, postgres: str | None) -> None:
    from ablens.readout import run_readout
    from ablens.registry import open_registry, plan_moments

    with tempfile.TemporaryDirectory() as folder:
        plan = _experiment(Path(folder), users)
        readout = run_readout(plan)
        moments = plan_moments(plan)
        seconds = _median_seconds(lambda: run_readout(plan), repeats)
        print(f"| {users:,} | readout | duckdb (parquet) | {seconds:.3f} | |")
        seconds = _median_seconds(lambda: plan_moments(plan), repeats)
        cells = len(moments.cells)
        print(f"| {users:,} | moments | duckdb (parquet) | {seconds:.3f} | {cells} cells |")
        urls = {"duckdb file": str(Path(folder) / "registry.duckdb")}
        if postgres:
            urls["postgresql"] = postgres
        for name, url in urls.items():
            registry = open_registry(url)
            seconds = _median_seconds(
                lambda r=registry: r.store(readout, moments, as_of=DAY), repeats
            )
            tables = ("runs", "comparisons", "moments", "comoments")
            written = sum(len(registry.rows(t)) for t in tables)
            print(f"| {users:,} | store | {name} | {seconds:.3f} | {written:,} |")
            seconds = _median_seconds(lambda r=registry: r.latest(plan.experiment_id), repeats)
            print(f"| {users:,} | latest | {name} | {seconds:.3f} | |")
            seconds = _median_seconds(lambda r=registry: r.moments(plan.experiment_id), repeats)
            print(f"| {users:,} | moments read | {name} | {seconds:.3f} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[200_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", help="a PostgreSQL URL to store into as well")
    arguments = parser.parse_args()
    print("| users | step | backend | median s | rows |")
    print("| ---: | --- | --- | ---: | ---: |")
    for users in arguments.users:
        _bench(users, arguments.repeats, arguments.postgres)


if __name__ == "__main__":
    main()
