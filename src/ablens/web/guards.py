"""The web server's guards: security headers, a request-body timeout, and upload folders.

Three ASGI-level pieces the app wraps itself in, and the folders uploads are kept in:

* `SecurityHeaders` sends a Content-Security-Policy with every response (`APP_CSP` for the
  pages and fragments: scripts, styles and frames from this server only), plus
  ``X-Content-Type-Options``, ``Referrer-Policy`` and ``X-Frame-Options``. A response that sets
  its own policy (a report) keeps it.
* `RequestBodyTimeout` answers 408 and closes the connection when a client stops sending a
  request body half way: a stalled upload must not hold the server's memory and a request slot
  forever.
* `upload_folder` makes a temporary folder named after the server's process
  (``ablens-web-<pid>-...`` under the system's temporary folder); `remove_stale_uploads`, run
  at start-up, removes such folders left behind by a server that was killed mid-analysis.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "APP_CSP",
    "REPORT_CSP",
    "UPLOAD_PREFIX",
    "RequestBodyTimeout",
    "SecurityHeaders",
    "remove_stale_uploads",
    "upload_folder",
]

#: The pages' and fragments' Content-Security-Policy: nothing from anywhere else, no inline
#: script or style (htmx's own indicator style is switched off by a meta tag in base.html),
#: the report shown in a frame from this server, forms posted only here, never framed.
APP_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
#: A report's policy: no script at all, its own inline styles, framed only by the readout page.
REPORT_CSP = "; ".join(
    (
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src data:",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
    )
)
_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)

#: Name prefix of the server's temporary upload folders, followed by the server's process id.
UPLOAD_PREFIX = "ablens-web-"
_UPLOAD_NAME = re.compile(re.escape(UPLOAD_PREFIX) + r"(\d+)-")
#: A stale folder is at least this old, in seconds (and its server is gone).
STALE_AFTER_SECONDS = 3600.0


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response that lacks them.

    Args:
        app: The application to wrap.
        csp: The Content-Security-Policy for responses that do not set their own.
    """

    def __init__(self, app: ASGIApp, csp: str = APP_CSP) -> None:
        self.app = app
        self.csp = csp.encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through; add the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                own_policy = b"content-security-policy" in present
                added = [*_HEADERS, (b"content-security-policy", self.csp)]
                # A page that sets its own policy says itself who may frame it.
                added.append((b"x-frame-options", b"SAMEORIGIN" if own_policy else b"DENY"))
                headers.extend((name, value) for name, value in added if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyStalled(Exception):  # noqa: N818 - internal signal, never shown
    """The client sent no part of the request body for the timeout."""


class RequestBodyTimeout:
    """ASGI middleware: a 408 for a client that stops sending its request body.

    Each read of the body may wait at most `seconds` for the next piece; a slow upload that
    keeps sending is never cut off. When a read times out, the application sees an error, the
    client gets ``408 Request Timeout`` (when nothing was answered yet) and the connection is
    closed.

    Args:
        app: The application to wrap.
        seconds: Longest wait for the next piece of a request body.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"seconds == {seconds!r}, must be positive")
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through with a body reader that gives up on a stalled client."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        body_done = False

        async def receive_with_timeout() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()  # after the body: only the disconnect is left to wait for
            try:
                message = await asyncio.wait_for(receive(), timeout=self.seconds)
            except TimeoutError:
                raise _BodyStalled from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive_with_timeout, tracking_send)
        except _BodyStalled:
            if started:
                raise  # the server closes the connection
            text = (
                f"The request body stopped arriving for {self.seconds:g} s; "
                "send the upload again.\n"
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 408,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(text)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": text})


def upload_folder() -> Path:
    """A new temporary folder for one upload, named after this server's process.

    Remove it when done (``shutil.rmtree``); if the server is killed first, the next server's
    `remove_stale_uploads` does.
    """
    return Path(tempfile.mkdtemp(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-"))


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_uploads(
    folder: Path | None = None, *, older_than: float = STALE_AFTER_SECONDS
) -> list[Path]:
    """Remove upload folders left by servers that are gone; the folders removed.

    A folder is removed when its name is ``ablens-web-<pid>-...``, the process `pid` no longer
    runs, and it was last changed more than `older_than` seconds ago (a folder of a running
    server, or a fresh one, is never touched).

    Args:
        folder: Where to look; the system's temporary folder by default.
        older_than: Minimum age in seconds.

    Returns:
        The removed folders.
    """
    root = Path(tempfile.gettempdir()) if folder is None else folder
    now = time.time()
    removed = []
    for path in root.glob(f"{UPLOAD_PREFIX}*"):
        found = _UPLOAD_NAME.match(path.name)
        if found is None or not path.is_dir() or path.is_symlink():
            continue
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        if age > older_than and not _process_alive(int(found.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
