"""Views of a cassette's interactions as parsed objects: the runs it saw, the stream events it holds, the run-creation
requests it recorded, and the documented constraints those requests break.

All of them read the stored interactions only; none changes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError

from .cassette import Interaction, JsonBody, SSEBody
from .errors import CassetteFormatError
from .models import Run, RunCreateParams, StreamEvent, ThreadCreateAndRunParams, parse_event

__all__ = ["constraint_problems", "events_of", "requests_of", "runs_of"]

# The path ends of the two run-creating calls, after any prefix (``/v1``, a proxy's own prefix, ...).
_CREATE_THREAD_AND_RUN = re.compile(r"(?:^|/)threads/runs/?$")
_CREATE_RUN = re.compile(r"(?:^|/)threads/[^/]+/runs/?$")
_INCLUDE_KEYS = ("include[]", "include")


def events_of(interactions: Sequence[Interaction]) -> list[StreamEvent]:
    """Every stream event of every response, in order, parsed with :func:`pytest_runs.models.parse_event`.

    Frames that carry neither an event name nor data (stray blank lines, comment-only frames) are not events and
    are left out. Parsing never fails: an event that cannot be typed is an :class:`~pytest_runs.models.UnknownEvent`.
    """
    return [
        parse_event(event.event, event.data)
        for interaction in interactions
        if isinstance(interaction.response.body, SSEBody)
        for event in interaction.response.body.sse
        if event.event is not None or event.data is not None
    ]


def _run_payloads(interactions: Sequence[Interaction]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``thread.run`` object a response carried, with where it was: whole JSON bodies, items of list bodies
    (``{"object": "list", "data": [...]}``), and stream event data, in order."""
    for index, interaction in enumerate(interactions):
        body = interaction.response.body
        where = f"interaction {index} ({_short(interaction)})"
        candidates: list[tuple[str, Any]] = []
        if isinstance(body, JsonBody):
            value = body.json_
            if (
                isinstance(value, dict)
                and value.get("object") == "list"
                and isinstance(value.get("data"), list)
            ):
                candidates = [(f"{where}, data[{item}]", entry) for item, entry in enumerate(value["data"])]
            else:
                candidates = [(where, value)]
        elif isinstance(body, SSEBody):
            candidates = [(f"{where}, event {number}", event.data) for number, event in enumerate(body.sse)]
        for place, value in candidates:
            if (
                isinstance(value, dict)
                and value.get("object") == "thread.run"
                and isinstance(value.get("id"), str)
            ):
                yield place, value


def runs_of(interactions: Sequence[Interaction]) -> list[Run]:
    """The latest state of each run the interactions show, in order of first appearance.

    Runs are read from JSON response bodies (a run, or a list of runs) and from the data of stream events; a later
    state of the same run id replaces the earlier one in place. Payloads are taken as recorded (a
    ``thread.run.completed`` event whose run says ``incomplete`` gives an incomplete run).

    Raises:
        CassetteFormatError: a ``thread.run`` object does not fit :class:`~pytest_runs.models.Run` (the message
            names the interaction and what does not fit).
    """
    latest: dict[str, Run] = {}
    for place, value in _run_payloads(interactions):
        try:
            latest[value["id"]] = Run.model_validate(value)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
                for item in error.errors(include_url=False)
            )
            raise CassetteFormatError(
                f"{place}: run {value['id']} is not a valid run object: {problems}"
            ) from None
    return list(latest.values())


def _short(interaction: Interaction) -> str:
    """``POST /v1/threads/thread_abc/runs``: the method and the path, without host or query."""
    return f"{interaction.request.method.upper()} {urlsplit(interaction.request.url).path}"


def _params_model(interaction: Interaction) -> type[RunCreateParams] | type[ThreadCreateAndRunParams] | None:
    """Which parameter model a request's body follows, or ``None`` when the request does not create a run."""
    if interaction.request.method.upper() != "POST":
        return None
    path = urlsplit(interaction.request.url).path
    if _CREATE_THREAD_AND_RUN.search(path):
        return ThreadCreateAndRunParams
    if _CREATE_RUN.search(path):
        return RunCreateParams
    return None


def _body_of(interaction: Interaction, model: type[RunCreateParams] | type[ThreadCreateAndRunParams]) -> Any:
    """The request's JSON body, with the ``include[]`` query parameter added as ``include`` for a run creation."""
    body = interaction.request.body
    if not isinstance(body, JsonBody):
        return None
    value = body.json_
    if model is RunCreateParams and isinstance(value, dict):
        query = urlsplit(interaction.request.url).query
        include = [item for key, item in parse_qsl(query, keep_blank_values=True) if key in _INCLUDE_KEYS]
        if include:
            value = {**value, "include": include}
    return value


def requests_of(interactions: Sequence[Interaction]) -> list[RunCreateParams | ThreadCreateAndRunParams]:
    """The parameters of every recorded run creation, in order.

    ``POST .../threads/{thread_id}/runs`` gives a :class:`~pytest_runs.models.RunCreateParams` (with the URL's
    ``include[]`` query parameter as ``include``), ``POST .../threads/runs`` a
    :class:`~pytest_runs.models.ThreadCreateAndRunParams`.

    Never raises on what was recorded: a request that breaks a documented constraint is still returned, built with
    :meth:`~pytest_runs.models.RunCreateParams.from_recorded` (types checked, constraints not; a body that does not
    even fit the types is kept unvalidated). :func:`constraint_problems` says what is wrong with such requests.
    Requests whose body is not a JSON object are left out.
    """
    found: list[RunCreateParams | ThreadCreateAndRunParams] = []
    for interaction in interactions:
        model = _params_model(interaction)
        if model is None:
            continue
        body = _body_of(interaction, model)
        if isinstance(body, dict):
            found.append(model.from_recorded(body))
    return found


def constraint_problems(interactions: Sequence[Interaction]) -> list[str]:
    """One message per problem of each recorded run-creation request, in order; empty when all are valid.

    Each message names the interaction (its 0-based index in the cassette, the method and the path) and the field,
    e.g. ``interaction 3 (POST /v1/threads/thread_abc/runs): temperature: must be between 0 and 2, got 3.5``.
    Besides the documented constraints, a body that does not fit the parameters at all (no ``assistant_id``, a
    string where a number belongs, no JSON object) is reported too.
    """
    problems: list[str] = []
    for index, interaction in enumerate(interactions):
        model = _params_model(interaction)
        if model is None:
            continue
        body = _body_of(interaction, model)
        found = (
            model.problems(body) if body is not None else ["body: must be a JSON object, got no JSON body"]
        )
        problems.extend(f"interaction {index} ({_short(interaction)}): {problem}" for problem in found)
    return problems
