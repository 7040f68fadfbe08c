"""The cassette a test records into or replays from: the object the ``runs_cassette`` fixture gives a test.

It decides, request by request, whether to replay or record (with vcrpy's record-mode rules, see
:mod:`pytest_runs._vcr`), keeps the recorders of responses still streaming, explains misses, and saves the cassette
atomically, and only when the test passed.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from ._vcr import Engine
from .bodies import body_chunks, body_from_bytes, decode_content
from .cassette import (
    Base64Body,
    CassetteFile,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    SSEBody,
    StreamError,
)
from .errors import (
    CassetteFormatError,
    CassetteMissError,
    CassetteNotFoundError,
    PytestRunsError,
    RecordingIncompleteError,
    SecretLeakError,
)
from .matching import describe_miss, short_request
from .normalise import Normaliser
from .redact import Leak, Redactor, Rules, find_leaks, store_headers
from .storage import dump_cassette, field_at_line, load_cassette, write_atomic

__all__ = ["RECORD_MODES", "Cassette", "Recorder"]

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
"""The record modes, in order from "never touch the network" to "record everything anew"."""

# Replayed responses must not make clients wait: the SDK sleeps for ``openai-poll-after-ms`` between polls and
# honours ``retry-after(-ms)`` before retries (and backs off 0.5-8 s when a retryable response has neither).
_RETRYABLE_STATUSES = frozenset({408, 409, 429})
_NO_WAIT_HEADERS = {"openai-poll-after-ms": "0"}
_NO_RETRY_WAIT_HEADERS = {"retry-after": "0", "retry-after-ms": "1"}

End = Literal["complete", "client_closed", "error"]


class Recorder:
    """Collects the chunks of one response body as the client reads them, and stores them when the body ends."""

    def __init__(
        self,
        stored: RecordedResponse,
        content_type: str | None,
        content_encoding: str | None,
        redactor: Redactor,
    ) -> None:
        self._stored = stored
        self._redactor = redactor
        self._content_type = content_type
        self._content_encoding = content_encoding
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self.finished = False
        self.unverifiable: str | None = None
        """Why the body could not be checked for secrets (None when it could)."""

    def feed(self, chunk: bytes) -> None:
        """Keep a copy of a chunk the client is being given."""
        self._chunks.append(chunk)

    def finish(self, end: End, error: BaseException | None = None) -> None:
        """Store the body and how it ended. Only the first call counts (a close after the end changes nothing)."""
        with self._lock:
            if self.finished:
                return
            self.finished = True
        data = b"".join(self._chunks)
        stored = self._stored
        try:
            decoded = decode_content(data, self._content_encoding)
        except ValueError as problem:
            # Not decodable here (an unknown coding, or cut too early): keep the bytes and the header that explains them.
            stored.body = Base64Body(base64=base64.b64encode(data).decode("ascii")) if data else None
            if self._content_encoding:
                stored.headers["content-encoding"] = self._content_encoding
            if data and end != "error":
                # Compressed bytes cannot be searched for secrets: the cassette must not be written with them.
                self.unverifiable = f"content-encoding {self._content_encoding}: {problem}"
        else:
            stored.body = body_from_bytes(decoded, self._content_type)
            if stored.body is not None and self._content_encoding:
                stored.body.compressed = self._content_encoding
        # Secrets are replaced in the decoded body, whatever its kind (the client already has the real bytes).
        self._redactor.body(stored.body)
        if end == "client_closed" and _ends_the_stream(stored.body):
            # The client closed right after the server's end-of-stream event (the SDK does so on ``[DONE]``): nothing
            # would have followed, and whether the final empty chunk arrived before the close is a race, so record the
            # body as complete and keep re-recordings of the same behaviour identical.
            end = "complete"
        stored.end = end
        if error is not None:
            stored.error = StreamError(type=type(error).__name__, message=self._redactor.text(str(error)))


class Cassette:
    """One test's cassette: where it lives, its record mode, and what it holds.

    Attributes a test may use: :attr:`path`, :attr:`record_mode`, :attr:`interactions`, :attr:`runs` and
    :attr:`events`. The rest is the machinery the transport stubs call.
    """

    def __init__(
        self,
        path: Path,
        record_mode: str,
        *,
        display_path: str | None = None,
        rerecord_command: str = "",
        redaction: Rules | None = None,
        normalise: bool = True,
        id_prefixes: tuple[str, ...] = (),
        load_cache_dir: Path | None = None,
    ) -> None:
        if record_mode not in RECORD_MODES:
            raise ValueError(f"unknown record mode {record_mode!r}; valid modes: {', '.join(RECORD_MODES)}")
        self.path = path
        """Where the cassette file is (it may not exist yet)."""
        self.record_mode = record_mode
        """The record mode in force for this test."""
        self._display_path = display_path or str(path)
        self._rerecord_command = rerecord_command
        self._redactor = Redactor(redaction or Rules.build())
        self._load_cache_dir = load_cache_dir
        self._recorders: list[Recorder] = []
        self.errors: list[PytestRunsError] = []
        """Requests that found no recorded response, or tried to reach the network while replaying: each one fails
        the test, even when the code under test caught the error."""
        self.normaliser: Normaliser | None = Normaliser(id_prefixes) if normalise else None
        """The cassette's ID and timestamp normaliser (None when real values are kept), shared with snapshots."""
        self._observed = 0  # how many leading interactions the normaliser has seen for snapshots
        self._engine = Engine(path, record_mode, load=self._load, save=self._save, normaliser=self.normaliser)

    # -- what tests read ---------------------------------------------------------------------------------------------

    @property
    def interactions(self) -> list[Interaction]:
        """Every interaction of the cassette, loaded and recorded so far, in order."""
        return self._engine.interactions()

    @property
    def runs(self) -> list[Any]:
        """The latest state of each run the cassette saw, as :class:`pytest_runs.models.Run`, in order of creation."""
        from .views import runs_of

        try:
            return runs_of(self.interactions)
        except CassetteFormatError as error:
            raise CassetteFormatError(
                f"pytest-runs: cassette {self._display_path}: {error}\nFix the run object in the file, or record the "
                f"cassette again:\n  {self._command('rewrite')}"
            ) from None

    @property
    def requests(self) -> list[Any]:
        """The run-creation parameters of every recorded run-creation request, parsed
        (:class:`pytest_runs.models.RunCreateParams` or :class:`~pytest_runs.models.ThreadCreateAndRunParams`)."""
        from .views import requests_of

        return requests_of(self.interactions)

    def constraint_problems(self) -> list[str]:
        """One message per documented constraint a recorded run-creation request breaks (empty when none does)."""
        from .views import constraint_problems

        return constraint_problems(self.interactions)

    @property
    def events(self) -> list[Any]:
        """Every stream event the cassette holds, parsed, in order."""
        from .views import events_of

        return events_of(self.interactions)

    def secrets_in(self, text: str) -> list[Leak]:
        """Every secret (known value in any encoding, user pattern, key shape) in ``text``, e.g. a snapshot."""
        return find_leaks(text, self._redactor.secrets(), self._redactor.rules)

    def normalised(self, value: Any) -> Any:
        """``value`` (a JSON-like value or a model dump) as this cassette's file writes it, whether the test is recording
        or replaying: secrets redacted, and IDs and timestamps normalised unless the cassette keeps real values."""
        # Snapshots are files too: what was redacted from the cassette must not reach them either.
        value = self._redactor.value(value)
        if self.normaliser is None:
            return value
        unfinished = {id(recorder._stored) for recorder in self._recorders if not recorder.finished}
        done = []
        for interaction in self._engine.interactions():
            if id(interaction.response) in unfinished:
                break  # later IDs get their numbers once this body is complete, as writing the file would
            done.append(interaction)
        # Placeholders, once given, never change: only interactions not observed before need a pass.
        self.normaliser.observe(done[self._observed :])
        self._observed = len(done)
        return self.normaliser.value(value)

    @property
    def is_recording(self) -> bool:
        """Whether requests the cassette cannot answer go to the network and get recorded (else they fail)."""
        return self._engine.may_record

    def __repr__(self) -> str:
        return f"<pytest_runs.Cassette {self._display_path} record_mode={self.record_mode}>"

    # -- file I/O ----------------------------------------------------------------------------------------------------

    def _command(self, mode: str) -> str:
        return (
            f"{self._rerecord_command} --runs-record-mode={mode}"
            if self._rerecord_command
            else (f"re-run the test with --runs-record-mode={mode}")
        )

    def _load(self) -> CassetteFile | None:
        if not self.path.is_file():
            return None
        loaded = load_cassette(
            self.path,
            fix_hint=self._command("rewrite"),
            shown_as=self._display_path,
            cache_dir=self._load_cache_dir,
        )
        if self.normaliser is not None:
            self.normaliser.expected.update(loaded.ids)
        return loaded

    def _save(self, cassette: CassetteFile) -> None:
        unverifiable = [recorder.unverifiable for recorder in self._recorders if recorder.unverifiable]
        if unverifiable:
            raise SecretLeakError(
                f"pytest-runs: refusing to write {self._display_path}: a response body could not be decoded "
                f"({unverifiable[0]}), so it cannot be checked for secrets.\n"
                "Nothing was written. Install the decoder (brotli or brotlicffi for br; backports.zstd or zstandard "
                "for zstd), or have the client not ask for that encoding (accept-encoding), then record again:\n"
                f"  {self._command('rewrite')}"
            )
        if self.normaliser is not None:
            cassette = self.normaliser.cassette(cassette)
        text = dump_cassette(cassette)
        leaks = find_leaks(text, self._redactor.secrets(), self._redactor.rules)
        if leaks:
            places = "\n".join(
                f"  {field_at_line(text, leak.line)} (line {leak.line}): {leak.what}: {leak.excerpt}"
                for leak in leaks[:10]
            )
            more = f"\n  … and {len(leaks) - 10} more" if len(leaks) > 10 else ""
            raise SecretLeakError(
                f"pytest-runs: refusing to write {self._display_path}: it would contain secrets that escaped "
                f"redaction.\n{places}{more}\n"
                "Nothing was written, and any existing cassette was left as it was. Add a redaction rule that covers "
                "the value (ini runs_redact or the pytest_runs_redact hook, see the README, 'Secrets'), then record "
                f"again:\n  {self._command('rewrite')}"
            )
        write_atomic(self.path, text)

    # -- what the transport stubs call -------------------------------------------------------------------------------

    def describe_request(
        self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> RecordedRequest:
        """The stored form of a request on its way out."""
        # Replaying redacts the request the same way recording did, so secrets never take part in matching.
        redactor = self._redactor
        stored_headers = redactor.headers(store_headers(headers))
        content_type = stored_headers.get("content-type")
        return RecordedRequest(
            method=method,
            url=redactor.url(url),
            headers=stored_headers,
            body=redactor.body(
                body_from_bytes(body, content_type if isinstance(content_type, str) else None)
            ),
        )

    def describe_blocked(self, host: str) -> str:
        """The diagnosis of a connection attempt to ``host`` while replaying."""
        return (
            f"pytest-runs: blocked a connection to {host} while replaying {self._display_path} "
            f"(record mode {self.record_mode}): a replaying test must not reach the network.\n"
            "Requests made with httpx or httpx2 are answered from the cassette; this one came from another client "
            "or from a DNS look-up. To record live traffic instead, run:\n"
            f"  {self._command('new_episodes')}"
        )

    def respond(self, request: RecordedRequest) -> RecordedResponse | None:
        """The recorded response to replay for ``request``, or None when it may go to the network and be recorded.

        Raises (and remembers, so the test fails even if the error is caught) a :class:`CassetteMissError` when the
        request has no recorded response and the record mode does not allow recording it.
        """
        stored = self._engine.play(request)
        if stored is not None:
            return stored
        if self._engine.may_record:
            return None
        miss: CassetteMissError
        if not self._engine.loaded and self.record_mode == "none":
            miss = CassetteNotFoundError(
                f"pytest-runs: cassette {self._display_path} does not exist, and record mode 'none' only replays.\n"
                f"  request: {short_request(request)}\n"
                f"To record it, run:\n  {self._command('once')}"
            )
        else:
            miss = CassetteMissError(
                describe_miss(
                    request,
                    self._engine.candidates(),
                    cassette_path=self._display_path,
                    record_mode=self.record_mode,
                    fix_command=self._command("rewrite"),
                )
            )
        self.errors.append(miss)
        raise miss

    def begin_recording(
        self, request: RecordedRequest, *, status: int, reason: str, headers: Iterable[tuple[str, str]]
    ) -> Recorder:
        """Store a response whose body is still to come; the returned recorder fills it in."""
        header_list = list(headers)
        stored_headers = self._redactor.headers(store_headers(header_list))
        content_encoding = _joined(stored_headers.pop("content-encoding", None))
        content_type = _joined(stored_headers.get("content-type"))
        response = RecordedResponse(
            status=status,
            reason=self._redactor.text(reason) if reason and reason != _standard_reason(status) else None,
            headers=stored_headers,
        )
        stored = self._engine.record(request, response)
        recorder = Recorder(
            stored,
            content_type if isinstance(content_type, str) else None,
            content_encoding if isinstance(content_encoding, str) else None,
            self._redactor,
        )
        self._recorders.append(recorder)
        return recorder

    def replay_parts(
        self, response: RecordedResponse, error_for: Callable[[RecordedResponse], Exception]
    ) -> tuple[list[bytes], list[tuple[str, str]], Callable[[], Exception | None]]:
        """What a replayed response is made of: body chunks, headers, and how the body ends."""
        chunks = body_chunks(response.body)
        normaliser = self.normaliser
        restore = normaliser.restore if normaliser is not None and normaliser.to_real else None
        if restore is not None and not isinstance(response.body, Base64Body):
            # Placeholders whose real IDs the test revealed (a literal assistant ID, say) are said back as those IDs.
            # Most chunks of a long stream name none of them: a substring test spares them the regular expression.
            needles = [placeholder.encode("ascii") for placeholder in normaliser.to_real]  # type: ignore[union-attr]
            chunks = [
                restore(chunk.decode("utf-8")).encode("utf-8") if any(n in chunk for n in needles) else chunk
                for chunk in chunks
            ]
        headers: list[tuple[str, str]] = []
        for name, value in response.headers.items():
            if name in _NO_WAIT_HEADERS or name in _NO_RETRY_WAIT_HEADERS:
                continue
            items = value if isinstance(value, list) else [value]
            headers.extend((name, restore(item) if restore else item) for item in items)
        # Always, not only where the recording had it: without the header the SDK's poll helpers wait their default
        # 1000 ms between polls, and older recordings (and other servers) never sent it.
        headers.append(("openai-poll-after-ms", _NO_WAIT_HEADERS["openai-poll-after-ms"]))
        retry_headers = {"retry-after", "retry-after-ms"} & response.headers.keys()
        if retry_headers or response.status in _RETRYABLE_STATUSES or response.status >= 500:
            headers.extend(_NO_RETRY_WAIT_HEADERS.items())
        if "transfer-encoding" not in response.headers:
            headers.append(("content-length", str(sum(len(chunk) for chunk in chunks))))

        def ending() -> Exception | None:
            if response.end == "error":
                return error_for(response)
            if response.end == "client_closed":
                return RecordingIncompleteError(
                    f"pytest-runs: the recorded body of this response ends after {len(chunks)} chunk(s), because "
                    "the client closed it early while recording; replay has nothing more to give.\n"
                    f"  cassette: {self._display_path}\n"
                    f"To record the whole body, run:\n  {self._command('rewrite')}"
                )
            return None

        return chunks, headers, ending

    # -- end of the test ---------------------------------------------------------------------------------------------

    def finish_streams(self) -> None:
        """Store what every still-open response had received (the test ended without closing it)."""
        for recorder in self._recorders:
            recorder.finish("client_closed")

    def save(self) -> bool:
        """Write the cassette if anything was recorded (atomically). Returns whether a file was written."""
        self.finish_streams()
        if not self._engine.dirty:
            if self.record_mode == "rewrite" and self.path.exists():
                # Recorded anew from an empty cassette: a test that now makes no request leaves an empty one.
                self._save(CassetteFile(interactions=[]))
                return True
            return False
        self._engine.save()
        return True

    @property
    def recorded_count(self) -> int:
        """How many interactions were recorded during this test."""
        return len(self._recorders)


def _joined(value: str | list[str] | None) -> str | None:
    """A header value that was sent several times, as one comma-separated value (how HTTP defines it)."""
    return ", ".join(value) if isinstance(value, list) else value


def _ends_the_stream(body: object) -> bool:
    """Whether ``body`` is an event stream whose last event says the stream is over."""
    if not isinstance(body, SSEBody) or body.tail:
        return False
    for event in reversed(body.sse):
        if event.event is None and event.data is None and event.id is None and event.retry is None:
            continue  # a blank line or a comment
        return event.data == "[DONE]" or event.event == "done"
    return False


def _standard_reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
