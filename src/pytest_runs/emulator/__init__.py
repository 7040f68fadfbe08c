"""An Assistants-compatible loopback server for recording and testing runs (standard library only).

Usage::

    with Emulator(seed=1) as emu:
        client = openai.OpenAI(base_url=emu.base_url, api_key="any-key")

or from a shell: ``python -m pytest_runs.emulator --port 8089``.

Endpoints (under ``/v1``):

* assistants: ``POST /assistants``, ``GET /assistants`` (list), ``GET|DELETE /assistants/{id}``;
* threads: ``POST /threads``, ``GET|POST|DELETE /threads/{id}`` (``POST`` updates metadata / tool resources);
* messages: ``POST|GET /threads/{tid}/messages`` (list: ``order``, ``after``, ``before``, ``limit``,
  ``run_id``; pages carry ``first_id``, ``last_id``, ``has_more``), ``GET /threads/{tid}/messages/{id}``;
* runs: ``POST /threads/{tid}/runs`` (streamed or not), ``POST /threads/runs`` (create thread and run,
  streamed or not), ``GET /threads/{tid}/runs`` (list), ``GET /threads/{tid}/runs/{id}`` (retrieve: one step
  of the state machine), ``POST /threads/{tid}/runs/{id}`` (update metadata; refused while the run is
  ``queued``/``in_progress``/``cancelling``, as the real API does), ``POST …/cancel``,
  ``POST …/submit_tool_outputs`` (streamed or not);
* run steps: ``GET /threads/{tid}/runs/{rid}/steps`` and ``…/steps/{id}``. The ``include[]`` query parameter of
  runs and steps is validated (``step_details.tool_calls[*].file_search.results[*].content``); file search
  itself is not emulated.

Every request needs ``Authorization: Bearer <token>`` (any token, or exactly ``api_key`` when one is
configured). Errors use the real API's bodies (``{"error": {message, type, param, code}}``) and wording: 401
for a missing (``You didn't provide an API key…``) or wrong key (``invalid_api_key``, the key masked), 404 for
unknown IDs (``No thread found with id '…'.``) and routes, 400 for a run on a thread with an active run, tool
outputs in the wrong state (``Runs in status "in_progress" do not accept tool outputs.``), metadata values that
are not strings (``invalid_type``), bad JSON, missing or mistyped parameters.

Scenarios, chosen by the request (details and every knob in :mod:`pytest_runs.emulator.scenarios`):

* **text reply** (default): the run writes one assistant message, ``Hello from the emulator.``
  (``emulator_reply``, ``emulator_reply_repeat``, ``emulator_deltas`` shape it).
* **function calls**: a ``function`` tool on the run (or its assistant) makes the run stop at
  ``requires_action``; ``emulator_tool_calls: "N"`` asks for N calls (round robin over the function tools; all
  at once, or one ``requires_action`` each with ``parallel_tool_calls: false``), ``emulator_tool_arguments``
  sets their arguments; ``tool_choice`` ``"none"`` skips them, a named function picks it. After
  ``submit_tool_outputs`` the run replies ``Tool output received: <outputs>`` and completes.
* **code interpreter**: a ``code_interpreter`` tool makes the run execute code first (``emulator_code``,
  ``emulator_code_output``): a ``tool_calls`` step streamed as ``thread.run.step.delta`` events.
* **failure**: ``emulator_fail: "server_error" | "rate_limit_exceeded" | "invalid_prompt"``: the run ends
  ``failed`` with that ``last_error``.
* **incomplete**: a ``max_completion_tokens`` smaller than the reply (one token per word) cuts it: message
  ``incomplete`` (``max_tokens``), run ``incomplete`` (``max_completion_tokens``).
* **cancellation**: ``POST …/cancel`` (``cancelling``, then ``cancelled``); in a stream also
  ``emulator_cancel_after: "N"`` (cancel after N events).
* **expiry**: ``emulator_expire: "true"``: the run ends ``expired`` where it would have waited for the client.
* **in-stream error**: ``emulator_error_after: "N"``: N events, then ``event: error`` (``server_error``), no
  ``done``; the run fails.
* **connection cut**: ``emulator_cut_after: "N"``: N events, then the connection drops mid-body. The run stays
  where those events left it and later retrieves finish it, as the real service keeps running a run whose
  client left.
* **HTTP errors**: ``emulator_http_status: "429"`` (``rate_limit_exceeded`` with ``retry-after``,
  ``retry-after-ms`` from ``emulator_retry_after_ms``) or ``"500"`` (``server_error``) answers the run-creating
  request itself; ``emulator_http_failures: "N"`` lets only N identical attempts fail (to test retries).

Timing knobs: ``emulator_polls`` (default 1): retrieves answered ``in_progress`` before the run reaches its
next resting state; ``emulator_poll_after_ms`` (default ``poll_after_ms``): the ``openai-poll-after-ms``
header of this run; ``emulator_event_delay_ms`` (default ``event_delay``): pause between streamed events.

Run lifecycle (polling, no ``stream``): create answers ``queued``; each ``GET …/runs/{id}`` moves one step,
``queued`` -> ``in_progress`` x ``emulator_polls`` -> ``requires_action`` | ``completed`` | ``incomplete`` |
``failed`` | ``expired`` (steps, messages and ``usage`` appear as the run does its work); after tool outputs
the run is ``queued`` again and goes the same way. Cancel answers ``cancelling`` and the next retrieve
``cancelled``. Timestamps follow the real API: ``expires_at = created_at + 600`` while active, null once
finished; ``started_at``, ``completed_at``, ``failed_at``, ``cancelled_at``; ``incomplete_at`` /
``completed_at`` on messages. See :mod:`pytest_runs.emulator.store`.

Streams (``"stream": true``) emit the real event sequences, documented in :mod:`pytest_runs.emulator.streams`
and :mod:`pytest_runs.emulator.lifecycle` (requires-action streams end with ``thread.run.requires_action``,
``done``; submit-tool-outputs streams open with ``thread.run.step.completed``; create-thread-and-run streams
with ``thread.created``). JSON answers are gzipped when the client accepts gzip; headers are the real API's,
with fake account values (see :mod:`pytest_runs.emulator.server`).

Determinism: with ``seed`` the identifiers, timestamps (from 1_700_000_000, +1 per timestamp issued),
``date``, ``x-request-id``, ``cf-ray``, cookie values and ``openai-processing-ms`` are reproducible, so two
emulators with the same seed answer the same sequence of calls identically. Without a seed they are random /
current (24 base62 characters after the prefix, the current unix time), like the real service's.
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
