"""Time `ablens catalog validate` on a large synthetic catalog, as whole processes.

A catalog of FILES metric files with METRICS metrics each (a sum, a count, an any and a ratio in
turn, with filters and windows) plus one sources file is written to a temporary folder; then
``ablens catalog validate`` runs as a fresh process ROUNDS times and the median wall time is
printed, beside the floor ``ablens --version`` (interpreter, Typer and ablens start-up).

Run: ``python benchmarks/catalog_load.py [files] [metrics-per-file] [rounds]`` (default 50 40 7).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCES = """\
sources:
  exposures: {kind: exposure, table: exposures, experiment: e, unit: u, arm: a, time: t}
  orders: {kind: facts, table: orders, unit: u, time: t, columns: [revenue, status, country]}
"""


def _metrics(file: int, count: int) -> str:
    lines = ["metrics:"]
    for index in range(count):
        name = f"m{file}_{index}"
        kind = index % 4
        lines.append(f"  {name}:")
        lines.append(f"    owner: team-{file}")
        if kind == 3:  # a ratio of the two metrics before it
            lines.append(
                f"    ratio: {{numerator: m{file}_{index - 3}, denominator: m{file}_{index - 2}}}"
            )
            continue
        aggregation = ("sum", "count", "any")[kind]
        lines.append("    source: orders")
        lines.append(f"    aggregation: {aggregation}")
        if aggregation == "sum":
            lines.append("    column: revenue")
        lines.append("    filter: [{column: status, op: '==', value: paid}]")
        lines.append(f"    window: [0, {1 + index % 28}]")
        lines.append("    cuped_window: [-14, 0]")
    return "\n".join(lines) + "\n"


def _median_seconds(command: list[str], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - our own command
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(files: int, per_file: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "sources.yaml").write_text(SOURCES)
        for file in range(files):
            (root / f"metrics_{file:03d}.yaml").write_text(_metrics(file, per_file))
        size = sum(path.stat().st_size for path in root.iterdir())
        cli = [sys.executable, "-c", "from ablens.cli import run; run()"]
        floor = _median_seconds([*cli, "--version"], rounds)
        validate = _median_seconds([*cli, "catalog", "validate", folder], rounds)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"catalog: {files} files, {files * per_file:,} metrics, {size / 1e6:.2f} MB of YAML")
    print(f"floor  ablens --version            median {floor:6.3f} s over {rounds} runs")
    print(f"       ablens catalog validate DIR median {validate:6.3f} s over {rounds} runs")
    print(f"       validation itself           {validate - floor:6.3f} s")


if __name__ == "__main__":
    arguments = [int(value) for value in sys.argv[1:4]]
    main(*(arguments + [50, 40, 7][len(arguments) :]))
