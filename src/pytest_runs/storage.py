"""Reading and writing cassette files: fast libyaml loading, precise errors, atomic writes.

Loading uses libyaml's ``CSafeLoader`` when PyYAML was built with it (20-70x faster than the pure-Python loader).
When a file does not load, the error names the file, the line and the field, and what is wrong; the line is found by
composing the document a second time, so the fast path pays nothing for it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .bodies import reconcile_raw
from .cassette import FORMAT_VERSION, CassetteFile, SSEBody
from .errors import CassetteFormatError
from .load_cache import cached_parse

__all__ = [
    "dump_cassette",
    "field_at_line",
    "format_loc",
    "line_of",
    "load_cassette",
    "parse_cassette",
    "write_atomic",
]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

HEADER_COMMENT = "# pytest-runs cassette, format 1: readable, and editable by hand.\n"


class _CassetteDumper(_Dumper):  # type: ignore[misc,valid-type]
    """A dumper that writes multi-line text as block literals, so bodies and frames read (and diff) as text."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value[:-1] or (value.endswith("\n") and len(value) > 1):
        # Block literals cannot hold trailing spaces on a line or some control characters; PyYAML falls back to a
        # quoted style by itself in those cases.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_CassetteDumper.add_representer(str, _represent_str)


def dump_cassette(cassette: CassetteFile) -> str:
    """The YAML text of a cassette: stable key order, raw UTF-8, block literals for multi-line text."""
    data = cassette.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    # ``version`` equals its default but must always be written: it is what makes the file self-describing.
    data = {"version": cassette.version, **data}
    data.setdefault("interactions", [])
    text = yaml.dump(
        data,
        Dumper=_CassetteDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return HEADER_COMMENT + str(text)


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` (UTF-8 with ``\n`` line ends, or bytes as they are) to ``path`` so that readers see the old
    file or the new one, never half of one.

    The text goes to a temporary file in the same directory, is flushed to disk, then renamed over ``path``.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); a cassette is a project file: keep the old file's mode, or give
        # the one a newly created file gets.
        os.chmod(temp_name, _mode_for(path))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def format_loc(loc: Sequence[int | str]) -> str:
    """A location as a path people read: ``interactions[2].response.body``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _strip_tags(loc: Sequence[int | str]) -> list[int | str]:
    """Drop the discriminator tags pydantic puts after a ``body`` key (``body.sse.sse[3]`` -> ``body.sse[3]``)."""
    parts = list(loc)
    cleaned: list[int | str] = []
    index = 0
    while index < len(parts):
        cleaned.append(parts[index])
        if parts[index] == "body" and index + 2 < len(parts) and parts[index + 1] == parts[index + 2]:
            index += 1
        index += 1
    return cleaned


def line_of(text: str, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the node at ``loc`` in the YAML ``text`` (or of its nearest existing parent)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line: int = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def field_at_line(text: str, line: int) -> str:
    """The path of the innermost node of the YAML ``text`` that covers 1-based ``line``, such as
    ``interactions[2].response.body.sse[5].data.error.message`` (``line N`` when the text does not compose)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return f"line {line}"
    target = line - 1
    loc: list[int | str] = []

    def covers(candidate: yaml.Node) -> bool:
        # A block scalar's end mark is on the line after its last line.
        return bool(
            candidate.start_mark.line <= target <= max(candidate.start_mark.line, candidate.end_mark.line - 1)
        )

    while node is not None:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.start_mark.line <= target and (covers(value) or key.start_mark.line == target):
                    child = value
                    loc.append(key.value if isinstance(key, yaml.ScalarNode) else "?")
                    break
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                if covers(item):
                    child = item
                    loc.append(index)
                    break
        if child is None:
            break
        node = child
    return format_loc(loc) if loc else f"line {line}"


def parse_cassette(text: str, path: Path | str, *, fix_hint: str = "") -> CassetteFile:
    """Parse the YAML ``text`` of the cassette at ``path`` (used in messages), or raise a precise
    :class:`CassetteFormatError`."""

    def fail(where: str, problem: str) -> CassetteFormatError:
        return CassetteFormatError(
            f"pytest-runs: cannot load cassette {path}\n  {where}: {problem}\n"
            "The file is damaged or was edited by hand into something pytest-runs cannot read. "
            "Fix the place named above"
            + (f", or record the cassette again:\n  {fix_hint}" if fix_hint else ".")
        )

    try:
        data: Any = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
        problem = getattr(error, "problem", None) or str(error)
        raise fail(where, f"not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise fail(
            "line 1", f"expected a mapping with 'version' and 'interactions', found {type(data).__name__}"
        )
    version = data.get("version")
    if version != FORMAT_VERSION:
        found = "no 'version' key" if version is None else f"version {version!r}"
        raise fail(
            f"line {line_of(text, ['version']) or 1}",
            f"unsupported cassette format: {found}; this pytest-runs reads version {FORMAT_VERSION}. "
            "A vcrpy cassette can be converted with `pytest-runs import`.",
        )
    try:
        cassette = CassetteFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        loc = _strip_tags(first["loc"])
        line = line_of(text, loc)
        where = f"line {line} ({format_loc(loc)})" if line else format_loc(loc)
        more = f" (and {error.error_count() - 1} more problem(s))" if error.error_count() > 1 else ""
        raise fail(where, f"{first['msg']}{more}") from None
    for interaction in cassette.interactions:
        body = interaction.response.body
        if isinstance(body, SSEBody):
            for event in body.sse:
                reconcile_raw(event)
    return cassette


def load_cassette(
    path: Path, *, fix_hint: str = "", shown_as: str | None = None, cache_dir: Path | None = None
) -> CassetteFile:
    """Load the cassette file at ``path`` (which must exist); messages name it ``shown_as`` when given.

    With ``cache_dir``, a large cassette is parsed once and later loaded from its validated form (see
    :mod:`pytest_runs.load_cache`).
    """
    data = path.read_bytes()
    return cached_parse(
        path, data, cache_dir, lambda: _parse_bytes(data, shown_as or str(path), fix_hint=fix_hint)
    )


def _parse_bytes(data: bytes, name: str, *, fix_hint: str) -> CassetteFile:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CassetteFormatError(
            f"pytest-runs: cannot load cassette {name}\n  byte {error.start}: not UTF-8 text. "
            "Cassettes are UTF-8 YAML; restore the file from version control"
            + (f", or record it again:\n  {fix_hint}" if fix_hint else ".")
        ) from None
    return parse_cassette(text, name, fix_hint=fix_hint)
