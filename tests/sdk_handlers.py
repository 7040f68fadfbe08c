"""Event handlers that record what the openai SDK hands them, shared by the emulator tests."""

from __future__ import annotations

from typing import Any

from openai import AssistantEventHandler, AsyncAssistantEventHandler
from openai.types.beta.threads import Message, Text, TextDelta
from openai.types.beta.threads.runs import ToolCall, ToolCallDelta


class EventRecorder(AssistantEventHandler):
    """Records event names, the streamed text, finished messages, tool calls and code-interpreter input and logs."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.text = ""
        self.done_messages: list[str] = []
        self.tool_calls: list[str] = []
        """The type of each tool call created."""
        self.functions: list[str] = []
        """The name of each function call created."""
        self.code = ""
        self.logs = ""

    def on_event(self, event: Any) -> None:
        self.events.append(event.event)

    def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        self.text += delta.value or ""

    def on_message_done(self, message: Message) -> None:
        self.done_messages.append(message.content[0].text.value)  # type: ignore[union-attr]

    def on_tool_call_created(self, tool_call: ToolCall) -> None:
        self.tool_calls.append(tool_call.type)
        if tool_call.type == "function":
            self.functions.append(tool_call.function.name)

    def on_tool_call_delta(self, delta: ToolCallDelta, snapshot: ToolCall) -> None:
        if delta.type == "code_interpreter" and delta.code_interpreter is not None:
            self.code += delta.code_interpreter.input or ""
            for output in delta.code_interpreter.outputs or []:
                if output.type == "logs":
                    self.logs += output.logs or ""


class AsyncEventRecorder(AsyncAssistantEventHandler):
    """Records event names and the streamed text of an async stream."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.text = ""

    async def on_event(self, event: Any) -> None:
        self.events.append(event.event)

    async def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        self.text += delta.value or ""
