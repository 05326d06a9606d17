"""Whole analyses against a floor that imports nothing of ablens: API, CLI and ``unit=``.

Every contender runs in a fresh interpreter per repeat (imports and peak memory count); rounds
are interleaved in a shuffled order, and each ablens contender is compared with its floor from
the same round (a paired ratio; the median over rounds is reported), so the load of the shared
machine hits both alike. The workload is two means (revenue, sessions) and one proportion
(converted) of the `data_layer.py` users table.

Contenders:

* ``floor``: one hand-written DuckDB statement (sums shifted by a pilot read in the same
  statement) and Welch / z tests from ``scipy.special`` (``stdtr``, ``ndtr``); nothing of
  ablens is imported.
* ``api``: ``ablens.analyze(path, [Mean, Mean, Proportion], control=...)``.
* ``cli``: ``ablens analyze plan.yaml --json`` (the console script's ``ablens.cli:run``,
  called in the worker so its peak memory is read the same way).
* ``floor+unit``: the floor's statement plus the exact unit check (rows against
  ``count(DISTINCT user_id)`` of the rows with an arm): a hand-written user's own check.
* ``api+unit``: ``ablens.analyze(..., unit="user_id")`` (moments, repeats, units in several
  arms).
* ``tea-tasting``: ``tt.Experiment`` on an Ibis DuckDB table, the same three metrics.

Run by hand, e.g.::

    python benchmarks/analysis_floor.py --rows 1000000 10000000 --repeats 5

The data file is the one of ``data_layer.py`` (cached in ``--data-dir``).
"""

# ruff: noqa: PLC0415 - each worker imports only what its contender needs

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data_layer

CONTENDERS = ("floor", "api", "cli", "floor+unit", "api+unit", "tea-tasting")
#: ablens contender -> its floor (the paired ratio's denominator).
FLOORS = {"api": "floor", "cli": "floor", "api+unit": "floor+unit", "tea-tasting": "floor"}
MEANS = ("revenue", "sessions")
PROPORTION = "converted"
Stats = dict[str, float]


def floor_sql(path: str, *, unit: bool) -> str:
    """The floor's statement: shifted sums per arm (and the unit check) in one query."""
    source = f"read_parquet({data_layer.quote_literal(path)})"
    check = (
        f""",
        units AS (
            SELECT count(*) AS unit_rows, count(DISTINCT user_id) AS distinct_units
            FROM {source} WHERE variant IS NOT NULL AND user_id IS NOT NULL
        )"""
        if unit
        else ""
    )
    return f"""
        WITH pilot AS (
            SELECT median(revenue) AS k_r, median(sessions::DOUBLE) AS k_s
            FROM (SELECT revenue, sessions FROM {source} LIMIT 10000)
        ),
        moments AS (
            SELECT variant, count(*) AS n, any_value(k_r) AS k_r, any_value(k_s) AS k_s,
                   sum(revenue - k_r) AS s_r, sum((revenue - k_r) ^ 2) AS rr,
                   sum(sessions::DOUBLE - k_s) AS s_s, sum((sessions::DOUBLE - k_s) ^ 2) AS ss,
                   sum(converted::INT) AS s_c
            FROM {source}, pilot GROUP BY variant
        ){check}
        SELECT * FROM moments{", units" if unit else ""} ORDER BY variant
    """


def run_floor(path: str, *, unit: bool) -> tuple[float, Stats]:
    import duckdb
    from scipy import special

    imported = time.perf_counter()
    cursor = duckdb.connect().execute(floor_sql(path, unit=unit))
    names = [d[0] for d in cursor.description]
    rows = {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}
    if unit:
        first = next(iter(rows.values()))
        if first["unit_rows"] != first["distinct_units"]:
            raise SystemExit("unit ids repeat")  # the floor refuses the data as ablens would
    c, t = rows[data_layer.CONTROL], rows[data_layer.TREATMENT]
    stats: Stats = {}
    for column, x in (("revenue", "r"), ("sessions", "s")):
        moments = []
        for arm in (c, t):
            n = arm["n"]
            mean = arm[f"k_{x}"] + arm[f"s_{x}"] / n
            variance = (arm[f"{x}{x}"] - arm[f"s_{x}"] ** 2 / n) / (n - 1)
            moments.append((n, mean, variance))
        (n0, m0, v0), (n1, m1, v1) = moments
        se2 = v0 / n0 + v1 / n1
        df = se2**2 / ((v0 / n0) ** 2 / (n0 - 1) + (v1 / n1) ** 2 / (n1 - 1))
        statistic = (m1 - m0) / math.sqrt(se2)
        stats[f"{column}.t"] = statistic
        stats[f"{column}.effect"] = m1 - m0
        stats[f"{column}.p"] = float(2 * special.stdtr(df, -abs(statistic)))
    p0, p1 = c["s_c"] / c["n"], t["s_c"] / t["n"]
    pooled = (c["s_c"] + t["s_c"]) / (c["n"] + t["n"])
    z = (p1 - p0) / math.sqrt(pooled * (1 - pooled) * (1 / c["n"] + 1 / t["n"]))
    stats[f"{PROPORTION}.effect"] = p1 - p0
    stats[f"{PROPORTION}.p"] = float(2 * special.ndtr(-abs(z)))
    return imported, stats


def run_api(path: str, *, unit: bool) -> tuple[float, Stats]:
    import ablens

    imported = time.perf_counter()
    metrics = [ablens.Mean("revenue"), ablens.Mean("sessions"), ablens.Proportion(PROPORTION)]
    result = ablens.analyze(
        path,
        metrics,
        control=data_layer.CONTROL,
        variant=data_layer.VARIANT,
        unit="user_id" if unit else None,
    )
    stats: Stats = {}
    for column in MEANS:
        r = result.comparison(column).result
        stats[f"{column}.t"] = r.statistic
        stats[f"{column}.effect"] = r.effect
        stats[f"{column}.p"] = r.p_value
    r = result.comparison(PROPORTION).result
    stats[f"{PROPORTION}.effect"] = r.effect
    stats[f"{PROPORTION}.p"] = r.p_value
    return imported, stats


def run_cli(path: str, plan_dir: Path) -> tuple[float, Stats]:
    import contextlib
    import io

    plan = plan_dir / "plan.yaml"
    plan.write_text(
        f"experiment_id: bench\nsource: {{path: {json.dumps(path)}}}\nvariant: variant\n"
        "control: control\narms: {control: 50, treatment: 50}\nmetrics:\n"
        "  - {name: revenue, kind: mean, column: revenue, role: primary}\n"
        "  - {name: sessions, kind: mean, column: sessions, role: secondary}\n"
        "  - {name: converted, kind: proportion, column: converted, role: secondary}\n"
    )
    imported = time.perf_counter()  # the CLI's imports are part of its run
    sys.argv = ["ablens", "analyze", str(plan), "--json"]
    out = io.StringIO()
    from ablens.cli import run

    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        run()
    payload = json.loads(out.getvalue())
    stats: Stats = {}
    text = json.dumps(payload)
    stats["json_chars"] = float(len(text))
    return imported, stats


def tea_tasting(path: str) -> tuple[float, Stats]:
    imported, stats = data_layer.run_tea_tasting(path)
    return imported, stats


def worker(contender: str, path: str, result_path: Path) -> int:
    started = time.perf_counter()
    try:
        if contender == "floor":
            imported, stats = run_floor(path, unit=False)
        elif contender == "floor+unit":
            imported, stats = run_floor(path, unit=True)
        elif contender == "api":
            imported, stats = run_api(path, unit=False)
        elif contender == "api+unit":
            imported, stats = run_api(path, unit=True)
        elif contender == "cli":
            imported, stats = run_cli(path, result_path.parent)
        else:
            imported, stats = tea_tasting(path)
        status = "ok"
    except Exception as error:
        imported, stats, status = started, {}, f"{type(error).__name__}: {error}"[:300]
    payload = {
        "status": status,
        "import_seconds": imported - started,
        "stats": stats,
        "peak_mib": data_layer.peak_rss_mib(),
    }
    result_path.write_text(json.dumps(payload))
    return 0


def measure(contender: str, path: Path) -> data_layer.Run:
    return data_layer.measure(contender, path, Path(__file__).resolve())


def report(results: dict[int, dict[str, list[data_layer.Run]]], repeats: int) -> list[str]:
    lines = [
        "| rows | contender | median s | min s | CPU s | peak RSS MiB | paired × floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for rows, runs in results.items():
        for contender in CONTENDERS:
            done = [r for r in runs.get(contender, []) if r.status == "ok"]
            if not done:
                failed = runs.get(contender, [])
                reason = failed[0].status if failed else "not run"
                lines.append(f"| {rows:,} | {contender} | {reason} | | | | |")
                continue
            walls = [r.wall for r in done]
            ratio = ""
            floor = FLOORS.get(contender)
            if floor is not None:
                pairs = [
                    a.wall / b.wall
                    for a, b in zip(runs[contender], runs[floor], strict=False)
                    if a.status == b.status == "ok"
                ]
                if pairs:
                    ratio = (
                        f"{statistics.median(pairs):.2f} ({min(pairs):.2f}-{max(pairs):.2f}) "
                        f"vs {floor}"
                    )
            lines.append(
                f"| {rows / 1e6:g}M | {contender} | {statistics.median(walls):.2f} | "
                f"{min(walls):.2f} | {statistics.median(r.cpu for r in done):.2f} | "
                f"{max(r.peak_mib for r in done):.0f} | {ratio} |"
            )
    lines.append("")
    lines.append(
        f"{repeats} interleaved rounds per row count, shuffled order within a round; "
        "paired × floor: median (range) over rounds of the contender's wall time over its "
        "floor's in the same round."
    )
    for rows, runs in results.items():
        for contender in ("api", "api+unit", "tea-tasting"):
            floor = FLOORS[contender]
            pairs = [
                (a.stats, b.stats)
                for a, b in zip(runs.get(contender, []), runs.get(floor, []), strict=False)
                if a.status == b.status == "ok"
            ]
            gaps = [
                abs(a[k] - b[k]) / max(abs(b[k]), 1e-300)
                for a, b in pairs
                for k in b
                if k in a and k.endswith((".effect", ".p"))
            ]
            if gaps:
                lines.append(
                    f"- {rows / 1e6:g}M {contender} against {floor}: effects and p-values "
                    f"agree to a relative {max(gaps):.1e}"
                )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=CONTENDERS)
    parser.add_argument("--path")
    parser.add_argument("--result", type=Path)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "ablens-bench"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.path, args.result)
    lines = ["## Machine", "", *data_layer.machine_info(Path(__file__).resolve().parents[1])]
    lines.append(f"- Load average before: {data_layer.load_average()}")
    results: dict[int, dict[str, list[data_layer.Run]]] = {}
    shuffle = random.Random(args.seed)
    for rows in args.rows:
        path = data_layer.data_path(args.data_dir, rows, args.seed)
        if not path.exists():
            data_layer.generate(path, rows, args.seed, 1_000_000)
        data_layer.warm_page_cache(path)
        runs: dict[str, list[data_layer.Run]] = {c: [] for c in args.contenders}
        for round_ in range(args.repeats):
            order = list(args.contenders)
            shuffle.shuffle(order)
            for contender in order:
                run = measure(contender, path)
                runs[contender].append(run)
                print(f"{rows:,} round {round_ + 1} {contender}: {run.wall:.2f} s {run.status}")
        results[rows] = runs
    lines.append(f"- Load average after: {data_layer.load_average()}")
    lines += ["", "## Results", "", *report(results, args.repeats)]
    text = "\n".join(lines)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
