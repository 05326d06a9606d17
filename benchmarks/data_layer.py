"""Benchmark the data layer: per-arm moments from a parquet file, end to end.

The workload is one analysis of two means (revenue, sessions), one proportion (converted) and
three cross-moment pairs (revenue × pre_revenue, orders × sessions, revenue × orders): per arm the
count, the sums and the centred second moments of revenue, sessions, converted, orders and
pre_revenue plus the three cross-moments; then Welch tests for the two means and a z test for
the proportion.

Contenders (each run in a fresh interpreter per repeat, so import time and peak memory count):

* ``floor``: one hand-written DuckDB query over ``read_parquet`` (shifted sums, pilot = average of
  a ``LIMIT 10000`` sample, as ablens does) and ``ablens.mean_test`` / ``ablens.proportion_test``.
* ``ablens``: ``ablens.analyze(path, metrics, control=..., variant=..., pairs=...)``.
* ``ablens+cov``: the same call plus the metrics of ``tea-tasting+cov`` (CUPED revenue |
  pre_revenue, orders / sessions, revenue / orders), which need the same cross-moments, so the
  cost of actually testing a ratio and a CUPED metric is measured.
* ``tea-tasting``: ``tt.Experiment`` on an Ibis DuckDB table (2 means + 1 proportion).
* ``tea-tasting+cov``: the same plus metrics that make tea-tasting aggregate the same extra
  columns and covariances (CUPED revenue | pre_revenue, orders / sessions, revenue / orders).
* ``pandas``: ``pd.read_parquet``, group by arm, ``scipy.stats.ttest_ind`` on raw arrays, a z
  test by hand and ``np.cov`` for the pairs (the naive baseline).

Run by hand, e.g.::

    python benchmarks/data_layer.py --rows 10000000 100000000 --repeats 3

It prints a markdown report (machine, load, versions, timings, peak memory, agreement of the
statistics between contenders, and accuracy of the effects against exact sums); ``--output``
also writes it to a file. Data are cached in ``--data-dir``. A contender whose peak memory,
extrapolated from the previous row count, would exceed ``--memory-budget-gib`` is skipped (pandas
at 100M rows needs about 18 GiB).
"""

# Heavy libraries are imported inside functions on purpose: each worker must pay for exactly
# its own imports, and the parent must not pull numpy/duckdb into every worker's start-up.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

CONTROL = "control"
TREATMENT = "treatment"
VARIANT = "variant"
MEANS = ("revenue", "sessions")
PROPORTION = "converted"
COLUMNS = ("revenue", "sessions", "converted", "orders", "pre_revenue")
PAIRS = (("revenue", "pre_revenue"), ("orders", "sessions"), ("revenue", "orders"))
PILOT_SAMPLE_ROWS = 10_000
CONTENDERS = ("floor", "ablens", "ablens+cov", "tea-tasting", "tea-tasting+cov", "pandas")
#: The metrics only the +cov contenders compute: result key -> description.
COV_METRICS = {
    "revenue_cuped": "revenue, CUPED on pre_revenue",
    "orders_per_session": "orders / sessions (delta method)",
    "revenue_per_order": "revenue / orders (delta method)",
}
DATA_VERSION = 1  # bump when the generator changes, so cached files are not reused
PACKAGES = (
    "duckdb",
    "ibis-framework",
    "tea-tasting",
    "pandas",
    "pyarrow",
    "numpy",
    "scipy",
    "polars",
    "narwhals",
)

Stats = dict[str, float]


# ---------------------------------------------------------------------------- data generation
def data_path(data_dir: Path, rows: int, seed: int) -> Path:
    """Cached parquet file for a row count and seed."""
    return data_dir / f"users-{rows}-seed{seed}-v{DATA_VERSION}.parquet"


def generate(path: Path, rows: int, seed: int, chunk_rows: int) -> None:
    """Write ``rows`` synthetic users to ``path`` in chunks, with bounded memory.

    Each chunk has its own seeded generator, so the file depends only on ``rows``, ``seed`` and
    ``chunk_rows``. A latent per-user propensity drives conversion, basket value and the
    pre-period revenue, so ``revenue`` and ``pre_revenue`` are correlated. Treatment gets a small
    lift in conversion and basket value.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("user_id", pa.int64()),
            (VARIANT, pa.string()),
            ("revenue", pa.float64()),
            ("sessions", pa.int64()),
            ("orders", pa.int64()),
            ("converted", pa.bool_()),
            ("pre_revenue", pa.float64()),
        ]
    )
    labels = pa.array([CONTROL, TREATMENT], type=pa.string())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    started = time.perf_counter()
    with pq.ParquetWriter(partial, schema, compression="snappy") as writer:
        for index, start in enumerate(range(0, rows, chunk_rows)):
            n = min(chunk_rows, rows - start)
            rng = np.random.default_rng([seed, index])
            treated = rng.random(n) < 0.5
            propensity = rng.standard_normal(n)
            logit = -2.2 + 0.6 * propensity + 0.03 * treated
            converted = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
            sessions = rng.poisson(3.0 + 1.5 * converted)
            orders = np.where(converted, 1 + rng.poisson(0.4, n), 0)
            basket = rng.lognormal(3.0 + 0.4 * propensity + 0.02 * treated, 0.9)
            revenue = np.where(converted, orders * basket, 0.0)
            pre_logit = -2.2 + 0.6 * propensity
            pre_converted = rng.random(n) < 1.0 / (1.0 + np.exp(-pre_logit))
            pre_revenue = np.where(pre_converted, rng.lognormal(3.0 + 0.4 * propensity, 0.9), 0.0)
            variant = pa.DictionaryArray.from_arrays(
                pa.array(treated.astype(np.int8)), labels
            ).cast(pa.string())
            table = pa.Table.from_arrays(
                [
                    pa.array(np.arange(start, start + n, dtype=np.int64)),
                    variant,
                    pa.array(revenue),
                    pa.array(sessions.astype(np.int64)),
                    pa.array(orders.astype(np.int64)),
                    pa.array(converted),
                    pa.array(pre_revenue),
                ],
                schema=schema,
            )
            writer.write_table(table, row_group_size=1_000_000)
            done = start + n
            print(
                f"  generated {done:,}/{rows:,} rows ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )
    partial.rename(path)


def warm_page_cache(path: Path) -> None:
    """Read the file once so every contender starts with the same (warm) page cache."""
    with path.open("rb") as handle:
        while handle.read(64 << 20):
            pass


# ---------------------------------------------------------------------------- contenders
def quote_literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def run_floor(path: str) -> tuple[float, Stats]:
    """One hand-written DuckDB statement, then the tests from ablens' arithmetic."""
    import duckdb

    import ablens

    imported = time.perf_counter()
    source = f"read_parquet({quote_literal(path)})"
    sql = f"""
        WITH pilot AS (
            SELECT avg(revenue) AS k_r, avg(sessions::DOUBLE) AS k_s,
                   avg(converted::DOUBLE) AS k_c, avg(orders::DOUBLE) AS k_o,
                   avg(pre_revenue) AS k_p
            FROM (SELECT * FROM {source} LIMIT {PILOT_SAMPLE_ROWS})
        ),
        shifted AS (
            SELECT variant,
                   revenue - k_r AS r, sessions::DOUBLE - k_s AS s,
                   converted::DOUBLE - k_c AS c, orders::DOUBLE - k_o AS o,
                   pre_revenue - k_p AS p
            FROM {source}, pilot
        )
        SELECT variant, count(*) AS n,
               any_value(k_r) AS k_r, any_value(k_s) AS k_s, any_value(k_c) AS k_c,
               any_value(k_o) AS k_o, any_value(k_p) AS k_p,
               sum(r) AS s_r, sum(s) AS s_s, sum(c) AS s_c, sum(o) AS s_o, sum(p) AS s_p,
               sum(r * r) AS rr, sum(s * s) AS ss, sum(c * c) AS cc, sum(o * o) AS oo,
               sum(p * p) AS pp, sum(r * p) AS rp, sum(o * s) AS os, sum(r * o) AS ro
        FROM shifted, pilot
        GROUP BY variant
        ORDER BY variant
    """
    # The pilot CTE is joined again only to carry k_* into the outer select (at worst DuckDB
    # reads the 10,000-row sample twice). Nothing but the quoted path is interpolated.
    cursor = duckdb.connect().execute(sql)
    names = [d[0] for d in cursor.description]
    rows = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}

    letters = {"revenue": "r", "sessions": "s", "converted": "c", "orders": "o", "pre_revenue": "p"}
    arms: dict[str, dict[str, float]] = {}
    for arm, row in rows.items():
        n = row["n"]
        summary: dict[str, float] = {"n": n}
        for column, x in letters.items():
            summary[f"mean.{column}"] = row[f"k_{x}"] + row[f"s_{x}"] / n
            comoment = row[f"{x}{x}"] - row[f"s_{x}"] ** 2 / n
            summary[f"var.{column}"] = comoment / (n - 1)
        for a, b in PAIRS:
            x, y = letters[a], letters[b]
            key = f"{x}{y}" if f"{x}{y}" in row else f"{y}{x}"
            comoment = row[key] - row[f"s_{x}"] * row[f"s_{y}"] / n
            summary[f"cov.{a}.{b}"] = comoment / (n - 1)
        arms[arm] = summary

    c, t = arms[CONTROL], arms[TREATMENT]
    stats: Stats = {}
    for column in MEANS:
        result = ablens.mean_test(
            int(c["n"]),
            c[f"mean.{column}"],
            c[f"var.{column}"],
            int(t["n"]),
            t[f"mean.{column}"],
            t[f"var.{column}"],
        )
        stats[f"{column}.t"] = result.statistic
        stats[f"{column}.effect"] = result.effect
    successes = [round(arm["n"] * arm[f"mean.{PROPORTION}"]) for arm in (c, t)]
    result = ablens.proportion_test(successes[0], int(c["n"]), successes[1], int(t["n"]))
    stats[f"{PROPORTION}.z"] = result.statistic
    stats[f"{PROPORTION}.effect"] = result.effect
    stats[f"{PROPORTION}.p"] = result.p_value
    for name, arm in (("c", c), ("t", t)):
        for a, b in PAIRS:
            stats[f"cov.{a}.{b}.{name}"] = arm[f"cov.{a}.{b}"]
    return imported, stats


def _run_ablens(path: str, *, with_cov: bool) -> tuple[float, Stats]:
    import ablens

    imported = time.perf_counter()
    metrics: list[Any] = [
        ablens.Mean("revenue"),
        ablens.Mean("sessions"),
        ablens.Proportion("converted"),
    ]
    names = {}
    if with_cov:
        names = {
            "revenue_cuped": "revenue (CUPED)",
            "orders_per_session": "orders / sessions",
            "revenue_per_order": "revenue / orders",
        }
        metrics += [
            ablens.Mean("revenue", name=names["revenue_cuped"], covariates=("pre_revenue",)),
            ablens.Ratio("orders", "sessions"),
            ablens.Ratio("revenue", "orders"),
        ]
    # Without +cov the three pairs are asked for explicitly; with it, the metrics need them.
    result = ablens.analyze(
        path, metrics, control=CONTROL, variant=VARIANT, pairs=[] if with_cov else list(PAIRS)
    )
    stats: Stats = {}
    for column in MEANS:
        r = result.comparison(column).result
        stats[f"{column}.t"] = r.statistic
        stats[f"{column}.effect"] = r.effect
    r = result.comparison(PROPORTION).result
    stats[f"{PROPORTION}.z"] = r.statistic
    stats[f"{PROPORTION}.effect"] = r.effect
    stats[f"{PROPORTION}.p"] = r.p_value
    for key, name in names.items():
        r = result.comparison(name).result
        stats[f"{key}.effect"] = r.effect
        stats[f"{key}.stat"] = r.statistic
        stats[f"{key}.p"] = r.p_value
    return imported, stats


def run_ablens(path: str) -> tuple[float, Stats]:
    """The API under construction: ``ablens.analyze`` straight on a parquet path."""
    return _run_ablens(path, with_cov=False)


def run_ablens_cov(path: str) -> tuple[float, Stats]:
    """``ablens.analyze`` with tea-tasting+cov's metrics too: CUPED revenue and two ratios."""
    return _run_ablens(path, with_cov=True)


def _run_tea_tasting(path: str, *, with_cov: bool) -> tuple[float, Stats]:
    import ibis
    import tea_tasting as tt

    imported = time.perf_counter()
    table = ibis.duckdb.connect().read_parquet(path)
    metrics: dict[str, Any] = {
        "revenue": tt.Mean("revenue", equal_var=False, use_t=True),
        "sessions": tt.Mean("sessions", equal_var=False, use_t=True),
        "converted": tt.Proportion("converted", method="norm", correction=False, equal_var=True),
    }
    if with_cov:
        metrics |= {
            "revenue_cuped": tt.Mean("revenue", "pre_revenue"),
            "orders_per_session": tt.RatioOfMeans("orders", "sessions"),
            "revenue_per_order": tt.RatioOfMeans("revenue", "orders"),
        }
    result = tt.Experiment(metrics, variant=VARIANT).analyze(table, control=CONTROL)
    stats: Stats = {}
    for column in MEANS:
        stats[f"{column}.t"] = float(result[column].statistic)
        stats[f"{column}.effect"] = float(result[column].effect_size)
    stats[f"{PROPORTION}.effect"] = float(result[PROPORTION].effect_size)
    stats[f"{PROPORTION}.p"] = float(result[PROPORTION].pvalue)
    if with_cov:
        for key in COV_METRICS:
            stats[f"{key}.effect"] = float(result[key].effect_size)
            stats[f"{key}.stat"] = float(result[key].statistic)
            stats[f"{key}.p"] = float(result[key].pvalue)
    return imported, stats


def run_tea_tasting(path: str) -> tuple[float, Stats]:
    """tea-tasting on an Ibis DuckDB table: the two means and the proportion."""
    return _run_tea_tasting(path, with_cov=False)


def run_tea_tasting_cov(path: str) -> tuple[float, Stats]:
    """tea-tasting, plus metrics that need the same extra columns and covariances."""
    return _run_tea_tasting(path, with_cov=True)


def run_pandas(path: str) -> tuple[float, Stats]:
    """The naive baseline: load the columns, split by arm, test raw arrays."""
    import numpy as np
    import pandas as pd
    from scipy import special
    from scipy import stats as sps

    imported = time.perf_counter()
    frame = pd.read_parquet(path, columns=[VARIANT, *COLUMNS])
    groups = dict(tuple(frame.groupby(VARIANT)))
    c, t = groups[CONTROL], groups[TREATMENT]
    stats: Stats = {}
    for column in MEANS:
        test = sps.ttest_ind(t[column].to_numpy(), c[column].to_numpy(), equal_var=False)
        stats[f"{column}.t"] = float(test.statistic)
        stats[f"{column}.effect"] = float(t[column].mean() - c[column].mean())
    n_c, n_t = len(c), len(t)
    x_c, x_t = int(c[PROPORTION].sum()), int(t[PROPORTION].sum())
    p_c, p_t = x_c / n_c, x_t / n_t
    pooled = (x_c + x_t) / (n_c + n_t)
    z = (p_t - p_c) / math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    stats[f"{PROPORTION}.z"] = z
    stats[f"{PROPORTION}.effect"] = p_t - p_c
    stats[f"{PROPORTION}.p"] = float(2 * special.ndtr(-abs(z)))
    for name, arm in (("c", c), ("t", t)):
        for a, b in PAIRS:
            matrix = np.cov(arm[a].to_numpy(dtype=np.float64), arm[b].to_numpy(dtype=np.float64))
            stats[f"cov.{a}.{b}.{name}"] = float(matrix[0, 1])
    return imported, stats


RUNNERS = {
    "floor": run_floor,
    "ablens": run_ablens,
    "ablens+cov": run_ablens_cov,
    "tea-tasting": run_tea_tasting,
    "tea-tasting+cov": run_tea_tasting_cov,
    "pandas": run_pandas,
}


def worker(contender: str, path: str, result_path: Path) -> int:
    """Run one contender in this (fresh) process and write its timings and statistics."""
    started = time.perf_counter()
    payload: dict[str, Any]
    try:
        imported, stats = RUNNERS[contender](path)
    except (ImportError, TypeError, AttributeError, NotImplementedError) as error:
        if not contender.startswith("ablens"):
            raise
        payload = {"status": f"not available ({type(error).__name__}: {error})"}
    else:
        finished = time.perf_counter()
        payload = {
            "status": "ok",
            "import_seconds": imported - started,
            "work_seconds": finished - imported,
            "stats": stats,
        }
    payload["peak_mib"] = peak_rss_mib()
    result_path.write_text(json.dumps(payload))
    return 0


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM), in MiB.

    Not ``getrusage``/``wait4``: Linux carries the parent's high-water mark into a forked child's
    ``ru_maxrss`` across ``exec``, so a child can never report less than its parent's peak.
    VmHWM belongs to the address space created by ``exec``, so it is the worker's own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


# ---------------------------------------------------------------------------- measurement
@dataclass
class Run:
    """One fresh-process run of one contender."""

    wall: float
    peak_mib: float
    status: str
    cpu: float = math.nan
    import_seconds: float = math.nan
    stats: Stats = field(default_factory=dict)


def measure(contender: str, path: Path, script: Path) -> Run:
    """Spawn a fresh interpreter for one contender; time it and read its peak RSS."""
    with tempfile.TemporaryDirectory(prefix="ablens-bench-") as tmp:
        result_path = Path(tmp) / "result.json"
        stderr_path = Path(tmp) / "stderr.txt"
        command = [
            sys.executable,
            str(script),
            "--worker",
            contender,
            "--path",
            str(path),
            "--result",
            str(result_path),
        ]
        with stderr_path.open("wb") as stderr:
            started = time.perf_counter()
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and script, no shell
                command, stdout=subprocess.DEVNULL, stderr=stderr
            )
            # wait4 reaps exactly this child and returns its rusage (ru_maxrss: fallback only).
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        # Fallback only (see peak_rss_mib): an upper bound that includes this parent's peak.
        peak_mib = usage.ru_maxrss / 1024
        # CPU time (all threads) is less sensitive than wall time to other load on the machine.
        cpu = usage.ru_utime + usage.ru_stime
        if process.returncode != 0 or not result_path.exists():
            lines = stderr_path.read_text(errors="replace").strip().splitlines()
            reason = lines[-1] if lines else f"exit code {process.returncode}"
            return Run(wall, peak_mib, f"failed: {reason}", cpu)
        payload = json.loads(result_path.read_text())
    peak_mib = payload.get("peak_mib", peak_mib)
    if payload["status"] != "ok":
        return Run(wall, peak_mib, payload["status"], cpu)
    return Run(wall, peak_mib, "ok", cpu, payload["import_seconds"], payload["stats"])


# ---------------------------------------------------------------------------- report
def machine_info(repo: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Markdown lines describing the machine, the software (``packages``) and the code."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = f"{total_ram_gib():.1f} GiB"
    versions = []
    for package in ("ablens", *packages):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    try:
        commit = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            ["git", "-C", str(repo), "describe", "--always", "--dirty"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return [
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {cpu}, {os.cpu_count()} logical cores; RAM: {ram}",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()} ({sys.executable})",
        f"- Packages: {', '.join(versions)}",
        f"- ablens source: git {commit}",
    ]


def total_ram_gib() -> float:
    """Physical memory, from /proc/meminfo (NaN if unknown)."""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    return math.nan


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews timings."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def over_budget(
    contender: str, rows: int, results: dict[int, dict[str, list[Run]]], budget_mib: float
) -> str:
    """Why a contender is skipped at this row count ('' to run it).

    Its peak RSS at the largest smaller row count already measured, scaled linearly, must fit
    in the budget: an out-of-memory kill could take other processes on the machine with it.
    """
    measured = [
        (previous, max(r.peak_mib for r in runs if r.status == "ok"))
        for previous, by_contender in results.items()
        if previous < rows
        for runs in [by_contender.get(contender, [])]
        if any(r.status == "ok" for r in runs)
    ]
    if not measured:
        return ""
    previous, peak = max(measured)
    estimate = peak * rows / previous
    if estimate <= budget_mib:
        return ""
    return (
        f"skipped: estimated peak {estimate / 1024:.1f} GiB ({peak:,.0f} MiB at {previous:,} rows,"
        f" scaled) > budget {budget_mib / 1024:.1f} GiB (--memory-budget-gib)"
    )


def fmt(value: float, digits: int = 2) -> str:
    """A number, or a dash for NaN."""
    return "—" if math.isnan(value) else f"{value:.{digits}f}"


def timing_table(results: dict[int, dict[str, list[Run]]], file_sizes: dict[int, int]) -> list[str]:
    """The markdown table of timings and memory."""
    columns = "rows | file MiB | contender | median s | min s | CPU s | import s | peak RSS MiB"
    lines = [
        f"| {columns} | × floor | status |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for rows, by_contender in results.items():
        floor_runs = [r for r in by_contender.get("floor", []) if r.status == "ok"]
        floor = statistics.median(r.wall for r in floor_runs) if floor_runs else math.nan
        for contender, runs in by_contender.items():
            ok = [r for r in runs if r.status == "ok"]
            size = f"{file_sizes[rows] / 2**20:,.0f}"
            if not ok:
                status = runs[0].status.replace("|", "\\|") if runs else "not run"
                lines.append(
                    f"| {rows:,} | {size} | {contender} | — | — | — | — | — | — | {status} |"
                )
                continue
            median = statistics.median(r.wall for r in ok)
            status = "ok" if len(ok) == len(runs) else f"{len(runs) - len(ok)} run(s) failed"
            lines.append(
                f"| {rows:,} | {size} | {contender} | {median:.2f} | {min(r.wall for r in ok):.2f}"
                f" | {fmt(statistics.median(r.cpu for r in ok))}"
                f" | {fmt(statistics.median(r.import_seconds for r in ok))}"
                f" | {max(r.peak_mib for r in ok):,.0f} | {fmt(median / floor)} | {status} |"
            )
    return lines


def agreement_table(results: dict[int, dict[str, list[Run]]]) -> list[str]:
    """Largest relative difference of each statistic from the floor's first run, over all runs.

    The floor's own column compares its repeats with each other: DuckDB's parallel sums are not
    added in a fixed order, so repeats of one contender may differ in the last bits.
    """
    header: list[str] = []
    lines: list[str] = []
    welch_worst = 0.0
    for rows, by_contender in results.items():
        floor_runs = [r for r in by_contender.get("floor", []) if r.status == "ok"]
        if not floor_runs:
            continue
        contenders = list(by_contender)
        if not header:
            header = [
                "| rows | statistic | floor value | "
                + " | ".join("floor (its repeats)" if c == "floor" else c for c in contenders)
                + " |",
                "|---:|---|---:|" + "---:|" * len(contenders),
            ]
        reference = floor_runs[0].stats
        for key, ref in reference.items():
            cells = []
            for contender in contenders:
                diffs = [
                    abs(run.stats[key] - ref) / max(abs(ref), 1e-300)
                    for run in by_contender[contender]
                    if run.status == "ok" and key in run.stats
                ]
                cells.append(f"{max(diffs):.1e}" if diffs else "n/a")
                if diffs and key.endswith(".t"):
                    welch_worst = max(welch_worst, *diffs)
            lines.append(f"| {rows:,} | {key} | {ref:.12g} | " + " | ".join(cells) + " |")
    summary = (
        f"Largest relative disagreement of a Welch t statistic with the floor: {welch_worst:.1e}"
        " (n/a: the contender does not produce that number)."
    )
    return [*header, *lines, "", summary]


def cov_agreement_table(results: dict[int, dict[str, list[Run]]]) -> list[str]:
    """ablens+cov against tea-tasting+cov's first run on the CUPED and ratio metrics.

    The floor computes no CUPED or ratio statistic, so tea-tasting+cov is the reference here; its
    own column compares its repeats with each other.
    """
    reference_name, other = "tea-tasting+cov", "ablens+cov"
    header = f"| rows | statistic | {reference_name} value | {reference_name} (its repeats)"
    lines = [f"{header} | {other} |", "|---:|---|---:|---:|---:|"]
    for rows, by_contender in results.items():
        reference_runs = [r for r in by_contender.get(reference_name, []) if r.status == "ok"]
        if not reference_runs:
            continue
        reference = reference_runs[0].stats
        for key in [f"{m}.{s}" for m in COV_METRICS for s in ("effect", "stat", "p")]:
            if key not in reference:
                continue
            ref = reference[key]
            cells = []
            for contender in (reference_name, other):
                diffs = [
                    abs(run.stats[key] - ref) / max(abs(ref), 1e-300)
                    for run in by_contender.get(contender, [])
                    if run.status == "ok" and key in run.stats
                ]
                cells.append(f"{max(diffs):.1e}" if diffs else "n/a")
            lines.append(f"| {rows:,} | {key} | {ref:.12g} | " + " | ".join(cells) + " |")
    return lines


def exact_reference(path: Path) -> Stats:
    """Effects computed without rounding error, to judge who is right when contenders differ.

    sessions, converted and orders are integers, so per-arm sums are exact (HUGEINT) and the
    effect is a difference of fractions (for the means and for orders / sessions). revenue is
    summed with DuckDB's compensated ``fsum``, which leaves about one rounding error in each mean
    (and in revenue / orders).
    """
    from fractions import Fraction

    import duckdb

    sql = f"""
        SELECT variant, count(*) AS n, sum(sessions::HUGEINT) AS sessions,
               sum(converted::HUGEINT) AS converted, fsum(revenue) AS revenue,
               sum(orders::HUGEINT) AS orders
        FROM read_parquet({quote_literal(str(path))})
        GROUP BY variant
    """
    rows = {row[0]: row[1:] for row in duckdb.connect().execute(sql).fetchall()}
    names = ("sessions", "converted", "revenue", "orders")
    (n_c, *sums_c), (n_t, *sums_t) = rows[CONTROL], rows[TREATMENT]
    c = {name: Fraction(total) for name, total in zip(names, sums_c, strict=True)}
    t = {name: Fraction(total) for name, total in zip(names, sums_t, strict=True)}
    reference: Stats = {}
    for name in names[:3]:
        reference[f"{name}.effect"] = float(t[name] / n_t - c[name] / n_c)
    for key, numerator, denominator in (
        ("orders_per_session", "orders", "sessions"),
        ("revenue_per_order", "revenue", "orders"),
    ):
        effect = t[numerator] / t[denominator] - c[numerator] / c[denominator]
        reference[f"{key}.effect"] = float(effect)
    return reference


def accuracy_table(
    results: dict[int, dict[str, list[Run]]], references: dict[int, Stats]
) -> list[str]:
    """Largest relative error of each contender's effects against the exact reference."""
    header: list[str] = []
    lines: list[str] = []
    for rows, reference in references.items():
        by_contender = results[rows]
        contenders = list(by_contender)
        if not header:
            header = [
                "| rows | statistic | exact value | " + " | ".join(contenders) + " |",
                "|---:|---|---:|" + "---:|" * len(contenders),
            ]
        for key, ref in reference.items():
            cells = []
            for contender in contenders:
                errors = [
                    abs(run.stats[key] - ref) / max(abs(ref), 1e-300)
                    for run in by_contender[contender]
                    if run.status == "ok" and key in run.stats
                ]
                cells.append(f"{max(errors):.1e}" if errors else "n/a")
            lines.append(f"| {rows:,} | {key} | {ref:.12g} | " + " | ".join(cells) + " |")
    return [*header, *lines]


def main(argv: list[str] | None = None) -> int:
    """Generate data if needed, run every contender, print the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/ablens-bench"))  # noqa: S108
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--chunk-rows", type=int, default=5_000_000)
    parser.add_argument(
        "--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS), metavar="NAME"
    )
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--memory-budget-gib",
        type=float,
        default=0.6 * total_ram_gib(),
        help="skip a contender whose peak, extrapolated linearly from the previous row count, "
        "would exceed this (default: 60%% of RAM)",
    )
    parser.add_argument("--worker", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        return worker(args.worker, args.path, args.result)
    if args.generate:
        generate(args.generate, args.rows[0], args.seed, args.chunk_rows)
        return 0

    script = Path(__file__).resolve()
    repo = script.parent.parent
    budget_mib = args.memory_budget_gib * 1024
    load_before = load_average()
    results: dict[int, dict[str, list[Run]]] = {}
    references: dict[int, Stats] = {}
    file_sizes: dict[int, int] = {}
    for rows in sorted(args.rows):
        path = data_path(args.data_dir, rows, args.seed)
        if not path.exists():
            print(f"generating {path} ...", file=sys.stderr)
            # In a child, so this parent stays small (its peak would leak into ru_maxrss).
            subprocess.run(  # noqa: S603 - our own interpreter and script, no shell
                [
                    sys.executable,
                    str(script),
                    "--generate",
                    str(path),
                    "--rows",
                    str(rows),
                    "--seed",
                    str(args.seed),
                    "--chunk-rows",
                    str(args.chunk_rows),
                ],
                check=True,
            )
        file_sizes[rows] = path.stat().st_size
        warm_page_cache(path)
        by_contender: dict[str, list[Run]] = {c: [] for c in args.contenders}
        for contender in args.contenders:
            reason = over_budget(contender, rows, results, budget_mib)
            if reason:
                by_contender[contender].append(Run(math.nan, math.nan, reason))
                print(f"  {rows:,} rows, {contender}: {reason}", file=sys.stderr)
        runnable = [c for c in args.contenders if not by_contender[c]]
        for repeat in range(args.repeats):
            # Rotate the order so no contender always runs first (or right after another).
            shift = repeat % max(len(runnable), 1)
            for contender in [*runnable[shift:], *runnable[:shift]]:
                run = measure(contender, path, script)
                by_contender[contender].append(run)
                print(
                    f"  {rows:,} rows, repeat {repeat + 1}/{args.repeats}, {contender}: "
                    f"{run.wall:.2f} s, {run.peak_mib:,.0f} MiB, {run.status}",
                    file=sys.stderr,
                )
        results[rows] = by_contender
        references[rows] = exact_reference(path)

    report = [
        f"# Data layer benchmark ({args.repeats} repeat(s), fresh process per run)",
        "",
        *machine_info(repo),
        f"- Load average (1/5/15 min) before: {load_before}; after: {load_average()}",
        "",
        "Workload: per arm, count, sums and centred second moments of revenue, sessions,",
        "converted, orders and pre_revenue plus 3 cross-moments (revenue×pre_revenue,",
        "orders×sessions, revenue×orders); Welch tests for revenue and sessions and a z test for",
        "converted. The +cov contenders also test revenue CUPED on pre_revenue and the ratios",
        "orders / sessions and revenue / orders (delta method) from those same moments.",
        "Wall time is end to end (interpreter start, imports, query, statistics);",
        "'CPU s' is the child's user + system time (median; all threads, so it can exceed wall",
        "time, and it is less affected than wall time by other load on the machine); 'import s'",
        "is the time spent importing the contender's libraries; peak RSS is the",
        "worker's VmHWM (max over repeats). The parquet file is in the page cache (read once",
        "before the runs); runs of the contenders are interleaved, in rotating order.",
        "",
        *timing_table(results, file_sizes),
        "",
        "## Agreement of the statistics",
        "",
        *agreement_table(results),
        "",
        "## Accuracy against an exact reference",
        "",
        "Effects (treatment − control) from exact integer sums (sessions, converted, orders /",
        "sessions) and compensated sums (revenue and revenue / orders, DuckDB `fsum`); largest",
        "relative error over the runs.",
        "",
        *accuracy_table(results, references),
        "",
        "## Agreement of the CUPED and ratio metrics (ablens+cov vs tea-tasting+cov)",
        "",
        "Both use the same estimators: CUPED with theta = Cov(Y, X) / Var(X) over both arms",
        "pooled and Var(Y - theta X) per arm; ratios by the delta method. So effects and",
        "statistics (effect / standard error) should agree to rounding. The p-values differ by",
        "design: tea-tasting refers these statistics to Welch's t (its default use_t=True),",
        "ablens to the standard normal.",
        "",
        *cov_agreement_table(results),
        "",
    ]
    text = "\n".join(report)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
