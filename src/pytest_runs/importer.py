"""Bring existing cassettes over: vcrpy / pytest-recording, Ruby VCR and .NET test-proxy recordings become
pytest-runs cassettes.

Each source is read into neutral exchanges (method, URL, headers, body bytes), and every exchange goes the way a live
recording goes: ``content-encoding`` is undone and the body stored by kind (:func:`~pytest_runs.bodies.body_from_bytes`:
JSON parsed, SSE as events, ``compressed:`` naming what it was), headers pass :func:`~pytest_runs.redact.store_headers`,
the :class:`~pytest_runs.redact.Redactor` replaces secrets in URL, headers and bodies, then the whole cassette is
normalised and scanned for leaks before anyone may write it.

Formats read:

* **vcrpy** (and pytest-recording, which writes the same): ``interactions`` with ``request.uri`` and
  ``response.status.code``; YAML or JSON; bodies as strings, ``!!binary`` (often gzip) or already decoded; header
  values as lists or scalars.
* **Ruby VCR**: ``http_interactions``; bodies ``{encoding, string}`` or ``{encoding, base64_string}``; Ruby's
  single-``!`` ``!binary`` tag.
* **.NET test-proxy**: ``Entries[]``; JSON bodies stored parsed, text and SSE bodies as lists of lines, binary bodies
  as base64.

Use :func:`import_file` from Python; ``pytest-runs import`` wires it to the command line.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import yaml

from .bodies import body_from_bytes, decode_content, dump_json
from .cassette import Body, CassetteFile, Interaction, JsonBody, RecordedRequest, RecordedResponse, SSEBody
from .errors import PytestRunsError
from .normalise import normalise_cassette
from .redact import Redactor, find_leaks, store_headers
from .scan import SKIPPED_DIRS as _SKIPPED_DIRS
from .storage import dump_cassette, field_at_line, write_atomic

__all__ = [
    "SOURCE_SUFFIXES",
    "CassetteImportError",
    "ImportResult",
    "detect_format",
    "import_file",
    "output_path",
    "source_files",
    "write_result",
]

SOURCE_SUFFIXES = (".yaml", ".yml", ".json")
"""The file name endings looked at when a directory is given to import."""

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CassetteImportError(PytestRunsError):
    """A source file could not be imported: unreadable, not a known cassette format, or a part that cannot be
    converted. The message names the file, the place and the problem."""


class _SourceLoader(_Loader):  # type: ignore[misc,valid-type]
    """A safe YAML loader that also understands Ruby VCR's single-``!`` ``!binary`` tag (base64 bytes)."""


def _construct_ruby_binary(loader: yaml.SafeLoader, node: yaml.Node) -> bytes:
    # The same representation as YAML's own !!binary: base64 text, line breaks allowed.
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    try:
        return base64.b64decode("".join(str(value).split()), validate=True)
    except (binascii.Error, ValueError) as error:
        mark = node.start_mark
        raise yaml.constructor.ConstructorError(
            None, None, f"!binary value is not base64 ({error})", mark
        ) from None


_SourceLoader.add_constructor("!binary", _construct_ruby_binary)


# -- results ---------------------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    """What importing one source file gave: the converted cassette, its YAML text, and notes on what changed."""

    source: Path
    source_format: str
    """``vcrpy``, ``Ruby VCR`` or ``.NET test-proxy``."""
    cassette: CassetteFile
    text: str
    """The cassette as it will be written (redacted, normalised, scanned for leaks)."""
    notes: list[str] = field(default_factory=list)
    """What the conversion changed or could not keep, one line each (repeats counted, not listed)."""

    @property
    def interactions(self) -> int:
        """How many interactions were converted."""
        return len(self.cassette.interactions)

    @property
    def streams(self) -> int:
        """How many responses are event streams."""
        return sum(isinstance(item.response.body, SSEBody) for item in self.cassette.interactions)

    def summary(self) -> str:
        """``N interactions, M streams``."""
        return f"{self.interactions} interaction(s), {self.streams} stream(s)"


class _Notes:
    """Collects notes in order of first appearance; a note made for many interactions is shown once, counted."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, note: str) -> None:
        self._counts[note] += 1

    def lines(self) -> list[str]:
        return [
            note if count == 1 else f"{note} (\N{MULTIPLICATION SIGN}{count})"
            for note, count in self._counts.items()
        ]


# -- reading sources -------------------------------------------------------------------------------------------------


@dataclass
class _Exchange:
    """One request and response as any source format holds them, before conversion."""

    where: str
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str | None
    response_headers: list[tuple[str, str]]
    response_body: bytes
    body_was_parsed: bool = False
    """The source stored the response body parsed (test-proxy JSON), so its original layout is unknown."""


def _fail(source: Path | str, where: str, problem: str, fix: str = "") -> CassetteImportError:
    message = f"pytest-runs import: cannot import {source}\n  {where}: {problem}"
    return CassetteImportError(message + (f"\n{fix}" if fix else ""))


def _load_source(path: Path) -> Any:
    """The parsed content of a source file (JSON for ``.json``, YAML otherwise)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise _fail(
            path, "file", f"cannot be read ({error.strerror or error})", "Check the path and its permissions."
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _fail(path, f"byte {error.start}", "not UTF-8 text, so not a cassette") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as error:
            raise _fail(path, "JSON", f"not valid JSON ({error})") from None
    try:
        return yaml.load(text, Loader=_SourceLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "YAML"
        problem = getattr(error, "problem", None) or str(error)
        raise _fail(path, where, f"not YAML that can be read safely ({problem})") from None


def _header_pairs(raw: Any, where: str, source: Path) -> list[tuple[str, str]]:
    """Headers as (name, value) pairs, from a mapping of names to one value or a list of values."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise _fail(
            source, where, f"expected a mapping of header names to values, found {type(raw).__name__}"
        )
    pairs: list[tuple[str, str]] = []
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((str(name), _header_text(item)) for item in values if item is not None)
    return pairs


def _header_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text_bytes(value: Any, where: str, source: Path) -> bytes:
    """Body bytes from a string (UTF-8), bytes (binary) or nothing."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise _fail(source, where, f"expected a string or binary body, found {type(value).__name__}")


def _mapping(value: Any, where: str, source: Path) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(source, where, f"expected a mapping, found {type(value).__name__}")
    return value


def _items(value: Any, where: str, source: Path) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(source, where, f"expected a list, found {type(value).__name__}")
    return value


def _status(value: Any, where: str, source: Path) -> tuple[int, str | None]:
    """(code, reason) from ``{code, message}`` or a bare number."""
    if isinstance(value, Mapping):
        code, reason = value.get("code"), value.get("message")
    else:
        code, reason = value, None
    try:
        return int(str(code)), (str(reason) if reason else None)
    except ValueError:
        raise _fail(source, where, f"expected an HTTP status code, found {code!r}") from None


def _vcr_body(value: Any, where: str, source: Path) -> bytes:
    """A vcrpy or Ruby VCR body: a plain value, or a mapping with ``string`` (or Ruby's ``base64_string``)."""
    if isinstance(value, Mapping):
        if value.get("base64_string") is not None:
            try:
                return base64.b64decode("".join(str(value["base64_string"]).split()), validate=True)
            except (binascii.Error, ValueError) as error:
                raise _fail(source, f"{where}.base64_string", f"not base64 ({error})") from None
        return _text_bytes(value.get("string"), f"{where}.string", source)
    return _text_bytes(value, where, source)


def _read_vcr(items: list[Any], source: Path, *, ruby: bool) -> list[_Exchange]:
    """Exchanges of a vcrpy (``interactions``) or Ruby VCR (``http_interactions``) cassette."""
    key = "http_interactions" if ruby else "interactions"
    exchanges: list[_Exchange] = []
    for index, raw in enumerate(items):
        where = f"{key}[{index}]"
        item = _mapping(raw, where, source)
        request = _mapping(item.get("request"), f"{where}.request", source)
        response = _mapping(item.get("response"), f"{where}.response", source)
        method, url = request.get("method"), request.get("uri")
        if not method or not url:
            raise _fail(source, f"{where}.request", "a request needs 'method' and 'uri'")
        status, reason = _status(response.get("status"), f"{where}.response.status", source)
        exchanges.append(
            _Exchange(
                where=where,
                method=str(method).upper(),
                url=str(url),
                request_headers=_header_pairs(request.get("headers"), f"{where}.request.headers", source),
                request_body=_vcr_body(request.get("body"), f"{where}.request.body", source),
                status=status,
                reason=reason,
                response_headers=_header_pairs(response.get("headers"), f"{where}.response.headers", source),
                response_body=_vcr_body(response.get("body"), f"{where}.response.body", source),
            )
        )
    return exchanges


def _is_textual(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or "json" in media_type or "xml" in media_type


def _proxy_body(value: Any, content_type: str, where: str, source: Path) -> tuple[bytes, bool]:
    """(bytes, stored parsed) of a test-proxy body: parsed JSON, a list of text lines, base64, or nothing."""
    if value is None:
        return b"", False
    if "json" in content_type.lower() and not isinstance(value, str):
        return dump_json(value, "compact").encode("utf-8"), True
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        # Text bodies (SSE included) are kept as their lines, each with its own line ending.
        return "".join(value).encode("utf-8"), False
    if isinstance(value, (dict, list)):
        return dump_json(value, "compact").encode("utf-8"), True
    if isinstance(value, str):
        if _is_textual(content_type):
            return value.encode("utf-8"), False
        try:
            return base64.b64decode(value, validate=True), False
        except (binascii.Error, ValueError):
            return value.encode("utf-8"), False
    raise _fail(source, where, f"unexpected body of type {type(value).__name__}")


def _header_value(pairs: Iterable[tuple[str, str]], name: str) -> str | None:
    for key, value in pairs:
        if key.lower() == name:
            return value
    return None


def _read_test_proxy(items: list[Any], source: Path) -> list[_Exchange]:
    """Exchanges of a .NET test-proxy recording (``Entries``)."""
    exchanges: list[_Exchange] = []
    for index, raw in enumerate(items):
        where = f"Entries[{index}]"
        entry = _mapping(raw, where, source)
        method, url = entry.get("RequestMethod"), entry.get("RequestUri")
        if not method or not url:
            raise _fail(source, where, "an entry needs 'RequestMethod' and 'RequestUri'")
        status, _ = _status(entry.get("StatusCode"), f"{where}.StatusCode", source)
        request_headers = _header_pairs(entry.get("RequestHeaders"), f"{where}.RequestHeaders", source)
        response_headers = _header_pairs(entry.get("ResponseHeaders"), f"{where}.ResponseHeaders", source)
        request_body, _ = _proxy_body(
            entry.get("RequestBody"),
            _header_value(request_headers, "content-type") or "",
            f"{where}.RequestBody",
            source,
        )
        response_body, parsed = _proxy_body(
            entry.get("ResponseBody"),
            _header_value(response_headers, "content-type") or "",
            f"{where}.ResponseBody",
            source,
        )
        exchanges.append(
            _Exchange(
                where=where,
                method=str(method).upper(),
                url=str(url),
                request_headers=request_headers,
                request_body=request_body,
                status=status,
                reason=None,
                response_headers=response_headers,
                response_body=response_body,
                body_was_parsed=parsed,
            )
        )
    return exchanges


def detect_format(data: Any) -> str | None:
    """The importable format of parsed file content: ``vcrpy``, ``Ruby VCR``, ``.NET test-proxy``, or None."""
    if not isinstance(data, Mapping):
        return None
    interactions = data.get("interactions")
    if isinstance(interactions, list):
        if not interactions:
            return None  # an empty list says nothing about where it came from
        first = interactions[0] if interactions and isinstance(interactions[0], Mapping) else {}
        request = first.get("request")
        if isinstance(request, Mapping) and "url" in request and "uri" not in request:
            return None  # our own format: requests have a 'url'
        return "vcrpy"
    if isinstance(data.get("http_interactions"), list):
        return "Ruby VCR"
    if isinstance(data.get("Entries"), list):
        return ".NET test-proxy"
    return None


def _read_exchanges(data: Any, source: Path) -> tuple[str, list[_Exchange]]:
    """The format name and the exchanges of a parsed source file."""
    found = detect_format(data)
    if found == "vcrpy":
        return found, _read_vcr(data["interactions"], source, ruby=False)
    if found == "Ruby VCR":
        return found, _read_vcr(data["http_interactions"], source, ruby=True)
    if found == ".NET test-proxy":
        return found, _read_test_proxy(data["Entries"], source)
    if isinstance(data, Mapping) and data.get("version") == 1 and isinstance(data.get("interactions"), list):
        raise _fail(source, "top level", "this is already a pytest-runs cassette: nothing to import")
    shape = type(data).__name__
    if isinstance(data, Mapping):
        keys = sorted(map(str, data))
        shape = "top-level keys " + ", ".join(keys[:6]) + (", …" if len(keys) > 6 else "")
    raise _fail(
        source,
        "top level",
        f"not a cassette format pytest-runs can import (found {shape})",
        "Importable: vcrpy/pytest-recording ('interactions'), Ruby VCR ('http_interactions') and .NET "
        "test-proxy ('Entries') recordings.",
    )


# -- converting ------------------------------------------------------------------------------------------------------


def _content_type(headers: Mapping[str, str | list[str]]) -> str | None:
    value = headers.get("content-type")
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _decoded(data: bytes, encoding: str | None, notes: _Notes) -> tuple[bytes, str | None, bool]:
    """(bytes, the coding undone or None, whether the body could be decoded)."""
    if not encoding or not data or encoding.strip().lower() == "identity":
        return data, None, True
    try:
        return decode_content(data, encoding), encoding, True
    except ValueError as error:
        if not _looks_decoded(data):
            # Compressed bytes cannot be searched for secrets: such a body must not be written.
            raise ValueError(
                f"a {encoding} body cannot be decoded here ({error}), so it cannot be checked for secrets; install "
                "the decoder (brotli or brotlicffi for br; backports.zstd or zstandard for zstd) and import again"
            ) from None
        # vcrpy's decode_compressed_response stores bodies decoded; a header left behind says otherwise.
        notes.add(f"a body marked content-encoding {encoding} was stored decoded already; kept as it is")
        return data, None, True


def _looks_decoded(data: bytes) -> bool:
    """Whether bytes read as plain text: UTF-8 without control characters (compressed data almost never is)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ord(character) < 32 and character not in "\t\n\r" for character in text)


def _stored_body(
    data: bytes, headers: dict[str, str | list[str]], encoding: str | None, notes: _Notes, redactor: Redactor
) -> Body | None:
    """The stored body (by kind, decoded, redacted); ``headers`` keep ``content-encoding`` only when the body could
    not be decoded."""
    decoded, coding, ok = _decoded(data, encoding, notes)
    if not ok and encoding:
        headers["content-encoding"] = encoding
        body: Body | None = body_from_bytes(decoded, "application/octet-stream")
    else:
        body = body_from_bytes(decoded, _content_type(headers))
        if body is not None and coding:
            body.compressed = coding
    return redactor.body(body)


def _pop(headers: list[tuple[str, str]], name: str) -> list[str]:
    """Remove every header ``name`` from ``headers``, returning their values."""
    values = [value for key, value in headers if key.lower() == name]
    headers[:] = [(key, value) for key, value in headers if key.lower() != name]
    return values


def _framing(headers: list[tuple[str, str]], notes: _Notes) -> None:
    """Drop framing headers that no longer describe the stored body: replay derives ``content-length`` itself."""
    lengths = _pop(headers, "content-length")
    chunked = [value for key, value in headers if key.lower() == "transfer-encoding"]
    if lengths and chunked:
        # Both were recorded (vcrpy adds a length after decoding): they contradict each other, keep neither.
        _pop(headers, "transfer-encoding")
        notes.add("dropped content-length and transfer-encoding given together; replay derives the length")


def _convert(exchange: _Exchange, redactor: Redactor, notes: _Notes) -> Interaction:
    """One exchange as an interaction, the way a live recording stores it."""
    request_pairs = list(exchange.request_headers)
    request_encoding = _pop(request_pairs, "content-encoding")
    request_headers = redactor.headers(store_headers(request_pairs))
    request = RecordedRequest(
        method=exchange.method,
        url=redactor.url(exchange.url),
        headers=request_headers,
        body=_stored_body(
            exchange.request_body,
            request_headers,
            request_encoding[0] if request_encoding else None,
            notes,
            redactor,
        ),
    )
    response_pairs = list(exchange.response_headers)
    _framing(response_pairs, notes)
    response_encoding = _pop(response_pairs, "content-encoding")
    response_headers = redactor.headers(store_headers(response_pairs))
    response = RecordedResponse(
        status=exchange.status,
        reason=redactor.text(exchange.reason)
        if exchange.reason and exchange.reason != _phrase(exchange.status)
        else None,
        headers=response_headers,
        body=_stored_body(
            exchange.response_body,
            response_headers,
            response_encoding[0] if response_encoding else None,
            notes,
            redactor,
        ),
    )
    if exchange.body_was_parsed and isinstance(response.body, JsonBody):
        # The API pretty-prints JSON bodies with two spaces; the source kept only the parsed value.
        response.body.layout = "indent 2"
        notes.add(
            "JSON bodies were stored parsed by the source; written back as the API prints them (indent 2)"
        )
    _note_stream(response.body, notes)
    return Interaction(request=request, response=response)


def _phrase(status: int) -> str:
    """The standard reason phrase of ``status`` (empty for codes without one)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _note_stream(body: Body | None, notes: _Notes) -> None:
    """Note stream events whose data looks like JSON but does not parse, and unterminated streams."""
    if not isinstance(body, SSEBody):
        return
    for event in body.sse:
        if isinstance(event.data, str) and event.data[:1] in ("{", "[") and event.data != "[DONE]":
            notes.add(
                f"a {event.event or 'message'} event's data looks like JSON but does not parse; kept as text"
            )
    if body.tail:
        notes.add(
            "a stream ends inside an event (no blank line after it); the partial event is kept as 'tail'"
        )


def _leak_check(text: str, redactor: Redactor, source: Path) -> None:
    leaks = find_leaks(text, redactor.secrets(), redactor.rules)
    if leaks:
        places = "\n".join(
            f"  {field_at_line(text, leak.line)} (line {leak.line}): {leak.what}: {leak.excerpt}"
            for leak in leaks[:10]
        )
        raise CassetteImportError(
            f"pytest-runs import: cannot import {source}: the converted cassette would still contain secrets.\n"
            f"{places}\nNothing was written. Add a redaction rule that covers them (ini runs_redact, or --rule), "
            "then import again."
        )


def import_file(path: Path, *, redactor: Redactor | None = None) -> ImportResult:
    """Convert the recording at ``path`` into a pytest-runs cassette (nothing is written).

    ``redactor`` says what is secret beyond the defaults (API keys from the environment, key shapes, credential
    headers). Raises :class:`CassetteImportError` naming the file, the place and the problem when the file cannot be
    read or converted, or when the result would still contain a secret.
    """
    redactor = redactor or Redactor()
    source_format, exchanges = _read_exchanges(_load_source(path), path)
    notes = _Notes()
    interactions: list[Interaction] = []
    for exchange in exchanges:
        try:
            interactions.append(_convert(exchange, redactor, notes))
        except ValueError as error:  # pydantic's ValidationError included
            raise _fail(path, exchange.where, f"cannot be converted ({error})") from None
    cassette = normalise_cassette(CassetteFile(interactions=interactions))
    text = dump_cassette(cassette)
    _leak_check(text, redactor, path)
    return ImportResult(path, source_format, cassette, text, notes.lines())


# -- files -----------------------------------------------------------------------------------------------------------


def source_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The files to import: files as given, and every ``.yaml``/``.yml``/``.json`` file under directories (sorted)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                file
                for file in path.rglob("*")
                if file.is_file()
                and file.suffix.lower() in SOURCE_SUFFIXES
                # Hidden folders (.git, .venv, .pytest_cache) and virtual environments hold no recordings to import.
                and not any(
                    part.startswith(".") or part in _SKIPPED_DIRS
                    for part in file.relative_to(path).parts[:-1]
                )
            )
        else:
            yield path


def output_path(source: Path, out_dir: Path) -> Path:
    """Where the cassette imported from ``source`` goes: the same name with ``.yaml``, in ``out_dir``."""
    return out_dir / f"{source.stem}.yaml"


def write_result(result: ImportResult, out_dir: Path, *, force: bool = False) -> Path:
    """Write an imported cassette into ``out_dir`` (atomically) and return its path.

    Raises FileExistsError when the file exists and ``force`` is false: an import never replaces a cassette unasked.
    """
    target = output_path(result.source, out_dir)
    if target.exists() and not force:
        raise FileExistsError(f"{target} already exists; not overwritten (pass --force to replace it)")
    write_atomic(target, result.text)
    return target
