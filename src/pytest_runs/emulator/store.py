"""The emulator's state: assistants, threads, messages, runs and steps, and the run state machine.

All state sits behind one re-entrant lock; every public method takes it, so request threads (and a stream
writing in one thread while another polls) always see consistent objects. Methods return fresh ``dict``
snapshots that the caller serialises after the lock is released.

Run lifecycle. A run rests in ``queued`` (after create or tool outputs), ``requires_action``, ``cancelling``
or a terminal state. Polling (``GET …/runs/{id}``) moves it one step per retrieve::

    queued -> in_progress (x emulator_polls) -> requires_action | completed
    cancelling -> cancelled

A stream drives the same transitions event by event (the ``stream_*`` methods). While a stream owns a run,
retrieves report the run without moving it; when the stream ends early (``emulator_cut_after`` or a client
that went away) the run is released where the last written event left it and later retrieves finish it, as the
real service keeps running a run whose client disconnected.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .ids import Clock, IdFactory
from .models import ACTIVE_STATUSES, Assistant, Message, Run, Step, Thread, text_content, usage_dict
from .scenarios import (
    TOOL_CALL_COMPLETION_TOKENS,
    Scenario,
    count_tokens,
    function_to_call,
    prompt_tokens,
    reply_text,
    split_reply,
)

__all__ = ["AssistantParams", "MessageInput", "Page", "RunParams", "RunResult", "Store"]

JsonDict = dict[str, Any]


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
        try:
            return self._assistants[assistant_id]
        except KeyError:
            raise errors.not_found("assistant", assistant_id) from None

    def _thread(self, thread_id: str) -> Thread:
        try:
            return self._threads[thread_id]
        except KeyError:
            raise errors.not_found("thread", thread_id) from None

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

    def list_messages(self, thread_id: str, page: Page) -> JsonDict:
        """Return one page of a thread's messages."""
        with self._lock:
            selected, has_more = _paginate(self._thread(thread_id).message_ids, page)
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
            function_name=function_to_call(tools, tool_choice),
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
            parallel_tool_calls=True if params.parallel_tool_calls is None else params.parallel_tool_calls,
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

    def cancel_run(self, thread_id: str, run_id: str) -> RunResult:
        """Ask a run to stop: it answers ``cancelling`` now and ``cancelled`` on the next retrieve."""
        with self._lock:
            run = self._run(thread_id, run_id)
            if run.status in ("queued", "in_progress", "requires_action"):
                run.status = "cancelling"
            elif run.status != "cancelling":
                raise errors.cannot_cancel(run.status)
            return self._result(run)

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, outputs: Sequence[tuple[str, str]], *, stream: bool
    ) -> tuple[RunResult, JsonDict]:
        """Accept the outputs of the pending call; return the re-``queued`` run and the completed tool step.

        Raises 400 when the run is not ``requires_action`` or the outputs do not answer its call.
        """
        with self._lock:
            run = self._run(thread_id, run_id)
            if run.status != "requires_action" or run.call_id is None or run.pending_step_id is None:
                raise errors.tool_outputs_not_accepted(run.status)
            answered = [call_id for call_id, _ in outputs]
            if set(answered) != {run.call_id}:
                raise errors.tool_outputs_mismatch([run.call_id], answered)
            run.tool_output = next(output for call_id, output in outputs if call_id == run.call_id)
            step = self._steps[run.pending_step_id]
            call = step.step_details["tool_calls"][0]
            call["function"]["output"] = run.tool_output
            step.status = "completed"
            step.completed_at = self._clock.now()
            step.usage = usage_dict(prompt_tokens(self._conversation(run)), TOOL_CALL_COMPLETION_TOKENS)
            run.pending_step_id = None
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

    # ------------------------------------------------------------------ state machine (lock held)

    def _conversation(self, run: Run, exclude: str | None = None) -> list[str]:
        """Texts a model call of this run sees: the thread's finished messages plus any tool output."""
        thread = self._threads[run.thread_id]
        texts = [
            self._messages[i].text()
            for i in thread.message_ids
            if i != exclude and self._messages[i].status == "completed"
        ]
        if run.tool_output is not None:
            texts.append(run.tool_output)
        return texts

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
        if run.awaiting_tools:
            if run.pending_step_id is None:
                self._begin_tool_step(run)
            self._require_action(run)
            return
        if run.pending_message_id is None:
            self._begin_message(run)
        self._complete_message(run)
        self._complete_message_step(run)
        self._complete_run(run)

    def _start(self, run: Run) -> None:
        run.status = "in_progress"
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

    def _begin_tool_step(self, run: Run) -> Step:
        # Step deltas announce the call; the step object lists it only once the run requires action.
        run.call_id = self._ids.new("call_")
        return self._new_step(run, "tool_calls", {"type": "tool_calls", "tool_calls": []})

    def _require_action(self, run: Run) -> None:
        assert run.pending_step_id is not None
        assert run.call_id is not None
        assert run.function_name is not None
        step = self._steps[run.pending_step_id]
        if not step.step_details["tool_calls"]:
            step.step_details["tool_calls"].append(
                {
                    "id": run.call_id,
                    "type": "function",
                    "function": {"name": run.function_name, "arguments": "{}", "output": None},
                }
            )
        run.status = "requires_action"
        run.required_action = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": run.call_id,
                        "type": "function",
                        "function": {"name": run.function_name, "arguments": "{}"},
                    }
                ]
            },
        }

    def _begin_message(self, run: Run) -> tuple[Step, Message]:
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
        return step, message

    def _pending_message(self, run: Run) -> Message:
        assert run.pending_message_id is not None
        return self._messages[run.pending_message_id]

    def _complete_message(self, run: Run) -> Message:
        message = self._pending_message(run)
        if message.status != "completed":
            message.content = [text_content(reply_text(run.scenario, run.tool_output))]
            message.status = "completed"
            message.completed_at = self._clock.now()
        return message

    def _complete_message_step(self, run: Run) -> Step:
        message = self._pending_message(run)
        step = next(
            self._steps[i]
            for i in run.step_ids
            if self._steps[i].step_details.get("message_creation", {}).get("message_id") == message.id
        )
        if step.status != "completed":
            conversation = self._conversation(run, exclude=message.id)
            step.status = "completed"
            # The real service stamps the message, its step and the run with the same second.
            step.completed_at = message.completed_at
            step.usage = usage_dict(prompt_tokens(conversation), count_tokens(message.text()))
        return step

    def _run_usage(self, run: Run) -> JsonDict:
        prompt = completion = 0
        for step_id in run.step_ids:
            usage = self._steps[step_id].usage
            if usage is not None:
                prompt += int(usage["prompt_tokens"])
                completion += int(usage["completion_tokens"])
        return usage_dict(prompt, completion)

    def _complete_run(self, run: Run) -> None:
        message = self._pending_message(run)
        run.status = "completed"
        run.completed_at = message.completed_at
        run.usage = self._run_usage(run)
        run.pending_step_id = None
        run.pending_message_id = None

    def _finish_cancel(self, run: Run) -> None:
        now = self._clock.now()
        run.status = "cancelled"
        run.cancelled_at = now
        run.required_action = None
        for step_id in run.step_ids:
            step = self._steps[step_id]
            if step.status == "in_progress":
                step.status = "cancelled"
                step.cancelled_at = now
        if run.pending_message_id is not None:
            message = self._messages[run.pending_message_id]
            if message.status == "in_progress":
                message.status = "incomplete"
                message.incomplete_at = now
                message.incomplete_details = {"reason": "run_cancelled"}
        run.usage = self._run_usage(run)
        run.pending_step_id = None
        run.pending_message_id = None

    # ------------------------------------------------------------------ stream transitions

    def _stream_run(self, run_id: str) -> Run:
        return self._runs[run_id]

    def stream_cancelled(self, run_id: str) -> JsonDict | None:
        """If the run was asked to cancel while streaming, finish the cancel and return the run; else None."""
        with self._lock:
            run = self._stream_run(run_id)
            if run.status != "cancelling":
                return None
            self._finish_cancel(run)
            return run.to_dict()

    def stream_start(self, run_id: str) -> JsonDict:
        """``queued`` -> ``in_progress``; return the run."""
        with self._lock:
            run = self._stream_run(run_id)
            self._start(run)
            # Retrieves after a cut stream answer in_progress this many times before the run moves on.
            run.polls_left = run.scenario.polls
            return run.to_dict()

    def stream_awaiting_tools(self, run_id: str) -> bool:
        """Whether the run calls a function before replying."""
        with self._lock:
            return self._stream_run(run_id).awaiting_tools

    def stream_begin_tool_step(self, run_id: str) -> tuple[JsonDict, str, str]:
        """Create the ``tool_calls`` step; return it, the call id and the function name."""
        with self._lock:
            run = self._stream_run(run_id)
            step = self._begin_tool_step(run)
            assert run.call_id is not None
            assert run.function_name is not None
            return self._step_dict(step), run.call_id, run.function_name

    def stream_require_action(self, run_id: str) -> JsonDict:
        """``in_progress`` -> ``requires_action``; return the run."""
        with self._lock:
            run = self._stream_run(run_id)
            self._require_action(run)
            return run.to_dict()

    def stream_begin_message(self, run_id: str) -> tuple[JsonDict, JsonDict, list[str]]:
        """Create the message-creation step and the empty message; return both and the delta pieces."""
        with self._lock:
            run = self._stream_run(run_id)
            step, message = self._begin_message(run)
            pieces = split_reply(reply_text(run.scenario, run.tool_output), run.scenario.deltas)
            return self._step_dict(step), message.to_dict(), pieces

    def stream_complete_message(self, run_id: str) -> JsonDict:
        """Fill and complete the reply message; return it."""
        with self._lock:
            return self._complete_message(self._stream_run(run_id)).to_dict()

    def stream_complete_message_step(self, run_id: str) -> JsonDict:
        """Complete the message-creation step; return it."""
        with self._lock:
            return self._step_dict(self._complete_message_step(self._stream_run(run_id)))

    def stream_complete_run(self, run_id: str) -> JsonDict:
        """``in_progress`` -> ``completed``; return the run."""
        with self._lock:
            run = self._stream_run(run_id)
            self._complete_run(run)
            return run.to_dict()

    def release_stream(self, run_id: str) -> None:
        """Hand the run back to the polling state machine (the stream ended, completely or not)."""
        with self._lock:
            self._stream_run(run_id).streaming = False
