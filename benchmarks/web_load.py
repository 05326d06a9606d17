"""Load on the web server: requests a second and latency under many connections, on loopback.

Starts the ablens web app with uvicorn in a child process on 127.0.0.1 (one server per
configuration), warms it up, then drives it with ``wrk`` (Debian: ``apt-get install wrk``) for a
bounded time per workload, and prints a markdown report: requests/s, p50 and p99 latency, and
errors (socket errors plus non-2xx answers). Traffic never leaves the machine.

Workloads:

* ``calculator-repeated``: the calculator's htmx request (``POST /calculator/result``) with the
  same inputs every time, as many people opening one shared link, or one person's answer
  re-requested;
* ``calculator-varied``: the same request with a different baseline each time (4,900 values
  from 1.00% to 49.99%, chosen at random), so that most answers must be computed;
* ``calculator-page``: the whole calculator page for a shared link (``GET /calculator?...``);
* ``home``: the home page.

Besides wrk's figures, the report gives the server's CPU time per request (the server process
and its compute workers, from /proc): on a machine shared with other work it moves far less
than requests/s, which is bounded by whatever CPU the other work leaves.

Configurations (``--configs``): ``default`` is what ``ablens serve`` runs (uvicorn picks
httptools and uvloop when installed, as the web extra does); ``h11`` forces the pure-Python
HTTP parser and asyncio's loop; ``access-log`` adds uvicorn's per-request log line;
``2-processes`` runs two uvicorn worker processes (measured only: reports are kept in each
process's memory, so ``ablens serve`` runs one).

Run by hand, e.g.::

    python benchmarks/web_load.py --duration 30 --connections 50
"""

# ruff: noqa: S603 - runs this interpreter and wrk, with fixed arguments

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# benchmarks/ is on sys.path when this file runs as a script
from data_layer import load_average, machine_info

PACKAGES = ("fastapi", "starlette", "uvicorn", "httptools", "uvloop", "jinja2", "scipy")
REPEATED_BODY = "baseline=4%25&mde=10%25"
WORKLOADS = {
    "calculator-repeated": (
        "/calculator/result",
        (
            'wrk.method = "POST"\n'
            f'wrk.body = "{REPEATED_BODY}"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        ),
    ),
    "calculator-varied": (
        "/calculator/result",
        (
            'local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}\n'
            "request = function()\n"
            "  local baseline = math.random(100, 4999) / 100\n"
            '  local body = string.format("baseline=%.2f%%25&mde=10%%25", baseline)\n'
            '  return wrk.format("POST", "/calculator/result", headers, body)\n'
            "end\n"
        ),
    ),
    "calculator-page": ("/calculator?baseline=4%25&mde=10%25", ""),
    "home": ("/", ""),
}
CONFIGS = {
    "default": {},
    "h11": {"http": "h11", "loop": "asyncio"},
    "access-log": {"access_log": True},
    "2-processes": {"workers": 2},
}
SERVER = """
import json, sys, uvicorn
options = json.loads(sys.argv[2])
uvicorn.run("ablens.web.app:create_app", factory=True, host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", **{"access_log": False, **options})
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(options: dict[str, object]) -> tuple[subprocess.Popen[bytes], str]:
    """A server on a free loopback port, answering; the process and its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), json.dumps(options)], stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the server stopped at start (exit {server.returncode})")
        try:
            with urllib.request.urlopen(f"{url}/", timeout=5):  # noqa: S310 - loopback
                break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("the server did not answer within 120 s") from None
            time.sleep(0.2)
    # Warm up: the compute workers import the planner, the repeated answer gets computed.
    for _ in range(3):
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{url}/calculator/result", data=REPEATED_BODY.encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=120):  # noqa: S310
            pass
    return server, url


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` and its live children, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        own = int(stat.parent.name) == pid
        if own or int(fields[1]) == pid:  # fields[1] is the parent's pid
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def seconds(text: str) -> float:
    """wrk's duration ("812.00us", "3.21ms", "1.02s", "2.00m") in seconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if found is None:
        raise ValueError(f"unknown wrk duration {text!r}")
    value, unit = float(found.group(1)), found.group(2)
    return value * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def run_wrk(
    url: str, path: str, script: str, duration: int, connections: int, threads: int
) -> dict[str, float]:
    """One wrk run: requests/s, p50 and p99 in ms, and errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    try:
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
        if script:
            command += ["-s", lua.name]
        out = subprocess.run(
            [*command, url + path],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + 60,
        ).stdout
    finally:
        Path(lua.name).unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = seconds(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = seconds(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        errors += int(non_2xx.group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rate, "p50": p50 * 1e3, "p99": p99 * 1e3, "errors": errors, "total": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds per workload")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=["default"])
    parser.add_argument("--output", type=Path, help="also write the report here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    lines = [
        "# Web server load",
        "",
        *machine_info(Path(__file__).parents[1], PACKAGES),
        (
            f"Load average before (1/5/15 min): {load_average()}; wrk {args.threads} "
            f"thread(s), {args.connections} connections, {args.duration} s per workload, "
            "loopback."
        ),
        "",
        (
            "| configuration | workload | requests/s | p50 ms | p99 ms | errors | requests "
            "| server CPU ms/request |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    for config in args.configs:
        server, url = start_server(CONFIGS[config])
        try:
            for workload in args.workloads:
                path, script = WORKLOADS[workload]
                cpu_before = cpu_seconds(server.pid)
                result = run_wrk(url, path, script, args.duration, args.connections, args.threads)
                cpu_ms = (cpu_seconds(server.pid) - cpu_before) / result["total"] * 1e3
                row = (
                    f"| {config} | {workload} | {result['rps']:,.0f} | {result['p50']:.1f} | "
                    f"{result['p99']:.1f} | {result['errors']:,.0f} | {result['total']:,.0f} | "
                    f"{cpu_ms:.2f} |"
                )
                lines.append(row)
                print(row, flush=True)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    lines += ["", f"Load average after (1/5/15 min): {load_average()}."]
    print(lines[-1])
    if args.output:
        args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
