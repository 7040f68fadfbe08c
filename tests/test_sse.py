"""Tests for the byte-faithful SSE framing codec in ``pytest_runs.sse``."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_runs.sse import (
    SSEDecoder,
    SSEFrame,
    aiter_frames,
    decode_all,
    encode_frame,
    iter_frames,
)

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"
REAL_STREAM = REALWORLD / "simple-openai__threads_runs_create_stream_1.txt"
BOM = b"\xef\xbb\xbf"
EOLS = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}

Fields = tuple[str | None, str | None, str | None, int | None]


# --------------------------------------------------------------------------- helpers


def fields(frame: SSEFrame) -> Fields:
    return (frame.event, frame.data, frame.id, frame.retry)


def decode_chunks(chunks: Iterable[bytes]) -> tuple[list[SSEFrame], bytes]:
    """Feed ``chunks`` one by one, then close: (frames, tail)."""
    decoder = SSEDecoder()
    frames: list[SSEFrame] = []
    for chunk in chunks:
        frames.extend(decoder.feed(chunk))
    frames.extend(decoder.close())
    return frames, decoder.tail()


def split_at(body: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = [0, *sorted(cuts), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(points)]


def fixed_chunks(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def with_eol(body: bytes, eol: bytes) -> bytes:
    """Rewrite a ``\\n``-only sample to use ``eol`` line endings."""
    assert b"\r" not in body
    return body.replace(b"\n", eol)


_REF_LINE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")


def reference_decode(body: bytes) -> tuple[list[SSEFrame], bytes]:
    """A deliberately naive whole-input decoder used as an independent model."""
    frames: list[SSEFrame] = []
    lines: list[bytes] = []
    frame_start = 0
    for match in _REF_LINE.finditer(body):
        content = match.group(1)
        if match.start() == 0 and content.startswith(BOM):
            content = content[len(BOM) :]
        if content:
            lines.append(content)
            continue
        event = ident = retry_text = None
        data: list[str] = []
        saw_data = False
        for line in lines:
            text = line.decode("utf-8", errors="replace")
            if text.startswith(":"):
                continue
            if ":" in text:
                name, value = text.split(":", 1)
                if value.startswith(" "):
                    value = value[1:]
            else:
                name, value = text, ""
            if name == "data":
                saw_data = True
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                ident = value
            elif name == "retry":
                retry_text = value
        retry = int(retry_text) if retry_text and re.fullmatch("[0-9]+", retry_text) else None
        frames.append(
            SSEFrame(
                event=event,
                data="\n".join(data) if saw_data else None,
                id=ident,
                retry=retry,
                raw=body[frame_start : match.end()],
            )
        )
        lines = []
        frame_start = match.end()
    return frames, body[frame_start:]


def assert_round_trip(frames: list[SSEFrame], tail: bytes, body: bytes) -> None:
    assert b"".join(frame.raw for frame in frames) + tail == body


def load_real() -> bytes:
    if not REAL_STREAM.is_file():
        pytest.skip(f"real-world recording not available: {REAL_STREAM} (needs /work/shared/realworld)")
    return REAL_STREAM.read_bytes()


def real_excerpt() -> bytes:
    """A few frames from the middle of the real recording plus its unterminated end."""
    body = load_real()
    ends = [m.end() for m in re.finditer(rb"\n\n", body)]
    return body[ends[2] : ends[9]] + body[ends[-1] :]


# --------------------------------------------------------------------------- samples

CANONICAL = (
    b"event: thread.run.created\n"
    b'data: {"id":"run_1","object":"thread.run","status":"queued"}\n'
    b"\n"
    b"event: thread.message.delta\n"
    b'data: {"id":"msg_1","delta":{"content":[{"index":0,"type":"text","text":{"value":"caf\xc3\xa9"}}]}}\n'
    b"\n"
    b"event: done\n"
    b"data: [DONE]\n"
    b"\n"
)

EDGE = (
    BOM
    + b"\n"
    + b"\n"
    + b": comment only\n"
    + b"\n"
    + b"event: multi\n"
    + b"id: 7\n"
    + b"retry: 2500\n"
    + b"data: first\n"
    + b"data:second\n"
    + b"data\n"
    + b"data:  spaced\n"
    + b"x-unknown: ignored\n"
    + b": inline comment\n"
    + b"\n"
    + b"\n"
    + b"event: only-event\n"
    + b"\n"
    + b"data: \xc3\xa9t\xc3\xa9 \xff\n"
    + b"\n"
    + b"event: cut\n"
    + b"data: never fini"
)

SAMPLES = {"canonical": lambda: CANONICAL, "edge": lambda: EDGE, "real-excerpt": real_excerpt}


# --------------------------------------------------------------------------- known frames


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(b"event: e\ndata: d\n\n", [("e", "d", None, None)], id="event-data"),
        pytest.param(b"data: a\ndata: b\ndata: c\n\n", [(None, "a\nb\nc", None, None)], id="multi-line-data"),
        pytest.param(b"data: a\n\ndata: b\n\n", [(None, "a", None, None), (None, "b", None, None)], id="two"),
        pytest.param(b"id: 42\n\n", [(None, None, "42", None)], id="id"),
        pytest.param(b"id: 1\nid: 2\ndata: x\n\n", [(None, "x", "2", None)], id="last-id-wins"),
        pytest.param(b"event: a\nevent: b\n\n", [("b", None, None, None)], id="last-event-wins"),
        pytest.param(b"retry: 1500\n\n", [(None, None, None, 1500)], id="retry"),
        pytest.param(b"retry: 15x\n\n", [(None, None, None, None)], id="retry-not-digits"),
        pytest.param(b"retry: -5\n\n", [(None, None, None, None)], id="retry-negative"),
        pytest.param(b"retry:\n\n", [(None, None, None, None)], id="retry-empty"),
        pytest.param(b"retry: \xd9\xa1\n\n", [(None, None, None, None)], id="retry-non-ascii-digit"),
        pytest.param(b"retry: 10\nretry: x\n\n", [(None, None, None, None)], id="retry-last-invalid"),
        pytest.param(b"retry: x\nretry: 10\n\n", [(None, None, None, 10)], id="retry-last-valid"),
        pytest.param(b"data:no-space\n\n", [(None, "no-space", None, None)], id="no-space-after-colon"),
        pytest.param(b"data:  two\n\n", [(None, " two", None, None)], id="only-one-space-dropped"),
        pytest.param(b"data: a:b: c\n\n", [(None, "a:b: c", None, None)], id="colon-in-value"),
        pytest.param(b"data\n\n", [(None, "", None, None)], id="field-without-colon"),
        pytest.param(b"data:\n\n", [(None, "", None, None)], id="empty-data"),
        pytest.param(b"data\ndata\n\n", [(None, "\n", None, None)], id="two-empty-data-lines"),
        pytest.param(b"event\n\n", [("", None, None, None)], id="event-without-colon"),
        pytest.param(b": ping\n\n", [(None, None, None, None)], id="comment-only"),
        pytest.param(b":data: x\ndata: y\n\n", [(None, "y", None, None)], id="comment-looks-like-field"),
        pytest.param(b"foo: bar\ndata: x\nData: no\n\n", [(None, "x", None, None)], id="unknown-fields"),
        pytest.param(b"event: only\n\n", [("only", None, None, None)], id="event-only"),
        pytest.param(b"data: \xff\xc3\n\n", [(None, "\ufffd\ufffd", None, None)], id="invalid-utf8"),
        pytest.param(b"data: caf\xc3\xa9\n\n", [(None, "caf\u00e9", None, None)], id="utf8"),
        pytest.param(BOM + b"event: e\ndata: d\n\n", [("e", "d", None, None)], id="bom"),
        pytest.param(
            b"data: a\n\n" + BOM + b"data: b\n\n",
            [(None, "a", None, None), (None, None, None, None)],
            id="bom-not-at-start-is-part-of-the-name",
        ),
        pytest.param(
            b"data: a\r\ndata: b\rdata: c\n\r\n", [(None, "a\nb\nc", None, None)], id="mixed-line-endings"
        ),
        pytest.param(b"data: a\r\r", [(None, "a", None, None)], id="cr-blank-line-at-end"),
        pytest.param(b"data: a\n\r\n", [(None, "a", None, None)], id="lf-then-crlf"),
        pytest.param(b"data: a\r\n\n", [(None, "a", None, None)], id="crlf-then-lf"),
    ],
)
def test_known_frames(body: bytes, expected: list[Fields]) -> None:
    frames, tail = decode_all(body)
    assert [fields(f) for f in frames] == expected
    assert tail == b""
    assert_round_trip(frames, tail, body)
    assert (frames, tail) == reference_decode(body)


def test_raw_covers_exactly_one_frame_each() -> None:
    body = b"event: a\ndata: 1\n\n: c\n\nid: 3\r\n\r\n"
    frames, tail = decode_all(body)
    assert [f.raw for f in frames] == [b"event: a\ndata: 1\n\n", b": c\n\n", b"id: 3\r\n\r\n"]
    assert tail == b""


def test_bom_is_kept_in_raw_but_not_parsed() -> None:
    frames, _ = decode_all(BOM + b"data: x\n\n")
    assert frames[0].raw == BOM + b"data: x\n\n"
    assert frames[0].data == "x"


def test_leading_and_extra_blank_lines_become_empty_frames() -> None:
    body = b"\n\r\n\rdata: a\n\n\n" + BOM
    frames, tail = decode_all(body)
    assert [(f.raw, fields(f)) for f in frames] == [
        (b"\n", (None, None, None, None)),
        (b"\r\n", (None, None, None, None)),
        (b"\r", (None, None, None, None)),
        (b"data: a\n\n", (None, "a", None, None)),
        (b"\n", (None, None, None, None)),
    ]
    assert tail == BOM
    # A BOM followed directly by a line ending is a blank line too.
    frames, tail = decode_all(BOM + b"\ndata: b\n\n")
    assert [f.raw for f in frames] == [BOM + b"\n", b"data: b\n\n"]
    assert frames[0].data is None
    assert frames[1].data == "b"


# --------------------------------------------------------------------------- tail / end of input


def test_unterminated_frame_is_in_tail_not_frames() -> None:
    decoder = SSEDecoder()
    frames = decoder.feed(b"data: a\n\nevent: x\ndata: b\n")
    assert [f.data for f in frames] == ["a"]
    assert decoder.tail() == b"event: x\ndata: b\n"
    assert decoder.tail() == b"event: x\ndata: b\n"  # tail() does not reset
    assert decoder.close() == []
    assert decoder.tail() == b"event: x\ndata: b\n"

    frames, tail = decode_all(b"data: a\n\ndata: no line end")
    assert [f.data for f in frames] == ["a"]
    assert tail == b"data: no line end"


def test_tail_empties_once_the_frame_completes() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: x\nda") == []
    assert decoder.tail() == b"event: x\nda"
    assert decoder.feed(b"ta: 1") == []
    assert decoder.tail() == b"event: x\ndata: 1"
    frames = decoder.feed(b"\n\nevent: y")
    assert [f.raw for f in frames] == [b"event: x\ndata: 1\n\n"]
    assert fields(frames[0]) == ("x", "1", None, None)
    assert decoder.tail() == b"event: y"


def test_crlf_split_between_chunks() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n\r") == []
    assert decoder.tail() == b"data: a\r\n\r"
    frames = decoder.feed(b"\ndata: b\r\n\r\n")
    assert [f.raw for f in frames] == [b"data: a\r\n\r\n", b"data: b\r\n\r\n"]
    assert decoder.tail() == b""


def test_trailing_cr_waits_for_next_byte_or_close() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == []
    assert decoder.tail() == b"data: a\r\r"
    frames = decoder.close()
    assert [(f.raw, f.data) for f in frames] == [(b"data: a\r\r", "a")]
    assert decoder.tail() == b""
    assert decoder.close() == []

    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == []
    frames = decoder.feed(b"\ndata: b")
    assert [f.raw for f in frames] == [b"data: a\r\r\n"]
    assert decoder.tail() == b"data: b"

    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == []
    frames = decoder.feed(b"x")
    assert [f.raw for f in frames] == [b"data: a\r\r"]
    assert decoder.tail() == b"x"


def test_trailing_cr_of_a_field_line_at_close_stays_in_tail() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.close() == []
    assert decoder.tail() == b"data: a\r"


def test_feed_after_close_is_an_error() -> None:
    decoder = SSEDecoder()
    decoder.close()
    with pytest.raises(ValueError, match="closed"):
        decoder.feed(b"data: a\n\n")


def test_empty_and_non_bytes_chunks() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"") == []
    frames = decoder.feed(bytearray(b"data: a\n\n"))  # type: ignore[arg-type]
    frames += decoder.feed(memoryview(b"data: b\n\n"))  # type: ignore[arg-type]
    assert [type(f.raw) for f in frames] == [bytes, bytes]
    assert [f.data for f in frames] == ["a", "b"]


# --------------------------------------------------------------------------- chunking independence


@pytest.fixture(params=sorted(SAMPLES))
def sample(request: pytest.FixtureRequest) -> bytes:
    return SAMPLES[request.param]()


@pytest.mark.parametrize("eol", sorted(EOLS))
def test_every_split_position_gives_the_same_result(sample: bytes, eol: str) -> None:
    body = with_eol(sample, EOLS[eol])
    expected = decode_all(body)
    assert expected == reference_decode(body)
    assert_round_trip(*expected, body)
    assert len(expected[0]) >= 3
    for cut in range(len(body) + 1):
        assert decode_chunks([body[:cut], body[cut:]]) == expected, f"split at {cut}"
    assert decode_chunks(fixed_chunks(body, 1)) == expected
    for size in (2, 3, 7, 64):
        assert decode_chunks(fixed_chunks(body, size)) == expected


@pytest.mark.parametrize("eol", sorted(EOLS))
def test_every_two_way_split_of_the_canonical_sample(eol: str) -> None:
    """Splitting into three pieces at every pair of positions (small sample)."""
    body = with_eol(b"event: e\ndata: a\ndata: \xc3\xa9\n\n: c\n\nid: 1\n", EOLS[eol])
    expected = decode_all(body)
    for i in range(len(body) + 1):
        for j in range(i, len(body) + 1):
            assert decode_chunks(split_at(body, (i, j))) == expected, (i, j)


def test_real_recording_whole() -> None:
    body = load_real()
    frames, tail = decode_all(body)
    assert_round_trip(frames, tail, body)
    assert (frames, tail) == reference_decode(body)
    assert frames[0].event == "thread.run.created"
    assert json.loads(frames[0].data or "")["object"] == "thread.run"
    assert frames[-1].event == "thread.run.completed"
    assert all(f.event and f.data is not None and f.id is None and f.retry is None for f in frames)
    assert all(json.loads(f.data or "")["object"] for f in frames)
    # The recording stops without the blank line after the final event.
    assert tail == b"event: done\ndata: [DONE]\n"


@pytest.mark.parametrize("eol", sorted(EOLS))
def test_real_recording_chunkings(eol: str) -> None:
    body = with_eol(load_real(), EOLS[eol])
    expected = decode_all(body)
    assert expected == reference_decode(body)
    assert decode_chunks(fixed_chunks(body, 1)) == expected
    assert decode_chunks(fixed_chunks(body, 1024)) == expected
    # Every cut at, just before and just after each line ending.
    cuts = {p + d for m in re.finditer(rb"[\r\n]", body) for p in (m.start(),) for d in (-1, 0, 1, 2)}
    for cut in sorted(c for c in cuts if 0 <= c <= len(body)):
        assert decode_chunks([body[:cut], body[cut:]]) == expected, f"split at {cut}"


def test_real_recording_frames_are_canonical() -> None:
    frames, _ = decode_all(load_real())
    for frame in frames:
        assert encode_frame(event=frame.event, data=frame.data, id=frame.id, retry=frame.retry) == frame.raw


# --------------------------------------------------------------------------- properties

ALPHABET = [b"a", b":", b" ", b"\n", b"\r", b"data", b"event", b"id", b"retry", b"1", b"\xc3\xa9"]
bodies = st.lists(st.sampled_from(ALPHABET), max_size=60).map(b"".join)
maybe_bom = st.sampled_from([b"", BOM, BOM[:2]])


@given(prefix=maybe_bom, body=bodies, data=st.data())
@settings(max_examples=400, deadline=None)
def test_property_chunking_and_round_trip(prefix: bytes, body: bytes, data: st.DataObject) -> None:
    body = prefix + body
    expected = decode_all(body)
    assert_round_trip(*expected, body)
    assert expected == reference_decode(body)

    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=8), label="cuts")
    decoder = SSEDecoder()
    frames: list[SSEFrame] = []
    fed = b""
    for chunk in split_at(body, cuts):
        frames.extend(decoder.feed(chunk))
        fed += chunk
        # At every point, frames so far plus tail reproduce what was fed.
        assert_round_trip(frames, decoder.tail(), fed)
    frames.extend(decoder.close())
    assert (frames, decoder.tail()) == expected
    assert decode_chunks(fixed_chunks(body, 1)) == expected


# --------------------------------------------------------------------------- encode_frame


def test_encode_frame_canonical_output() -> None:
    assert encode_frame(event="e", data='{"a":1}') == b'event: e\ndata: {"a":1}\n\n'
    assert encode_frame(data="x", retry=10, id="7", event="ev") == b"event: ev\nid: 7\nretry: 10\ndata: x\n\n"
    assert encode_frame(data="a\nb\n") == b"data: a\ndata: b\ndata: \n\n"
    assert encode_frame(data="") == b"data: \n\n"
    assert encode_frame(event="") == b"event: \n\n"
    assert encode_frame(data="caf\u00e9") == b"data: caf\xc3\xa9\n\n"
    assert encode_frame() == b""
    assert encode_frame(event=None, data=None, id=None, retry=None) == b""


def test_encode_frame_normalises_line_breaks_in_data() -> None:
    raw = encode_frame(data="a\rb\r\nc")
    assert raw == b"data: a\ndata: b\ndata: c\n\n"
    frames, _ = decode_all(raw)
    assert frames[0].data == "a\nb\nc"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: encode_frame(event="a\nb"), id="event-lf"),
        pytest.param(lambda: encode_frame(event="a\r", data="x"), id="event-cr"),
        pytest.param(lambda: encode_frame(id="1\n2"), id="id-lf"),
        pytest.param(lambda: encode_frame(id="\r"), id="id-cr"),
    ],
)
def test_encode_frame_rejects_line_breaks_in_single_line_fields(bad: Callable[[], bytes]) -> None:
    with pytest.raises(ValueError, match="line break"):
        bad()


def test_encode_frame_rejects_negative_retry() -> None:
    with pytest.raises(ValueError, match="negative"):
        encode_frame(retry=-1)


line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20)


@given(
    event=st.none() | line_text,
    data_lines=st.none() | st.lists(line_text, min_size=1, max_size=5),
    ident=st.none() | line_text,
    retry=st.none() | st.integers(0, 10**12),
    chunk=st.integers(1, 16),
)
@settings(max_examples=300, deadline=None)
def test_property_encode_decode_round_trip(
    event: str | None, data_lines: list[str] | None, ident: str | None, retry: int | None, chunk: int
) -> None:
    data = None if data_lines is None else "\n".join(data_lines)
    raw = encode_frame(event=event, data=data, id=ident, retry=retry)
    if (event, data, ident, retry) == (None, None, None, None):
        assert raw == b""
        return
    frames, tail = decode_chunks(fixed_chunks(raw, chunk))
    assert tail == b""
    assert frames == [SSEFrame(event=event, data=data, id=ident, retry=retry, raw=raw)]


# --------------------------------------------------------------------------- iterators


async def _agen(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.mark.parametrize("size", [1, 7, 1024])
async def test_iter_and_aiter_frames_agree(sample: bytes, size: int) -> None:
    chunks = fixed_chunks(sample, size)
    expected, _ = decode_all(sample)
    assert expected
    assert list(iter_frames(chunks)) == expected
    assert [frame async for frame in aiter_frames(_agen(chunks))] == expected


async def test_iterators_flush_a_trailing_cr_blank_line_and_drop_the_tail() -> None:
    chunks = [b"data: a\n\ndata: b\r", b"\r", b"data: unterminated"]
    expected = [b"data: a\n\n", b"data: b\r\r"]
    assert [f.raw for f in iter_frames(chunks)] == expected
    assert [f.raw async for f in aiter_frames(_agen(chunks))] == expected
    chunks = [b"data: a\r", b"\r"]
    assert [f.raw for f in iter_frames(chunks)] == [b"data: a\r\r"]
    assert [f.raw async for f in aiter_frames(_agen(chunks))] == [b"data: a\r\r"]
