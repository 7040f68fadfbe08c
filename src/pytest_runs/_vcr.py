"""The only module that touches vcrpy: its Cassette gives us record modes, play counts and recorded-order replay.

We use vcrpy's :class:`vcr.cassette.Cassette` as an engine and nothing else: no vcrpy patchers are installed (our own
streaming-aware transport stubs in :mod:`pytest_runs.intercept` replace its buffering httpx stubs), requests are
matched by our :mod:`pytest_runs.matching`, and files are read and written by :mod:`pytest_runs.storage` through a
persister object, so vcrpy never serialises anything itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from vcr.cassette import Cassette as _VcrCassette
from vcr.record_mode import RecordMode as _VcrRecordMode
from vcr.request import Request as _VcrRequest

from .bodies import body_bytes
from .cassette import CassetteFile, Interaction, RecordedRequest, RecordedResponse
from .matching import MatchKey, RecordedCandidate, match_key
from .normalise import Normaliser

__all__ = ["Engine"]

# Our record modes on vcrpy's. ``rewrite`` is vcrpy's ``all`` started from an empty cassette: the old file is not
# loaded, so what the test records replaces it entirely (and only once the test has passed).
_MODES = {
    "none": _VcrRecordMode.NONE,
    "once": _VcrRecordMode.ONCE,
    "new_episodes": _VcrRecordMode.NEW_EPISODES,
    "all": _VcrRecordMode.ALL,
    "rewrite": _VcrRecordMode.ALL,
}

_ATTRIBUTE = "_pytest_runs_request"


def _vcr_request(request: RecordedRequest) -> Any:
    vcr_request = _VcrRequest(request.method, request.url, body_bytes(request.body), {})
    setattr(vcr_request, _ATTRIBUTE, (request, match_key(request)))
    return vcr_request


def _ours(vcr_request: Any) -> tuple[RecordedRequest, MatchKey]:
    value: tuple[RecordedRequest, MatchKey] = getattr(vcr_request, _ATTRIBUTE)
    return value


class _Slot:
    """Holds one recorded response inside vcrpy's cassette.

    vcrpy deep-copies every response it is given (to protect a live response from later mutation). Ours are built
    for the cassette and never shared, and deep-copying the models of a long stream costs more than replaying it,
    so the slot copies as itself.
    """

    __slots__ = ("response",)

    def __init__(self, response: RecordedResponse) -> None:
        self.response = response

    def __deepcopy__(self, memo: dict[int, Any]) -> _Slot:
        return self


def by_meaning(left: Any, right: Any) -> bool:
    """vcrpy matcher: the two requests mean the same (see :mod:`pytest_runs.matching`)."""
    return _ours(left)[1].matches(_ours(right)[1])


class _Persister:
    """Adapts our load/save functions to vcrpy's persister protocol (it passes a serializer we do not use)."""

    def __init__(self, load: Callable[[], CassetteFile | None], save: Callable[[CassetteFile], None]) -> None:
        self._load = load
        self._save = save

    def load_cassette(self, cassette_path: Any, serializer: Any) -> tuple[list[Any], list[Any]]:
        from vcr.persisters.filesystem import CassetteNotFoundError

        cassette = self._load()
        if cassette is None:
            raise CassetteNotFoundError(str(cassette_path))
        return (
            [_vcr_request(interaction.request) for interaction in cassette.interactions],
            [_Slot(interaction.response) for interaction in cassette.interactions],
        )

    def save_cassette(self, cassette_path: Any, cassette_dict: dict[str, Any], serializer: Any) -> None:
        interactions = [
            Interaction(request=_ours(request)[0], response=slot.response)
            for request, slot in zip(cassette_dict["requests"], cassette_dict["responses"], strict=True)
        ]
        self._save(CassetteFile(interactions=interactions))


class Engine:
    """One cassette's interactions with vcrpy's record-mode rules.

    ``load`` returns the stored cassette (or None when there is no file); ``save`` persists a cassette.
    """

    def __init__(
        self,
        path: Path,
        record_mode: str,
        *,
        load: Callable[[], CassetteFile | None],
        save: Callable[[CassetteFile], None],
        normaliser: Normaliser | None = None,
    ) -> None:
        persister = _Persister(load, save)
        self._normaliser = normaliser
        self._cassette = _VcrCassette(
            str(path),
            persister=persister,
            record_mode=_MODES[record_mode],
            match_on=(by_meaning if normaliser is None else self._matches_under_mapping,),
        )
        if record_mode != "rewrite":
            self._cassette._load()

    @property
    def loaded(self) -> bool:
        """Whether interactions were loaded from an existing file."""
        return bool(self._cassette.rewound)

    @property
    def may_record(self) -> bool:
        """Whether a request with no recorded response may go to the real server and be recorded."""
        return not self._cassette.write_protected

    def play(self, request: RecordedRequest) -> RecordedResponse | None:
        """The next unplayed response recorded for a request that means the same, marked played; None if none.

        Only interactions loaded from the file are played: in ``new_episodes`` a response recorded earlier in the same
        test must not answer a later identical request (a poll), which has to reach the server again.
        """
        vcr_cassette = self._cassette
        if vcr_cassette.record_mode == _VcrRecordMode.ALL or not vcr_cassette.rewound:
            return None  # vcrpy's rule: ``all`` never replays, and nothing was loaded
        vcr_request = _vcr_request(request)
        matcher = vcr_cassette._match_on[0]
        loaded = vcr_cassette._loaded_count
        found = next(
            (
                index
                for index, (recorded, _) in enumerate(vcr_cassette.data[:loaded])
                if vcr_cassette.play_counts[index] == 0 and matcher(vcr_request, recorded)
            ),
            None,
        )
        if found is None:
            return None
        vcr_cassette.play_counts[found] += 1
        recorded, slot = vcr_cassette.data[found]
        if self._normaliser is not None:
            # Remember which real IDs the request revealed, so the replayed responses can say them again.
            bindings = self._bindings(_ours(vcr_request)[1], _ours(recorded)[1])
            if bindings:
                self._normaliser.commit(bindings)
        response: RecordedResponse = slot.response
        return response

    def _bindings(self, sent: MatchKey, recorded: MatchKey) -> dict[str, str] | None:
        assert self._normaliser is not None
        if sent.method != recorded.method or sent.body_is_json != recorded.body_is_json:
            return None
        return self._normaliser.bindings_for(
            (sent.path, sent.query, sent.body), (recorded.path, recorded.query, recorded.body)
        )

    def _matches_under_mapping(self, left: Any, right: Any) -> bool:
        """vcrpy matcher: the requests mean the same once real IDs are read as the recorded placeholders (see
        :meth:`pytest_runs.normalise.Normaliser.bindings_for`)."""
        sent, recorded = _ours(left)[1], _ours(right)[1]
        return sent.matches(recorded) or self._bindings(sent, recorded) is not None

    def record(self, request: RecordedRequest, response: RecordedResponse) -> RecordedResponse:
        """Append an interaction and return the stored response object, which the caller fills in as the body
        arrives."""
        slot = _Slot(response)
        self._cassette.append(_vcr_request(request), slot)
        return slot.response

    def candidates(self) -> list[RecordedCandidate]:
        """Every interaction the cassette holds, with whether it was played, for a miss diagnosis."""
        return [
            RecordedCandidate(
                index=index,
                request=_ours(vcr_request)[0],
                key=_ours(vcr_request)[1],
                played=self._cassette.play_counts[index] > 0,
            )
            for index, (vcr_request, _) in enumerate(self._cassette.data)
        ]

    def interactions(self) -> list[Interaction]:
        """All interactions, loaded and recorded, in order."""
        return [
            Interaction(request=_ours(vcr_request)[0], response=slot.response)
            for vcr_request, slot in self._cassette.data
        ]

    @property
    def dirty(self) -> bool:
        """Whether something was recorded that is not saved yet."""
        return bool(self._cassette.dirty)

    def save(self) -> None:
        """Persist according to the record mode (nothing when nothing new was recorded)."""
        self._cassette._save()
