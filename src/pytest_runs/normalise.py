"""Deterministic cassettes: stable placeholders for API IDs and timestamps, one normaliser per cassette.

**IDs.** Every API ID (a known prefix such as ``run_`` or ``file-`` followed by at least 16 letters and digits) is
replaced by the prefix and a number, in order of first appearance in the cassette: the first run is ``run_1``, the
second thread ``thread_2``. The same real ID always gets the same placeholder within a cassette (a bijection), in URLs,
query strings, headers, request and response bodies, SSE data and error messages. Text that only looks similar
(``run_time``, ``step_details``) is left alone: too short to be an ID.

**Timestamps** (``created_at``, ``started_at``, ``completed_at``, ``expires_at``, ``failed_at``, ``cancelled_at``,
``incomplete_at``, ``created``, at any depth) become ``1_000_000_000 + 1000 * k + offset``, where ``k`` is the order of
first appearance of the object that carries them (the nearest enclosing object with an ``id``) and the offset keeps
the order within the object: ``created_at`` +0, ``started_at`` +1, ``completed_at``/``failed_at``/``cancelled_at``/
``incomplete_at`` +2, ``expires_at`` keeps its real distance from ``created_at`` (600 s for a run). So the same field
of the same object always reads the same, re-recording unchanged behaviour gives the same numbers, and values fall in
2001, which no real Assistants timestamp does. The trade-offs: durations between objects are not real, and two
objects are ordered by first appearance rather than by their real times (usually the same order).

**Replay.** The client may send the placeholders it received, or real IDs of its own (an assistant ID from its
configuration). :meth:`Normaliser.bindings_for` matches a request that equals the recorded one under a consistent
mapping; once a live request has revealed that ``asst_Real…`` is ``asst_1``, replayed responses say ``asst_Real…``
again (:meth:`Normaliser.restore`), so what the code sees is what it saw live.

The same normaliser serves the snapshots of the cassette's test, so a snapshot taken while recording equals the one
taken while replaying.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .bodies import reconcile_raw
from .cassette import (
    Body,
    CassetteFile,
    Interaction,
    JsonBody,
    RecordedRequest,
    RecordedResponse,
    SSEBody,
    TextBody,
)
from .guard import is_loopback
from .matching import equal_with_redactions

__all__ = [
    "DEFAULT_ID_PREFIXES",
    "TIMESTAMP_FIELDS",
    "TIME_BASE",
    "VOLATILE_HEADERS",
    "Normaliser",
    "id_digest",
    "normalise_cassette",
]

DEFAULT_ID_PREFIXES = (
    "asst_",
    "thread_",
    "run_",
    "msg_",
    "step_",
    "call_",
    "file-",
    "vs_",
    "vsfb_",
    "req_",
    "proj_",
    "chatcmpl-",
    "batch_",
    "ftjob-",
)
"""ID prefixes recognised without configuration (ini ``runs_id_prefixes`` adds more)."""

TIMESTAMP_FIELDS = frozenset(
    {
        "created_at",
        "started_at",
        "completed_at",
        "expires_at",
        "failed_at",
        "cancelled_at",
        "incomplete_at",
        "created",
    }
)
"""Fields whose integer values are Unix times, at any depth."""

TIME_BASE = 1_000_000_000
"""Normalised times start here (2001-09-09); real Assistants times are all above :data:`_REAL_TIME_FLOOR`."""

_REAL_TIME_FLOOR = 1_500_000_000  # 2017: values below are placeholders already (or not times at all)
_OBJECT_STEP = 1000
_OFFSETS = {
    "created_at": 0,
    "created": 0,
    "started_at": 1,
    "completed_at": 2,
    "failed_at": 2,
    "cancelled_at": 2,
    "incomplete_at": 2,
    "expires_at": 3,
}

VOLATILE_HEADERS = frozenset(
    {"date", "cf-ray", "openai-processing-ms", "x-envoy-upstream-service-time", "age", "x-request-time"}
)
"""Response headers that change on every call and mean nothing to a client: not stored in normalised cassettes.
Headers starting with ``x-ratelimit-`` are dropped too; ``x-request-id`` is kept, normalised as an ID."""

_VOLATILE_PREFIXES = ("x-ratelimit-",)


class Normaliser:
    """One cassette's mapping between real IDs and placeholders, and its timestamp rule."""

    def __init__(self, extra_prefixes: Iterable[str] = ()) -> None:
        prefixes = sorted({*DEFAULT_ID_PREFIXES, *extra_prefixes}, key=len, reverse=True)
        alternatives = "|".join(re.escape(prefix) for prefix in prefixes)
        # An ID starts where no identifier character precedes it and ends where none follows.
        self._real = re.compile(rf"(?<![A-Za-z0-9_-])(?:{alternatives})[A-Za-z0-9]{{16,}}(?![A-Za-z0-9])")
        self._placeholder = re.compile(rf"(?<![A-Za-z0-9_-])(?:{alternatives})[0-9]{{1,7}}(?![A-Za-z0-9])")
        self._any_id = re.compile(f"{self._real.pattern}|{self._placeholder.pattern}")
        self._prefix_of = re.compile(rf"(?:{alternatives})")
        self.to_placeholder: dict[str, str] = {}
        """Real ID -> placeholder, for every real ID seen or revealed by a live request."""
        self.to_real: dict[str, str] = {}
        """Placeholder -> real ID, the inverse of :attr:`to_placeholder`."""
        self._used: set[str] = set()
        self._in_request = False
        self._from_requests: set[str] = set()
        self.expected: dict[str, str] = {}
        """Placeholder -> digest of the real ID behind it, for IDs the test sent itself (the cassette's ``ids``)."""
        self._next: dict[str, int] = {}
        self._order: dict[str, int] = {}
        self._loose_times: dict[int, int] = {}

    # -- IDs -----------------------------------------------------------------------------------------------------

    def is_id(self, text: str) -> bool:
        """Whether ``text`` is exactly one API ID (real or placeholder)."""
        return self._any_id.fullmatch(text) is not None

    def reserve(self, values: Iterable[str]) -> None:
        """Mark the placeholders found in ``values`` as taken, so no real ID is given one of them."""
        for value in values:
            for match in self._placeholder.finditer(value):
                self._used.add(match.group(0))

    def _prefix(self, token: str) -> str:
        match = self._prefix_of.match(token)
        assert match is not None
        return match.group(0)

    def _placeholder_for(self, real: str) -> str:
        placeholder = self.to_placeholder.get(real)
        if placeholder is None:
            prefix = self._prefix(real)
            number = self._next.get(prefix, 1)
            while f"{prefix}{number}" in self._used:
                number += 1
            self._next[prefix] = number + 1
            placeholder = f"{prefix}{number}"
            self._bind(real, placeholder)
            if self._in_request:
                self._from_requests.add(placeholder)
        self._order.setdefault(placeholder, len(self._order))
        return placeholder

    def _bind(self, real: str, placeholder: str) -> None:
        self.to_placeholder[real] = placeholder
        self.to_real[placeholder] = real
        self._used.add(placeholder)

    def _id(self, match: re.Match[str]) -> str:
        token = match.group(0)
        if self._placeholder.fullmatch(token):
            self._used.add(token)
            self._order.setdefault(token, len(self._order))
            return token
        return self._placeholder_for(token)

    def text(self, text: str) -> str:
        """``text`` with every real ID replaced by its placeholder (new IDs get the next number)."""
        return self._any_id.sub(self._id, text)

    # -- JSON values and timestamps --------------------------------------------------------------------------------

    def value(self, value: Any, *, times: bool = True) -> Any:
        """A JSON value (or a model dump) with IDs, and unless ``times`` is false timestamps, normalised at any depth."""
        return self._json(value, None, times)

    def _json(self, value: Any, owner: str | None, times: bool) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self._json(item, owner, times) for item in value]
        if not isinstance(value, dict):
            return value
        own = value.get("id")
        if isinstance(own, str) and self.is_id(own):
            owner = self.text(own)
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = self.text(key) if isinstance(key, str) else key
            if times and key in TIMESTAMP_FIELDS and _is_real_time(item):
                out[name] = self._time(owner, key, item, value)
            else:
                out[name] = self._json(item, owner, times)
        return out

    def _time(self, owner: str | None, field: str, real: int, container: dict[str, Any]) -> int:
        if owner is None:
            # No object to tie the time to: rank the distinct values in order of first appearance, below the others.
            rank = self._loose_times.setdefault(real, len(self._loose_times))
            return TIME_BASE - _OBJECT_STEP * (rank + 1)
        created = TIME_BASE + _OBJECT_STEP * self._order.setdefault(owner, len(self._order))
        if field == "expires_at":
            created_real = container.get("created_at")
            if isinstance(created_real, int) and _is_real_time(created_real):
                distance = real - created_real
                if 0 < distance < _OBJECT_STEP * 100:
                    return created + distance
        return created + _OFFSETS.get(field, 0)

    # -- cassettes -----------------------------------------------------------------------------------------------

    def _url(self, url: str) -> str:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.hostname is not None and is_loopback(parts.hostname):
            # A loopback server (an emulator) listens on a new port each time: the port would change every recording.
            netloc = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else str(parts.hostname)
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))

    def _headers(self, headers: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        return {
            name: [self.text(item) for item in value] if isinstance(value, list) else self.text(value)
            for name, value in headers.items()
            if name not in VOLATILE_HEADERS and not name.startswith(_VOLATILE_PREFIXES)
        }

    def _body(self, body: Body | None, *, times: bool = True) -> Body | None:
        if isinstance(body, JsonBody):
            return body.model_copy(update={"json_": self.value(body.json_, times=times)})
        if isinstance(body, SSEBody):
            events = []
            for event in body.sse:
                copy = event.model_copy(
                    update={
                        "data": self.value(event.data),
                        "event": None if event.event is None else self.text(event.event),
                        "id": None if event.id is None else self.text(event.id),
                        "raw": None if event.raw is None else self.text(event.raw),
                    }
                )
                if copy.raw is not None:
                    reconcile_raw(
                        copy
                    )  # a raw frame whose times were not rewritten no longer agrees: dropped
                events.append(copy)
            return body.model_copy(
                update={"sse": events, "tail": None if body.tail is None else self.text(body.tail)}
            )
        if isinstance(body, TextBody):
            return body.model_copy(update={"text": self.text(body.text)})
        return body

    def interaction(self, interaction: Interaction) -> Interaction:
        """A normalised copy of one interaction (request first, then response, as they happened)."""
        request = interaction.request
        self._in_request = True  # an ID first seen here came from the test, not from the server
        try:
            normal_request = RecordedRequest(
                method=request.method,
                url=self._url(request.url),
                headers=self._headers(request.headers),
                # Times a client sends (a filter, say) are its own values: replay sends them again as they are.
                body=self._body(request.body, times=False),
            )
        finally:
            self._in_request = False
        response = interaction.response
        normal_response: RecordedResponse = response.model_copy(
            update={
                "headers": self._headers(response.headers),
                "body": self._body(response.body),
                "reason": None if response.reason is None else self.text(response.reason),
                "error": None
                if response.error is None
                else response.error.model_copy(update={"message": self.text(response.error.message)}),
            }
        )
        return Interaction(request=normal_request, response=normal_response)

    def cassette(self, cassette: CassetteFile) -> CassetteFile:
        """A normalised copy of a whole cassette, interactions in order (idempotent: placeholders stay)."""
        self.reserve(_strings(cassette.model_dump(mode="json", by_alias=True, exclude={"ids"})))
        self.expected.update(cassette.ids)
        interactions = [self.interaction(interaction) for interaction in cassette.interactions]
        ids = dict(self.expected)
        ids.update({placeholder: id_digest(self.to_real[placeholder]) for placeholder in self._from_requests})
        return cassette.model_copy(update={"interactions": interactions, "ids": dict(sorted(ids.items()))})

    def observe(self, interactions: Sequence[Interaction]) -> None:
        """Give placeholders to the IDs of ``interactions`` in order, as writing them would (for snapshots taken
        before the cassette is written)."""
        self.reserve(
            _strings([interaction.model_dump(mode="json", by_alias=True) for interaction in interactions])
        )
        for interaction in interactions:
            self.interaction(interaction)

    # -- replay ----------------------------------------------------------------------------------------------------

    def bindings_for(self, sent: Any, recorded: Any) -> dict[str, str] | None:
        """The new real-ID -> placeholder bindings under which the value ``sent`` equals ``recorded`` (an empty
        dict when they are equal as they are), or None when no consistent mapping makes them equal. Values are
        strings, numbers, lists, dicts and tuples (match keys)."""
        new: dict[str, str] = {}
        return new if self._unify(sent, recorded, new) else None

    def commit(self, bindings: dict[str, str]) -> None:
        """Remember bindings a played request revealed."""
        for real, placeholder in bindings.items():
            self._bind(real, placeholder)

    def restore(self, text: str) -> str:
        """``text`` with the placeholders whose real IDs a live request revealed turned back into those IDs."""
        if not self.to_real:
            return text
        return self._placeholder.sub(lambda match: self.to_real.get(match.group(0), match.group(0)), text)

    def _unify(self, sent: Any, recorded: Any, new: dict[str, str]) -> bool:
        if isinstance(sent, str) and isinstance(recorded, str):
            if "<redacted" in recorded:
                return equal_with_redactions(sent, recorded)  # a redacted secret stands for any value
            return sent == recorded or self._unify_text(sent, recorded, new)
        if isinstance(sent, list | tuple) and isinstance(recorded, list | tuple):
            return len(sent) == len(recorded) and all(
                self._unify(left, right, new) for left, right in zip(sent, recorded, strict=True)
            )
        if isinstance(sent, dict) and isinstance(recorded, dict):
            return sent.keys() == recorded.keys() and all(
                self._unify(sent[key], recorded[key], new) for key in sent
            )
        # JSON numbers compare by value (1 == 1.0), but a boolean is not a number here.
        return bool(sent == recorded and isinstance(sent, bool) == isinstance(recorded, bool))

    def _unify_text(self, sent: str, recorded: str, new: dict[str, str]) -> bool:
        sent_parts = self._any_id.split(sent)
        recorded_parts = self._any_id.split(recorded)
        sent_ids = self._any_id.findall(sent)
        recorded_ids = self._any_id.findall(recorded)
        if sent_parts != recorded_parts or len(sent_ids) != len(recorded_ids):
            return False
        return all(
            self._unify_id(left, right, new) for left, right in zip(sent_ids, recorded_ids, strict=True)
        )

    def _unify_id(self, sent: str, recorded: str, new: dict[str, str]) -> bool:
        if sent == recorded:
            return True
        if not self._placeholder.fullmatch(recorded) or self._placeholder.fullmatch(sent):
            return False
        if self._prefix(sent) != self._prefix(recorded):
            return False
        expected = self.expected.get(recorded)
        if expected is not None and expected != id_digest(sent):
            return False  # the test sent this placeholder's ID while recording, and this is another one
        bound = self.to_placeholder.get(sent) or new.get(sent)
        if bound is not None:
            return bound == recorded
        taken_by = self.to_real.get(recorded) or next(
            (real for real, p in new.items() if p == recorded), None
        )
        if taken_by is not None:
            return False
        new[sent] = recorded
        return True


def id_digest(real: str) -> str:
    """A short digest of a real ID: enough to tell IDs apart, and the ID itself is not written."""
    return hashlib.sha256(b"pytest-runs id\0" + real.encode("utf-8")).hexdigest()[:16]


def _is_real_time(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= _REAL_TIME_FLOOR


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield key
            yield from _strings(item)


def normalise_cassette(cassette: CassetteFile, extra_prefixes: Iterable[str] = ()) -> CassetteFile:
    """A copy of ``cassette`` with IDs and timestamps replaced by stable placeholders (see the module docstring)."""
    return Normaliser(extra_prefixes).cassette(cassette)
