"""Time the CLI end to end as whole processes, paired and interleaved with a floor.

Each round starts, in a shuffled order, fresh processes of:

* ``floor``: a Python that imports nothing of ablens: one hand-written DuckDB statement of the
  per-arm sums the plan's metrics need (count, sums, squares and the cross products of revenue
  x pre_revenue and orders x sessions, shifted by the average of a 10,000-row sample in the same
  statement), then Welch t tests, a z test, CUPED and the delta-method ratio by hand with
  ``scipy.special``; it prints JSON.
* ``ablens analyze plan.yaml --json``: the console script, on a plan of the same four metrics
  (proportion, CUPED mean, ratio, mean) over the same parquet file.
* ``ablens --help`` (no data).
* ``python -c pass`` (the interpreter alone).

It prints the median wall time, CPU time (user + system: it moves far less than wall time on a
shared machine) and peak RSS of each, the ratios to the floor, the machine's load, and the
versions. Data are made by ``benchmarks/data_layer.py``'s generator and
cached in ``--data-dir``.

Run: ``python benchmarks/cli_startup.py --rows 10000 10000000 --rounds 15``
"""

# ruff: noqa: S603 - our own processes; each worker pays for exactly its own imports

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from data_layer import data_path, generate

PLAN = """\
experiment_id: cli-benchmark
source:
  path: {path}
variant: variant
control: control
metrics:
  - name: conversion
    kind: proportion
    column: converted
    role: primary
  - name: revenue (CUPED)
    kind: mean
    column: revenue
    covariates: [pre_revenue]
    adjustment: cuped
  - name: orders per session
    kind: ratio
    numerator: orders
    denominator: sessions
  - name: sessions
    kind: mean
    column: sessions
"""

FLOOR = r"""
import json, math, sys
import duckdb
import scipy.special as sp

path = sys.argv[1]
source = "read_parquet('" + path.replace("'", "''") + "')"
sql = f'''
WITH pilot AS (
    SELECT avg(revenue) AS k_r, avg(sessions::DOUBLE) AS k_s, avg(converted::DOUBLE) AS k_c,
           avg(orders::DOUBLE) AS k_o, avg(pre_revenue) AS k_p
    FROM (SELECT * FROM {source} LIMIT 10000)
), shifted AS (
    SELECT variant, revenue - k_r AS r, sessions::DOUBLE - k_s AS s,
           converted::DOUBLE - k_c AS c, orders::DOUBLE - k_o AS o, pre_revenue - k_p AS p
    FROM {source}, pilot
)
SELECT variant, count(*) AS n, any_value(k_r), any_value(k_s), any_value(k_c), any_value(k_o),
       any_value(k_p), sum(r), sum(s), sum(c), sum(o), sum(p), sum(r * r), sum(s * s),
       sum(c * c), sum(o * o), sum(p * p), sum(r * p), sum(o * s)
FROM shifted, pilot GROUP BY variant ORDER BY variant
'''
arms = {}
for row in duckdb.connect().execute(sql).fetchall():
    n = row[1]
    k = dict(zip("rscop", row[2:7]))
    s = dict(zip("rscop", row[7:12]))
    sq = dict(zip("rscop", row[12:17]))
    mean = {x: k[x] + s[x] / n for x in "rscop"}
    var = {x: (sq[x] - s[x] ** 2 / n) / (n - 1) for x in "rscop"}
    cov_rp = (row[17] - s["r"] * s["p"] / n) / (n - 1)
    cov_os = (row[18] - s["o"] * s["s"] / n) / (n - 1)
    arms[row[0]] = dict(n=n, mean=mean, var=var, cov_rp=cov_rp, cov_os=cov_os)
c, t = arms["control"], arms["treatment"]

def welch(e, vc, vt):
    se2 = vc / c["n"] + vt / t["n"]
    df = se2**2 / ((vc / c["n"]) ** 2 / (c["n"] - 1) + (vt / t["n"]) ** 2 / (t["n"] - 1))
    z = e / math.sqrt(se2)
    return dict(effect=e, statistic=z, p_value=2 * sp.stdtr(df, -abs(z)))

out = {}
out["sessions"] = welch(t["mean"]["s"] - c["mean"]["s"], c["var"]["s"], t["var"]["s"])
pc, pt = c["mean"]["c"], t["mean"]["c"]
pool = (pc * c["n"] + pt * t["n"]) / (c["n"] + t["n"])
z = (pt - pc) / math.sqrt(pool * (1 - pool) * (1 / c["n"] + 1 / t["n"]))
out["conversion"] = dict(effect=pt - pc, statistic=z, p_value=2 * sp.ndtr(-abs(z)))
theta = (c["cov_rp"] * (c["n"] - 1) + t["cov_rp"] * (t["n"] - 1)) / (
    c["var"]["p"] * (c["n"] - 1) + t["var"]["p"] * (t["n"] - 1))
adj = {a: a_["var"]["r"] - 2 * theta * a_["cov_rp"] + theta**2 * a_["var"]["p"]
       for a, a_ in (("c", c), ("t", t))}
effect = (t["mean"]["r"] - c["mean"]["r"]) - theta * (t["mean"]["p"] - c["mean"]["p"])
se = math.sqrt(adj["c"] / c["n"] + adj["t"] / t["n"])
out["revenue (CUPED)"] = dict(effect=effect, statistic=effect / se,
                              p_value=2 * sp.ndtr(-abs(effect / se)))
def ratio(a):
    mo, ms = a["mean"]["o"], a["mean"]["s"]
    r = mo / ms
    v = (a["var"]["o"] - 2 * r * a["cov_os"] + r * r * a["var"]["s"]) / (ms * ms * a["n"])
    return r, v
(rc, vc), (rt, vt) = ratio(c), ratio(t)
z = (rt - rc) / math.sqrt(vc + vt)
out["orders per session"] = dict(effect=rt - rc, statistic=z, p_value=2 * sp.ndtr(-abs(z)))
print(json.dumps(out))
"""


def run(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system) of one whole process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command} exited {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime


def versions() -> str:
    names = ("numpy", "scipy", "duckdb", "narwhals", "typer", "rich")
    return ", ".join(f"{name} {metadata.version(name)}" for name in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 10_000_000])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/ablens-bench"))  # noqa: S108
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="another checkout's src folder: its `ablens analyze` runs in the same rounds",
    )
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    script = Path(sys.executable).parent / "ablens"
    src = Path(__file__).resolve().parent.parent / "src"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    # Warm bytecode caches, as after installation: the first run writes them (set
    # PYTHONPYCACHEPREFIX to keep them out of the source trees).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    baseline_env = {**env, "PYTHONPATH": str(args.baseline_src)}
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "python -c pass": ([sys.executable, "-c", "pass"], env),
        "ablens --help": ([str(script), "--help"], env),
    }
    if args.baseline_src:
        commands["baseline: ablens --help"] = ([str(script), "--help"], baseline_env)
    for rows in args.rows:
        path = data_path(args.data_dir, rows, args.seed)
        if not path.exists():
            generate(path, rows, args.seed, 5_000_000)
        plan = args.data_dir / f"plan-{rows}.yaml"
        plan.write_text(PLAN.format(path=path))
        commands[f"floor, {rows:,} rows"] = ([sys.executable, "-c", FLOOR, str(path)], env)
        analyze = [str(script), "analyze", str(plan), "--json"]
        commands[f"ablens analyze --json, {rows:,} rows"] = (analyze, env)
        if args.baseline_src:
            commands[f"baseline: ablens analyze --json, {rows:,} rows"] = (analyze, baseline_env)
    for command, command_env in commands.values():  # warm bytecode caches and the page cache
        run(command, command_env)
    times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    load_start = os.getloadavg()[0]
    for _ in range(args.rounds):
        order = list(commands)
        random.shuffle(order)
        for name in order:
            times[name].append(run(*commands[name]))
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    print(versions())
    load_end = os.getloadavg()[0]
    print(f"load average (1 min): {load_start:.2f} at the start, {load_end:.2f} at the end")
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    print(f"rounds: {args.rounds}; CPU of all children {cpu:.0f} s")
    print()
    table(times)


def table(times: dict[str, list[tuple[float, float, float]]]) -> None:
    """Print the medians and the ratios of each `ablens analyze` to its floor (same rows)."""
    print(
        "| process | median wall (s) | wall x floor (paired) | median CPU (s) | CPU x floor "
        "| median peak RSS (MiB) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, values in times.items():
        wall = statistics.median(v[0] for v in values)
        rss = statistics.median(v[1] for v in values)
        cpu = statistics.median(v[2] for v in values)
        ratio = cpu_ratio = ""
        if "ablens analyze" in name:
            floor_runs = times["floor," + name.split(",", 1)[1]]
            floor = statistics.median(v[0] for v in floor_runs)
            paired = statistics.median(a[0] / f[0] for a, f in zip(values, floor_runs, strict=True))
            ratio = f"{wall / floor:.2f} ({paired:.2f})"
            cpu_ratio = f"{cpu / statistics.median(v[2] for v in floor_runs):.2f}"
        print(f"| {name} | {wall:.3f} | {ratio} | {cpu:.3f} | {cpu_ratio} | {rss:.0f} |")


if __name__ == "__main__":
    main()
