"""Benchmark pretest planning: power and MDE curves, one solved size, and planning from history.

Three workloads, each against statsmodels (the peer that has power solvers; tea-tasting,
spotify-confidence, gbstats and ambrosia solve one design at a time or not at all):

* ``curves``: power over 1,000 per-group sizes (100 to 5,000, d = 0.1, two-sided two-sample t)
  and the MDE at each of those sizes. ablens: `ablens.power_curve` / `ablens.mde_curve` (one
  vectorized evaluation each). statsmodels: ``TTestIndPower().power`` with the array of sizes,
  and ``solve_power(effect_size=None, ...)`` in a Python loop (it solves one size at a time).
  Both compute the noncentral t power with both tails (ablens ``strict=True``, R's
  ``power.t.test(strict = TRUE)``), so the numbers must agree; the report prints how far apart
  they are and how many points each returns as NaN.
* ``solve``: the per-group size for d = 0.1 and power 0.8, one call, repeated.
* ``history``: a plan from past data, a parquet file of one row per user (first-seen day over
  28 days, accruing non-linearly; revenue and a pre-period covariate). ablens:
  `ablens.power_plan_from_history` (moments, the CUPED correlation and the cumulative units by day
  computed in DuckDB) for +2% revenue. Floor: the spreadsheet-plus way, pandas reads the columns,
  computes the mean, sd and correlation and the users by day, then statsmodels solves the size.
  Each run is a fresh interpreter, so import time and peak memory count.
* ``sequential``: `ablens.power_plan` for a sequential reading ("group-sequential",
  "msprt", "confidence-sequence") at 10, 100, 365 and 1,000 equally spaced looks (10% baseline,
  +5% relative, 10,000 users a day), each in a fresh interpreter; and ``ablens power ... --json``
  as a whole CLI process at 1,000 looks. statsmodels has no sequential planner, so the floor is
  the fixed-horizon plan (``sequential=None``) in the same kind of process.
* ``mde-kinds``: `ablens.mde_curve` over 1,000 sizes for every power kind (and `power_curve` for
  the same design), in process, best of the repeats.

Run by hand, e.g.::

    pip install -e '.[duckdb]' statsmodels pandas pyarrow
    python benchmarks/planning.py --rows 1000000 10000000 --repeats 3
    python benchmarks/planning.py --workloads sequential mde-kinds  # no data files needed

It prints a markdown report (machine, versions, timings, peak memory, agreement); ``--output``
also writes it to a file. Data are cached in ``--data-dir``.
"""

# Heavy libraries are imported inside functions on purpose: a history worker must pay for
# exactly its own imports.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# benchmarks/ is on sys.path when this file runs as a script
from data_layer import load_average, machine_info, peak_rss_mib

EFFECT_SIZE = 0.1
GRID = (100.0, 5_000.0, 1_000)
HISTORY_DAYS = 28
HISTORY_LIFT = 0.02
DATA_VERSION = 2  # bump when the generator changes, so cached files are not reused
PACKAGES = ("statsmodels", "numpy", "scipy", "duckdb", "pandas", "pyarrow")
WORKLOADS = ("curves", "mde-kinds", "sequential", "history")


def best_of(repeats: int, call: Any) -> float:  # noqa: ANN401 - any zero-argument callable
    """The fastest of ``repeats`` timed calls, in seconds (the least disturbed run)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def best_cpu_of(repeats: int, call: Any) -> float:  # noqa: ANN401 - any zero-argument callable
    """The least CPU time of ``repeats`` calls, in seconds (other load stretches it less)."""
    times = []
    for _ in range(repeats):
        started = time.process_time()
        call()
        times.append(time.process_time() - started)
    return min(times)


# ---------------------------------------------------------------------------- curves and solve
def curves_and_solve(repeats: int) -> list[str]:
    """Time and compare the vectorized curves and the one-size solve against statsmodels."""
    import numpy as np
    from statsmodels.stats.power import TTestIndPower

    import ablens

    sizes = np.linspace(*GRID)
    peer = TTestIndPower()
    ours_power = ablens.power_curve("t-test", sizes, effect=EFFECT_SIZE, sd=1.0, strict=True)
    peer_power = np.asarray(peer.power(EFFECT_SIZE, nobs1=sizes, alpha=0.05), dtype=float)
    ours_mde = ablens.mde_curve("t-test", sizes, power=0.8, sd=1.0, strict=True)

    def peer_mde_at(n: float) -> float:
        # statsmodels answers a scalar or a one-element array, depending on the root finder
        return float(np.squeeze(peer.solve_power(effect_size=None, nobs1=n, alpha=0.05, power=0.8)))

    peer_mde = np.array([peer_mde_at(n) for n in sizes])
    ours_n = ablens.solve_power("t-test", effect=EFFECT_SIZE, power=0.8, strict=True).n
    peer_n = float(peer.solve_power(effect_size=EFFECT_SIZE, alpha=0.05, power=0.8))

    def power_gap() -> float:
        both = ~(np.isnan(ours_power) | np.isnan(peer_power))
        return float(np.max(np.abs(ours_power[both] - peer_power[both])))

    def mde_check() -> str:
        # the power each MDE really gives, by statsmodels' own power function: 0.8 if exact
        ours_off = np.abs(peer.power(ours_mde, nobs1=sizes, alpha=0.05) - 0.8)
        peer_off = np.abs(peer.power(np.abs(peer_mde), nobs1=sizes, alpha=0.05) - 0.8)
        return (
            f"power at the MDE - 0.8: ablens max {np.nanmax(ours_off):.1e}, statsmodels max "
            f"{np.nanmax(peer_off):.1e} (over 1e-6 at {int((peer_off > 1e-6).sum())} sizes; "
            f"{int((peer_mde < 0).sum())} negative roots)"
        )

    rows = [
        (
            f"power over {len(sizes):,} sizes",
            best_of(
                repeats,
                lambda: ablens.power_curve(
                    "t-test", sizes, effect=EFFECT_SIZE, sd=1.0, strict=True
                ),
            ),
            best_of(repeats, lambda: peer.power(EFFECT_SIZE, nobs1=sizes, alpha=0.05)),
            (
                f"max abs diff {power_gap():.1e}; NaN: ablens {int(np.isnan(ours_power).sum())}, "
                f"statsmodels {int(np.isnan(peer_power).sum())}"
            ),
        ),
        (
            f"MDE over {len(sizes):,} sizes",
            best_of(
                repeats,
                lambda: ablens.mde_curve("t-test", sizes, power=0.8, sd=1.0, strict=True),
            ),
            best_of(
                1,  # a thousand root searches: one run is long enough to time
                lambda: [peer_mde_at(n) for n in sizes],
            ),
            mde_check(),
        ),
        (
            "one size (d = 0.1, power 0.8)",
            best_of(
                repeats * 20,
                lambda: ablens.solve_power("t-test", effect=EFFECT_SIZE, power=0.8, strict=True),
            ),
            best_of(
                repeats * 20,
                lambda: peer.solve_power(effect_size=EFFECT_SIZE, alpha=0.05, power=0.8),
            ),
            f"n per group {ours_n:.6f} vs {peer_n:.6f} (rel diff {abs(ours_n / peer_n - 1):.1e})",
        ),
    ]
    lines = [
        "| workload | ablens (ms) | statsmodels (ms) | speed-up | agreement |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    lines.extend(
        f"| {name} | {ours * 1e3:.3f} | {theirs * 1e3:.3f} | {theirs / ours:.0f}x | {note} |"
        for name, ours, theirs, note in rows
    )
    return lines


# ---------------------------------------------------------------------------- history
def history_path(data_dir: Path, rows: int, seed: int) -> Path:
    return data_dir / f"history-{rows}-seed{seed}-v{DATA_VERSION}.parquet"


def generate_history(path: Path, rows: int, seed: int) -> None:
    """One row per user: first-seen day (new users thin out over 28 days), revenue, pre-revenue."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    # new users by day fall from about 7% to 1.5% of the total: the accrual is not linear
    weights = np.exp(-np.arange(HISTORY_DAYS) / 12.0)
    day = rng.choice(HISTORY_DAYS, size=rows, p=weights / weights.sum())
    # a per-user propensity drives both periods: buyers then are buyers now (CUPED's premise)
    propensity = rng.standard_normal(rows)
    buys = 1.0 / (1.0 + np.exp(-(-1.5 + 2.0 * propensity)))
    revenue = np.where(rng.random(rows) < buys, rng.lognormal(3.0 + 0.6 * propensity, 0.5), 0.0)
    pre_revenue = np.where(rng.random(rows) < buys, rng.lognormal(3.0 + 0.6 * propensity, 0.5), 0.0)
    first_seen = np.datetime64("2026-10-01") + day.astype("timedelta64[D]")
    table = pa.table(
        {
            "user_id": np.arange(rows, dtype=np.int64),
            "first_seen": first_seen,
            "revenue": revenue,
            "pre_revenue": pre_revenue,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    pq.write_table(table, partial)
    partial.rename(path)


def worker(contender: str, path: str) -> dict[str, Any]:
    """Run one history contender; return its plan's numbers and its import time."""
    started = time.perf_counter()
    if contender == "ablens":
        import ablens

        imported = time.perf_counter()
        plan = ablens.power_plan_from_history(
            path,
            metric=ablens.Mean("revenue", covariates=("pre_revenue",)),
            date="first_seen",
            mde=HISTORY_LIFT,
        )
        return {
            "import_seconds": imported - started,
            "peak_mib": peak_rss_mib(),
            "n_per_arm": plan.n_per_arm[0],
            "days": plan.days,
            "variance_reduction": plan.variance_reduction,
        }
    import numpy as np
    import pandas as pd
    from statsmodels.stats.power import NormalIndPower

    imported = time.perf_counter()
    frame = pd.read_parquet(path, columns=["first_seen", "revenue", "pre_revenue"])
    mean, sd = frame["revenue"].mean(), frame["revenue"].std()
    rho = frame["revenue"].corr(frame["pre_revenue"])
    reduction = rho**2
    cumulative = frame.groupby("first_seen").size().sort_index().cumsum().to_numpy()
    # the relative MDE as an absolute one, on the CUPED-reduced sd (the usual spreadsheet)
    d = HISTORY_LIFT * mean / (sd * math.sqrt(1 - reduction))
    n = math.ceil(NormalIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8))
    days = int(np.searchsorted(cumulative, 2 * n) + 1)
    return {
        "import_seconds": imported - started,
        "peak_mib": peak_rss_mib(),
        "n_per_arm": n,
        "days": days if days <= len(cumulative) else None,
        "variance_reduction": reduction,
    }


def run_worker(contender: str, path: Path) -> tuple[float, dict[str, Any]]:
    """Run a contender in a fresh interpreter: wall seconds and its result (with its peak RSS)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as output:
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 - our own interpreter and script, no shell
            [sys.executable, __file__, "--worker", contender, str(path), output.name],
            check=True,
        )
        wall = time.perf_counter() - started
        return wall, json.loads(Path(output.name).read_text())


def history(rows_list: list[int], repeats: int, data_dir: Path, seed: int) -> list[str]:
    lines = [
        (
            "| rows | contender | wall (s, best) | import (s) | peak RSS (MiB) | n per arm | days "
            "| rho^2 |"
        ),
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for rows in rows_list:
        path = history_path(data_dir, rows, seed)
        if not path.exists():
            generate_history(path, rows, seed)
        for contender in ("ablens", "pandas+statsmodels"):
            runs = [run_worker(contender, path) for _ in range(repeats)]
            wall = min(run[0] for run in runs)
            peak = max(run[1]["peak_mib"] for run in runs)
            result = runs[0][1]
            lines.append(
                f"| {rows:,} | {contender} | {wall:.2f} | {result['import_seconds']:.2f} | "
                f"{peak:.0f} | {result['n_per_arm']:,} | "
                f"{result['days']} | {result['variance_reduction']:.4f} |"
            )
    return lines


# ---------------------------------------------------------------------------- sequential
SEQUENTIAL_READINGS = ("group-sequential", "msprt", "confidence-sequence")
SEQUENTIAL_LOOKS = (10, 100, 365, 1_000)
SEQUENTIAL_PLAN = {"baseline_rate": 0.1, "mde": 0.05, "daily_traffic": 10_000}


def sequential_worker(reading: str, looks: int) -> dict[str, Any]:
    """One plan in this fresh interpreter: import and plan seconds, the plan's numbers."""
    started = time.perf_counter()
    import ablens

    imported = time.perf_counter()
    cpu = time.process_time()
    options: dict[str, Any] = {} if reading == "fixed" else {"sequential": reading, "looks": looks}
    plan = ablens.power_plan(**SEQUENTIAL_PLAN, **options)
    planned = time.perf_counter()
    return {
        "import_seconds": imported - started,
        "plan_seconds": planned - imported,
        # CPU time of the plan (lazy scipy imports included): other load on the machine
        # stretches the wall time, much less the CPU time
        "plan_cpu_seconds": time.process_time() - cpu,
        "peak_mib": peak_rss_mib(),
        "n_per_arm": plan.n_per_arm[0],
        "days": plan.days,
        "inflation": None if plan.sequential is None else plan.sequential.inflation,
    }


def run_sequential(reading: str, looks: int) -> tuple[float, dict[str, Any]]:
    """A sequential plan in a fresh interpreter: wall seconds and its result."""
    with tempfile.NamedTemporaryFile(suffix=".json") as output:
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 - our own interpreter and script, no shell
            [sys.executable, __file__, "--sequential-worker", reading, str(looks), output.name],
            check=True,
        )
        wall = time.perf_counter() - started
        return wall, json.loads(Path(output.name).read_text())


def run_cli(reading: str, looks: int) -> float:
    """``ablens power ... --json`` as a whole process (the console script's module): wall s."""
    flags = ["--baseline-rate", "0.1", "--mde", "0.05", "--daily-traffic", "10000", "--json"]
    if reading != "fixed":
        flags += ["--sequential", reading, "--looks", str(looks)]
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own interpreter, no shell
        [sys.executable, "-c", "from ablens.cli import run; run()", "power", *flags],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def sequential(repeats: int) -> list[str]:
    lines = [
        (
            "| reading | looks | wall (s, best) | plan (s, in process) | plan CPU (s) "
            "| import (s) | peak RSS (MiB) | n per arm | days | inflation |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    cases = [("fixed", 1)] + [(r, k) for r in SEQUENTIAL_READINGS for k in SEQUENTIAL_LOOKS]
    for reading, looks in cases:
        runs = [run_sequential(reading, looks) for _ in range(repeats)]
        wall = min(run[0] for run in runs)
        plan = min(run[1]["plan_seconds"] for run in runs)
        cpu = min(run[1]["plan_cpu_seconds"] for run in runs)
        peak = max(run[1]["peak_mib"] for run in runs)
        result = runs[0][1]
        inflation = "-" if result["inflation"] is None else f"{result['inflation']:.6f}"
        shown = "floor: fixed horizon" if reading == "fixed" else reading
        lines.append(
            f"| {shown} | {looks if reading != 'fixed' else '-'} | {wall:.2f} | {plan:.3f} | "
            f"{cpu:.3f} | {result['import_seconds']:.2f} | {peak:.0f} | "
            f"{result['n_per_arm']:,} | {result['days']} | {inflation} |"
        )
    lines += [
        "",
        "`ablens power ... --json`, a whole CLI process (best of the repeats):",
        "",
        "| reading | looks | wall (s) |",
        "| --- | ---: | ---: |",
    ]
    for reading, looks in [("fixed", 1)] + [(r, 1_000) for r in SEQUENTIAL_READINGS]:
        wall = min(run_cli(reading, looks) for _ in range(repeats))
        shown = "floor: fixed horizon" if reading == "fixed" else reading
        lines.append(f"| {shown} | {looks if reading != 'fixed' else '-'} | {wall:.2f} |")
    return lines


# ---------------------------------------------------------------------------- MDE curves
CURVE_KINDS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("mean", {"sd": 2.0}),
    ("mean", {"sd": 2.0, "sd_treatment": 3.0, "baseline": 5.0, "effect_type": "relative"}),
    ("proportion", {"baseline": 0.08, "effect_type": "relative"}),
    ("t-test", {"sd": 1.0}),
    ("t-test", {"sd": 1.0, "strict": True}),
    ("prop-test", {"baseline": 0.1}),
    ("cohen-h", {}),
    ("chi-square", {"df": 3}),
)


def mde_kinds(repeats: int) -> list[str]:
    """`mde_curve` and `power_curve` over 1,000 sizes for every power kind, in process."""
    import numpy as np

    import ablens

    sizes = np.linspace(*GRID)
    lines = [
        "| kind | design | mde_curve (ms) | mde_curve CPU (ms) | power_curve (ms) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for kind, design in CURVE_KINDS:
        ablens.mde_curve(kind, sizes, **design)  # first call pays the lazy imports
        mde = best_of(max(repeats, 5), lambda k=kind, d=design: ablens.mde_curve(k, sizes, **d))
        cpu = best_cpu_of(max(repeats, 5), lambda k=kind, d=design: ablens.mde_curve(k, sizes, **d))
        effect = 0.1 if kind in ("t-test", "cohen-h", "chi-square") else 0.02
        power = best_of(
            max(repeats, 5),
            lambda k=kind, d=design, e=effect: ablens.power_curve(k, sizes, effect=e, **d),
        )
        shown = ", ".join(f"{key}={value}" for key, value in design.items()) or "-"
        lines.append(
            f"| {kind} | {shown} | {mde * 1e3:.2f} | {cpu * 1e3:.2f} | {power * 1e3:.2f} |"
        )
    return lines


# ---------------------------------------------------------------------------- report
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "ablens")
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--workloads",
        nargs="+",
        choices=WORKLOADS,
        default=list(WORKLOADS),
        help="which workloads to run (default: all)",
    )
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--sequential-worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        contender, path, output = args.worker
        Path(output).write_text(json.dumps(worker(contender, path)))
        return
    if args.sequential_worker:
        reading, looks, output = args.sequential_worker
        Path(output).write_text(json.dumps(sequential_worker(reading, int(looks))))
        return
    report = [
        f"# Planning benchmark ({time.strftime('%Y-%m-%d')})",
        "",
        *machine_info(Path(__file__).resolve().parents[1], PACKAGES),
        f"- Load average (1, 5, 15 min) at the start: {load_average()}",
    ]
    if "curves" in args.workloads:
        report += [
            "",
            "## Curves and one solved size (in process, best of the repeats)",
            "",
            *curves_and_solve(args.repeats),
        ]
    if "mde-kinds" in args.workloads:
        report += [
            "",
            "## MDE and power curves of every kind, 1,000 sizes (in process, best of the runs)",
            "",
            *mde_kinds(args.repeats),
        ]
    if "sequential" in args.workloads:
        report += [
            "",
            "## Sequential plans (fresh interpreter per run)",
            "",
            *sequential(args.repeats),
        ]
    if "history" in args.workloads:
        report += [
            "",
            "## Plan from history (fresh interpreter per run)",
            "",
            *history(args.rows, args.repeats, args.data_dir, args.seed),
        ]
    report += [
        "",
        (
            f"Repeats: {args.repeats}. Other load on the machine is not controlled: compare "
            "contenders within one table, not across reports."
        ),
        f"- Load average (1, 5, 15 min) at the end: {load_average()}",
    ]
    text = "\n".join(report) + "\n"
    print(text, end="")
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
