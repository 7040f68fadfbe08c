"""The cassette format (version 1): the pydantic model of a cassette file and its YAML form.

A cassette is a readable, diff-friendly YAML file::

    version: 1
    interactions:
    - request:
        method: POST
        url: https://api.openai.com/v1/threads/thread_1/runs
        headers: {content-type: application/json}
        body:
          json: {assistant_id: asst_1, stream: true}
      response:
        status: 200
        headers: {content-type: text/event-stream; charset=utf-8}
        body:
          sse:
          - event: thread.run.created
            data: {id: run_1, object: thread.run, status: queued}
          - event: done
            data: '[DONE]'

Bodies are stored by kind (exactly one key per body): ``json`` (parsed), ``sse`` (a list of events), ``text``, or
``base64`` as a last resort. Compressed bodies are stored decoded (``compressed`` names what they were). How the
bytes are rebuilt from these fields lives in :mod:`pytest_runs.bodies`; reading and writing files lives in
:mod:`pytest_runs.storage`.
"""

from __future__ import annotations

import binascii
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

__all__ = [
    "FORMAT_VERSION",
    "Base64Body",
    "Body",
    "CassetteFile",
    "Headers",
    "Interaction",
    "JsonBody",
    "RecordedRequest",
    "RecordedResponse",
    "SSEBody",
    "SSEEvent",
    "StreamError",
    "TextBody",
]

FORMAT_VERSION: Literal[1] = 1
"""The cassette format version this release reads and writes."""

Headers = dict[str, str | list[str]]
"""Header names (lower case) to one value, or to a list of values when the header was repeated."""


class _Strict(BaseModel):
    # Unknown keys are a typo in a hand edit far more often than a feature: reject them with their place.
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class SSEEvent(_Strict):
    """One event of a Server-Sent-Events body.

    ``data`` holds the parsed JSON when the event's data is a JSON object or array, and the text otherwise (for
    example ``[DONE]``). ``raw`` is kept only when the canonical re-encoding of the fields would not give back the
    original bytes (CRLF line ends, comments, escaped unicode, ...); if a hand edit makes the fields disagree with
    ``raw``, the fields win.
    """

    event: str | None = None
    data: Any = None
    id: str | None = None
    retry: int | None = None
    raw: str | None = None


class StreamError(_Strict):
    """How a response body ended in an error while recording (for example the server cut the connection)."""

    type: str = Field(description="The exception class name, e.g. RemoteProtocolError.")
    message: str


JsonLayout = Literal["compact", "spaced", "indent 2", "indent 4"]
"""How a JSON body is printed back: compact or Python's default separators, or indented by 2 or 4 spaces."""


class JsonBody(_Strict):
    """A body that is JSON: stored parsed; ``layout`` says how to print it back byte for byte."""

    json_: Any = Field(alias="json")
    layout: JsonLayout = "compact"
    final_newline: bool = False
    compressed: str | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SSEBody(_Strict):
    """A ``text/event-stream`` body, stored as its list of events (plus any unterminated trailing bytes)."""

    sse: list[SSEEvent]
    tail: str | None = None
    compressed: str | None = None
    # The bytes replay sends, when already known (the load cache keeps them): encoding ten thousand events again on
    # every run costs a noticeable share of replaying them. Never part of the file; None means "encode the events".
    _wire: list[bytes] | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        # Equal when the stored fields are: whether the wire bytes are already known says nothing about the body.
        if not isinstance(other, SSEBody):
            return NotImplemented
        return (self.sse, self.tail, self.compressed) == (other.sse, other.tail, other.compressed)

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model


class TextBody(_Strict):
    """A body that is UTF-8 text but not JSON."""

    text: str
    compressed: str | None = None


class Base64Body(_Strict):
    """A body that is not text: base64, the last resort."""

    @field_validator("base64")
    @classmethod
    def _decodes(cls, value: str) -> str:
        # Found now, with its place in the file, rather than as a bare error in the middle of a replay.
        try:
            binascii.a2b_base64(value, strict_mode=True)
        except binascii.Error as error:
            raise ValueError(f"not valid base64 ({error})") from None
        return value

    base64: str
    compressed: str | None = None


_BODY_KINDS = ("json", "sse", "text", "base64")


def _body_kind(value: Any) -> str | None:
    """Which kind a body is, from the one key that names it (so errors point inside that kind only)."""
    if isinstance(value, dict):
        kinds = [kind for kind in _BODY_KINDS if kind in value]
        return kinds[0] if len(kinds) == 1 else None
    for kind, model in (("json", JsonBody), ("sse", SSEBody), ("text", TextBody), ("base64", Base64Body)):
        if isinstance(value, model):
            return kind
    return None


Body = Annotated[
    Annotated[JsonBody, Tag("json")]
    | Annotated[SSEBody, Tag("sse")]
    | Annotated[TextBody, Tag("text")]
    | Annotated[Base64Body, Tag("base64")],
    Discriminator(
        _body_kind,
        custom_error_type="body_kind",
        custom_error_message="a body needs exactly one of the keys json, sse, text or base64",
    ),
]
"""Any stored body."""


class RecordedRequest(_Strict):
    """A request as stored: method, full URL, the headers worth keeping, the body by kind."""

    method: str
    url: str
    headers: Headers = Field(default_factory=dict)
    body: Body | None = None


class RecordedResponse(_Strict):
    """A response as stored, with how its body ended.

    ``end`` is ``complete`` for a body read to its end, ``client_closed`` when the client closed the stream before
    the end (what it had received is stored), and ``error`` when reading failed (``error`` says how); replay
    reproduces each of these.
    """

    status: int
    reason: str | None = None
    headers: Headers = Field(default_factory=dict)
    body: Body | None = None
    end: Literal["complete", "client_closed", "error"] = "complete"
    error: StreamError | None = None

    @model_validator(mode="after")
    def _error_goes_with_end(self) -> RecordedResponse:
        if (self.end == "error") != (self.error is not None):
            raise ValueError("'error' must be given exactly when 'end' is 'error'")
        return self


class Interaction(_Strict):
    """One request and the response it got."""

    request: RecordedRequest
    response: RecordedResponse


class CassetteFile(_Strict):
    """The whole content of a cassette file."""

    version: Literal[1] = FORMAT_VERSION
    ids: dict[str, str] = Field(
        default_factory=dict,
        description="For each placeholder whose real ID the test itself sent (a configured assistant, say), a digest "
        "of that ID: replay binds a real ID sent again to the placeholder whose digest it has.",
    )
    interactions: list[Interaction] = Field(default_factory=list)
