"""Settings of one test: the marker, the command line, the ini file and the defaults resolved into one object.

Precedence, highest first: the ``runs_cassette`` marker (closest to the test: function, then class, then module),
then the command line (``--runs-record-mode``, ``--runs-cassette-dir``), then the ini file (``runs_record_mode``,
``runs_cassette_dir``), then the defaults (record mode ``none``, directory ``cassettes`` under the rootdir).
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .redact import MIN_SECRET_LENGTH, Rules
from .session import RECORD_MODES
from .state import INI_RULES_KEY

__all__ = [
    "DEFAULT_CASSETTE_DIR",
    "DEFAULT_RECORD_MODE",
    "MARKER_SIGNATURE",
    "TestSettings",
    "cassette_path",
    "marker_problems",
    "resolve",
]

DEFAULT_RECORD_MODE = "none"
DEFAULT_CASSETTE_DIR = "cassettes"
MARKER_SIGNATURE = "runs_cassette(name=None, *, record_mode=None, normalise=None)"
_MARKER_KEYWORDS = ("name", "record_mode", "normalise")


@dataclass(frozen=True, slots=True)
class TestSettings:
    """Everything pytest-runs needs to know to give one test its cassette."""

    __test__ = False  # not a test class, despite the name

    record_mode: str
    record_mode_source: str
    cassette_dir: Path
    path: Path
    display_path: str
    rerecord_command: str
    redaction: Rules
    normalise: bool = True
    id_prefixes: tuple[str, ...] = ()
    load_cache_dir: Path | None = None


def _hook_rules(item: pytest.Item) -> list[tuple[str, str | re.Pattern[str]]]:
    """The rules ``pytest_runs_redact`` implementations return for this test, checked."""
    rules: list[tuple[str, str | re.Pattern[str]]] = []
    for result in item.ihook.pytest_runs_redact(config=item.config):
        for rule in result or ():
            # The rule itself is never shown: it is a secret.
            if not isinstance(rule, str | re.Pattern):
                raise pytest.UsageError(
                    f"pytest-runs: a pytest_runs_redact hook returned a value of type {type(rule).__name__}; rules are "
                    "str (a "
                    "literal secret) or re.Pattern (compiled with re.compile)."
                )
            if isinstance(rule, str) and len(rule) < MIN_SECRET_LENGTH:
                raise pytest.UsageError(
                    f"pytest-runs: a pytest_runs_redact hook returned a literal shorter than {MIN_SECRET_LENGTH} "
                    "characters; it would match ordinary text. Return a re.Pattern that says what the secret looks "
                    "like."
                )
            if isinstance(rule, re.Pattern) and rule.search(""):
                raise pytest.UsageError(
                    f"pytest-runs: a pytest_runs_redact hook returned the pattern {rule.pattern!r}, which matches "
                    "the empty string, so it would redact nothing."
                )
            rules.append(("the pytest_runs_redact hook", rule))
    return rules


def _normalise(config: pytest.Config, marker_kwargs: dict[str, Any]) -> bool:
    """Whether IDs and timestamps are normalised: the marker's ``normalise=``, else ini ``runs_normalise``."""
    if marker_kwargs.get("normalise") is not None:
        return bool(marker_kwargs["normalise"])
    return bool(config.getini("runs_normalise"))


def _load_cache_dir(config: pytest.Config) -> Path | None:
    """Where parsed large cassettes are kept: pytest's cache, when the cacheprovider plugin is active."""
    cache = getattr(config, "cache", None)
    return None if cache is None else Path(cache.mkdir("pytest-runs"))


def marker_problems(marker: pytest.Mark) -> list[str]:
    """What is wrong with a ``runs_cassette`` marker's arguments (empty when nothing is)."""
    problems = []
    if len(marker.args) > 1:
        problems.append(f"it takes at most one positional argument (the name), got {len(marker.args)}")
    if marker.args and "name" in marker.kwargs:
        problems.append("the name is given twice (positionally and as name=)")
    unknown = sorted(set(marker.kwargs) - set(_MARKER_KEYWORDS))
    if unknown:
        problems.append(f"unknown argument(s) {', '.join(unknown)}; valid: {', '.join(_MARKER_KEYWORDS)}")
    normalise = marker.kwargs.get("normalise")
    if normalise is not None and not isinstance(normalise, bool):
        problems.append(f"normalise must be True or False, got {normalise!r}")
    mode = marker.kwargs.get("record_mode")
    if mode is not None and mode not in RECORD_MODES:
        problems.append(f"record_mode={mode!r} is not a record mode; valid: {', '.join(RECORD_MODES)}")
    name = marker.args[0] if marker.args else marker.kwargs.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.append(f"name must be a non-empty string, got {name!r}")
    return problems


_UNSAFE = re.compile(r"[^A-Za-z0-9._\[\]-]")


def _safe_part(text: str) -> str:
    """A file-name-safe version of ``text``; when characters had to be replaced, a short hash of the original is
    appended so that two different ids never end up with the same file."""
    safe = _UNSAFE.sub("_", text)
    if safe != text:
        safe += "-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return safe


def cassette_path(item: pytest.Item, cassette_dir: Path, name: str | None) -> Path:
    """Where a test's cassette lives: ``<dir>/<module path>/<Class.test[param]>.yaml``, or ``<name>.yaml`` in the
    module's folder when the marker names it."""
    rootdir = Path(item.config.rootpath)
    try:
        module = item.path.relative_to(rootdir).with_suffix("")
    except ValueError:
        module = Path(item.path.stem)
    folder = cassette_dir.joinpath(*(_safe_part(part) for part in module.parts))
    if name is not None:
        relative = Path(name)
        return folder / (
            relative if relative.suffix in (".yaml", ".yml") else relative.with_name(relative.name + ".yaml")
        )
    test = ".".join(item.nodeid.split("::")[1:]) or item.name
    return folder / f"{_safe_part(test)}.yaml"


def _cli_or_ini(config: pytest.Config, option: str, ini: str) -> tuple[Any, str]:
    value = config.getoption(option)
    if value is not None:
        return value, "command line"
    value = config.getini(ini)
    if value:
        return value, "ini"
    return None, "default"


def resolve(item: pytest.Item) -> TestSettings:
    """The settings for ``item``, by the precedence above."""
    config = item.config
    marker = item.get_closest_marker("runs_cassette")
    marker_kwargs = dict(marker.kwargs) if marker else {}
    mode, source = _cli_or_ini(config, "runs_record_mode", "runs_record_mode")
    if marker_kwargs.get("record_mode") is not None:
        mode, source = marker_kwargs["record_mode"], "marker"
    if mode is None:
        mode = DEFAULT_RECORD_MODE
    directory, _ = _cli_or_ini(config, "runs_cassette_dir", "runs_cassette_dir")
    cassette_dir = Path(config.rootpath) / (directory or DEFAULT_CASSETTE_DIR)
    name = (marker.args[0] if marker and marker.args else marker_kwargs.get("name")) if marker else None
    path = cassette_path(item, cassette_dir, name)
    try:
        display = str(path.relative_to(config.rootpath))
    except ValueError:
        display = str(path)
    redaction = Rules.build(
        config.getini("runs_secret_env") or (), [*config.stash.get(INI_RULES_KEY, []), *_hook_rules(item)]
    )
    return TestSettings(
        record_mode=str(mode),
        record_mode_source=source,
        cassette_dir=cassette_dir,
        path=path,
        display_path=display,
        rerecord_command=f"pytest {shlex.quote(item.nodeid)}",
        redaction=redaction,
        normalise=_normalise(config, marker_kwargs),
        id_prefixes=tuple(config.getini("runs_id_prefixes") or ()),
        load_cache_dir=_load_cache_dir(config),
    )
