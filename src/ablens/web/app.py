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

CPU work (a calculator plan, an estimate from past data, a file's preview, a readout) runs in
a pool of worker processes with a time limit (`ablens.web.compute.ComputePool`), so a slow
calculation never holds up the other pages; the guards of `ablens.web.guards` add the security
headers (a Content-Security-Policy on every page), a request-body timeout and the clean-up of
upload folders left by a killed server.

Bad input never raises: it comes back as a message in the page (HTTP 200 for htmx fragments,
which htmx only swaps on success; 413 or 422 for a rejected upload or plan; 503 for a
calculation stopped at its time limit).
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import json
import math
import os
import signal
import tempfile
import threading
from collections import OrderedDict
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.datastructures import UploadFile

from ablens._version import __version__
from ablens.calculator import (
    FIELD_APPLIES,
    KIND_EXAMPLES,
    FieldError,
    applicable_fields,
    calculator_form,
    calculator_plan,
    calculator_query,
    estimate_from_history,
    limit_error,
    read_calculator,
)
from ablens.errors import AblensError, LimitError
from ablens.web.compute import (
    ComputePool,
    TimeLimitExceeded,
    Work,
    WorkerLost,
    default_workers,
    time_limit_message,
)
from ablens.web.guards import (
    UPLOAD_PREFIX,
    RequestBodyTimeout,
    SecurityHeaders,
    remove_stale_uploads,
)
from ablens.web.readout import FORM_OVERHEAD as _FORM_OVERHEAD
from ablens.web.readout import UploadError, add_readout_routes
from ablens.web.readout import human_bytes as _human_bytes
from ablens.web.readout import save_upload as _save_upload

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
    from types import FrameType

    from ablens.calculator import HistoryEstimate
    from ablens.planning import PowerPlan

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_READOUT_TIME_LIMIT",
    "DEFAULT_TIME_LIMIT",
    "GLOSSARY",
    "TimeLimits",
    "create_app",
    "serve",
    "time_limit_message",
]

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Longest a calculator plan (or a plan from history) may compute, in seconds.
DEFAULT_TIME_LIMIT = 30.0
#: Longest a readout (a file's preview, the analysis and its report) may compute, in seconds.
DEFAULT_READOUT_TIME_LIMIT = 300.0
#: Longest wait for the next piece of a request body (a stalled upload), in seconds.
DEFAULT_BODY_TIMEOUT = 30.0
#: Calculator answers kept for repeated inputs (the same form gives the same plan).
CALCULATOR_CACHE_SIZE = 512
#: Modules a compute worker imports before its first calculation.
_WARM_MODULES = (
    "ablens.calculator",
    "ablens.planning",
    "scipy.stats",
    "duckdb",
    "ablens.readout",
    "ablens.report",
    "ablens.web.app",
)
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

#: The fields of the calculator's "Estimate from past data" form.
HISTORY_FIELDS = ("history_column", "history_date", "history_unit", "history_covariate")


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round axis ticks from 0 to at least `top`: steps of 1, 2 or 5 times a power of ten.

    Examples:
        >>> nice_ticks(20.4)
        [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
        >>> nice_ticks(0.37)
        [0.0, 0.1, 0.2, 0.3, 0.4]
    """
    if not top > 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw - 1e-12)
    ticks = [0.0]
    while ticks[-1] < top - 1e-9 * step:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _tick_text(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{decimals}f}%"


def mde_chart(p: PowerPlan) -> Markup:
    """The MDE by duration as inline SVG (no external anything), or nothing without traffic."""
    days = p.by_day
    if not days:
        return Markup("")
    width, height, left, right, top, bottom = 560, 250, 72, 16, 16, 44
    lifts = [abs(d.relative_mde) * 100 for d in days if math.isfinite(d.relative_mde)]
    if not lifts:
        return Markup("")
    target = abs(p.relative_effect) * 100
    highest = max(lifts)
    if math.isfinite(target) and target > 0:
        # the first days' lifts dwarf the rest: keep the target's region readable
        highest = min(highest, 4 * target)
    ticks = nice_ticks(highest if highest > 0 else 1.0)
    top_value = ticks[-1]
    step = ticks[1] - ticks[0]
    last_day = days[-1].day

    def x(day: float) -> float:
        return left + (width - left - right) * (day - 1) / max(last_day - 1, 1)

    def y(value: float) -> float:
        return top + (height - top - bottom) * (1 - min(value, top_value) / top_value)

    points = " ".join(
        f"{x(d.day):.1f},{y(abs(d.relative_mde) * 100):.1f}"
        for d in days
        if math.isfinite(d.relative_mde)
    )
    middle = (top + height - bottom) / 2
    parts = [
        (
            f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="Smallest detectable lift by days of running">'
        ),
        f"<title>Smallest detectable lift (%) by days of running; day {last_day} at most</title>",
        (
            f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{width - right}" '
            f'y2="{height - bottom}"/>'
        ),
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}"/>',
        (
            f'<text class="label" x="14" y="{middle:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 14 {middle:.1f})">smallest detectable lift</text>'
        ),
    ]
    for value in ticks:
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y(value):.1f}" x2="{width - right}" '
            f'y2="{y(value):.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{_tick_text(value, step)}</text>'
        )
    parts.extend(
        f'<text class="tick" x="{x(day):.1f}" y="{height - bottom + 16}" '
        f'text-anchor="middle">{day}</text>'
        for day in sorted({1, (last_day + 1) // 2, last_day})
    )
    parts.append(
        f'<text class="label" x="{(left + width - right) / 2:.1f}" y="{height - 6}" '
        'text-anchor="middle">days running</text>'
    )
    parts.append(f'<polyline class="curve" points="{points}"/>')
    if p.days is not None and p.days <= last_day and math.isfinite(target):
        label = f"your MDE {target:.3g}%" if p.solved == "sample size" else f"{target:.3g}%"
        label = f"day {p.days}: {label}"
        anchor_x = x(p.days)
        text_anchor = "end" if anchor_x > (left + width) / 2 else "start"
        offset = -8 if text_anchor == "end" else 8
        parts.append(
            f'<line class="target" x1="{left}" y1="{y(target):.1f}" x2="{width - right}" '
            f'y2="{y(target):.1f}"/>'
        )
        parts.append(
            f'<text class="target-label" x="{anchor_x + offset:.1f}" y="{y(target) - 8:.1f}" '
            f'text-anchor="{text_anchor}">{html.escape(label)}</text>'
        )
        parts.append(
            f'<circle class="mark" cx="{anchor_x:.1f}" cy="{y(target):.1f}" r="5">'
            f"<title>{html.escape(label)} lift</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only


@dataclass(frozen=True)
class TimeLimits:
    """How long each kind of work may compute before it is stopped, in seconds.

    Attributes:
        calculator: A calculator plan, or a plan estimated from past data.
        readout: A readout: an upload's preview, the analysis of a file or a plan's data, and
            its report.
    """

    calculator: float = DEFAULT_TIME_LIMIT
    readout: float = DEFAULT_READOUT_TIME_LIMIT

    def __post_init__(self) -> None:
        for name in ("calculator", "readout"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"time limit {name} == {value!r}, must be a positive number")


def _estimate_history(path: str, history: Mapping[str, str], source: str) -> HistoryEstimate:
    """`estimate_from_history` of the calculator's history form (runs in a compute worker)."""
    return estimate_from_history(
        path,
        column=history["history_column"],
        date=history["history_date"],
        unit=history["history_unit"] or None,
        covariate=history["history_covariate"] or None,
        source=source,
    )


def _share_text(share: float) -> str:
    """An arm's share of the traffic: 50%, 33.3%."""
    percent = share * 100
    return f"{percent:.0f}%" if abs(percent - round(percent)) < 0.05 else f"{percent:.1f}%"


# ------------------------------------------------------------------------------- the app
def create_app(  # noqa: PLR0915 - the routes are closures over the app's state
    *,
    plans: Sequence[Path] = (),
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    open_first: bool = False,
    time_limits: TimeLimits | None = None,
    compute_workers: int | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> FastAPI:
    """The web application (an ASGI app; serve it with `serve` or any ASGI server).

    CPU-heavy work (calculator plans, estimates from past data, upload previews, readouts) runs
    in a pool of worker processes (`ablens.web.compute.ComputePool`, started on the app's
    start-up or first use and stopped on its shutdown), so a slow calculation never holds up
    other pages, and is stopped at its time limit. Start-up also removes upload folders left by
    a server that was killed.

    Args:
        plans: Analysis plan files offered on the readout page (their data sources are read
            when chosen; an uploaded file can replace the source).
        max_upload_bytes: Largest upload accepted, in bytes.
        open_first: Open the readout page on the first plan's readout (``ablens serve
            --demo`` opens on the demo's result).
        time_limits: How long a calculation may take before it is stopped with a message;
            `TimeLimits()` (30 s for the calculator, 300 s for a readout) by default.
        compute_workers: Calculations that may run at once (worker processes); by default two,
            or one per CPU core.
        body_timeout: Longest wait, in seconds, for the next piece of a request body before the
            request is answered 408 (a stalled upload).

    Returns:
        The FastAPI application.
    """
    if max_upload_bytes <= 0:
        raise ValueError(f"max_upload_bytes == {max_upload_bytes!r}, must be positive")
    limits = TimeLimits() if time_limits is None else time_limits
    pool = ComputePool(
        default_workers() if compute_workers is None else compute_workers, warm=_WARM_MODULES
    )
    plan_paths = tuple(Path(p) for p in plans)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        remove_stale_uploads()
        pool.start()
        try:
            yield
        finally:
            pool.close()
            app.state.readout.uploads.close()

    app = FastAPI(
        title="ablens",
        version=__version__,
        docs_url=None,  # the Swagger page loads its assets from a CDN
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.compute = pool
    app.state.time_limits = limits
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    templates = Jinja2Templates(directory=_HERE / "templates")
    templates.env.globals.update(glossary=GLOSSARY, version=__version__)
    templates.env.filters["thousands"] = lambda number: f"{number:,}"
    templates.env.filters["share"] = _share_text

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:  # noqa: ANN401
        return templates.TemplateResponse(request, name, context, status_code=status)

    plan_cache: OrderedDict[tuple[tuple[str, str], ...], PowerPlan | Exception] = OrderedDict()
    computing: dict[tuple[tuple[str, str], ...], asyncio.Future[PowerPlan | Exception]] = {}

    async def compute(work: Work, function: Callable[P, T], *args: Any) -> T:  # noqa: ANN401
        """Run `function(*args)` off the event loop within `work`'s time limit."""
        limit = limits.calculator if work == "calculator" else limits.readout
        return await pool.run(function, *args, time_limit=limit)

    async def plan_off_loop(values: Mapping[str, str]) -> PowerPlan:
        """`calculator_plan` in a worker, remembered for repeated inputs (errors included).

        Requests for inputs already being computed wait for that computation instead of
        starting their own: a shared link opened by many at once is computed once.
        """
        key = tuple(sorted(values.items()))
        kept = plan_cache.get(key)
        if kept is None:
            running = computing.get(key)
            if running is not None and running.get_loop() is asyncio.get_running_loop():
                kept = await asyncio.shield(running)
            else:
                done: asyncio.Future[PowerPlan | Exception] = (
                    asyncio.get_running_loop().create_future()
                )
                computing[key] = done
                try:
                    kept = await compute("calculator", calculator_plan, dict(values))
                except (AblensError, ValueError, TimeLimitExceeded) as error:
                    kept = error
                    if isinstance(error, TimeLimitExceeded) and error.waited:
                        done.set_result(error)
                        raise  # busy, not slow: the same input may well be quick next time
                finally:
                    del computing[key]
                    if not done.done():
                        done.set_result(kept if kept is not None else WorkerLost("stopped"))
                plan_cache[key] = kept
                while len(plan_cache) > CALCULATOR_CACHE_SIZE:
                    plan_cache.popitem(last=False)
        else:
            plan_cache.move_to_end(key)
        if isinstance(kept, Exception):
            raise kept.with_traceback(None)
        return kept

    async def calculator_context(values: Mapping[str, str], **extra: Any) -> dict[str, Any]:  # noqa: ANN401
        context: dict[str, Any] = {
            "values": values,
            "shown": applicable_fields(values),
            "applies": FIELD_APPLIES,
            "examples": json.dumps(KIND_EXAMPLES),
            "limit": _human_bytes(max_upload_bytes),
            "plan": None,
            "error": None,
            "error_field": None,
            "chart": Markup(""),
            "history": {},
            "history_error": None,
            "history_error_field": None,
            "history_note": None,
            "oob": False,
        }
        context.update(extra)
        try:
            reading = read_calculator(values)  # quick: a field at fault is named at once
            result = await plan_off_loop(values)
        except (TimeLimitExceeded, WorkerLost) as error:
            context.update(error=time_limit_message(error, "calculator"))
            return context
        except FieldError as error:
            context.update(error=str(error), error_field=error.field)
            return context
        except LimitError as error:  # too many looks: shown at the field, in the planner's words
            refused = limit_error(error)
            context.update(error=str(refused), error_field=refused.field)
            return context
        except (AblensError, ValueError) as error:
            context.update(error=str(error))
            return context
        query = calculator_query(values)
        context.update(
            plan=result,
            reading=reading,
            chart=mde_chart(result),
            plan_html=Markup(result.to_html()),  # noqa: S704 - ablens escapes its own text
            share="/calculator" + (f"?{query}" if query else ""),
        )
        return context

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        return page(request, "home.html", plans=len(plan_paths))

    @app.get("/calculator", response_class=HTMLResponse)
    async def calculator(request: Request) -> HTMLResponse:
        values = calculator_form(request.query_params)
        return page(request, "calculator.html", **await calculator_context(values))

    @app.api_route("/calculator/result", methods=["GET", "POST"], response_class=HTMLResponse)
    async def calculator_result(request: Request) -> HTMLResponse:
        if request.method == "POST":
            form = await request.form()
            source: Mapping[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        else:
            source = request.query_params
        context = await calculator_context(calculator_form(source), oob=True)
        response = page(request, "_calculator_result.html", **context)
        if context["plan"] is not None:
            # Replace (not push) the URL: every keystroke would otherwise add a history entry.
            response.headers["HX-Replace-Url"] = context["share"]
        return response

    @app.post("/calculator/history", response_class=HTMLResponse)
    async def calculator_history(request: Request) -> HTMLResponse:
        """Estimate the baseline, sd, traffic and CUPED from an uploaded past period."""
        length = request.headers.get("content-length")
        if (
            length is not None
            and length.isdigit()
            and int(length) > (max_upload_bytes + _FORM_OVERHEAD)
        ):
            message = (
                f"The file is larger than the upload limit of {_human_bytes(max_upload_bytes)}; "
                "estimate from it with the command line (ablens power --history)."
            )
            return page(
                request,
                "calculator.html",
                413,
                **await calculator_context(
                    calculator_form({}),
                    history_error=message,
                    history_error_field="history_file",
                ),
            )
        form = await request.form()
        fields = {k: v.strip()[:200] for k, v in form.items() if isinstance(v, str)}
        # the calculator's inputs ride along as keep_<field> (its own form stays unambiguous)
        values = calculator_form(
            {k.removeprefix("keep_"): v for k, v in fields.items() if k.startswith("keep_")}
        )
        history = {key: fields.get(key, "") for key in HISTORY_FIELDS}
        upload = form.get("file")
        # The readout's own upload folder (one root the app owns, removed at shutdown, and at
        # the next start-up if the server is killed); this file is removed once estimated.
        _, folder = state.uploads.new_folder()
        status, error, error_field = 200, None, None
        try:
            if not isinstance(upload, UploadFile) or not (upload.filename or upload.size):
                raise FieldError("File: choose a CSV or parquet file of past data.", "history_file")
            try:
                path = await _save_upload(upload, folder, max_upload_bytes)
            except UploadError as refused:
                status = refused.status
                message = str(refused)
                if status == 413:
                    message = (
                        f"{Path(upload.filename or '').name} is larger than the upload limit of "
                        f"{_human_bytes(max_upload_bytes)}; estimate from it with the command "
                        "line (ablens power --history)."
                    )
                raise FieldError(f"File: {message}", "history_file") from None
            name = Path(upload.filename or "").name
            estimate = await compute("calculator", _estimate_history, str(path), history, name)
        except (TimeLimitExceeded, WorkerLost) as stopped:
            message = time_limit_message(stopped, "calculator")
            status, error, error_field = 503, f"File: {message}", "history_file"
        except FieldError as refused:
            status = status if status != 200 else 422
            error, error_field = str(refused), refused.field
        except AblensError as refused:
            status, error, error_field = 422, str(refused), "history_file"
        except Exception as refused:  # the engine's own errors on a malformed file
            message = str(refused).replace(str(folder), "").splitlines()[0][:300]
            status, error, error_field = (
                422,
                f"File: could not read it as a table ({type(refused).__name__}: {message}).",
                "history_file",
            )
        finally:
            state.uploads.discard(folder)
            if isinstance(upload, UploadFile):
                await upload.close()
        if error is not None:
            return page(
                request,
                "calculator.html",
                status,
                **await calculator_context(
                    values,
                    history=history,
                    history_error=error,
                    history_error_field=error_field,
                ),
            )
        values = {**values, **estimate.form_values()}
        return page(
            request,
            "calculator.html",
            **await calculator_context(values, history=history, history_note=estimate.sentence),
        )

    state = add_readout_routes(
        app,
        page,
        compute,
        plans=plan_paths,
        max_upload_bytes=max_upload_bytes,
        open_first=open_first,
    )
    app.state.readout = state  # the kept uploads and readouts (tests look at them)

    # Plain ASGI middleware (the last added runs first): cheaper than @app.middleware("http").
    app.add_middleware(RequestBodyTimeout, seconds=body_timeout)
    app.add_middleware(SecurityHeaders)
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
    time_limits: TimeLimits | None = None,
    compute_workers: int | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
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
        time_limits: How long a calculator plan and a readout may compute (`create_app`).
        compute_workers: Calculations that may run at once (`create_app`).
        body_timeout: Longest wait for the next piece of a request body (`create_app`).
    """
    import uvicorn  # noqa: PLC0415 - the server is only needed here

    # Named like the upload folders, so a server killed with SIGKILL leaves nothing for long.
    demo_prefix = f"{UPLOAD_PREFIX}{os.getpid()}-demo-"
    with _exit_on_sigterm(), tempfile.TemporaryDirectory(prefix=demo_prefix) as scratch:
        if demo:
            from ablens.demo import write_demo  # noqa: PLC0415 - needs the duckdb extra

            plans = (write_demo(scratch), *plans)
        app = create_app(
            plans=plans,
            max_upload_bytes=max_upload_bytes,
            open_first=demo,
            time_limits=time_limits,
            compute_workers=compute_workers,
            body_timeout=body_timeout,
        )
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
