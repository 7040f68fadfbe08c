"""Transport stubs for ``httpx`` and ``httpx2``, sync and async: tee-streaming while recording, streamed replay.

While a cassette is active, ``HTTPTransport.handle_request`` and ``AsyncHTTPTransport.handle_async_request`` of each
installed stack are replaced (and restored on exit, whatever happens). For each request the active
:class:`~pytest_runs.session.Cassette` decides:

* **replay** — the client gets a response whose body is streamed back chunk by chunk (one chunk per SSE event) with
  the original bytes, ending the way the recorded one ended (normally, or with the same transport error);
* **record** — the request goes to the real transport, and the response body is *teed*: each chunk reaches the client
  the moment the server sends it while the recorder keeps a copy; a client that closes early gets control back at
  once; a stream the server cuts surfaces to the client as the same error it would get without us.

Only the network transports are patched: ``MockTransport``, ``WSGITransport`` and ``ASGITransport`` never touch the
network, so tests keep using them as they are.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .cassette import RecordedRequest, RecordedResponse

if TYPE_CHECKING:
    from .session import Cassette, Recorder

__all__ = ["STACK_NAMES", "installed_stacks", "patched"]

STACK_NAMES = ("httpx", "httpx2")
"""The HTTP stacks pytest-runs intercepts, when importable."""


def installed_stacks() -> list[ModuleType]:
    """The HTTP stack modules that are importable here."""
    stacks = []
    for name in STACK_NAMES:
        try:
            stacks.append(importlib.import_module(name))
        except ImportError:
            continue
    return stacks


class _StackParts:
    """The stream classes built on one stack's base classes (its ``Response`` checks ``isinstance`` on them)."""

    def __init__(self, stack: ModuleType) -> None:
        self.stack = stack
        self.tee_sync = _tee_sync_class(stack)
        self.tee_async = _tee_async_class(stack)
        self.replay_sync = _replay_sync_class(stack)
        self.replay_async = _replay_async_class(stack)

    def error_for(self, response: RecordedResponse) -> Exception:
        """The exception a replayed body ends with, of the same class (by name) as the recorded one."""
        assert response.error is not None
        stack = self.stack
        error_class = getattr(stack, response.error.type, None)
        if not (isinstance(error_class, type) and issubclass(error_class, stack.TransportError)):
            # Recorded from something that is not a transport error of this stack: the closest honest equivalent.
            error_class = stack.ReadError
        error: Exception = error_class(response.error.message)
        return error


def _tee_sync_class(stack: ModuleType) -> type:
    class TeeStream(stack.SyncByteStream):  # type: ignore[misc,name-defined]
        """Passes each chunk on as it arrives and gives the recorder a copy."""

        def __init__(self, inner: Any, recorder: Recorder) -> None:
            self._inner = inner
            self._recorder = recorder

        def __iter__(self) -> Iterator[bytes]:
            try:
                for chunk in self._inner:
                    self._recorder.feed(chunk)
                    yield chunk
            except Exception as error:
                self._recorder.finish("error", error)
                raise
            self._recorder.finish("complete")

        def close(self) -> None:
            self._recorder.finish("client_closed")
            self._inner.close()

    return TeeStream


def _tee_async_class(stack: ModuleType) -> type:
    class AsyncTeeStream(stack.AsyncByteStream):  # type: ignore[misc,name-defined]
        """Passes each chunk on as it arrives and gives the recorder a copy."""

        def __init__(self, inner: Any, recorder: Recorder) -> None:
            self._inner = inner
            self._recorder = recorder

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self._inner:
                    self._recorder.feed(chunk)
                    yield chunk
            except Exception as error:
                self._recorder.finish("error", error)
                raise
            self._recorder.finish("complete")

        async def aclose(self) -> None:
            self._recorder.finish("client_closed")
            await self._inner.aclose()

    return AsyncTeeStream


def _replay_sync_class(stack: ModuleType) -> type:
    class ReplayStream(stack.SyncByteStream):  # type: ignore[misc,name-defined]
        """Hands recorded chunks to the client one at a time, then ends as the recording ended."""

        def __init__(self, chunks: list[bytes], ending: Callable[[], Exception | None]) -> None:
            self._chunks = chunks
            self._ending = ending

        def __iter__(self) -> Iterator[bytes]:
            yield from self._chunks
            error = self._ending()
            if error is not None:
                raise error

    return ReplayStream


def _replay_async_class(stack: ModuleType) -> type:
    class AsyncReplayStream(stack.AsyncByteStream):  # type: ignore[misc,name-defined]
        """Hands recorded chunks to the client one at a time, then ends as the recording ended."""

        def __init__(self, chunks: list[bytes], ending: Callable[[], Exception | None]) -> None:
            self._chunks = chunks
            self._ending = ending

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in self._chunks:
                yield chunk
            error = self._ending()
            if error is not None:
                raise error

    return AsyncReplayStream


def _recorded_request(request: Any, body: bytes, cassette: Cassette) -> RecordedRequest:
    return cassette.describe_request(request.method, str(request.url), request.headers.multi_items(), body)


def _replayed(
    parts: _StackParts, request: Any, response: RecordedResponse, cassette: Cassette, sync: bool
) -> Any:
    chunks, headers, ending = cassette.replay_parts(response, parts.error_for)
    stream_class = parts.replay_sync if sync else parts.replay_async
    extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
    if response.reason:
        extensions["reason_phrase"] = response.reason.encode("ascii", "replace")
    return parts.stack.Response(
        response.status,
        headers=headers,
        stream=stream_class(chunks, ending),
        request=request,
        extensions=extensions,
    )


def _start_recording(response: Any, recorded: RecordedRequest, cassette: Cassette) -> Recorder:
    return cassette.begin_recording(
        recorded,
        status=response.status_code,
        reason=response.reason_phrase,
        headers=response.headers.multi_items(),
    )


def _sync_stub(parts: _StackParts, original: Callable[..., Any], cassette: Cassette) -> Callable[..., Any]:
    def handle_request(transport: Any, request: Any) -> Any:
        recorded = _recorded_request(request, request.read(), cassette)
        stored = cassette.respond(recorded)
        if stored is not None:
            return _replayed(parts, request, stored, cassette, sync=True)
        response = original(transport, request)
        recorder = _start_recording(response, recorded, cassette)
        response.stream = parts.tee_sync(response.stream, recorder)
        return response

    return handle_request


def _async_stub(parts: _StackParts, original: Callable[..., Any], cassette: Cassette) -> Callable[..., Any]:
    async def handle_async_request(transport: Any, request: Any) -> Any:
        recorded = _recorded_request(request, await request.aread(), cassette)
        stored = cassette.respond(recorded)
        if stored is not None:
            return _replayed(parts, request, stored, cassette, sync=False)
        response = await original(transport, request)
        recorder = _start_recording(response, recorded, cassette)
        response.stream = parts.tee_async(response.stream, recorder)
        return response

    return handle_async_request


@contextlib.contextmanager
def patched(cassette: Cassette) -> Iterator[None]:
    """Route every request of the installed HTTP stacks through ``cassette`` for the duration of the block.

    The original methods are restored on exit, also when the block raises.
    """
    originals: list[tuple[type, str, Any]] = []
    try:
        for stack in installed_stacks():
            parts = _StackParts(stack)
            for owner, name, make in (
                (stack.HTTPTransport, "handle_request", _sync_stub),
                (stack.AsyncHTTPTransport, "handle_async_request", _async_stub),
            ):
                original = owner.__dict__[name]
                originals.append((owner, name, original))
                setattr(owner, name, make(parts, original, cassette))
        yield
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)
