"""CPU work off the web server's event loop: a small pool of worker processes with a time limit.

The server answers every page from one event loop, so a calculation that holds the CPU for a
minute (a design read at a thousand looks, a readout of a large upload) would hold every other
visitor for that minute. `ComputePool` runs such work in separate processes instead: the loop
only waits for the answer, and keeps serving pages meanwhile. Processes, not threads, because the
work holds Python's GIL, and because a process can be stopped: when a calculation runs past its
time limit its worker is killed, the request gets `TimeLimitExceeded` (which the page turns into
a plain message) and a fresh worker takes its place.

Work is sent to a worker as a module-level function and its arguments (both pickled), so it must
be importable by name; the answer, or the exception it raised, comes back pickled too.

Examples:
    >>> import asyncio, math
    >>> async def main():
    ...     async with ComputePool(workers=1) as pool:
    ...         return await pool.run(math.factorial, 10, time_limit=30)
    >>> asyncio.run(main())
    3628800
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

__all__ = ["ComputePool", "TimeLimitExceeded", "Work", "WorkerLost", "time_limit_message"]

P = ParamSpec("P")
T = TypeVar("T")

#: How often an idle worker checks that the server that started it is still alive, in seconds.
_PARENT_CHECK_SECONDS = 1.0
#: Longest a new worker may take to start (its imports), in seconds; not counted in time limits.
START_TIMEOUT_SECONDS = 180.0
#: What a worker sends once its imports are done.
_READY = "ready"


class TimeLimitExceeded(Exception):  # noqa: N818 - reads as what happened, like TimeoutError
    """A calculation ran past its time limit and was stopped.

    Attributes:
        seconds: The time limit, in seconds.
        waited: True when every worker stayed busy with other work for the whole time limit, so
            this calculation never started.
    """

    def __init__(self, seconds: float, *, waited: bool = False) -> None:
        self.seconds = seconds
        self.waited = waited
        what = (
            "the server was busy with other calculations"
            if waited
            else "this calculation took longer"
        )
        super().__init__(f"{what} than {seconds:g} s and was stopped")


class WorkerLost(Exception):  # noqa: N818 - reads as what happened
    """The worker process died while calculating (out of memory, killed from outside)."""


def _watch_parent(parent: int) -> None:
    """End this worker when the server that started it is gone (even mid-calculation)."""
    while True:
        time.sleep(_PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(0)


def _worker_main(connection: Connection, parent: int, warm: Sequence[str]) -> None:
    """A worker's loop: receive (function, arguments), run it, send back the answer or error."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    for module in warm:  # pay the imports before the first request, not during it
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    try:
        connection.send(_READY)
    except (EOFError, OSError):
        return
    while True:
        try:
            function, args = connection.recv()
        except (EOFError, OSError):
            return  # the server closed the pipe: stop
        try:
            outcome: tuple[bool, Any] = (True, function(*args))
        except Exception as error:
            outcome = (False, _portable(error))
        try:
            connection.send(outcome)
        except (EOFError, OSError):
            return
        except Exception as error:
            connection.send((False, RuntimeError(f"{type(error).__name__}: {error}")))


def _rebuild_error(
    kind: type[Exception], args: tuple[Any, ...], state: dict[str, Any]
) -> Exception:
    """An exception with these args and attributes, without calling its ``__init__``."""
    error = kind.__new__(kind, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class _RebuiltError:
    """Pickles as `_rebuild_error`: an exception whose ``__init__`` takes other arguments."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        error = self.error
        return (_rebuild_error, (type(error), error.args, dict(vars(error))))


def _portable(error: Exception) -> Any:  # noqa: ANN401 - an exception, or what pickles as one
    """`error`, or a stand-in that unpickles as the same type with the same message.

    Pickling an exception calls its class with ``error.args``; a class whose ``__init__`` takes
    something else (a list of messages, say) would come back garbled or not at all.
    """
    for candidate in (error, _RebuiltError(error)):
        try:
            copy = pickle.loads(pickle.dumps(candidate))  # noqa: S301 - our own bytes
        except Exception:  # noqa: S112 - try the next way
            continue
        if type(copy) is type(error) and str(copy) == str(error):
            return candidate
    return RuntimeError(f"{type(error).__name__}: {error}")


#: What a worker runs: stdlib only until it has the server's import path, then `_worker_main`.
_BOOTSTRAP = (
    "import sys\n"
    "from multiprocessing.connection import Connection\n"
    "connection = Connection(int(sys.argv[1]))\n"
    "sys.path[:] = connection.recv()\n"
    "from ablens.web.compute import _worker_main\n"
    "_worker_main(connection, int(sys.argv[2]), sys.argv[3:])\n"
)


class _Worker:
    """One worker process and the server's end of its pipe.

    A fresh interpreter started with `subprocess` (not `multiprocessing`, whose "spawn" re-runs
    the server's main script in every worker), given the server's import path first.
    """

    def __init__(self, warm: Sequence[str]) -> None:
        here, there = socket.socketpair()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
                [sys.executable, "-c", _BOOTSTRAP, str(there.fileno()), str(os.getpid()), *warm],
                pass_fds=(there.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            there.close()
        self.connection = Connection(here.detach())
        self.connection.send(list(sys.path))
        self.ready = False

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self.process.pid

    def stop(self) -> None:
        """Kill the process (it may be mid-calculation) and close the pipe."""
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.connection.close()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _stop_all(workers: set[_Worker]) -> None:
    for worker in list(workers):
        worker.stop()
    workers.clear()


class ComputePool:
    """A bounded pool of worker processes that run CPU-heavy calls with a time limit.

    Workers start on first use (or on entering ``async with``), each a fresh interpreter
    importing the `warm` modules first. A call waits for an idle worker, then runs
    there; a call that has not finished when its time limit runs out (waiting included) is
    stopped: its worker is killed and replaced, and the call raises `TimeLimitExceeded`.

    Args:
        workers: How many calculations may run at once (processes kept).
        warm: Modules each worker imports at start (e.g. ``"ablens.calculator"``).

    Raises:
        ValueError: `workers` is less than 1.
    """

    def __init__(self, workers: int = 2, *, warm: Sequence[str] = ()) -> None:
        if workers < 1:
            raise ValueError(f"workers == {workers!r}, must be at least 1")
        self.workers = workers
        self.warm = tuple(warm)
        self._idle: deque[_Worker] = deque()
        # Calls waiting for an idle worker, first come first served. Each future belongs to its
        # caller's event loop (test clients run each request on a loop of its own), so it is
        # woken through that loop.
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._all: set[_Worker] = set()
        self._started = False
        # Workers still running when the pool is dropped (or at exit) are stopped, not leaked.
        weakref.finalize(self, _stop_all, self._all)

    async def __aenter__(self) -> ComputePool:
        self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the worker processes now (otherwise the first call starts them)."""
        if not self._started:
            self._started = True
            for _ in range(self.workers):
                self._spawn()

    def _spawn(self) -> None:
        worker = _Worker(self.warm)
        self._all.add(worker)
        self._release(worker)

    def _release(self, worker: _Worker) -> None:
        """Make `worker` idle and wake the first call waiting for one."""
        self._idle.append(worker)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.get_loop().call_soon_threadsafe(_wake, waiter)
                return

    async def _acquire(self, deadline: float, time_limit: float) -> _Worker:
        """An idle worker, waiting for one until `deadline` (a monotonic time)."""
        while not self._idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeLimitExceeded(time_limit, waited=True)
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, timeout=remaining)
            except TimeoutError:
                raise TimeLimitExceeded(time_limit, waited=True) from None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return self._idle.popleft()

    def _retire(self, worker: _Worker) -> None:
        """Kill a worker whose state is unknown (timed out, died) and start a fresh one."""
        self._all.discard(worker)
        worker.stop()
        if self._started:
            self._spawn()

    def close(self) -> None:
        """Stop every worker (calculations still running are killed); `start` starts anew."""
        self._started = False
        _stop_all(self._all)
        self._idle.clear()

    @property
    def processes(self) -> list[int]:
        """The process ids of the live workers (for tests and monitoring)."""
        return sorted(worker.pid for worker in self._all)

    async def run(self, function: Callable[P, T], *args: Any, time_limit: float) -> T:  # noqa: ANN401
        """Run ``function(*args)`` in a worker; its answer, or the exception it raised.

        Args:
            function: A module-level function (it is pickled by name).
            *args: Its arguments (pickled).
            time_limit: Seconds the call may take, waiting for a free worker included.

        Returns:
            What `function` returned.

        Raises:
            TimeLimitExceeded: The call did not finish within `time_limit`.
            WorkerLost: The worker died during the call.
        """
        self.start()
        deadline = time.monotonic() + time_limit
        worker = await self._acquire(deadline, time_limit)
        if not worker.ready:
            # A worker still importing: its start-up is not the calculation's time.
            try:
                signal = await self._answer(worker, START_TIMEOUT_SECONDS)
            except (TimeLimitExceeded, EOFError, OSError, asyncio.CancelledError) as error:
                self._retire(worker)
                if isinstance(error, asyncio.CancelledError):
                    raise
                raise WorkerLost(f"a calculation worker did not start ({error!r})") from None
            worker.ready = signal == _READY
            deadline = time.monotonic() + time_limit
        try:
            worker.connection.send((function, args))
            ok, value = await self._answer(worker, deadline - time.monotonic())
        except TimeLimitExceeded:
            self._retire(worker)
            raise TimeLimitExceeded(time_limit) from None
        except (EOFError, OSError, pickle.PickleError, asyncio.CancelledError) as error:
            # A dead worker, or a request abandoned mid-call: the worker's state is unknown.
            self._retire(worker)
            if isinstance(error, asyncio.CancelledError):
                raise
            raise WorkerLost(f"the calculation stopped unexpectedly ({error!r})") from None
        self._release(worker)
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    @staticmethod
    async def _answer(worker: _Worker, seconds: float) -> Any:  # noqa: ANN401 - what was sent
        """Wait up to `seconds` for the worker's answer without blocking the event loop."""
        connection = worker.connection
        if seconds <= 0:
            raise TimeLimitExceeded(0)
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        try:
            loop.add_reader(connection.fileno(), wake)
        except NotImplementedError:  # pragma: no cover - Windows' proactor loop: poll in a thread
            if not await asyncio.to_thread(connection.poll, seconds):
                raise TimeLimitExceeded(seconds) from None
        else:
            try:
                await asyncio.wait_for(ready, timeout=seconds)
            except TimeoutError:
                raise TimeLimitExceeded(seconds) from None
            finally:
                loop.remove_reader(connection.fileno())
                # uvloop makes a watched descriptor non-blocking; the pipe's reads and writes
                # expect a blocking one (a large answer arrives in several pieces).
                os.set_blocking(connection.fileno(), True)
        return connection.recv()


#: The kinds of work the web app sends off its event loop, by the time limit they use.
Work = Literal["calculator", "readout"]


def time_limit_message(error: TimeLimitExceeded | WorkerLost, work: Work) -> str:
    """What a page says when its calculation was stopped (or its worker died).

    Examples:
        >>> time_limit_message(TimeLimitExceeded(30), "calculator")[:48]
        'this calculation took longer than 30 s and was s'
    """
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


def default_workers() -> int:
    """Two workers, or one per CPU core beyond two: enough to keep serving past a slow one."""
    return max(2, (os.cpu_count() or 2))
