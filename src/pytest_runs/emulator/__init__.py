"""An Assistants-compatible loopback server for recording and testing runs (standard library only).

Usage::

    with Emulator(seed=1) as emu:
        client = openai.OpenAI(base_url=emu.base_url, api_key="any-key")

or from a shell: ``python -m pytest_runs.emulator --port 8089``.

Endpoints (under ``/v1``): ``POST /assistants``, ``GET /assistants/{id}``, ``POST /threads``,
``GET /threads/{id}``, ``POST|GET /threads/{tid}/messages``, ``GET /threads/{tid}/messages/{id}``,
``POST|GET /threads/{tid}/runs``, ``POST /threads/runs``, ``GET /threads/{tid}/runs/{id}``,
``POST /threads/{tid}/runs/{id}/submit_tool_outputs``, ``POST /threads/{tid}/runs/{id}/cancel``,
``GET /threads/{tid}/runs/{id}/steps`` and ``…/steps/{id}``. Every request needs ``Authorization: Bearer
<token>`` (any token, or exactly ``api_key`` when one is configured); errors use the real API's bodies and
wording.

Scenarios, chosen by the request:

* **text reply** (default): the run writes one assistant message, ``Hello from the emulator.``.
* **function call**: when the run's ``tools`` (the assistant's when the run sends none) contain a ``function``
  tool, the run first stops at ``requires_action`` asking for the first function (``arguments`` ``"{}"``;
  ``tool_choice`` ``"none"`` skips the call, ``tool_choice`` naming a function picks it). After
  ``submit_tool_outputs`` it replies ``Tool output received: <output>`` and completes.

Run ``metadata`` knobs (string values, as metadata must be):

* ``emulator_reply``: the reply text (replaces both defaults above);
* ``emulator_polls`` (default 1): retrieves answered ``in_progress`` before the run reaches its next resting
  state;
* ``emulator_poll_after_ms`` (default ``poll_after_ms``): the ``openai-poll-after-ms`` header of this run;
* ``emulator_deltas`` (default one per word): number of ``thread.message.delta`` events of the reply;
* ``emulator_event_delay_ms`` (default ``event_delay``): pause between streamed events;
* ``emulator_cut_after``: a stream writes that many events, then drops the connection without the terminating
  chunk (the client sees an incomplete chunked body). The run stays where those events left it (e.g.
  ``in_progress``) and later retrieves finish it, as the real service keeps running a run whose client left.

Polling (no ``stream``): create answers ``queued``; each ``GET …/runs/{id}`` moves one step,
``queued`` -> ``in_progress`` x ``emulator_polls`` -> ``requires_action`` | ``completed`` (message, steps and
``usage`` appear at completion); after tool outputs the run is ``queued`` again and goes the same way to
``completed``. Cancel answers ``cancelling`` and the next retrieve ``cancelled``.

Streams (``"stream": true``) emit the real event sequences, documented in :mod:`pytest_runs.emulator.streams`.

Determinism: with ``seed`` the identifiers, timestamps (from 1_700_000_000, +1 per timestamp issued),
``date``, ``x-request-id`` and ``openai-processing-ms`` are reproducible, so two emulators with the same seed
answer the same sequence of calls identically. Without a seed they are random / current, like the real
service's.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from types import TracebackType

from .api import Api
from .ids import Clock, IdFactory
from .server import EmulatorHTTPServer
from .store import Store

__all__ = ["Emulator"]


class Emulator:
    """A running (or ready to run) emulator: a threaded HTTP server on a loopback port.

    ``event_delay`` is in seconds, ``poll_after_ms`` in milliseconds; ``api_key`` makes the emulator accept
    that bearer token only.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: Hashable | None = None,
        event_delay: float = 0.005,
        poll_after_ms: int = 1000,
        api_key: str | None = None,
    ) -> None:
        """Configure the emulator; nothing listens until :meth:`start`."""
        self.host = host
        self.seed = seed
        self.event_delay = event_delay
        self.poll_after_ms = poll_after_ms
        self.api_key = api_key
        self._requested_port = port
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> Emulator:
        """Bind the port and serve in a daemon thread; return ``self``. Starting twice is a no-op."""
        with self._lock:
            if self._server is not None:
                return self
            clock = Clock(seeded=self.seed is not None)
            ids = IdFactory(self.seed)
            api = Api(
                Store(ids, clock),
                poll_after_ms=self.poll_after_ms,
                event_delay=self.event_delay,
                api_key=self.api_key,
            )
            server = EmulatorHTTPServer((self.host, self._requested_port), api, ids, clock)
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"pytest-runs-emulator:{server.server_port}",
                daemon=True,
            )
            thread.start()
            self._server, self._thread = server, thread
            return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and open connections, join the thread (idempotent)."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port once started (the requested one before)."""
        server = self._server
        return server.server_port if server is not None else self._requested_port

    @property
    def base_url(self) -> str:
        """The API root to give clients, e.g. ``http://127.0.0.1:54321/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions raised while handling requests (each was answered with a 500)."""
        server = self._server
        return list(server.errors) if server is not None else []

    def __enter__(self) -> Emulator:
        """Start and return the emulator."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the emulator."""
        self.stop()

    def __repr__(self) -> str:
        """Show where the emulator listens."""
        state = self.base_url if self.running else "stopped"
        return f"<Emulator {state} seed={self.seed!r}>"
