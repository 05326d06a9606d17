"""Benchmark analyses of wide tables: one metric named, thousands of other columns.

Each cell runs in a fresh interpreter: it builds (or reads) a table of 20 rows and ``C``
columns, of which the analysis names two (the variant and one metric), warms the statistics
imports on a two-column table, then times ``ablens.analyze(data, [Mean("x")], control="a")``
alone. Inputs:

* ``pandas``, ``polars``: the table in memory (built in the worker, not timed);
* ``csv``: the path of a CSV file, read by DuckDB (DuckDB's reading of the file is timed: it
  types every column of the file, which ablens cannot avoid).

Run by hand (never in CI), e.g.::

    python benchmarks/wide_tables.py --columns 1000 5000 20000 100000 --timeout 300

It prints a markdown table of seconds per cell (``> T`` when a cell passed ``--timeout``).
"""

# ruff: noqa: S603

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

INPUTS = ("pandas", "polars", "csv")
ROWS = 20

WORKER = """
import sys, time
columns, kind, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
import numpy as np
import ablens
warm = {"variant": ["a", "b"] * 3, "x": [1.0, 2.0, 3.0, 4.0, 5.0, 7.0]}
if kind == "pandas":
    import pandas as pd
    ablens.analyze(pd.DataFrame(warm), [ablens.Mean("x")], control="a")
    data = pd.read_csv(path)
elif kind == "polars":
    import polars as pl
    ablens.analyze(pl.DataFrame(warm), [ablens.Mean("x")], control="a")
    data = pl.read_csv(path)
else:
    import pandas as pd
    ablens.analyze(pd.DataFrame(warm), [ablens.Mean("x")], control="a")
    data = path
start = time.perf_counter()
ablens.analyze(data, [ablens.Mean("x")], control="a")
print(time.perf_counter() - start)
"""


def write_csv(path: Path, columns: int) -> None:
    filler = ",".join(f"c{i}" for i in range(columns - 2))
    ones = ",".join(["1"] * (columns - 2))
    lines = [f"variant,x,{filler}"]
    lines += [f"{'a' if r % 2 else 'b'},{r * 1.5},{ones}" for r in range(ROWS)]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, nargs="+", default=[1_000, 5_000, 20_000, 100_000])
    parser.add_argument("--inputs", nargs="+", choices=INPUTS, default=list(INPUTS))
    parser.add_argument("--timeout", type=float, default=300.0, help="Seconds per cell.")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {ROWS} rows\n")
    print("| columns | " + " | ".join(args.inputs) + " |")
    print("| ---: | " + " | ".join("---:" for _ in args.inputs) + " |")
    with tempfile.TemporaryDirectory() as folder:
        for columns in args.columns:
            path = Path(folder) / f"wide_{columns}.csv"
            write_csv(path, columns)
            cells = []
            for kind in args.inputs:
                try:
                    done = subprocess.run(
                        [sys.executable, "-c", WORKER, str(columns), kind, str(path)],
                        capture_output=True,
                        text=True,
                        timeout=args.timeout,
                        check=True,
                    )
                    cells.append(f"{float(done.stdout.strip().splitlines()[-1]):.2f} s")
                except subprocess.TimeoutExpired:
                    cells.append(f"> {args.timeout:.0f} s")
            print(f"| {columns:,} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
