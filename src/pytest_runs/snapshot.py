"""Snapshots of runs that read well and never churn: a syrupy extension and the ``run_snapshot`` fixture's engine.

syrupy prints a pydantic model as its one-line ``repr``, so ``exclude=`` and matchers cannot reach its fields, and
every re-recording changes its IDs and times. :class:`RunSnapshotExtension` first turns models (ours and the openai
SDK's, any version) into plain objects named after their class, with one attribute per field, nested models
included; then secrets are redacted and IDs and timestamps go through the active cassette's normaliser, so a snapshot taken while recording
equals the one taken while replaying. The result is written in syrupy's amber format: one field per line, fields in
sorted order, and ``exclude=props("usage")``, ``paths("usage.total_tokens")`` or ``matcher=path_type(...)`` work at
any depth.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from syrupy.extensions.amber import AmberSnapshotExtension

from .activation import active_cassette
from .errors import SecretLeakError
from .redact import Redactor, Rules, find_leaks

__all__ = ["RunSnapshotExtension", "snapshot_value"]


class _Fields:
    """A model turned into plain attributes (syrupy prints such objects as ``Name(field=value, ...)``)."""


_CLASSES: dict[str, type[_Fields]] = {}


def _named(name: str) -> type[_Fields]:
    # One class per model name, so ours and the SDK's ``Run`` print the same.
    if name not in _CLASSES:
        _CLASSES[name] = type(name, (_Fields,), {"__module__": __name__})
    return _CLASSES[name]


def _is_model(value: Any) -> bool:
    # pydantic v2 models have ``model_fields``; the openai SDK's models on pydantic v1 have ``__fields__`` and the
    # SDK's own ``model_dump``.
    model_class = type(value)
    return callable(getattr(value, "model_dump", None)) and (
        hasattr(model_class, "model_fields") or hasattr(model_class, "__fields__")
    )


def _dump(value: Any) -> Any:
    """The JSON-like form of ``value``: models dumped (openai's own ``model_dump`` also works on pydantic v1)."""
    if _is_model(value):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {key: _dump(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_dump(item) for item in value]
    return value


def _rebuild(original: Any, normalised: Any) -> Any:
    """Pair the normalised JSON-like value with the original, to give models back their names."""
    if _is_model(original) and isinstance(normalised, dict):
        plain = _named(type(original).__name__)()
        for key, value in normalised.items():
            setattr(plain, key, _rebuild(getattr(original, key, None), value))
        return plain
    if isinstance(normalised, dict):
        originals = list(original.values()) if isinstance(original, Mapping) else []
        return {
            key: _rebuild(originals[index] if index < len(originals) else None, value)
            for index, (key, value) in enumerate(normalised.items())
        }
    if isinstance(normalised, list):
        originals = list(original) if isinstance(original, list | tuple) else []
        return [
            _rebuild(originals[index] if index < len(originals) else None, value)
            for index, value in enumerate(normalised)
        ]
    return normalised


def snapshot_value(
    value: Any, normalise: Callable[[Any], Any] | None = None, rules: Rules | None = None
) -> Any:
    """What a snapshot of ``value`` holds: models as named plain objects, secrets redacted, IDs and times through
    ``normalise`` (default: the active cassette's, which redacts too; without a cassette, ``rules`` or the default
    redaction)."""
    if normalise is None:
        cassette = active_cassette()
        # Without a cassette, redaction still applies: a snapshot file must not hold a key either.
        normalise = cassette.normalised if cassette is not None else Redactor(rules or Rules.build()).value
    dumped = _dump(value)
    dumped = normalise(dumped)
    return _rebuild(value, dumped)


class RunSnapshotExtension(AmberSnapshotExtension):
    """A syrupy extension for runs, stream events, transcripts and anything JSON-like (see the module docstring).

    Use it through the ``run_snapshot`` fixture, or with ``snapshot.use_extension(RunSnapshotExtension)``. Before a
    snapshot is compared or written, its text is searched for secrets like a cassette is, and a hit fails the test.
    """

    redaction: Rules | None = None
    """The project's redaction rules, for snapshots taken without a cassette (the fixture sets them)."""

    def serialize(self, data: Any, **kwargs: Any) -> str:
        """The snapshot text of ``data`` (syrupy's ``exclude``, ``include`` and ``matcher`` apply as usual)."""
        text = str(super().serialize(snapshot_value(data, rules=self.redaction), **kwargs))
        cassette = active_cassette()
        if cassette is not None:
            leaks = cassette.secrets_in(text)
        else:
            redactor = Redactor(self.redaction or Rules.build())
            leaks = find_leaks(text, redactor.secrets(), redactor.rules)
        if leaks:
            # Values redaction cannot reach (bytes, sets, objects) end up here rather than in a snapshot file.
            places = "\n".join(
                f"  snapshot line {leak.line}: {leak.what}: {leak.excerpt}" for leak in leaks[:10]
            )
            raise SecretLeakError(
                f"pytest-runs: refusing this snapshot: it would contain secrets.\n{places}\n"
                "Snapshot a value without them (redaction covers JSON-like values and models; exclude= the field), "
                "or add a redaction rule (see the README, 'Secrets')."
            )
        return text
