"""The web server's infrastructure over real HTTP on loopback: CPU work off the event loop with a
time limit, security headers, a stalled upload, stale upload folders, and the serve options.

The slow calculations are stand-ins (tests/web/slow_work.py) that burn CPU in the worker, so
these tests do not depend on how fast the planner is.
"""

from __future__ import annotations

import asyncio
import operator
import os
import re
import socket
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'ablens[web]')")
uvicorn = pytest.importorskip("uvicorn", reason="the web extra is not installed")
pytest.importorskip("python_multipart", reason="python-multipart is not installed")
pl = pytest.importorskip("polars")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette asks for httpx2 over httpx; either works
    from fastapi.testclient import TestClient

import slow_work  # noqa: E402 - tests/web is on the path: this module's own folder
from serving import fetch, running  # noqa: E402

import ablens.web.app as web_app  # noqa: E402
import ablens.web.readout as web_readout  # noqa: E402
from ablens.analysis_plan import PlanError  # noqa: E402
from ablens.demo import generate  # noqa: E402
from ablens.web.app import TimeLimits, create_app  # noqa: E402
from ablens.web.compute import ComputePool, TimeLimitExceeded  # noqa: E402
from ablens.web.guards import (  # noqa: E402
    APP_CSP,
    REPORT_CSP,
    remove_stale_uploads,
    upload_folder,
)

if TYPE_CHECKING:
    from pathlib import Path

SLOW_FORM = {"baseline": "10%", "mde": "5%", "sequential": "msprt", "looks": "1000"}


def timed(url: str, form: dict[str, str] | None = None) -> tuple[float, int, str]:
    start = time.perf_counter()
    status, body = fetch(url, form)
    return time.perf_counter() - start, status, body


def alert(page: str) -> str:
    found = re.search(r'role="alert">(.*?)</p>', page, re.DOTALL)
    return "" if found is None else re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip()


@pytest.fixture(scope="module")
def slow_server():
    """A server whose calculator takes a minute at 900+ looks; its plans stop after 4 s."""
    original = web_app.calculator_plan
    web_app.calculator_plan = slow_work.plan_slowly_at_many_looks
    app = create_app(time_limits=TimeLimits(calculator=4.0), compute_workers=2)
    try:
        with running(app) as url:
            # Both workers answer once (each imports the planner first): later timings are warm.
            for baseline in ("11%", "12%", "13%"):
                status, page = fetch(f"{url}/calculator/result", {"baseline": baseline})
                assert status == 200, page
                assert 'id="n-per-arm"' in page, alert(page)
            yield url, app
    finally:
        web_app.calculator_plan = original


# ---------------------------------------------------------------------- CPU work off the loop
def test_other_pages_answer_quickly_while_a_slow_calculation_runs(slow_server):
    url, _ = slow_server
    with ThreadPoolExecutor(1) as background:
        slow = background.submit(timed, f"{url}/calculator/result", SLOW_FORM)
        time.sleep(0.5)  # the slow plan is now burning CPU in a worker
        assert not slow.done()
        timings = []
        for attempt in range(3):
            home = timed(f"{url}/")
            other = timed(f"{url}/calculator/result", {"baseline": f"{20 + attempt}%"})
            page = timed(f"{url}/calculator?baseline=4%25&mde=10%25")
            assert home[1] == other[1] == page[1] == 200
            assert 'id="n-per-arm"' in other[2], alert(other[2])
            assert 'id="n-per-arm"' in page[2], alert(page[2])
            timings.append((home[0], other[0], page[0]))
        assert not slow.done(), "the slow calculation must still run while the others answer"
        # Issue 16's bar is < 200 ms; on a loaded 2-core machine one answer can be late (the
        # other pages' plans are computed too), so: the typical answer under 200 ms, and none
        # anywhere near the slow calculation's seconds.
        typical = sorted(t for attempt in timings for t in attempt)[len(timings) * 3 // 2]
        worst = max(max(t) for t in timings)
        assert typical < 0.2, f"answers took {timings} s while a calculation ran"
        assert worst < 1.5, f"answers took {timings} s while a calculation ran"
        seconds, status, page = slow.result()
    assert status == 200
    assert 3.5 < seconds < 20
    assert "this calculation took longer than 4 s and was stopped; use fewer looks" in alert(page)


def test_a_calculation_over_the_time_limit_is_stopped_and_its_worker_replaced(slow_server):
    url, app = slow_server
    pool: ComputePool = app.state.compute
    before = pool.processes
    assert len(before) == 2
    form = {**SLOW_FORM, "looks": "950"}
    # three people open the same slow link at once: it is computed (and stopped) once
    with ThreadPoolExecutor(3) as clients:
        answers = list(clients.map(lambda _: timed(f"{url}/calculator/result", form), range(3)))
    for seconds, status, page in answers:
        assert status == 200
        assert "took longer than 4 s" in alert(page)
        assert seconds < 20
    after = pool.processes
    assert len(after) == 2
    assert len(set(before) - set(after)) == 1, "one worker stopped, and replaced"
    # the same input again is answered from memory, not computed for another 4 s
    seconds, _, page = timed(f"{url}/calculator/result", form)
    assert "took longer than 4 s" in alert(page)
    assert seconds < 1
    # and the server keeps serving, the new worker included
    for baseline in ("14%", "15%", "16%"):
        status, page = fetch(f"{url}/calculator/result", {"baseline": baseline})
        assert status == 200
        assert 'id="n-per-arm"' in page, alert(page)


def test_a_readout_over_its_time_limit_gets_a_message(monkeypatch, tmp_path):
    path = tmp_path / "demo.csv"
    pl.DataFrame(generate(500, seed=2)).write_csv(path)
    monkeypatch.setattr(web_readout, "_run", slow_work.analyze_for_a_minute)
    # A readout may take 3 s: the preview of the upload (in the pool too) has the time it needs
    # on a loaded machine; the slow analysis does not.
    app = create_app(time_limits=TimeLimits(readout=3.0), compute_workers=1)
    with TestClient(app) as client, path.open("rb") as handle:
        uploaded = client.post(
            "/readout", files={"file": ("demo.csv", handle, "text/csv")}, follow_redirects=False
        )
        assert uploaded.status_code == 303, alert(uploaded.text)
        choices = uploaded.headers["location"]
        response = client.post(
            choices,
            data={
                "variant": "variant",
                "control": "control",
                "unit": "user_id",
                "primary": "converted",
                "primary_direction": "increase",
                "action": "analyze",
            },
        )
        assert response.status_code == 503
        shown = alert(response.text)
        assert "This analysis took longer than 3 s and was stopped" in shown
        assert "demo.csv is still here" in shown  # the file is kept: analyze again later
        assert client.get(choices).status_code == 200
        assert client.get("/").status_code == 200


def test_the_compute_pool_returns_answers_and_errors_and_stops_at_the_limit():
    async def scenario():
        async with ComputePool(workers=1) as pool:
            assert await pool.run(pow, 2, 10, time_limit=30) == 1024
            with pytest.raises(ValueError, match="invalid literal"):
                await pool.run(int, "x", time_limit=30)
            # an error whose class takes a list of messages comes back whole
            with pytest.raises(PlanError) as caught:
                await pool.run(slow_work.fail_with_a_plan_error, time_limit=30)
            assert caught.value.messages == (
                "plan.yaml:3: metrics: first problem",
                "plan.yaml:7: alpha: second",
            )
            first = pool.processes
            start = time.monotonic()
            with pytest.raises(TimeLimitExceeded, match=r"took longer than 0\.5 s") as over:
                await pool.run(slow_work.burn, 30, time_limit=0.5)
            assert time.monotonic() - start < 5
            assert not over.value.waited
            assert pool.processes != first
            # one worker busy for longer than a second call's limit: that call never starts
            busy = asyncio.ensure_future(pool.run(slow_work.burn, 30, time_limit=3))
            await asyncio.sleep(0.2)
            with pytest.raises(TimeLimitExceeded, match="busy with other calculations") as wait:
                await pool.run(pow, 2, 3, time_limit=0.5)
            assert wait.value.waited
            with pytest.raises(TimeLimitExceeded):
                await busy
            assert await pool.run(pow, 3, 2, time_limit=30) == 9
            workers = pool.processes
        assert pool.processes == []
        return workers

    workers = asyncio.run(scenario())
    for pid in workers:  # closed: the processes are gone
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_create_app_refuses_a_nonpositive_time_limit():
    with pytest.raises(ValueError, match="time limit calculator == 0"):
        TimeLimits(calculator=0)
    with pytest.raises(ValueError, match="workers == 0, must be at least 1"):
        create_app(compute_workers=0)


# ---------------------------------------------------------------------- security headers
def test_every_page_and_fragment_has_the_security_headers(tmp_path):
    path = tmp_path / "demo.csv"
    pl.DataFrame(generate(500, seed=2)).write_csv(path)
    with TestClient(create_app()) as client:
        with path.open("rb") as handle:
            uploaded = client.post(
                "/readout",
                files={"file": ("demo.csv", handle, "text/csv")},
                follow_redirects=False,
            )
        preview = client.get(uploaded.headers["location"])
        analyzed = client.post(
            uploaded.headers["location"],
            data={"variant": "variant", "control": "control", "primary": "converted"},
        )
        assert 'id="report"' in analyzed.text, alert(analyzed.text)
        assert analyzed.status_code == 200
        report_url = re.search(r'id="report" title="Report[^"]*" src="([^"]+)"', analyzed.text)
        assert report_url is not None
        responses = {
            "home": client.get("/"),
            "calculator": client.get("/calculator"),
            "fragment": client.post("/calculator/result", data={"baseline": "4%"}),
            "fragment error": client.post("/calculator/result", data={"alpha": "2"}),
            "readout": client.get("/readout"),
            "readout error": client.post("/readout", data={"variant": "variant"}),
            "readout preview": preview,
            "arms fragment": client.get(f"{uploaded.headers['location']}/arms?variant=variant"),
            "readout result": analyzed,
            "expired readout": client.get("/readout/" + "x" * 22),
            "expired upload": client.get("/readout/file/" + "x" * 22),
            "history estimate": client.post(
                "/calculator/history",
                files={"file": ("past.csv", b"day,revenue\n2026-01-01,3\n", "text/csv")},
                data={"history_column": "nowhere", "history_date": "day"},
            ),
            "static": client.get("/static/ablens.css"),
            "not found": client.get("/nowhere"),
        }
        report = client.get(report_url.group(1))
    for name, response in responses.items():
        assert response.headers["content-security-policy"] == APP_CSP, name
        assert response.headers["x-content-type-options"] == "nosniff", name
        assert response.headers["referrer-policy"] == "no-referrer", name
        assert response.headers["x-frame-options"] == "DENY", name
    assert "default-src 'none'" in APP_CSP
    assert "script-src 'self'" in APP_CSP
    assert "frame-ancestors 'none'" in APP_CSP
    # the report keeps its own policy: no script at all, framed only by the readout page
    assert report.status_code == 200
    assert report.headers["content-security-policy"] == REPORT_CSP
    assert "script-src" not in REPORT_CSP
    assert "frame-ancestors 'self'" in REPORT_CSP
    assert report.headers["x-frame-options"] == "SAMEORIGIN"
    assert report.headers["x-content-type-options"] == "nosniff"


def test_pages_hold_no_inline_script_or_style_the_policy_would_refuse(tmp_path):
    path = tmp_path / "demo.csv"
    pl.DataFrame(generate(500, seed=2)).write_csv(path)
    with TestClient(create_app()) as client:
        pages = [client.get(url).text for url in ("/", "/calculator", "/readout")]
        with path.open("rb") as handle:
            uploaded = client.post(
                "/readout", files={"file": ("demo.csv", handle, "text/csv")}, follow_redirects=False
            )
        choices = uploaded.headers["location"]
        pages.append(client.get(choices).text)
        result = client.post(
            choices, data={"variant": "variant", "control": "control", "primary": "converted"}
        )
        assert 'id="report"' in result.text
        pages.append(result.text)
        pages.append(client.get("/readout/" + "x" * 22).text)
        pages.append(
            client.post(
                "/calculator/history",
                files={"file": ("past.csv", b"day,revenue\n2026-01-01,3\n", "text/csv")},
                data={"history_column": "nowhere", "history_date": "day"},
            ).text
        )
    assert len(pages) == 7
    for page in pages:
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []  # inline scripts
        assert "<style" not in page
        assert re.findall(r"\sstyle=", page) == []
        assert re.findall(r"\son[a-z]+=", page) == []  # inline event handlers
        assert """<meta name="htmx-config" content='{"includeIndicatorStyles": false}'>""" in page


# ---------------------------------------------------------------------- a stalled upload
def test_a_stalled_upload_is_answered_408_and_does_not_hold_the_server():
    with running(create_app(body_timeout=1.0)) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            body = b"variant=variant&control=control&metrics=" + b"x" * 500
            raw.sendall(
                b"POST /readout HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {2 * len(body)}\r\n\r\n".encode()
                + body  # half of the announced body, then nothing
            )
            start = time.monotonic()
            # meanwhile the server answers others
            assert fetch(f"{url}/", timeout=10)[0] == 200
            answer = b""
            while chunk := raw.recv(65536):  # until the server closes the connection
                answer += chunk
            waited = time.monotonic() - start
    head = answer.decode(errors="replace")
    assert head.startswith("HTTP/1.1 408"), head
    assert "The request body stopped arriving for 1 s" in head
    assert 0.8 < waited < 10


def test_a_slow_upload_that_keeps_sending_is_not_cut_off():
    with running(create_app(body_timeout=1.0)) as url:
        port = int(url.rsplit(":", 1)[1])
        body = b"baseline=4%25&mde=10%25&arms=2"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            raw.sendall(
                b"POST /calculator/result HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            for start in range(0, len(body), 10):  # 10 bytes every 0.6 s: 1.8 s in all
                raw.sendall(body[start : start + 10])
                time.sleep(0.6)
            answer = b""
            while chunk := raw.recv(65536):
                answer += chunk
    text = answer.decode()
    assert text.startswith("HTTP/1.1 200"), text[:200]
    assert 'id="n-per-arm"' in text


# ---------------------------------------------------------------------- upload folders
def test_stale_upload_folders_of_dead_servers_are_removed_at_start_up(tmp_path, monkeypatch):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(dead.stdout)
    hour_ago = time.time() - 2 * 3600

    def folder(name: str, *, old: bool) -> Path:
        path = tmp_path / name
        path.mkdir()
        (path / "upload.csv").write_text("variant,x\n")
        if old:
            os.utime(path, (hour_ago, hour_ago))
        return path

    stale = folder(f"ablens-web-{dead_pid}-abc123", old=True)
    stale_demo = folder(f"ablens-web-{dead_pid}-demo-xyz", old=True)
    fresh = folder(f"ablens-web-{dead_pid}-new", old=False)  # maybe still being written
    alive = folder(f"ablens-web-{os.getppid()}-running", old=True)  # its server still runs
    mine = folder(f"ablens-web-{os.getpid()}-mine", old=True)
    other = folder("ablens-other-1-x", old=True)
    unnamed = folder("ablens-web-notapid", old=True)

    removed = remove_stale_uploads(tmp_path)
    assert sorted(removed) == sorted([stale, stale_demo])
    for kept in (fresh, alive, mine, other, unnamed):
        assert kept.is_dir()
    assert not stale.exists()
    assert not stale_demo.exists()

    # the app's start-up does it in the system's temporary folder
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    again = folder(f"ablens-web-{dead_pid}-again", old=True)
    with TestClient(create_app()) as client:
        assert client.get("/").status_code == 200
    assert not again.exists()
    made = upload_folder()
    assert made.parent == tmp_path
    assert made.name.startswith(f"ablens-web-{os.getpid()}-")


def test_an_upload_folder_is_removed_after_the_analysis(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    path = tmp_path / "data.csv"
    pl.DataFrame(generate(300, seed=4)).write_csv(path)
    with TestClient(create_app(compute_workers=1)) as client:
        with path.open("rb") as handle:
            response = client.post(
                "/readout",
                files={"file": ("data.csv", handle, "text/csv")},
                data={"variant": "variant", "control": "control", "metrics": "converted"},
            )
        assert response.status_code == 200, alert(response.text)
        # The readout's file is kept for "Change the columns" (one folder, named after the
        # server's process); the calculator's past data go to the same folder, then away.
        (root,) = tmp_path.glob(f"ablens-web-{os.getpid()}-*")
        kept = list(root.iterdir())
        assert len(kept) == 1
        past = tmp_path / "past.csv"
        past.write_text("day,revenue\n2026-01-01,3\n2026-01-01,5\n2026-01-02,4\n2026-01-02,0\n")
        with past.open("rb") as handle:
            estimated = client.post(
                "/calculator/history",
                files={"file": ("past.csv", handle, "text/csv")},
                data={"history_column": "revenue", "history_date": "day"},
            )
        assert estimated.status_code == 200, alert(estimated.text)
        assert 'id="history-note"' in estimated.text
        assert list(tmp_path.glob("ablens-web-*")) == [root]
        assert list(root.iterdir()) == kept
    assert list(tmp_path.glob("ablens-web-*")) == []  # removed at shutdown


# ---------------------------------------------------------------------- serve options
def test_serve_passes_its_time_limits_and_workers_to_the_app(monkeypatch):
    from typer.testing import CliRunner  # noqa: PLC0415

    from ablens.cli.app import app as cli_app  # noqa: PLC0415

    seen = {}

    def fake_run(app, **options):
        seen["limits"] = app.state.time_limits
        seen["workers"] = app.state.compute.workers
        seen["options"] = options

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(
        cli_app,
        ["serve", "--time-limit", "12", "--readout-time-limit", "90", "--compute-workers", "3"],
    )
    assert result.exit_code == 0, result.output
    assert seen["limits"] == TimeLimits(calculator=12.0, readout=90.0)
    assert seen["workers"] == 3
    assert seen["options"]["host"] == "127.0.0.1"
    refused = CliRunner().invoke(cli_app, ["serve", "--time-limit", "0"])
    assert refused.exit_code == 2


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_large_answers_come_back_whole_on_either_event_loop(loop):
    """uvloop leaves a watched pipe non-blocking: a large answer must still be read whole."""

    async def scenario():
        async with ComputePool(workers=1) as pool:
            return [len(await pool.run(operator.mul, "x", 3_000_000, time_limit=60)) for _ in "ab"]

    if loop == "uvloop":
        uvloop = pytest.importorskip("uvloop", reason="the web extra installs uvloop")
        assert uvloop.run(scenario()) == [3_000_000, 3_000_000]
    else:
        assert asyncio.run(scenario()) == [3_000_000, 3_000_000]
