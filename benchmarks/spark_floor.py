"""ablens on PySpark (local, 2 cores) against a hand-written Spark aggregation of the same sums.

One Spark session (``local[2]``) reads the `data_layer.py` users parquet file; after a warm-up
of each, the contenders alternate (shuffled order per round), each timed from the call to the
numbers in Python:

* ``floor``: one ``groupBy("variant").agg(...)`` of count, sums and sums of squares of
  revenue and sessions and the sum of converted (plain sums, no shift: the least a user would
  write), then Welch / z tests from ``scipy.special``.
* ``ablens``: ``ablens.analyze(dataframe, [Mean, Mean, Proportion], control=...)``.
* ``floor+unit`` / ``ablens+unit``: the same with the unit check (the floor adds
  ``count(DISTINCT user_id)`` of the rows with an arm; ablens ``unit="user_id"``).

Run by hand, e.g.::

    python benchmarks/spark_floor.py --rows 10000000 --repeats 5

JVM start-up is outside the timings (it is the same for both, and would only hide the gap).
"""

# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data_layer

CONTENDERS = ("floor", "ablens", "floor+unit", "ablens+unit")


def floor(frame: Any, *, unit: bool) -> dict[str, float]:  # noqa: ANN401 - a Spark DataFrame
    from pyspark.sql import functions as f
    from scipy import special

    sums = [
        f.count(f.lit(1)).alias("n"),
        f.sum("revenue").alias("s_r"),
        f.sum(f.col("revenue") * f.col("revenue")).alias("rr"),
        f.sum(f.col("sessions").cast("double")).alias("s_s"),
        f.sum(f.col("sessions").cast("double") ** 2).alias("ss"),
        f.sum(f.col("converted").cast("int")).alias("s_c"),
    ]
    rows = {r["variant"]: r.asDict() for r in frame.groupBy("variant").agg(*sums).collect()}
    if unit:
        present = frame.where(f.col("variant").isNotNull() & f.col("user_id").isNotNull())
        (check,) = present.agg(f.count(f.lit(1)), f.countDistinct("user_id")).collect()
        if check[0] != check[1]:
            raise SystemExit("unit ids repeat")
    c, t = rows[data_layer.CONTROL], rows[data_layer.TREATMENT]
    out = {}
    for column, x in (("revenue", "r"), ("sessions", "s")):
        parts = []
        for arm in (c, t):
            n = arm["n"]
            mean = arm[f"s_{x}"] / n
            parts.append((n, mean, (arm[f"{x}{x}"] - n * mean * mean) / (n - 1)))
        (n0, m0, v0), (n1, m1, v1) = parts
        se2 = v0 / n0 + v1 / n1
        df = se2**2 / ((v0 / n0) ** 2 / (n0 - 1) + (v1 / n1) ** 2 / (n1 - 1))
        statistic = (m1 - m0) / math.sqrt(se2)
        out[f"{column}.p"] = float(2 * special.stdtr(df, -abs(statistic)))
    p0, p1 = c["s_c"] / c["n"], t["s_c"] / t["n"]
    pooled = (c["s_c"] + t["s_c"]) / (c["n"] + t["n"])
    z = (p1 - p0) / math.sqrt(pooled * (1 - pooled) * (1 / c["n"] + 1 / t["n"]))
    out["converted.p"] = float(2 * special.ndtr(-abs(z)))
    return out


def with_ablens(frame: Any, *, unit: bool) -> dict[str, float]:  # noqa: ANN401
    import ablens

    metrics = [ablens.Mean("revenue"), ablens.Mean("sessions"), ablens.Proportion("converted")]
    result = ablens.analyze(
        frame, metrics, control=data_layer.CONTROL, unit="user_id" if unit else None
    )
    return {
        f"{m}.p": result.comparison(m).result.p_value for m in ("revenue", "sessions", "converted")
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "ablens-bench"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    path = data_layer.data_path(args.data_dir, args.rows, args.seed)
    if not path.exists():
        data_layer.generate(path, args.rows, args.seed, 1_000_000)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    frame = spark.read.parquet(str(path))
    run = {
        "floor": lambda: floor(frame, unit=False),
        "ablens": lambda: with_ablens(frame, unit=False),
        "floor+unit": lambda: floor(frame, unit=True),
        "ablens+unit": lambda: with_ablens(frame, unit=True),
    }
    answers = {name: call() for name, call in run.items()}  # warm-up (JIT, file listing)
    times: dict[str, list[float]] = {name: [] for name in run}
    shuffle = random.Random(args.seed)
    for round_ in range(args.repeats):
        order = list(run)
        shuffle.shuffle(order)
        for name in order:
            started = time.perf_counter()
            run[name]()
            times[name].append(time.perf_counter() - started)
            print(f"round {round_ + 1} {name}: {times[name][-1]:.2f} s", flush=True)
    print(f"\n{args.rows:,} rows, Spark local[2], {args.repeats} interleaved rounds")
    print("| contender | median s | min s | paired × floor (median, range) |")
    print("|---|---|---|---|")
    for name in CONTENDERS:
        ratio = ""
        if name.startswith("ablens"):
            base = name.replace("ablens", "floor")
            pairs = [a / b for a, b in zip(times[name], times[base], strict=True)]
            ratio = f"{statistics.median(pairs):.2f} ({min(pairs):.2f}-{max(pairs):.2f})"
        print(
            f"| {name} | {statistics.median(times[name]):.2f} | {min(times[name]):.2f} | {ratio} |"
        )
    gap = max(
        abs(answers["ablens"][k] - answers["floor"][k]) / answers["floor"][k]
        for k in answers["floor"]
    )
    print(f"\np-values of ablens and the floor agree to a relative {gap:.1e}")
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
