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
* ``/readout`` analyzes an uploaded CSV or parquet file (every numeric column a metric, or the
  metrics of a plan the server was started with) or a plan's own data source, and shows the
  self-contained HTML report, with a download link. Like ``ablens analyze`` it runs
  `ablens.readout.run_readout`: with a sequential method (the plan's, or chosen in the form with
  a time column) the report shows the looks, and with the Bayesian option the chance to beat
  control and the expected loss.

Bad input never raises: it comes back as a message in the page (HTTP 200 for htmx fragments,
which htmx only swaps on success; 413 or 422 for a rejected upload or plan).
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import math
import os
import secrets
import shutil
import signal
import tempfile
import threading
from collections import OrderedDict
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, ParamSpec, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.datastructures import UploadFile

from ablens._version import __version__
from ablens.calculator import (
    SEQUENTIAL_CHOICES,
    FieldError,
    calculator_form,
    calculator_plan,
    calculator_query,
)
from ablens.errors import AblensError
from ablens.typing import DEFAULT_SPENDING, SPENDING_NAMES
from ablens.web.compute import ComputePool, TimeLimitExceeded, WorkerLost, default_workers
from ablens.web.guards import (
    REPORT_CSP,
    UPLOAD_PREFIX,
    RequestBodyTimeout,
    SecurityHeaders,
    remove_stale_uploads,
    upload_folder,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
    from types import FrameType

    from ablens.analysis_plan import AnalysisPlan
    from ablens.planning import PowerPlan
    from ablens.readout import Readout

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_READOUT_TIME_LIMIT",
    "DEFAULT_TIME_LIMIT",
    "GLOSSARY",
    "TimeLimits",
    "create_app",
    "serve",
]

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Longest a calculator plan (or a plan from history) may compute, in seconds.
DEFAULT_TIME_LIMIT = 30.0
#: Longest a readout (analysis and report) may compute, in seconds.
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
#: Reports kept in memory for their download link (oldest dropped first).
MAX_KEPT_REPORTS = 32
UPLOAD_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
_HERE = Path(__file__).parent
_CHUNK = 1024 * 1024
#: Room for the multipart framing and the other form fields around the file.
_FORM_OVERHEAD = 64 * 1024

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

#: The group-sequential spending families the readout form offers (as plans name them).
SPENDING_CHOICES = SPENDING_NAMES


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


# ------------------------------------------------------------------------------- readout
@dataclass(frozen=True)
class PlanChoice:
    """A plan the server was started with, as offered on the readout page."""

    key: str
    path: Path
    label: str
    error: str | None = None


def _plan_choices(plans: Sequence[Path]) -> list[PlanChoice]:
    from ablens.analysis_plan import load_plan  # noqa: PLC0415 - needs PyYAML, only with plans

    choices = []
    for index, path in enumerate(plans):
        try:
            loaded = load_plan(path)
        except AblensError as error:
            choices.append(PlanChoice(str(index), path, path.name, str(error)))
        else:
            choices.append(PlanChoice(str(index), path, f"{loaded.experiment_id} ({path.name})"))
    return choices


class UploadError(ValueError):
    """An upload refused before analysis: too large, wrong type, unreadable."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple[type[UploadError], tuple[str, int]]:
        """Pickle with the status (the error may come back from a compute worker)."""
        return (type(self), (str(self), self.status))


@dataclass(frozen=True)
class TimeLimits:
    """How long each kind of work may compute before it is stopped, in seconds.

    Attributes:
        calculator: A calculator plan, or a plan estimated from past data.
        readout: A readout: the analysis of an upload or a plan's data, and its report.
    """

    calculator: float = DEFAULT_TIME_LIMIT
    readout: float = DEFAULT_READOUT_TIME_LIMIT

    def __post_init__(self) -> None:
        for name in ("calculator", "readout"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"time limit {name} == {value!r}, must be a positive number")


#: The kinds of work `create_app`'s routes send off the event loop, by the limit they use.
Work = Literal["calculator", "readout"]


def time_limit_message(error: TimeLimitExceeded | WorkerLost, work: Work) -> str:
    """What a page says when its calculation was stopped."""
    if isinstance(error, WorkerLost):
        return "the calculation stopped unexpectedly (out of memory?); try smaller inputs."
    if error.waited:
        return (
            f"the server was busy with other calculations for {error.seconds:g} s; "
            "try again in a moment."
        )
    if work == "calculator":
        return (
            f"this calculation took longer than {error.seconds:g} s and was stopped; use fewer "
            "looks, a larger MDE or fewer arms (or ablens power on the command line)."
        )
    return (
        f"this analysis took longer than {error.seconds:g} s and was stopped; analyze the file "
        "with the command line (ablens analyze), or ask for fewer metrics or looks."
    )


def _human_bytes(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"  # pragma: no cover - the loop always returns


async def _save_upload(upload: UploadFile, folder: Path, limit: int) -> Path:
    """Copy the upload into `folder` under a safe name; reject a wrong type or a large file."""
    name = Path(upload.filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        shown = name or "the file"
        raise UploadError(
            f"{shown} is not a CSV or parquet file: the name must end in "
            f"{', '.join(UPLOAD_SUFFIXES)}.",
            415,
        )
    target = folder / f"upload{suffix}"
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise UploadError(
                    f"{name} is larger than the upload limit of {_human_bytes(limit)}; "
                    "analyze it with the command line (ablens analyze) or start the server "
                    "with a larger limit.",
                    413,
                )
            out.write(chunk)
    if size == 0:
        raise UploadError(f"{name} is empty.")
    with target.open("rb") as handle:
        head = handle.read(4)
    if suffix in {".parquet", ".pq"} and head != b"PAR1":
        raise UploadError(f"{name} is not a parquet file (it does not start with PAR1).", 415)
    if suffix in {".csv", ".tsv"} and b"\x00" in head:
        raise UploadError(f"{name} is not a text CSV file (it holds binary data).", 415)
    return target


@dataclass(frozen=True)
class ReadoutRequest:
    """The readout form, parsed.

    Attributes:
        variant: Arm column.
        control: Control arm.
        unit: Unit id column, or None.
        metrics: Metric columns (empty: every numeric column).
        plan_key: The chosen plan's key, or "".
        time: Look column for a sequential readout, or None.
        sequential: "none", "group-sequential", "msprt" or "confidence-sequence".
        planned_units: Planned units over all arms, or None.
        spending: Alpha-spending family of the group-sequential method.
        bayesian: Add the Bayesian reading (flat prior).
        filename: The uploaded file's own name (shown in the report).
    """

    variant: str
    control: str
    unit: str | None
    metrics: tuple[str, ...]
    plan_key: str
    time: str | None = None
    sequential: str = "none"
    planned_units: int | None = None
    spending: str = DEFAULT_SPENDING
    bayesian: bool = False
    filename: str = ""


def _parse_options(
    fields: Mapping[str, str],
) -> tuple[str | None, str, int | None, str, bool]:
    """The readout form's time, sequential method, planned users, spending and Bayesian view.

    Only the fields' text is read here; the rules that tie them (a sequential method needs the
    time column, group-sequential the planned users) are the analysis plan's, checked when the
    form's plan is built, with the plan's messages.

    Raises:
        UploadError: An option is unusable, with a message for the form.
    """
    time = fields.get("time") or None
    sequential = fields.get("sequential") or "none"
    if sequential not in SEQUENTIAL_CHOICES:
        raise UploadError(f"sequential method {sequential!r} is not one of the choices.")
    spending = fields.get("spending") or DEFAULT_SPENDING
    if spending not in SPENDING_CHOICES:
        raise UploadError(f"alpha spending {spending!r} is not one of the choices.")
    planned_text = fields.get("planned", "").replace(",", "").replace("_", "")
    planned = None
    if planned_text:
        if not planned_text.isdigit() or int(planned_text) < 2:
            raise UploadError(
                f"planned users: {fields.get('planned')!r} is not a whole number of at least 2."
            )
        planned = int(planned_text)
    bayesian = fields.get("bayesian", "") not in ("", "off", "false")
    return time, sequential, planned, spending, bayesian


def _form_plan(path: Path, request: ReadoutRequest) -> AnalysisPlan:
    """The plan the readout form describes, for the uploaded file's inferred metrics."""
    from ablens.analysis_plan import plan_from_dict  # noqa: PLC0415
    from ablens.analysis_plan.infer import infer_metrics  # noqa: PLC0415
    from ablens.metrics.base import kind_of  # noqa: PLC0415

    metrics = infer_metrics(
        str(path),
        variant=request.variant,
        unit=request.unit,
        wanted=request.metrics,
        time=request.time,
    )
    spec: dict[str, Any] = {
        "experiment_id": "ablens-web",
        "description": f"Uploaded file {request.filename}" if request.filename else None,
        # The name only: the file is passed as data, so the plan's hash does not depend on
        # the temporary folder it was saved in.
        "source": {"path": path.name},
        "variant": request.variant,
        "unit": request.unit,
        "control": request.control,
        "metrics": [
            {
                "kind": kind_of(m).name,
                "column": m.column,
            }
            for m in metrics
        ],
        "sequential": request.sequential,
        "time": request.time,
        "bayesian": request.bayesian,
    }
    if request.sequential == "group-sequential":  # plans refuse spending with other methods
        spec["spending"] = request.spending
    if request.planned_units is not None:
        spec["planned"] = {"sample_size": request.planned_units}
    return plan_from_dict(spec, name="the readout form")


def _analyze_file(path: Path | None, request: ReadoutRequest, plan: AnalysisPlan | None) -> Readout:
    """Run the readout (blocking; called in a worker thread)."""
    from ablens.readout import run_readout  # noqa: PLC0415

    if plan is not None:
        return run_readout(plan, data=None if path is None else str(path))
    if path is None:
        raise UploadError("choose a CSV or parquet file to upload, or one of the plans.")
    return run_readout(_form_plan(path, request), data=str(path))


def _report_page(readout: Readout) -> str:
    from ablens.report import render_readout  # noqa: PLC0415

    return render_readout(readout)


def _analyze_to_report(
    path: Path | None, request: ReadoutRequest, plan: AnalysisPlan | None
) -> str:
    """The readout's report page (runs in a compute worker)."""
    return _report_page(_analyze_file(path, request, plan))


# ------------------------------------------------------------------------------- the app
def create_app(  # noqa: PLR0915 - the routes are closures over the app's state
    *,
    plans: Sequence[Path] = (),
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    time_limits: TimeLimits | None = None,
    compute_workers: int | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> FastAPI:
    """The web application (an ASGI app; serve it with `serve` or any ASGI server).

    CPU-heavy work (calculator plans, readouts) runs in a pool of worker processes
    (`ablens.web.compute.ComputePool`, started on the app's start-up or first use and stopped on
    its shutdown), so a slow calculation never holds up other pages, and is stopped at its time
    limit. Start-up also removes upload folders left by a server that was killed.

    Args:
        plans: Analysis plan files offered on the readout page (their data sources are read
            when chosen; an uploaded file can replace the source).
        max_upload_bytes: Largest upload accepted, in bytes.
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
    reports: OrderedDict[str, tuple[str, str]] = OrderedDict()
    plan_cache: OrderedDict[tuple[tuple[str, str], ...], PowerPlan | Exception] = OrderedDict()
    computing: dict[tuple[tuple[str, str], ...], asyncio.Future[PowerPlan | Exception]] = {}

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:  # noqa: ANN401
        return templates.TemplateResponse(request, name, context, status_code=status)

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

    async def calculator_context(values: Mapping[str, str]) -> dict[str, Any]:
        try:
            result = await plan_off_loop(values)
        except (TimeLimitExceeded, WorkerLost) as error:
            message = time_limit_message(error, "calculator")
            return {"values": values, "plan": None, "error": message, "chart": Markup("")}
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
        context = await calculator_context(calculator_form(source))
        response = page(request, "_calculator_result.html", **context)
        if context["plan"] is not None:
            # Replace (not push) the URL: every keystroke would otherwise add a history entry.
            response.headers["HX-Replace-Url"] = context["share"]
        return response

    @app.get("/readout", response_class=HTMLResponse)
    def readout(request: Request) -> HTMLResponse:
        return page(request, "readout.html", **readout_context())

    def readout_context(**extra: Any) -> dict[str, Any]:  # noqa: ANN401
        context: dict[str, Any] = {
            "choices": _plan_choices(plan_paths) if plan_paths else [],
            "limit": _human_bytes(max_upload_bytes),
            "max_upload_bytes": max_upload_bytes,
            "error": None,
            "report_key": None,
            "form": {
                "variant": "variant",
                "control": "control",
                "unit": "",
                "metrics": "",
                "time": "",
                "sequential": "none",
                "planned": "",
                "spending": DEFAULT_SPENDING,
                "bayesian": "",
            },
            "sequential_choices": SEQUENTIAL_CHOICES,
            "spending_choices": SPENDING_CHOICES,
        }
        context.update(extra)
        return context

    @app.post("/readout", response_class=HTMLResponse)
    async def readout_post(request: Request) -> HTMLResponse:  # noqa: PLR0912 - a status per failure
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return page(
                request,
                "readout.html",
                411,
                **readout_context(error="The upload must say its size (Content-Length)."),
            )
        if int(length) > max_upload_bytes + _FORM_OVERHEAD:
            message = (
                f"The file is larger than the upload limit of {_human_bytes(max_upload_bytes)}; "
                "analyze it with the command line (ablens analyze) or start the server with a "
                "larger limit."
            )
            return page(request, "readout.html", 413, **readout_context(error=message))
        form = await request.form()
        fields = {k: v.strip()[:200] for k, v in form.items() if isinstance(v, str)}
        shown = {
            "variant": fields.get("variant") or "variant",
            "control": fields.get("control") or "control",
            "unit": fields.get("unit", ""),
            "metrics": fields.get("metrics", ""),
            "time": fields.get("time", ""),
            "sequential": fields.get("sequential", "") or "none",
            "planned": fields.get("planned", ""),
            "spending": fields.get("spending", "") or DEFAULT_SPENDING,
            "bayesian": fields.get("bayesian", ""),
        }
        upload = form.get("file")
        folder = upload_folder()
        try:
            time, sequential, planned, spending, bayesian = _parse_options(shown)
            parsed = ReadoutRequest(
                variant=shown["variant"],
                control=shown["control"],
                unit=shown["unit"] or None,
                metrics=tuple(m.strip() for m in shown["metrics"].split(",") if m.strip()),
                plan_key=fields.get("plan", ""),
                time=time,
                sequential=sequential,
                planned_units=planned,
                spending=spending,
                bayesian=bayesian,
                filename=Path(upload.filename or "").name if isinstance(upload, UploadFile) else "",
            )
            plan = None
            if parsed.plan_key:
                choice = next(
                    (c for c in _plan_choices(plan_paths) if c.key == parsed.plan_key), None
                )
                if choice is None:
                    raise UploadError("there is no such plan on this server.")
                if choice.error is not None:
                    raise UploadError(choice.error)
                from ablens.analysis_plan import load_plan  # noqa: PLC0415

                plan = load_plan(choice.path)
            path = None
            if isinstance(upload, UploadFile) and (upload.filename or upload.size):
                path = await _save_upload(upload, folder, max_upload_bytes)
            report = await compute("readout", _analyze_to_report, path, parsed, plan)
        except (TimeLimitExceeded, WorkerLost) as error:
            message = time_limit_message(error, "readout")
            return page(request, "readout.html", 503, **readout_context(error=message, form=shown))
        except UploadError as error:
            return page(
                request,
                "readout.html",
                error.status,
                **readout_context(error=str(error), form=shown),
            )
        except AblensError as error:
            return page(
                request, "readout.html", 422, **readout_context(error=str(error), form=shown)
            )
        except Exception as error:  # the engine's own errors on a malformed file
            message = f"Could not read or analyze the file: {type(error).__name__}: {error}"
            return page(request, "readout.html", 422, **readout_context(error=message, form=shown))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(upload, UploadFile):
                await upload.close()
        key = secrets.token_urlsafe(16)
        title = (plan.experiment_id if plan is not None else "ablens-report") + ".html"
        reports[key] = (report, title)
        while len(reports) > MAX_KEPT_REPORTS:
            reports.popitem(last=False)
        return page(request, "readout.html", **readout_context(report_key=key, form=shown))

    @app.get("/readout/report/{key}")
    def readout_report(key: str, download: bool = False) -> Response:
        kept = reports.get(key)
        if kept is None:
            return HTMLResponse(
                "<!DOCTYPE html><html><body><p>This report is no longer kept by the server; "
                "run the readout again.</p></body></html>",
                status_code=404,
            )
        report, title = kept
        headers = {"Content-Security-Policy": REPORT_CSP}
        if download:
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in title)
            headers["Content-Disposition"] = f'attachment; filename="{safe}"'
        return HTMLResponse(report, headers=headers)

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
            when the server stops, and offer its plan first: a readout with nothing to
            install or upload.
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
