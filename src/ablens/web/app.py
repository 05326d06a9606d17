"""The web UI: a power calculator and a readout page, served by FastAPI, rendered by Jinja2.

Thin, like the CLI: every number comes from `ablens.power_plan` (the calculator) or `ablens.analyze`
with `ablens.report.render_report` (the readout); this module only parses form fields, calls
them and lays out the answer. The pages load nothing from anywhere else: htmx is vendored as
package data (``static/htmx.min.js``), the stylesheet is local and the chart is inline SVG.

Pages:

* ``/`` links to the two tools and explains the terms (CI, MDE, power, SRM).
* ``/calculator`` updates as you type: htmx posts the form to ``/calculator/result``, which
  returns an HTML fragment (units per arm, total, days, a sentence, an MDE-by-duration chart)
  and sets the page URL to ``/calculator?<the inputs>``, so the address bar is a shareable link;
  opening it renders the same result without JavaScript.
* ``/readout`` and below (`ablens.web.readout`): upload a CSV or parquet file, say on a preview
  of its columns what they mean (arm and control, user id, primary metric, guardrails, planned
  split, reading), or choose a plan the server was started with; every readout then has its own
  address, ``/readout/<key>``, with the self-contained HTML report and a plan file to save.
  Like ``ablens analyze`` it runs `ablens.readout.run_readout` on a plan built by the plan
  layer.

Bad input never raises: it comes back as a message in the page (HTTP 200 for htmx fragments,
which htmx only swaps on success; 413 or 422 for a rejected upload or plan).
"""

from __future__ import annotations

import html
import ipaddress
import math
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from ablens._version import __version__
from ablens.calculator import (
    FieldError,
    calculator_form,
    calculator_plan,
    calculator_query,
)
from ablens.errors import AblensError
from ablens.web.readout import add_readout_routes

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from types import FrameType

    from ablens.planning import PowerPlan

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "GLOSSARY", "create_app", "serve"]

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_HERE = Path(__file__).parent

#: Plain-language definitions shown as tooltips (title attributes) and on the home page.
GLOSSARY: dict[str, tuple[str, str]] = {
    "ci": (
        "CI",
        (
            "Confidence interval: the range of effects consistent with the data. A 95% interval "
            "excludes zero when the result is significant at 5%."
        ),
    ),
    "mde": (
        "MDE",
        (
            "Minimum detectable effect: the smallest true change the experiment will detect with "
            "the chosen power. Smaller effects need more users."
        ),
    ),
    "power": (
        "Power",
        (
            "The chance the experiment detects a true effect of the MDE's size. 80% means a real "
            "effect that large is missed one time in five."
        ),
    ),
    "srm": (
        "SRM",
        (
            "Sample-ratio mismatch: the arms did not get the share of users planned. It points at "
            "a bug in assignment or logging; don't trust the results until it is fixed."
        ),
    ),
    "alpha": (
        "alpha",
        (
            "Significance level: the chance of calling a winner when there is no effect at all "
            "(a false positive). 0.05 is the usual choice."
        ),
    ),
}


def mde_chart(p: PowerPlan) -> Markup:
    """The MDE by duration as inline SVG (no external anything), or nothing without traffic."""
    days = p.by_day
    if not days:
        return Markup("")
    width, height, left, right, top, bottom = 560, 240, 56, 16, 16, 40
    lifts = [d.relative_mde * 100 for d in days if math.isfinite(d.relative_mde)]
    if not lifts:
        return Markup("")
    top_value = max(lifts)
    top_value = top_value if top_value > 0 else 1.0
    last_day = days[-1].day

    def x(day: float) -> float:
        return left + (width - left - right) * (day - 1) / max(last_day - 1, 1)

    def y(value: float) -> float:
        return top + (height - top - bottom) * (1 - min(value, top_value) / top_value)

    points = " ".join(
        f"{x(d.day):.1f},{y(d.relative_mde * 100):.1f}"
        for d in days
        if math.isfinite(d.relative_mde)
    )
    parts = [
        (
            f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="Minimum detectable lift by days of running">'
        ),
        f"<title>Minimum detectable lift (%) by days of running; day {last_day} at most</title>",
        (
            f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width - right}" '
            f'y2="{height - bottom}"/>'
        ),
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        value = top_value * fraction
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{value:.3g}%</text>'
        )
    parts.extend(
        f'<text class="tick" x="{x(day):.1f}" y="{height - bottom + 16}" '
        f'text-anchor="middle">{day}</text>'
        for day in sorted({1, (last_day + 1) // 2, last_day})
    )
    parts.append(
        f'<text class="label" x="{(left + width - right) / 2:.1f}" y="{height - 4}" '
        'text-anchor="middle">days running</text>'
    )
    parts.append(f'<polyline class="curve" points="{points}"/>')
    if p.days is not None and p.days <= last_day:
        target = p.relative_effect * 100
        parts.append(
            f'<line class="target" x1="{left}" y1="{y(target):.1f}" x2="{width - right}" '
            f'y2="{y(target):.1f}"/>'
        )
        parts.append(
            f'<circle class="mark" cx="{x(p.days):.1f}" cy="{y(target):.1f}" r="5">'
            f"<title>day {p.days}: {html.escape(f'{target:.3g}')}% lift</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only


# ------------------------------------------------------------------------------- the app
def create_app(
    *,
    plans: Sequence[Path] = (),
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    open_first: bool = False,
) -> FastAPI:
    """The web application (an ASGI app; serve it with `serve` or any ASGI server).

    Args:
        plans: Analysis plan files offered on the readout page (their data sources are read
            when chosen; an uploaded file can replace the source).
        max_upload_bytes: Largest upload accepted, in bytes.
        open_first: Open the readout page on the first plan's readout (``ablens serve
            --demo`` opens on the demo's result).

    Returns:
        The FastAPI application.
    """
    if max_upload_bytes <= 0:
        raise ValueError(f"max_upload_bytes == {max_upload_bytes!r}, must be positive")
    plan_paths = tuple(Path(p) for p in plans)
    app = FastAPI(
        title="ablens",
        version=__version__,
        docs_url=None,  # the Swagger page loads its assets from a CDN
        redoc_url=None,
        openapi_url=None,
    )
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    templates = Jinja2Templates(directory=_HERE / "templates")
    templates.env.globals.update(glossary=GLOSSARY, version=__version__)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:  # noqa: ANN401
        return templates.TemplateResponse(request, name, context, status_code=status)

    def calculator_context(values: Mapping[str, str]) -> dict[str, Any]:
        try:
            result = calculator_plan(values)
        except (FieldError, AblensError, ValueError) as error:
            return {"values": values, "plan": None, "error": str(error), "chart": Markup("")}
        query = calculator_query(values)
        return {
            "values": values,
            "plan": result,
            "error": None,
            "chart": mde_chart(result),
            "plan_html": Markup(result.to_html()),  # noqa: S704 - ablens escapes its own text
            "share": "/calculator" + (f"?{query}" if query else ""),
        }

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return page(request, "home.html", plans=len(plan_paths))

    @app.get("/calculator", response_class=HTMLResponse)
    def calculator(request: Request) -> HTMLResponse:
        values = calculator_form(request.query_params)
        return page(request, "calculator.html", **calculator_context(values))

    @app.api_route("/calculator/result", methods=["GET", "POST"], response_class=HTMLResponse)
    async def calculator_result(request: Request) -> HTMLResponse:
        if request.method == "POST":
            form = await request.form()
            source: Mapping[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        else:
            source = request.query_params
        context = calculator_context(calculator_form(source))
        response = page(request, "_calculator_result.html", **context)
        if context["plan"] is not None:
            # Replace (not push) the URL: every keystroke would otherwise add a history entry.
            response.headers["HX-Replace-Url"] = context["share"]
        return response

    state = add_readout_routes(
        app,
        page,
        plans=plan_paths,
        max_upload_bytes=max_upload_bytes,
        open_first=open_first,
    )
    app.router.on_shutdown.append(state.uploads.close)
    app.state.readout = state  # the kept uploads and readouts (tests look at them)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:  # noqa: ANN401
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response

    return app


def _raise_system_exit(signum: int, frame: FrameType | None) -> NoReturn:
    """SIGTERM's handler: exit through Python, so ``finally`` blocks and ``with`` exits run."""
    raise SystemExit(128 + signum)


@contextmanager
def _exit_on_sigterm() -> Iterator[None]:
    """Let SIGTERM (``kill``, ``docker stop``, systemd) unwind like Ctrl-C does.

    Python's default SIGTERM ends the process at once, leaving the demo's temporary folder
    behind. uvicorn catches SIGTERM to shut down gracefully, then restores the handler it
    found and raises the signal again: with this handler in place, that second delivery
    becomes a ``SystemExit`` that unwinds the ``with`` blocks around the server.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _raise_system_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(
    *,
    plans: Sequence[Path] = (),
    host: str = "127.0.0.1",
    port: int = 8000,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    demo: bool = False,
) -> None:
    """Serve the web UI with uvicorn until interrupted (``ablens serve``).

    Binds 127.0.0.1 by default: only this machine can reach it. There is no login, so bind
    another address only on a network you trust.

    Args:
        plans: Analysis plans to offer on the readout page.
        host: Address to bind.
        port: Port to listen on.
        max_upload_bytes: Largest upload accepted.
        demo: Also simulate the demo experiment (200,000 users) into a temporary folder, removed
            when the server stops, offer its plan first and open the readout page on its
            result: a readout with nothing to install or upload.
    """
    import uvicorn  # noqa: PLC0415 - the server is only needed here

    with _exit_on_sigterm(), tempfile.TemporaryDirectory(prefix="ablens-demo-") as scratch:
        if demo:
            from ablens.demo import write_demo  # noqa: PLC0415 - needs the duckdb extra

            plans = (write_demo(scratch), *plans)
        app = create_app(plans=plans, max_upload_bytes=max_upload_bytes, open_first=demo)
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            import sys  # noqa: PLC0415

            sys.stderr.write(
                f"ablens: serving on {host}: anyone who can reach this address can use the "
                "server and upload files; there is no login.\n"
            )
        uvicorn.run(app, host=host, port=port, log_level="info")
