"""Time `import ablens` as whole processes, interleaved with floors that import nothing of ablens.

Each round starts fresh interpreters in a shuffled order: an empty one (``pass``), one that
imports numpy (ablens' one eager dependency), ``import ablens``, and the peers that are
installed (tea-tasting, statsmodels' power module). The median wall time and CPU time (user +
system) of each is printed, with the machine's load. Bytecode caches are warm (as after
installation).

Run: ``python benchmarks/import_time.py [rounds]`` (default 30).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import random
import statistics
import subprocess
import sys
import time

CANDIDATES = {
    "floor: python -c pass": "pass",
    "floor: import numpy": "import numpy",
    "import ablens": "import ablens",
    "peer: import tea_tasting": "import tea_tasting",
    "peer: import statsmodels.stats.power": "import statsmodels.stats.power",
}


def _installed(code: str) -> bool:
    module = code.rsplit(maxsplit=1)[-1] if code.startswith("import ") else None
    return module is None or importlib.util.find_spec(module.split(".")[0]) is not None


def main(rounds: int) -> None:
    chosen = {name: code for name, code in CANDIDATES.items() if _installed(code)}
    times: dict[str, list[float]] = {name: [] for name in chosen}
    cpu: dict[str, list[float]] = {name: [] for name in chosen}
    # Warm bytecode caches, as after installation: the first run writes them (set
    # PYTHONPYCACHEPREFIX to keep them out of the source trees).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for code in chosen.values():
        subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603 - our own code
    load = os.getloadavg()[0]
    for _ in range(rounds):
        order = list(chosen)
        random.shuffle(order)
        for name in order:
            start = time.perf_counter()
            child = subprocess.Popen([sys.executable, "-c", chosen[name]])  # noqa: S603
            _, status, usage = os.wait4(child.pid, 0)
            times[name].append(time.perf_counter() - start)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"{chosen[name]!r} failed")
            # CPU time (user + system) moves far less than wall time on a shared machine.
            cpu[name].append(usage.ru_utime + usage.ru_stime)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    print(f"load average (1 min): {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    print(f"rounds: {rounds}")
    floor = statistics.median(times["floor: python -c pass"])
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:40s} median {median:.3f} s  (above the empty floor {median - floor:+.3f} s)"
            f"  CPU {statistics.median(cpu[name]):.3f} s"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
