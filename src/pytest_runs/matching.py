"""Request matching by meaning, and the diagnosis of a request that matches nothing.

Two requests match when their method, path, query and body mean the same: the query is compared as a sorted list of
decoded pairs (``include[]=a%2Ab`` equals ``include%5B%5D=a*b``), JSON bodies are compared parsed (key order and
spacing do not matter), and scheme, host, port and headers are ignored, so a cassette recorded against one base URL
replays under any other and SDK noise headers (versions, retry counts, timeouts) never cause a miss.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .bodies import body_bytes, json_value
from .cassette import RecordedRequest

__all__ = ["MatchKey", "describe_miss", "differences", "match_key", "short_request"]


@dataclass(frozen=True, slots=True)
class MatchKey:
    """What a request means, for matching."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body_is_json: bool
    body: Any
    redacted: bool = False
    """Whether redaction replaced something in the path, query or body (only then can a wildcard match)."""

    def matches(self, other: MatchKey) -> bool:
        """Whether two requests mean the same (``self`` sent, ``other`` recorded; secrets the recording redacted
        match any value)."""
        if self.method != other.method or self.body_is_json != other.body_is_json:
            return False
        if self.path == other.path and self.query == other.query and self.body == other.body:
            return True
        return other.redacted and equal_with_redactions(
            (self.path, self.query, self.body), (other.path, other.query, other.body)
        )


def match_key(request: RecordedRequest) -> MatchKey:
    """The :class:`MatchKey` of a stored (or about to be stored) request."""
    parts = urlsplit(request.url)
    is_json, value = json_value(request.body)
    raw = body_bytes(request.body)
    body: Any = value if is_json else raw
    boundary = _multipart_boundary(request.headers.get("content-type"))
    if boundary and isinstance(body, bytes):
        # Clients draw a random boundary for every multipart body (file uploads): it means nothing.
        body = body.replace(boundary.encode("latin-1"), b"<boundary>")
    return MatchKey(
        method=request.method.upper(),
        path=unquote(parts.path).rstrip("/") or "/",
        query=tuple(sorted(parse_qsl(parts.query, keep_blank_values=True))),
        body_is_json=is_json,
        body=body,
        redacted="<redacted" in request.url or b"<redacted" in raw,
    )


def _multipart_boundary(content_type: str | list[str] | None) -> str | None:
    if not isinstance(content_type, str) or not content_type.lower().startswith("multipart/"):
        return None
    match = re.search(r"boundary=\"?([^\";]+)\"?", content_type)
    return match.group(1) if match else None


_REDACTED = re.compile(r"<redacted(?::[A-Za-z0-9_ ]+)?>")


def redacted_pattern(recorded: str) -> re.Pattern[str] | None:
    """For a recorded string in which redaction replaced secrets, the pattern a sent string must match (each
    placeholder standing for any non-empty text); None when nothing in it was redacted."""
    if "<redacted" not in recorded:
        return None
    pieces = _REDACTED.split(recorded)
    return re.compile(".+?".join(re.escape(piece) for piece in pieces), re.DOTALL)


def equal_with_redactions(sent: Any, recorded: Any) -> bool:
    """Whether ``sent`` equals ``recorded`` where the recording's redacted secrets may be anything: a replay where
    the secret's variable is not set sends another value, and must still match."""
    if isinstance(sent, str) and isinstance(recorded, str):
        pattern = redacted_pattern(recorded)
        return sent == recorded if pattern is None else pattern.fullmatch(sent) is not None
    if isinstance(sent, list | tuple) and isinstance(recorded, list | tuple):
        return len(sent) == len(recorded) and all(map(equal_with_redactions, sent, recorded))
    if isinstance(sent, dict) and isinstance(recorded, dict):
        return sent.keys() == recorded.keys() and all(
            equal_with_redactions(sent[k], recorded[k]) for k in sent
        )
    if isinstance(sent, bytes) and isinstance(recorded, bytes):
        return equal_with_redactions(sent.decode("latin-1"), recorded.decode("latin-1"))
    return bool(sent == recorded and isinstance(sent, bool) == isinstance(recorded, bool))


def short_request(request: RecordedRequest) -> str:
    """``METHOD /path?query`` — a request as people say it."""
    parts = urlsplit(request.url)
    return f"{request.method.upper()} {parts.path}" + (f"?{unquote(parts.query)}" if parts.query else "")


def _json_differences(recorded: Any, sent: Any, where: str, out: list[str]) -> None:
    if isinstance(recorded, dict) and isinstance(sent, dict):
        for key in list(recorded) + [key for key in sent if key not in recorded]:
            place = f"{where}.{key}" if where else str(key)
            if key not in sent:
                out.append(f"{place}: recorded {recorded[key]!r}, not sent")
            elif key not in recorded:
                out.append(f"{place}: sent {sent[key]!r}, not recorded")
            else:
                _json_differences(recorded[key], sent[key], place, out)
        return
    if isinstance(recorded, list) and isinstance(sent, list) and len(recorded) == len(sent):
        for index, (left, right) in enumerate(zip(recorded, sent, strict=True)):
            _json_differences(left, right, f"{where}[{index}]", out)
        return
    if recorded != sent:
        out.append(f"{where or 'body'}: recorded {recorded!r}, sent {sent!r}")


def differences(recorded: MatchKey, sent: MatchKey) -> list[str]:
    """What differs between a recorded request and the one sent, one readable line per difference."""
    out: list[str] = []
    if recorded.method != sent.method:
        out.append(f"method: recorded {recorded.method}, sent {sent.method}")
    if recorded.path != sent.path:
        out.append(f"path: recorded {recorded.path}, sent {sent.path}")
    if recorded.query != sent.query:
        out.append(f"query: recorded {dict(recorded.query) or '(none)'}, sent {dict(sent.query) or '(none)'}")
    if recorded.body_is_json and sent.body_is_json:
        _json_differences(recorded.body, sent.body, "body", out)
    elif recorded.body != sent.body:
        left = recorded.body if isinstance(recorded.body, bytes) else repr(recorded.body).encode()
        right = sent.body if isinstance(sent.body, bytes) else repr(sent.body).encode()
        diff = difflib.unified_diff(
            left.decode("utf-8", "replace").splitlines(),
            right.decode("utf-8", "replace").splitlines(),
            "recorded",
            "sent",
            lineterm="",
            n=1,
        )
        out.append("body differs:\n" + "\n".join(f"      {line}" for line in diff))
    return out


def _similarity(recorded: MatchKey, sent: MatchKey) -> tuple[int, int]:
    # Same method and path first (that is what a person means by "the same call"), then the fewest differences.
    same_call = (recorded.method == sent.method) + (recorded.path == sent.path) * 2
    return same_call, -len(differences(recorded, sent))


@dataclass(frozen=True, slots=True)
class RecordedCandidate:
    """A recorded request considered when explaining a miss."""

    index: int
    request: RecordedRequest
    key: MatchKey
    played: bool


def describe_miss(
    sent: RecordedRequest,
    candidates: Sequence[RecordedCandidate],
    *,
    cassette_path: str,
    record_mode: str,
    fix_command: str,
    most: int = 3,
) -> str:
    """The diagnosis of a request no recorded response matches: what was asked, what was available, why it did
    not match, and how to fix it."""
    sent_key = match_key(sent)
    lines = [
        "pytest-runs: no recorded response matches this request.",
        f"  request:  {short_request(sent)}",
        f"  cassette: {cassette_path} (record mode {record_mode}, {len(candidates)} interaction(s), "
        f"{sum(candidate.played for candidate in candidates)} already played)",
    ]
    exact = [candidate for candidate in candidates if candidate.key.matches(sent_key)]
    if exact:
        lines.append(
            f"The cassette has {len(exact)} response(s) for this very request and all were already played: "
            "the test now makes this call more often than when it was recorded."
        )
    elif not candidates:
        lines.append("The cassette has no interactions at all.")
    else:
        ranked = sorted(candidates, key=lambda candidate: _similarity(candidate.key, sent_key), reverse=True)
        lines.append("Closest recorded requests:")
        for candidate in ranked[:most]:
            state = "played" if candidate.played else "not played yet"
            lines.append(f"  #{candidate.index + 1} {short_request(candidate.request)} ({state})")
            lines.extend(f"    {difference}" for difference in differences(candidate.key, sent_key))
    lines.append(f"To record what the test does now, run:\n  {fix_command}")
    return "\n".join(lines)
