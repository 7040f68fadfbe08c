"""The emulator's state: assistants, threads, messages, runs and steps, and the run state machine.

All state sits behind one re-entrant lock; every public method takes it, so request threads (and a stream
writing in one thread while another polls) always see consistent objects. Methods return fresh ``dict``
snapshots that the caller serialises after the lock is released.

Run lifecycle. A run follows its plan (:func:`pytest_runs.emulator.scenarios.plan_run`)::

    queued -> in_progress -> [code step] -> requires_action -> (tool outputs) -> queued -> in_progress -> ...
           -> message -> completed | incomplete          (or failed / expired where the plan says so)
    queued | in_progress | requires_action -(cancel)-> cancelling -> cancelled

It rests in ``queued`` (after create or tool outputs), ``requires_action``, ``cancelling`` or a terminal
state. Polling (``GET …/runs/{id}``) moves it one step per retrieve: ``queued`` -> ``in_progress`` (answered
``emulator_polls`` times) -> next resting state; ``cancelling`` -> ``cancelled``. Getting from ``in_progress``
to the next resting state is :func:`pytest_runs.emulator.lifecycle.progress`, the same code a stream runs
event by event, so a polled run and a streamed run leave the same steps, messages and timestamps behind.

While a stream owns a run, retrieves report the run without moving it; when the stream ends early
(``emulator_cut_after`` or a client that went away) the run is released where the last written event left it
and later retrieves finish it, as the real service keeps running a run whose client disconnected.

Timestamps as the real API sets them: ``started_at`` each time the run leaves ``queued``;
``expires_at`` is ``created_at + 600`` while the run is active and null once it finished; ``completed_at``
(also set when a run ends ``incomplete``, as the real service does), ``failed_at``, ``cancelled_at`` at the
end; ``usage`` (the sum of the steps') on every terminal run. Messages get ``completed_at`` or
``incomplete_at``; steps ``completed_at``, ``failed_at`` or ``cancelled_at``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import errors, lifecycle
from .ids import Clock, IdFactory
from .lifecycle import Event
from .models import (
    ACTIVE_STATUSES,
    Assistant,
    Message,
    Run,
    Step,
    Thread,
    ToolCall,
    text_content,
    usage_dict,
)
from .scenarios import (
    FAILURES,
    TOOL_CALL_COMPLETION_TOKENS,
    Phase,
    Scenario,
    count_tokens,
    plan_run,
    prompt_tokens,
    reply_text,
    split_reply,
    truncate_tokens,
)

__all__ = ["AssistantParams", "MessageInput", "Page", "RunParams", "RunResult", "Store"]

JsonDict = dict[str, Any]

#: Statuses in which a run can still be asked to cancel.
_CANCELLABLE = frozenset({"queued", "in_progress", "requires_action"})
#: Statuses in which a run cannot be updated (the real API refuses while the run is being worked on).
_NOT_UPDATABLE = frozenset({"queued", "in_progress", "cancelling"})


@dataclass(frozen=True)
class MessageInput:
    """A message to add to a thread, already normalised (content as a list of parts)."""

    role: str
    content: list[JsonDict]
    attachments: list[JsonDict] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AssistantParams:
    """The fields of ``POST /assistants`` the emulator keeps."""

    model: str
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    tools: list[JsonDict] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    temperature: float | None = None
    top_p: float | None = None
    reasoning_effort: str | None = None
    tool_resources: JsonDict = field(default_factory=dict)
    response_format: Any = None


@dataclass(frozen=True)
class RunParams:
    """The fields of a run-create request; ``None`` means "not given" (the assistant's value applies)."""

    assistant_id: str
    scenario: Scenario
    metadata: dict[str, str] = field(default_factory=dict)
    model: str | None = None
    instructions: str | None = None
    tools: list[JsonDict] | None = None
    temperature: float | None = None
    top_p: float | None = None
    reasoning_effort: str | None = None
    max_completion_tokens: int | None = None
    max_prompt_tokens: int | None = None
    truncation_strategy: JsonDict | None = None
    response_format: Any = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    tool_resources: JsonDict | None = None
    additional_messages: list[MessageInput] = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    """List parameters shared by every list endpoint."""

    order: str = "desc"
    after: str | None = None
    before: str | None = None
    limit: int = 20


@dataclass(frozen=True)
class RunResult:
    """A run snapshot together with the scenario that governs it (for the poll-after header)."""

    body: JsonDict
    scenario: Scenario


def _paginate(ids: Sequence[str], page: Page) -> tuple[list[str], bool]:
    """Select one page of ``ids`` (given oldest first) the way the real cursor pagination does."""
    ordered = list(ids) if page.order == "asc" else list(reversed(ids))
    # Cursors that name an unknown object are ignored rather than answered with an empty page.
    if page.after is not None and page.after in ordered:
        ordered = ordered[ordered.index(page.after) + 1 :]
    if page.before is not None and page.before in ordered:
        ordered = ordered[: ordered.index(page.before)]
    return ordered[: page.limit], len(ordered) > page.limit


def _list_body(data: list[JsonDict], has_more: bool) -> JsonDict:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def _deleted(object_id: str, kind: str) -> JsonDict:
    return {"id": object_id, "object": f"{kind}.deleted", "deleted": True}


class Store:
    """In-memory Assistants state with the run state machine; thread-safe."""

    def __init__(self, ids: IdFactory, clock: Clock) -> None:
        """Create an empty store issuing identifiers from ``ids`` and timestamps from ``clock``."""
        self._ids = ids
        self._clock = clock
        self._lock = threading.RLock()
        self._assistants: dict[str, Assistant] = {}
        self._threads: dict[str, Thread] = {}
        self._messages: dict[str, Message] = {}
        self._runs: dict[str, Run] = {}
        self._steps: dict[str, Step] = {}

    # ------------------------------------------------------------------ lookups (lock held by the caller)

    def _assistant(self, assistant_id: str) -> Assistant:
        assistant = self._assistants.get(assistant_id)
        if assistant is None or assistant.deleted:
            raise errors.not_found("assistant", assistant_id)
        return assistant

    def _thread(self, thread_id: str) -> Thread:
        thread = self._threads.get(thread_id)
        if thread is None or thread.deleted:
            raise errors.not_found("thread", thread_id)
        return thread

    def _run(self, thread_id: str, run_id: str) -> Run:
        thread = self._thread(thread_id)
        if run_id not in thread.run_ids:
            raise errors.not_found("run", run_id)
        return self._runs[run_id]

    def _step_dict(self, step: Step) -> JsonDict:
        return step.to_dict(self._runs[step.run_id].expires_at)

    def _result(self, run: Run) -> RunResult:
        return RunResult(run.to_dict(), run.scenario)

    # ------------------------------------------------------------------ assistants

    def create_assistant(self, params: AssistantParams) -> JsonDict:
        """Create an assistant and return it."""
        with self._lock:
            assistant = Assistant(
                id=self._ids.new("asst_"),
                created_at=self._clock.now(),
                model=params.model,
                name=params.name,
                description=params.description,
                instructions=params.instructions,
                tools=list(params.tools),
                top_p=1.0 if params.top_p is None else params.top_p,
                temperature=1.0 if params.temperature is None else params.temperature,
                reasoning_effort=params.reasoning_effort,
                tool_resources=dict(params.tool_resources),
                metadata=dict(params.metadata),
                response_format="auto" if params.response_format is None else params.response_format,
            )
            self._assistants[assistant.id] = assistant
            return assistant.to_dict()

    def get_assistant(self, assistant_id: str) -> JsonDict:
        """Return an assistant (404 when unknown)."""
        with self._lock:
            return self._assistant(assistant_id).to_dict()

    def list_assistants(self, page: Page) -> JsonDict:
        """Return one page of the assistants."""
        with self._lock:
            live = [a.id for a in self._assistants.values() if not a.deleted]
            selected, has_more = _paginate(live, page)
            return _list_body([self._assistants[i].to_dict() for i in selected], has_more)

    def delete_assistant(self, assistant_id: str) -> JsonDict:
        """Delete an assistant (its runs keep going); return the deletion object."""
        with self._lock:
            self._assistant(assistant_id).deleted = True
            return _deleted(assistant_id, "assistant")

    # ------------------------------------------------------------------ threads and messages

    def _new_thread(
        self, messages: Sequence[MessageInput], metadata: dict[str, str], tool_resources: JsonDict
    ) -> Thread:
        thread = Thread(
            id=self._ids.new("thread_"),
            created_at=self._clock.now(),
            metadata=dict(metadata),
            tool_resources=dict(tool_resources),
        )
        self._threads[thread.id] = thread
        for message in messages:
            self._add_message(thread, message)
        return thread

    def _add_message(self, thread: Thread, message: MessageInput) -> Message:
        created_at = self._clock.now()
        stored = Message(
            id=self._ids.new("msg_"),
            created_at=created_at,
            thread_id=thread.id,
            role=message.role,
            content=list(message.content),
            completed_at=created_at,
            attachments=list(message.attachments),
            metadata=dict(message.metadata),
        )
        self._messages[stored.id] = stored
        thread.message_ids.append(stored.id)
        return stored

    def create_thread(
        self, messages: Sequence[MessageInput], metadata: dict[str, str], tool_resources: JsonDict
    ) -> JsonDict:
        """Create a thread with its initial messages and return it."""
        with self._lock:
            return self._new_thread(messages, metadata, tool_resources).to_dict()

    def get_thread(self, thread_id: str) -> JsonDict:
        """Return a thread (404 when unknown)."""
        with self._lock:
            return self._thread(thread_id).to_dict()

    def update_thread(
        self, thread_id: str, metadata: dict[str, str] | None, tool_resources: JsonDict | None
    ) -> JsonDict:
        """Replace a thread's metadata and/or tool resources; return the thread."""
        with self._lock:
            thread = self._thread(thread_id)
            if metadata is not None:
                thread.metadata = dict(metadata)
            if tool_resources is not None:
                thread.tool_resources = dict(tool_resources)
            return thread.to_dict()

    def delete_thread(self, thread_id: str) -> JsonDict:
        """Delete a thread; return the deletion object."""
        with self._lock:
            self._thread(thread_id).deleted = True
            return _deleted(thread_id, "thread")

    def add_message(self, thread_id: str, message: MessageInput) -> JsonDict:
        """Append a message to a thread and return it."""
        with self._lock:
            return self._add_message(self._thread(thread_id), message).to_dict()

    def get_message(self, thread_id: str, message_id: str) -> JsonDict:
        """Return one message of a thread (404 when unknown)."""
        with self._lock:
            thread = self._thread(thread_id)
            if message_id not in thread.message_ids:
                raise errors.not_found("message", message_id)
            return self._messages[message_id].to_dict()

    def list_messages(self, thread_id: str, page: Page, run_id: str | None = None) -> JsonDict:
        """Return one page of a thread's messages (only those a run wrote, with ``run_id``)."""
        with self._lock:
            ids = self._thread(thread_id).message_ids
            if run_id is not None:
                ids = [i for i in ids if self._messages[i].run_id == run_id]
            selected, has_more = _paginate(ids, page)
            return _list_body([self._messages[i].to_dict() for i in selected], has_more)

    # ------------------------------------------------------------------ run creation

    def _new_run(self, thread: Thread, assistant: Assistant, params: RunParams, stream: bool) -> Run:
        for run_id in thread.run_ids:
            if self._runs[run_id].status in ACTIVE_STATUSES:
                raise errors.active_run(thread.id, run_id)
        for message in params.additional_messages:
            self._add_message(thread, message)
        tools = list(assistant.tools) if params.tools is None else list(params.tools)
        tool_choice = "auto" if params.tool_choice is None else params.tool_choice
        parallel = True if params.parallel_tool_calls is None else params.parallel_tool_calls
        run = Run(
            id=self._ids.new("run_"),
            created_at=self._clock.now(),
            assistant_id=assistant.id,
            thread_id=thread.id,
            model=assistant.model if params.model is None else params.model,
            instructions=assistant.instructions if params.instructions is None else params.instructions,
            tools=tools,
            metadata=dict(params.metadata),
            scenario=params.scenario,
            phases=plan_run(tools, tool_choice, parallel, params.scenario),
            tool_resources={} if params.tool_resources is None else dict(params.tool_resources),
            temperature=assistant.temperature if params.temperature is None else params.temperature,
            top_p=assistant.top_p if params.top_p is None else params.top_p,
            reasoning_effort=params.reasoning_effort,
            max_completion_tokens=params.max_completion_tokens,
            max_prompt_tokens=params.max_prompt_tokens,
            truncation_strategy=(
                {"type": "auto", "last_messages": None}
                if params.truncation_strategy is None
                else dict(params.truncation_strategy)
            ),
            response_format=assistant.response_format
            if params.response_format is None
            else params.response_format,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel,
            polls_left=params.scenario.polls,
            streaming=stream,
        )
        self._runs[run.id] = run
        thread.run_ids.append(run.id)
        return run

    def create_run(self, thread_id: str, params: RunParams, *, stream: bool) -> RunResult:
        """Create a ``queued`` run on a thread; with ``stream`` the run belongs to a stream until released.

        Raises 404 for an unknown thread or assistant and 400 when the thread already has an active run.
        """
        with self._lock:
            thread = self._thread(thread_id)
            assistant = self._assistant(params.assistant_id)
            return self._result(self._new_run(thread, assistant, params, stream))

    def create_thread_and_run(
        self,
        messages: Sequence[MessageInput],
        metadata: dict[str, str],
        tool_resources: JsonDict,
        params: RunParams,
        *,
        stream: bool,
    ) -> tuple[JsonDict, RunResult]:
        """Create a thread and a ``queued`` run on it; return both."""
        with self._lock:
            # Checked first so that an unknown assistant leaves no orphan thread behind.
            assistant = self._assistant(params.assistant_id)
            thread = self._new_thread(messages, metadata, tool_resources)
            run = self._new_run(thread, assistant, params, stream)
            return thread.to_dict(), self._result(run)

    # ------------------------------------------------------------------ run endpoints

    def retrieve_run(self, thread_id: str, run_id: str) -> RunResult:
        """Return a run after moving it one step along the polling state machine."""
        with self._lock:
            run = self._run(thread_id, run_id)
            self._advance(run)
            return self._result(run)

    def list_runs(self, thread_id: str, page: Page) -> JsonDict:
        """Return one page of a thread's runs (listing does not move them)."""
        with self._lock:
            selected, has_more = _paginate(self._thread(thread_id).run_ids, page)
            return _list_body([self._runs[i].to_dict() for i in selected], has_more)

    def update_run(self, thread_id: str, run_id: str, metadata: dict[str, str] | None) -> RunResult:
        """Replace a run's metadata (400 while the run is being worked on); the scenario stays as created."""
        with self._lock:
            run = self._run(thread_id, run_id)
            if run.status in _NOT_UPDATABLE:
                raise errors.cannot_update_run(run.status)
            if metadata is not None:
                run.metadata = dict(metadata)
            return self._result(run)

    def cancel_run(self, thread_id: str, run_id: str) -> RunResult:
        """Ask a run to stop: it answers ``cancelling`` now and ``cancelled`` on the next retrieve."""
        with self._lock:
            run = self._run(thread_id, run_id)
            if run.status in _CANCELLABLE:
                run.status = "cancelling"
            elif run.status != "cancelling":
                raise errors.cannot_cancel(run.status)
            return self._result(run)

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, outputs: Sequence[tuple[str, str]], *, stream: bool
    ) -> tuple[RunResult, JsonDict]:
        """Accept the outputs of the pending calls; return the re-``queued`` run and the completed tool step.

        Raises 400 when the run is not ``requires_action`` or the outputs do not answer exactly its calls.
        """
        with self._lock:
            run = self._run(thread_id, run_id)
            if run.status != "requires_action" or not run.pending_calls or run.pending_step_id is None:
                raise errors.tool_outputs_not_accepted(run.status)
            expected = [call.id for call in run.pending_calls]
            answered = [call_id for call_id, _ in outputs]
            if sorted(answered) != sorted(expected):
                raise errors.tool_outputs_mismatch(expected, answered)
            given = dict(outputs)
            step = self._steps[run.pending_step_id]
            for call, entry in zip(run.pending_calls, step.step_details["tool_calls"], strict=True):
                call.output = given[call.id]
                entry["function"]["output"] = call.output
                run.tool_outputs.append(call.output)
            step.status = "completed"
            step.completed_at = self._clock.now()
            step.usage = usage_dict(
                prompt_tokens(self._conversation(run)), TOOL_CALL_COMPLETION_TOKENS * len(run.pending_calls)
            )
            run.pending_step_id = None
            run.pending_calls = []
            run.phase_index += 1
            run.status = "queued"
            run.required_action = None
            run.polls_left = run.scenario.polls
            run.streaming = stream
            return self._result(run), self._step_dict(step)

    def get_step(self, thread_id: str, run_id: str, step_id: str) -> JsonDict:
        """Return one step of a run (404 when unknown)."""
        with self._lock:
            run = self._run(thread_id, run_id)
            if step_id not in run.step_ids:
                raise errors.not_found("run step", step_id)
            return self._step_dict(self._steps[step_id])

    def list_steps(self, thread_id: str, run_id: str, page: Page) -> JsonDict:
        """Return one page of a run's steps."""
        with self._lock:
            selected, has_more = _paginate(self._run(thread_id, run_id).step_ids, page)
            return _list_body([self._step_dict(self._steps[i]) for i in selected], has_more)

    # ------------------------------------------------------------------ polling (lock held)

    def _advance(self, run: Run) -> None:
        if run.streaming:
            return
        if run.status == "queued":
            self._start(run)
            if run.scenario.polls > 0:
                # This retrieve is the first of the ``polls`` answers that say in_progress.
                run.polls_left = run.scenario.polls - 1
            else:
                self._settle(run)
        elif run.status == "in_progress":
            if run.polls_left > 0:
                run.polls_left -= 1
            else:
                self._settle(run)
        elif run.status == "cancelling":
            self._finish_cancel(run)

    def _settle(self, run: Run) -> None:
        """Bring an ``in_progress`` run to its next resting state, finishing what a cut stream left open."""
        # The very transitions a stream makes, with the events dropped.
        for _ in lifecycle.progress(self, run.id):
            pass

    # ------------------------------------------------------------------ state machine (lock held)

    def _conversation(self, run: Run, exclude: str | None = None) -> list[str]:
        """Texts a model call of this run sees: the thread's finished messages plus the tool outputs."""
        thread = self._threads[run.thread_id]
        texts = [
            self._messages[i].text()
            for i in thread.message_ids
            if i != exclude and self._messages[i].status == "completed"
        ]
        texts.extend(run.tool_outputs)
        return texts

    def _start(self, run: Run) -> None:
        run.status = "in_progress"
        # Re-stamped every time the run leaves ``queued``, after tool outputs too, as the real service does.
        run.started_at = self._clock.now()

    def _new_step(self, run: Run, type_: str, details: JsonDict) -> Step:
        step = Step(
            id=self._ids.new("step_"),
            created_at=self._clock.now(),
            run_id=run.id,
            assistant_id=run.assistant_id,
            thread_id=run.thread_id,
            type=type_,
            step_details=details,
        )
        self._steps[step.id] = step
        run.step_ids.append(step.id)
        run.pending_step_id = step.id
        return step

    def _pending_step(self, run: Run) -> Step:
        assert run.pending_step_id is not None
        return self._steps[run.pending_step_id]

    def _pending_message(self, run: Run) -> Message:
        assert run.pending_message_id is not None
        return self._messages[run.pending_message_id]

    def _completion_tokens_used(self, run: Run) -> int:
        return int(self._run_usage(run)["completion_tokens"])

    def _run_usage(self, run: Run) -> JsonDict:
        prompt = completion = 0
        for step_id in run.step_ids:
            usage = self._steps[step_id].usage
            if usage is not None:
                prompt += int(usage["prompt_tokens"])
                completion += int(usage["completion_tokens"])
        return usage_dict(prompt, completion)

    def _close_open_work(self, run: Run, step_status: str, reason: str, now: int) -> None:
        """Mark the run's unfinished steps ``step_status`` and its unfinished message incomplete."""
        for step_id in run.step_ids:
            step = self._steps[step_id]
            if step.status != "in_progress":
                continue
            step.status = step_status
            if step_status == "cancelled":
                step.cancelled_at = now
            elif step_status == "failed":
                step.failed_at = now
                step.last_error = run.last_error
        if run.pending_message_id is not None:
            message = self._messages[run.pending_message_id]
            if message.status == "in_progress":
                message.status = "incomplete"
                message.incomplete_at = now
                message.incomplete_details = {"reason": reason}

    def _end(self, run: Run, status: str) -> None:
        """Bookkeeping shared by every terminal transition."""
        run.status = status
        run.required_action = None
        run.usage = self._run_usage(run)
        run.pending_step_id = None
        run.pending_message_id = None
        run.pending_calls = []

    def _finish_cancel(self, run: Run) -> None:
        now = self._clock.now()
        run.cancelled_at = now
        self._close_open_work(run, "cancelled", "run_cancelled", now)
        self._end(run, "cancelled")

    def _fail(self, run: Run, code: str) -> None:
        now = self._clock.now()
        run.failed_at = now
        run.last_error = {"code": code, "message": FAILURES[code]}
        self._close_open_work(run, "failed", "run_failed", now)
        self._end(run, "failed")

    def _cancel_events(self, run: Run) -> list[Event] | None:
        """If the run was asked to cancel, finish the cancel and return its two events; else None."""
        if run.status != "cancelling":
            return None
        before = run.to_dict()
        self._finish_cancel(run)
        return [("thread.run.cancelling", before), ("thread.run.cancelled", run.to_dict())]

    # ------------------------------------------------------------------ lifecycle transitions
    #
    # Called by :mod:`pytest_runs.emulator.lifecycle`, one per event, from a stream's thread (or from _settle with
    # the lock already held). Each returns the payload(s) of the event(s) it stands for. Transitions that would
    # bring the run to rest check for a pending cancel in the same locked step, so a cancel that arrives between
    # two events is never overwritten.

    def cancel_point(self, run_id: str) -> list[Event] | None:
        """Finish a requested cancel (returning ``thread.run.cancelling``, ``thread.run.cancelled``), or None."""
        with self._lock:
            return self._cancel_events(self._runs[run_id])

    def start(self, run_id: str) -> JsonDict | None:
        """``queued`` -> ``in_progress``; return the run, or None when it was not queued."""
        with self._lock:
            run = self._runs[run_id]
            if run.status != "queued":
                return None
            self._start(run)
            # Retrieves after a cut stream answer in_progress this many times before the run moves on.
            run.polls_left = run.scenario.polls
            return run.to_dict()

    def next_phase(self, run_id: str) -> Phase | None:
        """What the run does next (None: it only has to finish)."""
        with self._lock:
            return self._runs[run_id].phase

    def fail(self, run_id: str) -> list[Event]:
        """End the run ``failed`` with the ``emulator_fail`` error."""
        with self._lock:
            run = self._runs[run_id]
            stop = self._cancel_events(run)
            if stop is not None:
                return stop
            self._fail(run, run.scenario.fail or "server_error")
            return [("thread.run.failed", run.to_dict())]

    def fail_from_stream(self, run_id: str) -> None:
        """The stream broke with an in-stream error: the run fails with ``server_error`` (if still active)."""
        with self._lock:
            run = self._runs[run_id]
            if run.status in ACTIVE_STATUSES:
                self._fail(run, "server_error")

    def request_cancel(self, run_id: str) -> None:
        """Ask the run to cancel, as ``POST …/cancel`` does (ignored once it can no longer be cancelled)."""
        with self._lock:
            run = self._runs[run_id]
            if run.status in _CANCELLABLE:
                run.status = "cancelling"

    def expire(self, run_id: str) -> list[Event]:
        """End the run ``expired``."""
        with self._lock:
            run = self._runs[run_id]
            stop = self._cancel_events(run)
            if stop is not None:
                return stop
            self._close_open_work(run, "expired", "run_expired", self._clock.now())
            self._end(run, "expired")
            return [("thread.run.expired", run.to_dict())]

    def begin_code(self, run_id: str) -> tuple[JsonDict, str, list[str], str]:
        """Create the code-interpreter step; return it, the call id, the code's deltas and its output."""
        with self._lock:
            run = self._runs[run_id]
            scenario = run.scenario
            if run.pending_step_id is None:
                # The step object lists the call only once it is done; deltas announce it meanwhile.
                self._new_step(run, "tool_calls", {"type": "tool_calls", "tool_calls": []})
                run.pending_calls = [ToolCall(self._ids.new("call_"), "code_interpreter", scenario.code)]
            step = self._pending_step(run)
            return (
                self._step_dict(step),
                run.pending_calls[0].id,
                split_reply(scenario.code, None),
                scenario.code_output,
            )

    def complete_code(self, run_id: str) -> JsonDict:
        """Complete the code-interpreter step and move to the next phase; return the step."""
        with self._lock:
            run = self._runs[run_id]
            step = self._pending_step(run)
            call = run.pending_calls[0]
            step.step_details["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "code_interpreter",
                    "code_interpreter": {
                        "input": run.scenario.code,
                        "outputs": [{"type": "logs", "logs": run.scenario.code_output}],
                    },
                }
            ]
            step.status = "completed"
            step.completed_at = self._clock.now()
            step.usage = usage_dict(prompt_tokens(self._conversation(run)), count_tokens(run.scenario.code))
            run.pending_step_id = None
            run.pending_calls = []
            run.phase_index += 1
            return self._step_dict(step)

    def begin_tools(self, run_id: str) -> tuple[JsonDict, list[ToolCall]]:
        """Create the function-call step of the current phase; return it and its calls."""
        with self._lock:
            run = self._runs[run_id]
            phase = run.phase
            assert phase is not None
            if run.pending_step_id is None:
                self._new_step(run, "tool_calls", {"type": "tool_calls", "tool_calls": []})
                run.pending_calls = [
                    ToolCall(self._ids.new("call_"), name, run.scenario.tool_arguments)
                    for name in phase.calls
                ]
            calls = [ToolCall(call.id, call.name, call.arguments) for call in run.pending_calls]
            return self._step_dict(self._pending_step(run)), calls

    def require_action(self, run_id: str) -> list[Event]:
        """``in_progress`` -> ``requires_action`` (the step now lists its calls); return the run's event."""
        with self._lock:
            run = self._runs[run_id]
            stop = self._cancel_events(run)
            if stop is not None:
                return stop
            step = self._pending_step(run)
            step.step_details["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments, "output": None},
                }
                for call in run.pending_calls
            ]
            run.status = "requires_action"
            run.required_action = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments},
                        }
                        for call in run.pending_calls
                    ]
                },
            }
            return [("thread.run.requires_action", run.to_dict())]

    def begin_message(self, run_id: str) -> tuple[JsonDict, JsonDict, list[str]]:
        """Create the message-creation step and the empty message; return both and the delta pieces.

        The reply is cut here when it would exceed what is left of ``max_completion_tokens``.
        """
        with self._lock:
            run = self._runs[run_id]
            if run.pending_message_id is None:
                message_id = self._ids.new("msg_")
                step = self._new_step(
                    run,
                    "message_creation",
                    {"type": "message_creation", "message_creation": {"message_id": message_id}},
                )
                message = Message(
                    id=message_id,
                    created_at=step.created_at,
                    thread_id=run.thread_id,
                    role="assistant",
                    content=[],
                    assistant_id=run.assistant_id,
                    run_id=run.id,
                    status="in_progress",
                )
                self._messages[message.id] = message
                self._threads[run.thread_id].message_ids.append(message.id)
                run.pending_message_id = message.id
            message = self._pending_message(run)
            text = self._reply(run)
            pieces = split_reply(text, run.scenario.deltas) if text or not run.cut_short else []
            return self._step_dict(self._pending_step(run)), message.to_dict(), pieces

    def _reply(self, run: Run) -> str:
        text = reply_text(run.scenario, run.tool_outputs)
        if run.max_completion_tokens is not None:
            left = max(0, run.max_completion_tokens - self._completion_tokens_used(run))
            if count_tokens(text) > left:
                run.cut_short = True
                return truncate_tokens(text, left)
        return text

    def finish_message(self, run_id: str) -> Event:
        """Fill the reply message and end it (``completed``, or ``incomplete`` when cut); return its event."""
        with self._lock:
            run = self._runs[run_id]
            message = self._pending_message(run)
            if message.status == "in_progress":
                text = self._reply(run)
                message.content = [text_content(text)] if text or not run.cut_short else []
                if run.cut_short:
                    message.status = "incomplete"
                    message.incomplete_at = self._clock.now()
                    message.incomplete_details = {"reason": "max_tokens"}
                else:
                    message.status = "completed"
                    message.completed_at = self._clock.now()
            name = (
                "thread.message.incomplete" if message.status == "incomplete" else "thread.message.completed"
            )
            return name, message.to_dict()

    def complete_message_step(self, run_id: str) -> JsonDict:
        """Complete the message-creation step (also after a cut reply) and move on; return the step."""
        with self._lock:
            run = self._runs[run_id]
            message = self._pending_message(run)
            step = self._pending_step(run)
            conversation = self._conversation(run, exclude=message.id)
            step.status = "completed"
            # The real service stamps the message, its step and the run with the same second.
            step.completed_at = message.completed_at or message.incomplete_at
            step.usage = usage_dict(prompt_tokens(conversation), count_tokens(message.text()))
            run.pending_step_id = None
            run.phase_index += 1
            return self._step_dict(step)

    def finish_run(self, run_id: str) -> list[Event]:
        """End a run whose plan is done: ``completed``, or ``incomplete`` when its reply was cut."""
        with self._lock:
            run = self._runs[run_id]
            stop = self._cancel_events(run)
            if stop is not None:
                return stop
            last = self._steps[run.step_ids[-1]] if run.step_ids else None
            run.completed_at = (last.completed_at if last is not None else None) or self._clock.now()
            if run.cut_short:
                run.incomplete_details = {"reason": "max_completion_tokens"}
                self._end(run, "incomplete")
                return [("thread.run.incomplete", run.to_dict())]
            self._end(run, "completed")
            return [("thread.run.completed", run.to_dict())]

    def release_stream(self, run_id: str) -> None:
        """Hand the run back to the polling state machine (the stream ended, completely or not)."""
        with self._lock:
            self._runs[run_id].streaming = False
