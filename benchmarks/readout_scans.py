"""Benchmark a full plan readout, whole processes: one scan against the per-piece queries.

The plan reads a parquet file and has what makes a readout expensive: a segment column
(``region``), a CUPED metric, a post-stratified metric (by ``platform``), a ratio guardrail and
group-sequential looks by ``exposure_day`` (14 days). Each contender runs ``ablens.run_readout``
on it in a fresh interpreter (so imports and peak memory count), with its own ``src`` first on
``PYTHONPATH``; the contenders alternate run by run (paired and interleaved), after one warm-up
read of the file into the page cache.

* ``after``: this tree (one grouped scan by (day, region, platform, arm), the pilot inside it).
* ``before``: another tree given by ``--before-src`` (e.g. ``git archive <commit> src`` of the
  commit before the change), which reads the table once for the analysis, once for the strata
  and once per sequential reading, each with its pilot round trip.

Run by hand, e.g.::

    git archive 0d5531c src | tar -x -C /tmp/before
    python benchmarks/readout_scans.py --before-src /tmp/before/src --rows 1000000 10000000

It prints a markdown report (machine, load, versions, per-contender medians of wall time and
peak memory, and the numbers' agreement between contenders); ``--output`` also writes it.
"""

# ruff: noqa: PLC0415, S603

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLAN = """\
experiment_id: readout-bench
source: {{path: {path}}}
control: control
metrics:
  - {{name: conversion, kind: proportion, column: converted, role: primary}}
  - name: revenue (CUPED)
    kind: mean
    column: revenue
    covariates: [pre_revenue]
    adjustment: cuped
    role: primary
  - {{name: revenue by platform, kind: post-stratified, column: revenue, stratum: platform}}
  - {{kind: ratio, numerator: orders, denominator: sessions, role: guardrail}}
segments: [region]
sequential: group-sequential
time: exposure_day
planned: {{sample_size: {rows}}}
"""

WORKER = """
import json, resource, sys, time
start = time.perf_counter()
from ablens.analysis_plan import load_plan
from ablens.readout import run_readout
readout = run_readout(load_plan(sys.argv[1]))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
doc = readout.to_dict()
numbers = [c[key] for key in ("p_value", "standard_error") for c in doc["comparisons"]]
readings = [r for r in doc["sequential"]["readings"] if r["looks"]]
numbers += [r["looks"]["rows"][-1]["estimate"] for r in readings]
print(json.dumps({"seconds": seconds, "peak_mib": peak, "numbers": numbers}))
"""


def generate(path: Path, rows: int, seed: int) -> None:
    """The experiment's table as parquet, written by DuckDB from ``range`` (seeded)."""
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"SELECT setseed({seed / 1_000_000})")
    connection.execute(
        f"""
        COPY (
            SELECT
                i AS user_id,
                CASE WHEN random() < 0.5 THEN 'control' ELSE 'treatment' END AS variant,
                ['ios', 'android', 'web'][1 + CAST(floor(random() * 3) AS INTEGER)] AS platform,
                ['north', 'south', 'east', 'west'][1 + (i % 4)] AS region,
                CAST(floor(random() * 14) AS INTEGER) AS exposure_day,
                CAST(random() < 0.1 AS INTEGER) AS converted,
                round(random() * 50, 2) AS pre_revenue,
                round(random() * 60, 2) AS revenue,
                1 + CAST(floor(random() * 5) AS INTEGER) AS sessions,
                CAST(floor(random() * 3) AS INTEGER) AS orders
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet)
        """
    )


def run(src: Path, plan: Path) -> dict[str, object]:
    environment = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(plan)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the readout failed under {src}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def machine() -> list[str]:
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("duckdb", "narwhals", "numpy", "scipy")
    )
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {versions}",
        f"- Load average at start: {load}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-src", type=Path, required=True)
    parser.add_argument("--after-src", type=Path, default=HERE.parent / "src")
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    contenders = {"before": args.before_src, "after": args.after_src}
    lines = [
        f"Full plan readout, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        *machine(),
        "",
        "| rows | contender | median s | min s | max s | peak MiB | after / before |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    agreement = []
    for rows in args.rows:
        data = args.data_dir / f"readout_scans_{rows}_{args.seed}.parquet"
        if not data.exists():
            generate(data, rows, args.seed)
        plan = args.data_dir / f"readout_scans_{rows}.yaml"
        plan.write_text(PLAN.format(path=json.dumps(str(data)), rows=rows), encoding="utf-8")
        data.read_bytes()  # page cache
        runs: dict[str, list[dict[str, object]]] = {name: [] for name in contenders}
        run(args.after_src, plan)  # warm-up
        for _ in range(args.repeats):
            for name, src in contenders.items():
                runs[name].append(run(src, plan))
        medians = {
            name: statistics.median(float(r["seconds"]) for r in found)  # type: ignore[arg-type]
            for name, found in runs.items()
        }
        for name, found in runs.items():
            seconds = [float(r["seconds"]) for r in found]  # type: ignore[arg-type]
            peak = max(float(r["peak_mib"]) for r in found)  # type: ignore[arg-type]
            ratio = f"{medians['after'] / medians['before']:.2f}" if name == "after" else ""
            lines.append(
                f"| {rows:,} | {name} | {medians[name]:.2f} | {min(seconds):.2f} | "
                f"{max(seconds):.2f} | {peak:.0f} | {ratio} |"
            )
        before, after = runs["before"][0]["numbers"], runs["after"][0]["numbers"]
        worst = max(
            abs(a - b) / max(abs(b), 1e-300)
            for a, b in zip(after, before, strict=True)  # type: ignore[call-overload]
        )
        agreement.append(f"- {rows:,} rows: largest relative difference {worst:.1e}")
    lines += ["", "Numbers (p-values, last looks' estimates), after vs before:", *agreement]
    lines.append(f"- Load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report = "\n".join(lines)
    print(report)
    if args.output is not None:
        args.output.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
