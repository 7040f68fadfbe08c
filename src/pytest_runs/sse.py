"""Incremental, byte-faithful Server-Sent-Events (SSE) framing.

This module splits an ``text/event-stream`` body into frames following the
WHATWG framing rules, while keeping every byte it was given, so that a
recording can be replayed exactly as it arrived:

* Lines end in ``\\n``, ``\\r\\n`` or a lone ``\\r``.  A ``\\r`` that is the
  last byte received so far is not treated as a line end until the next byte
  shows whether it is the first half of ``\\r\\n`` (or :meth:`SSEDecoder.close`
  says the input has ended).
* A frame ends at an empty line.  Every frame that has at least one line is
  returned, including comment-only frames (``: ping``) and frames that carry
  no ``data`` field.
* An empty line that is not preceded by any line of its frame (a stray blank
  line at the start of the stream or between frames) is returned as a frame of
  its own whose fields are all ``None`` and whose ``raw`` is just that line
  ending (``b"\\n"``, ``b"\\r"`` or ``b"\\r\\n"``).  Hence frames never start
  with a blank line, and :meth:`SSEDecoder.tail` is non-empty only when the
  input stopped inside a frame.
* ``b"".join(frame.raw for frame in frames) + decoder.tail()`` is always the
  exact input.

The codec knows nothing about the payloads; ``data`` is returned as text.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "SSEDecoder",
    "SSEFrame",
    "aiter_frames",
    "decode_all",
    "encode_frame",
    "iter_frames",
]

_BOM = b"\xef\xbb\xbf"
_LF = 0x0A
_CR = 0x0D
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEFrame:
    """One frame of an SSE stream: the fields it carried and its exact bytes.

    Attributes:
        event: Value of the last ``event`` field, ``None`` if the frame had none.
        data: Values of the ``data`` fields joined by ``"\\n"``; ``None`` if the
            frame had no ``data`` field (``data:`` with an empty value gives ``""``).
        id: Value of the last ``id`` field, ``None`` if absent.
        retry: The last ``retry`` field as an integer if its value is all ASCII
            digits, else ``None`` (also ``None`` if absent).
        raw: The exact bytes of the frame, from its first byte through the line
            ending of the blank line that ends it.
    """

    event: str | None
    data: str | None
    id: str | None
    retry: int | None
    raw: bytes


def _parse_retry(value: str) -> int | None:
    """Return ``value`` as an int if it is a non-empty run of ASCII digits."""
    if not (value.isascii() and value.isdigit()):
        return None
    try:
        return int(value.lstrip("0") or "0")
    except ValueError:  # more digits than int() accepts from a string
        return None


def _build_frame(lines: list[bytes], raw: bytes) -> SSEFrame:
    """Parse the (terminator-less, BOM-stripped) non-blank lines of one frame."""
    event: str | None = None
    ident: str | None = None
    retry: str | None = None
    data: list[str] | None = None
    for line in lines:
        name, _, value = line.decode("utf-8", "replace").partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            if data is None:
                data = [value]
            else:
                data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            ident = value
        elif name == "retry":
            retry = value
        # Anything else (comments have an empty name) is ignored.
    return SSEFrame(
        event=event,
        data=None if data is None else "\n".join(data),
        id=ident,
        retry=None if retry is None else _parse_retry(retry),
        raw=raw,
    )


class SSEDecoder:
    """Incremental decoder: feed arbitrary byte chunks, get complete frames back.

    Chunks may split the stream anywhere (inside a line, a multi-byte UTF-8
    character, or a ``\\r\\n`` pair); the frames returned do not depend on how
    the input was chunked.  Work is linear in the input: each byte is scanned
    a bounded number of times however small the chunks are.

    After the last chunk, call :meth:`close` so that a trailing lone ``\\r``
    can be recognised as a line end.  Bytes after the last complete frame are
    available from :meth:`tail` at any time.
    """

    __slots__ = ("_closed", "_first", "_head", "_hint", "_lines", "_partial", "_pending_cr")

    def __init__(self) -> None:
        """Create a decoder positioned at the start of a stream."""
        # Raw bytes of the complete lines of the frame in progress.
        self._head: list[bytes] = []
        # Their contents (no line ending, BOM removed) for field parsing.
        self._lines: list[bytes] = []
        # Pieces of the line in progress, which has no line ending yet, or
        # ends in a ``\r`` whose meaning depends on the next byte.
        self._partial: list[bytes] = []
        # How many leading bytes of the joined partial are known to hold no
        # line ending (so they are not searched again).
        self._hint = 0
        # The partial line ends in a ``\r`` that may be half of ``\r\n``.
        self._pending_cr = False
        # No line has been completed yet: the first one may start with a BOM.
        self._first = True
        self._closed = False

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        """Add ``chunk`` to the stream and return the frames it completed, in order.

        Raises:
            ValueError: if the decoder has been closed.
        """
        if self._closed:
            raise ValueError("feed() called on a closed SSEDecoder")
        if not chunk:
            return []
        if type(chunk) is not bytes:
            chunk = bytes(chunk)
        partial = self._partial
        if partial:
            if not self._pending_cr and b"\n" not in chunk and b"\r" not in chunk:
                # Still inside the same line: just keep the piece.
                partial.append(chunk)
                self._hint += len(chunk)
                return []
            partial.append(chunk)
            data = b"".join(partial)
        else:
            data = chunk
        return self._scan(data, final=False)

    def close(self) -> list[SSEFrame]:
        """Mark the end of the input and return any frame that this completes.

        The only frame that can complete here is one whose closing blank line is
        a lone ``\\r`` received as the very last byte.  An unterminated frame is
        not dispatched; it stays available from :meth:`tail`.  Closing twice is
        harmless; feeding after closing raises :class:`ValueError`.
        """
        if self._closed:
            return []
        self._closed = True
        if not self._pending_cr:
            return []
        return self._scan(b"".join(self._partial), final=True)

    def tail(self) -> bytes:
        """Return the bytes received after the last complete frame.

        These are the bytes of an unterminated frame (possibly empty).  Calling
        this does not consume or reset anything.
        """
        return b"".join(self._head) + b"".join(self._partial)

    def _scan(self, data: bytes, *, final: bool) -> list[SSEFrame]:
        """Consume ``data`` (the partial line followed by new bytes) line by line."""
        out: list[SSEFrame] = []
        head = self._head
        lines = self._lines
        first = self._first
        scan_from = self._hint  # bytes before this offset hold no line ending
        n = len(data)
        find = data.find
        pos = 0  # start of the current line
        start = 0  # start of the current frame's bytes within ``data``
        cr = -1  # offset of the next ``\r`` at or after ``pos`` (n if none)
        pending_cr = False
        while pos < n:
            if cr < pos:
                cr = find(b"\r", pos if pos > scan_from else scan_from)
                if cr < 0:
                    cr = n
            if not lines and pos >= scan_from and not first and data[pos] != _LF and data[pos] != _CR:
                # Fast path: a whole frame made of ``\n``-terminated lines.
                end = find(b"\n\n", pos, cr)
                if end >= 0:
                    term_end = end + 2
                    out.append(_build_frame(data[pos:end].split(b"\n"), data[pos:term_end]))
                    pos = start = term_end
                    continue
            # General path: one line, any line ending.
            nl = find(b"\n", pos if pos > scan_from else scan_from, cr)
            if nl >= 0:
                eol = nl
                term_end = nl + 1
            elif cr == n:
                break  # no line ending yet
            elif cr + 1 < n:
                eol = cr
                term_end = cr + 2 if data[cr + 1] == _LF else cr + 1
            elif final:
                eol = cr
                term_end = n
            else:
                pending_cr = True  # ``\r`` is the last byte: wait for the next one
                break
            content = pos
            if first:
                first = False
                if data.startswith(_BOM, pos, eol):
                    content = pos + len(_BOM)
            if eol == content:  # blank line: the frame ends here
                raw = data[start:term_end]
                if head:
                    raw = b"".join(head) + raw
                    head = []
                out.append(_build_frame(lines, raw))
                lines = []
                start = term_end
            else:
                lines.append(data[content:eol])
            pos = term_end

        if start < pos:
            head.append(data[start:pos])
        self._head = head
        self._lines = lines
        self._first = first
        self._pending_cr = pending_cr
        if pos < n:
            self._partial = [data[pos:]]
            self._hint = n - pos - 1 if pending_cr else n - pos
        else:
            self._partial = []
            self._hint = 0
        return out


def encode_frame(
    *,
    event: str | None = None,
    data: str | None = None,
    id: str | None = None,  # mirrors the SSE field name
    retry: int | None = None,
) -> bytes:
    """Return the canonical bytes of a frame.

    Lines are written in the order ``event``, ``id``, ``retry``, then one
    ``data`` line per line of ``data`` (split at ``\\r\\n``, ``\\r`` or
    ``\\n``, so decoding gives the lines back joined by ``"\\n"``).  Each field
    line is ``name: value`` (one space) ending in ``"\\n"``, and the frame ends
    with a blank line ``"\\n"``.  Fields that are ``None`` are omitted; if all
    are ``None`` the result is ``b""``.

    Raises:
        ValueError: if ``event`` or ``id`` contains a line break, or ``retry``
            is negative, since such values cannot be represented.
    """
    parts: list[str] = []
    if event is not None:
        if "\n" in event or "\r" in event:
            raise ValueError(f"SSE event name cannot contain a line break: {event!r}")
        parts.append(f"event: {event}\n")
    if id is not None:
        if "\n" in id or "\r" in id:
            raise ValueError(f"SSE id cannot contain a line break: {id!r}")
        parts.append(f"id: {id}\n")
    if retry is not None:
        if retry < 0:
            raise ValueError(f"SSE retry must not be negative: {retry!r}")
        parts.append(f"retry: {retry}\n")
    if data is not None:
        if "\n" in data or "\r" in data:
            parts.extend(f"data: {line}\n" for line in _LINE_BREAK.split(data))
        else:  # the usual case, a one-line JSON payload: no need for the regular expression
            parts.append(f"data: {data}\n")
    if not parts:
        return b""
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def decode_all(body: bytes) -> tuple[list[SSEFrame], bytes]:
    """Decode a whole body at once: ``(frames, tail)``.

    The end of ``body`` is the end of the input (see :meth:`SSEDecoder.close`);
    ``tail`` holds the bytes of an unterminated last frame, if any.
    """
    decoder = SSEDecoder()
    frames = decoder.feed(body)
    frames.extend(decoder.close())
    return frames, decoder.tail()


def iter_frames(chunks: Iterable[bytes]) -> Iterator[SSEFrame]:
    """Yield the frames of a stream given as byte chunks; an unterminated tail is dropped."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()


async def aiter_frames(chunks: AsyncIterable[bytes]) -> AsyncIterator[SSEFrame]:
    """Asynchronous twin of :func:`iter_frames`."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for frame in decoder.feed(chunk):
            yield frame
    for frame in decoder.close():
        yield frame
