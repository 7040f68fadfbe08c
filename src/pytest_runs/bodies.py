"""Bodies by kind: bytes on the wire <-> the readable form a cassette stores, byte for byte.

Recording turns the bytes a server sent (after undoing ``content-encoding``) into a :data:`~pytest_runs.cassette.Body`;
replay turns it back into the chunks a client receives: one chunk per SSE event, one chunk for any other body.
"""

from __future__ import annotations

import base64
import importlib
import json
import zlib
from collections.abc import Callable
from typing import Any

from .cassette import Base64Body, Body, JsonBody, SSEBody, SSEEvent, TextBody
from .sse import SSEFrame, decode_all, encode_frame

__all__ = [
    "body_bytes",
    "body_chunks",
    "body_from_bytes",
    "decode_content",
    "dump_json",
    "event_data_text",
    "json_value",
]

# The layouts JSON is found in on the wire: the API pretty-prints with two spaces, streams are compact, and SDKs
# send either compact or Python's default separators.
_JSON_LAYOUTS: dict[str, dict[str, Any]] = {
    "compact": {"separators": (",", ":")},
    "spaced": {"separators": (", ", ": ")},
    "indent 2": {"indent": 2},
    "indent 4": {"indent": 4},
}


# One encoder per layout, made once: ``json.dumps`` with options builds a new encoder on every call, which costs
# more than encoding a small stream event.
_ENCODERS = {
    layout: json.JSONEncoder(ensure_ascii=False, **options).encode
    for layout, options in _JSON_LAYOUTS.items()
}


def dump_json(value: Any, layout: str = "compact", *, final_newline: bool = False) -> str:
    """Print ``value`` as JSON in one of the known layouts, with raw UTF-8 (no ``\\u`` escapes)."""
    text = _ENCODERS[layout](value)
    return text + "\n" if final_newline else text


def known_layouts() -> tuple[str, ...]:
    """The names :func:`dump_json` accepts as ``layout``."""
    return tuple(_JSON_LAYOUTS)


def _json_body(text: str) -> JsonBody | None:
    """A :class:`JsonBody` when ``text`` is JSON in a layout that prints back to exactly ``text``."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    final_newline = text.endswith("\n")
    for layout in _JSON_LAYOUTS:
        if dump_json(value, layout, final_newline=final_newline) == text:
            return JsonBody.model_validate({"json": value, "layout": layout, "final_newline": final_newline})
    return None


def event_data_text(data: Any) -> str | None:
    """The text of an SSE event's data field: compact JSON for objects and arrays, the string itself otherwise."""
    if data is None or isinstance(data, str):
        return data
    return dump_json(data)


def _event_from_frame(frame: SSEFrame) -> SSEEvent:
    data: Any = frame.data
    if data is not None and data[:1] in ("{", "["):
        try:
            data = json.loads(data)
        except ValueError:
            data = frame.data
    event = SSEEvent(event=frame.event, data=data, id=frame.id, retry=frame.retry)
    if _frame_bytes(event) != frame.raw:
        event.raw = frame.raw.decode("utf-8")
    return event


def _frame_bytes(event: SSEEvent) -> bytes:
    return encode_frame(event=event.event, data=event_data_text(event.data), id=event.id, retry=event.retry)


def event_bytes(event: SSEEvent) -> bytes:
    """The bytes to replay for one stored event: its ``raw`` frame when kept, else the canonical encoding."""
    if event.raw is not None:
        return event.raw.encode("utf-8")
    return _frame_bytes(event)


def reconcile_raw(event: SSEEvent) -> None:
    """Drop a stale ``raw`` frame after a hand edit: when ``raw`` no longer decodes to the event's fields, the
    fields are what the person meant."""
    if event.raw is None:
        return
    frames, tail = decode_all(event.raw.encode("utf-8"))
    if len(frames) != 1 or tail:
        event.raw = None
        return
    reparsed = _event_from_frame(frames[0])
    if (reparsed.event, reparsed.data, reparsed.id, reparsed.retry) != (
        event.event,
        event.data,
        event.id,
        event.retry,
    ):
        event.raw = None


def _sse_body(data: bytes) -> SSEBody | None:
    frames, tail = decode_all(data)
    try:
        events = [_event_from_frame(frame) for frame in frames]
        tail_text = tail.decode("utf-8") if tail else None
    except UnicodeDecodeError:
        return None
    return SSEBody(sse=events, tail=tail_text)


def body_from_bytes(data: bytes, content_type: str | None) -> Body | None:
    """The stored form of a (decoded) body: JSON, SSE, text, or base64 when nothing else gives the bytes back."""
    if not data:
        return None
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    body: Body | None = None
    if media_type == "text/event-stream":
        body = _sse_body(data)
    if body is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return Base64Body(base64=base64.b64encode(data).decode("ascii"))
        if "json" in media_type or text[:1] in ("{", "["):
            body = _json_body(text)
        if body is None:
            body = TextBody(text=text)
    return body


def body_chunks(body: Body | None) -> list[bytes]:
    """The chunks replay hands to the client: one per SSE event (then any tail), one for other bodies."""
    if body is None:
        return []
    if isinstance(body, SSEBody):
        if body._wire is not None:
            return list(body._wire)
        chunks = [event_bytes(event) for event in body.sse]
        if body.tail:
            chunks.append(body.tail.encode("utf-8"))
        return chunks
    return [body_bytes(body)]


def body_bytes(body: Body | None) -> bytes:
    """The whole body as bytes."""
    if body is None:
        return b""
    if isinstance(body, JsonBody):
        return dump_json(body.json_, body.layout, final_newline=body.final_newline).encode("utf-8")
    if isinstance(body, TextBody):
        return body.text.encode("utf-8")
    if isinstance(body, Base64Body):
        return base64.b64decode(body.base64)
    return b"".join(body_chunks(body))


def json_value(body: Body | None) -> tuple[bool, Any]:
    """``(True, value)`` when the body is JSON (stored parsed, or text that parses), else ``(False, None)``."""
    if isinstance(body, JsonBody):
        return True, body.json_
    if isinstance(body, TextBody):
        try:
            return True, json.loads(body.text)
        except ValueError:
            return False, None
    return False, None


def _decompress_zlib(wbits: int) -> Callable[[bytes], bytes]:
    def decode(data: bytes) -> bytes:
        # A decompressobj (not zlib.decompress) so that a body cut mid-way still yields what arrived.
        decoder = zlib.decompressobj(wbits)
        return decoder.decompress(data) + decoder.flush()

    return decode


def _decompress_brotli(data: bytes) -> bytes:
    for name in ("brotli", "brotlicffi"):  # the two packages httpx decodes brotli with
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return bytes(module.decompress(data))
    raise ValueError("neither the brotli nor the brotlicffi package is installed")


def _decompress_zstd(data: bytes) -> bytes:
    # httpx2 asks for zstd when Python 3.14's compression.zstd or backports.zstd is importable; so do we.
    for name in ("compression.zstd", "backports.zstd", "zstandard"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if name == "zstandard":
            return bytes(module.ZstdDecompressor().decompressobj().decompress(data))
        return bytes(module.decompress(data))
    raise ValueError("no zstd decoder is installed (compression.zstd, backports.zstd or zstandard)")


def _decompress_deflate(data: bytes) -> bytes:
    # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate; accept both.
    try:
        return _decompress_zlib(zlib.MAX_WBITS)(data)
    except zlib.error:
        return _decompress_zlib(-zlib.MAX_WBITS)(data)


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "identity": lambda data: data,
    "gzip": _decompress_zlib(16 + zlib.MAX_WBITS),
    "x-gzip": _decompress_zlib(16 + zlib.MAX_WBITS),
    "deflate": _decompress_deflate,
    "br": _decompress_brotli,
    "zstd": _decompress_zstd,
}


def decode_content(data: bytes, content_encoding: str | None) -> bytes:
    """Undo a ``content-encoding`` (``gzip``, ``deflate``, ``br``; several comma-separated are undone in reverse).

    Raises ``ValueError`` for an encoding that cannot be undone here.
    """
    if not content_encoding:
        return data
    codings = [coding.strip().lower() for coding in content_encoding.split(",") if coding.strip()]
    for coding in reversed(codings):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise ValueError(f"unsupported content-encoding {coding!r}")
        try:
            data = decoder(data)
        except ValueError:
            raise
        except Exception as error:  # each decoder library has its own error class
            raise ValueError(f"body is not valid {coding}: {error}") from error
    return data
