"""Secrets never reach a cassette: what is redacted before anything is stored, and the scan before every write.

Three kinds of rule, all always on (user rules only add to them):

* **headers**: credentials and account identifiers (:data:`SECRET_HEADERS`) keep their name with the value replaced
  by :data:`PLACEHOLDER`, so the cassette still shows the header was there; headers that only describe the recording
  machine or the transfer (``user-agent``, ``x-stainless-*``, ``content-length``, ``host``, ``connection``,
  ``accept-encoding``) are not stored at all;
* **known values**: the values of :data:`DEFAULT_SECRET_ENV` and of the variables named in ini ``runs_secret_env``,
  plus user literals, are replaced wherever they occur (raw, URL-encoded or JSON-escaped): URL, headers, JSON at any
  depth (keys too), SSE event data, text, error messages, decompressed bodies, and inside binary bodies;
* **shapes**: strings shaped like OpenAI keys (``sk-``, ``sk-proj-``, ``sk-svcacct-``, ``sk-admin-``, ``sess-``, also
  half-masked as the API echoes them in 401 messages: ``sk-proj-`` + ``****abcd``) and bearer tokens, plus user regular
  expressions.

Environment variables are read each time something is redacted, so a key set while a test runs is still caught.
Before a cassette is written, :func:`find_leaks` searches the exact text about to be written for every known value in
raw, URL-encoded, base64 and JSON-escaped form and for every shape; any hit stops the write.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

from .bodies import reconcile_raw
from .cassette import Base64Body, Body, JsonBody, SSEBody, TextBody

__all__ = [
    "DEFAULT_SECRET_ENV",
    "KEY_PATTERN",
    "MIN_SECRET_LENGTH",
    "PLACEHOLDER",
    "SECRET_HEADERS",
    "Leak",
    "Redactor",
    "Rules",
    "find_leaks",
    "mask",
    "parse_rule_lines",
    "store_headers",
]

PLACEHOLDER = "<redacted>"
"""What a secret header's value, a key-shaped string or a user rule's match is replaced by."""

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "openai-organization",
        "openai-project",
        "cookie",
        "set-cookie",
    }
)
"""Headers whose values are credentials or identify an account."""

_DROPPED_HEADERS = frozenset({"user-agent", "content-length", "host", "connection", "accept-encoding"})
_DROPPED_PREFIXES = ("x-stainless-",)

DEFAULT_SECRET_ENV = ("OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "AZURE_OPENAI_API_KEY")
"""Environment variables whose values are secrets wherever they appear."""

# OpenAI keys and session keys: a prefix, then at least 8 key characters of which one is a digit or a "*" (real keys
# are random and always have digits; requiring one spares words like "sk-learn-tutorial"). "*" is a key character so
# that keys the API echoes half-masked ("sk-proj-" then "****abcd") are caught too. Bearer tokens: anything after "Bearer ".
KEY_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])(?P<prefix>sk-(?:proj-|svcacct-|admin-)?|sess-)(?=[A-Za-z_-]*[0-9*])[A-Za-z0-9_*-]{8,}"
    r"|(?P<bearer>Bearer\s+)[A-Za-z0-9._~+/*-]{12,}=*"
)

MIN_SECRET_LENGTH = 8
"""Values shorter than this are not searched for (a 3-character "secret" would match everywhere); literal rules
that short are refused."""


def store_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    """The headers worth storing, lower-cased, secret values masked, repeated headers as lists."""
    stored: dict[str, str | list[str]] = {}
    for raw_name, raw_value in headers:
        name = raw_name.lower()
        if name in _DROPPED_HEADERS or name.startswith(_DROPPED_PREFIXES):
            continue
        value = PLACEHOLDER if name in SECRET_HEADERS else raw_value
        previous = stored.get(name)
        if previous is None:
            stored[name] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            stored[name] = [previous, value]
    return stored


# -- rules ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """What is secret, beyond the headers: environment variable names, literal values and regular expressions.

    The defaults (:data:`DEFAULT_SECRET_ENV` and the key shapes) always apply; these only add to them.
    """

    env_names: tuple[str, ...] = ()
    literals: tuple[tuple[str, str], ...] = ()
    """(where the rule came from, value) pairs."""
    patterns: tuple[tuple[str, re.Pattern[str]], ...] = ()
    """(where the rule came from, pattern) pairs."""

    @classmethod
    def build(
        cls, env_names: Iterable[str] = (), extra: Iterable[tuple[str, str | re.Pattern[str]]] = ()
    ) -> Rules:
        """Rules from variable names and ``(origin, literal or compiled pattern)`` pairs."""
        literals: list[tuple[str, str]] = []
        patterns: list[tuple[str, re.Pattern[str]]] = []
        for origin, rule in extra:
            if isinstance(rule, re.Pattern):
                patterns.append((origin, rule))
            elif isinstance(rule, str):
                literals.append((origin, rule))
            else:
                raise TypeError(f"{origin}: a redaction rule is a str or a compiled re.Pattern, not {rule!r}")
        names = tuple(dict.fromkeys([*DEFAULT_SECRET_ENV, *env_names]))
        return cls(names, tuple(literals), tuple(patterns))

    def secrets(self, environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
        """(name, value) of every known secret value long enough to search for, longest first."""
        environ = os.environ if environ is None else environ
        found = {
            value: name for name in self.env_names if len(value := environ.get(name, "")) >= MIN_SECRET_LENGTH
        }
        for origin, value in self.literals:
            if len(value) >= MIN_SECRET_LENGTH:
                found.setdefault(value, origin)
        return sorted(((name, value) for value, name in found.items()), key=lambda item: -len(item[1]))


def parse_rule_lines(lines: Iterable[str], origin: str) -> list[tuple[str, str | re.Pattern[str]]]:
    """The rules of an ini ``runs_redact`` value: one per line, ``re:PATTERN`` for a regular expression, else a
    literal. Raises ValueError naming the line for a pattern that does not compile or could match nothing."""
    rules: list[tuple[str, str | re.Pattern[str]]] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{origin} line {number}"
        if line.startswith("re:"):
            try:
                pattern = re.compile(line[3:])
            except re.error as error:
                raise ValueError(f"{where}: {line!r} is not a valid regular expression ({error})") from None
            if pattern.search(""):
                raise ValueError(f"{where}: {line!r} matches the empty string, so it would redact nothing")
            rules.append((where, pattern))
        else:
            if len(line) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"{where}: literal {mask(line)} is shorter than {MIN_SECRET_LENGTH} characters; it would match "
                    "ordinary text. Use a regular expression (re:...) that says what the secret looks like."
                )
            rules.append((where, line))
    return rules


# -- redaction -------------------------------------------------------------------------------------------------------


def _lower_escapes(text: str) -> str:
    """``text`` with its percent-escapes in lower case (``%2f``): clients may write either."""
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group(0).lower(), text)


def _value_forms(value: str) -> list[str]:
    """The forms a value takes in URLs and JSON strings (redaction replaces each)."""
    forms = [value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]]
    forms += [_lower_escapes(form) for form in forms[1:3]]
    return list(dict.fromkeys(form for form in forms if form))


def _key_replacement(match: re.Match[str]) -> str:
    prefix = match.group("prefix") or match.group("bearer") or ""
    return prefix + PLACEHOLDER


@dataclass
class Redactor:
    """Applies :class:`Rules` to everything a cassette stores, and remembers every secret value it has seen (so the
    scan before writing knows values from variables that have been unset since)."""

    rules: Rules = field(default_factory=Rules.build)
    seen: dict[str, str] = field(default_factory=dict)
    """value -> name, of every secret value read so far."""

    def secrets(self) -> list[tuple[str, str]]:
        """The secret values in force now, plus every one seen before; longest first."""
        for name, value in self.rules.secrets():
            self.seen.setdefault(value, name)
        return sorted(((name, value) for value, name in self.seen.items()), key=lambda item: -len(item[1]))

    def text(self, text: str) -> str:
        """``text`` with every secret value, user pattern match and key-shaped string replaced."""
        return self._text(text, self._forms())

    def url(self, url: str) -> str:
        """A URL with its user information (``user:password@``) replaced and secrets in the rest redacted."""
        parts = urlsplit(url)
        if "@" in parts.netloc:
            host = parts.netloc.rsplit("@", 1)[1]
            url = urlunsplit((parts.scheme, f"{PLACEHOLDER}@{host}", parts.path, parts.query, parts.fragment))
        return self.text(url)

    def value(self, value: Any) -> Any:
        """A JSON value with every string in it (object keys included) redacted, at any depth."""
        return self._value(value, self._forms())

    def binary(self, data: bytes) -> bytes:
        """Bytes with secrets replaced where they appear as ASCII-compatible text (Latin-1 maps bytes 1:1)."""
        return self.text(data.decode("latin-1")).encode("latin-1")

    def body(self, body: Body | None) -> Body | None:
        """A stored body with secrets replaced, in place (the body's kind and layout are kept)."""
        forms = self._forms()
        if isinstance(body, JsonBody):
            body.json_ = self._value(body.json_, forms)
        elif isinstance(body, SSEBody):
            body._wire = None
            for event in body.sse:
                event.data = self._value(event.data, forms)
                if event.event is not None:
                    event.event = self._text(event.event, forms)
                if event.id is not None:
                    event.id = self._text(event.id, forms)
                if event.raw is not None:
                    event.raw = self._text(event.raw, forms)
                    reconcile_raw(event)  # a raw frame that no longer says what the fields say is dropped
            if body.tail is not None:
                body.tail = self._text(body.tail, forms)
        elif isinstance(body, TextBody):
            body.text = self._text(body.text, forms)
        elif isinstance(body, Base64Body):
            data = base64.b64decode(body.base64)
            redacted = self.binary(data)
            if redacted != data:
                body.base64 = base64.b64encode(redacted).decode("ascii")
        return body

    def _forms(self) -> list[tuple[str, str]]:
        """(form, replacement) for every secret value in force, longest value first; read once per stored item."""
        return [
            (form, f"<redacted:{name}>" if name in self.rules.env_names else PLACEHOLDER)
            for name, value in self.secrets()
            for form in _value_forms(value)
        ]

    def _text(self, text: str, forms: list[tuple[str, str]]) -> str:
        for form, replacement in forms:
            if form in text:
                text = text.replace(form, replacement)
        for _origin, pattern in self.rules.patterns:
            text = pattern.sub(PLACEHOLDER, text)
        return KEY_PATTERN.sub(_key_replacement, text)

    def _value(self, value: Any, forms: list[tuple[str, str]]) -> Any:
        if isinstance(value, str):
            return self._text(value, forms)
        if isinstance(value, list):
            return [self._value(item, forms) for item in value]
        if isinstance(value, dict):
            return {self._text(key, forms): self._value(item, forms) for key, item in value.items()}
        return value

    def headers(self, headers: Mapping[str, str | list[str]]) -> dict[str, str | list[str]]:
        """Stored headers with secrets in any value replaced (secret headers are already placeholders)."""
        return {
            name: [self.text(item) for item in value] if isinstance(value, list) else self.text(value)
            for name, value in headers.items()
        }


# -- the scan before writing -----------------------------------------------------------------------------------------


def _search_forms(secret: str) -> dict[str, str]:
    """The forms a secret can take in a text file, each with its description (the plainest one when forms coincide)."""
    raw = secret.encode("utf-8")
    candidates = [
        (secret, ""),
        (quote(secret, safe=""), " (URL-encoded)"),
        (quote_plus(secret), " (URL-encoded)"),
        (_lower_escapes(quote(secret, safe="")), " (URL-encoded)"),
        (_lower_escapes(quote_plus(secret)), " (URL-encoded)"),
        (json.dumps(secret)[1:-1], " (JSON-escaped)"),
        (base64.b64encode(raw).decode("ascii").rstrip("="), " (base64)"),
        (base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="), " (base64)"),
    ]
    # base64 of text that contains the secret at an arbitrary offset: the three alignments, minus the edge characters
    # that depend on neighbouring bytes.
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = (offset * 4 + 2) // 3 + 1
        inner = encoded[start : len(encoded) - 4]
        if len(inner) >= MIN_SECRET_LENGTH:
            candidates.append((inner, " (base64)"))
    forms: dict[str, str] = {}
    for form, how in candidates:
        if form:
            forms.setdefault(form, how)
    return forms


def mask(secret: str) -> str:
    """A found secret shown safely: a key's public prefix, then stars."""
    match = KEY_PATTERN.fullmatch(secret)
    if match is not None:
        # Not stars after the prefix: the prefix followed by four stars is itself shaped like a half-masked key, and
        # a report that lands in a file would then be flagged by the next scan.
        return (match.group("prefix") or match.group("bearer") or "") + "<masked>"
    return "****"


@dataclass(frozen=True, slots=True)
class Leak:
    """A secret found in text (never holding the secret itself)."""

    line: int
    what: str
    excerpt: str
    """The line, shortened around the finding, with the secret masked."""


_TOKEN_CHARACTER = re.compile(r"[A-Za-z0-9+/=_%.~-]")


def _token_bounds(line: str, start: int, end: int) -> tuple[int, int]:
    """Widen a match to the whole token around it: a secret found inside base64 shares bits with its neighbours."""
    while start > 0 and _TOKEN_CHARACTER.match(line[start - 1]):
        start -= 1
    while end < len(line) and _TOKEN_CHARACTER.match(line[end]):
        end += 1
    return start, end


def _excerpt(line: str, start: int, end: int) -> str:
    before = line[max(0, start - 30) : start]
    after = line[end : end + 30]
    return (
        ("…" if start > 30 else "") + before + line[start:end] + after + ("…" if end + 30 < len(line) else "")
    ).strip()


def _line_findings(
    line: str,
    forms: Sequence[tuple[str, str]],
    patterns: Sequence[tuple[re.Pattern[str], str]],
) -> list[tuple[int, int, str, str]]:
    """(start, end, what, masked) of everything secret in one line."""
    found: list[tuple[int, int, str, str]] = []
    for form, what in forms:
        start = line.find(form)
        while start >= 0:  # every occurrence: an excerpt must not show a second copy unmasked
            found.append((*_token_bounds(line, start, start + len(form)), what, "****"))
            start = line.find(form, start + 1)
    for pattern, what in patterns:
        for match in pattern.finditer(line):
            if match.group(0) and PLACEHOLDER not in match.group(0):
                found.append((*_token_bounds(line, match.start(), match.end()), what, "****"))
    for match in KEY_PATTERN.finditer(line):
        what = "a bearer token" if match.group("bearer") else "a string shaped like an API key"
        found.append((match.start(), match.end(), what, mask(match.group(0))))
    return found


def find_leaks(text: str, secrets: Sequence[tuple[str, str]], rules: Rules | None = None) -> list[Leak]:
    """Every place in ``text`` where a secret value (``(name, value)`` pairs, in any encoding), a user pattern or a
    key-shaped string appears. Redacted placeholders are not findings. Excerpts mask every finding of their line,
    not only their own."""
    forms = [
        (form, f"the value of {name}{how}")
        for name, value in secrets
        for form, how in _search_forms(value).items()
    ]
    patterns = [
        (pattern, f"a match of the redaction rule at {origin}")
        for origin, pattern in (rules.patterns if rules else ())
    ]
    leaks: list[Leak] = []
    for number, line in enumerate(text.splitlines(), start=1):
        found = _line_findings(line, forms, patterns)
        if not found:
            continue
        # Mask all the spans (merged where they overlap), remembering where each finding lands in the masked line.
        spans = sorted(found)
        masked = ""
        position = 0
        landing: dict[tuple[int, int, str, str], tuple[int, int]] = {}
        group: list[tuple[int, int, str, str]] = []
        group_end = -1
        for span in [*spans, (len(line) + 1, len(line) + 1, "", "")]:
            if group and span[0] >= group_end:
                group_start = group[0][0]
                masked += line[position:group_start]
                replacement = group[0][3] if len(group) == 1 else "****"
                for member in group:
                    landing[member] = (len(masked), len(masked) + len(replacement))
                masked += replacement
                position = group_end
                group = []
            if span[2]:
                group.append(span)
                group_end = max(group_end, span[1]) if len(group) > 1 else span[1]
        masked += line[position:]
        for span in found:
            leaks.append(Leak(number, span[2], _excerpt(masked, *landing[span])))
    return leaks
