"""The one model-provider interface. Offline, OpenAI and Anthropic all sit behind it.

Messages and tool calls are provider-neutral; each provider translates them to its SDK's wire
format. Everything in a request has already been redacted by `sleuth.agents.redaction`.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

Role = Literal["planner", "summariser", "concluder"]


class ToolSpec(BaseModel):
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any]


class Message(BaseModel):
    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)  # assistant turns that called tools
    tool_call_id: str | None = None  # tool turns: which call this answers


class ModelRequest(BaseModel):
    role: Role
    system: str
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    max_tokens: int = 1024


class TokenUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class ModelResponse(BaseModel):
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    model: str = ""


class ModelError(Exception):
    """A provider failure after its own capped retries; the caller falls back to the offline reasoner."""


class ModelProvider(Protocol):
    name: str  # "openai:gpt-4o-mini", ...

    async def complete(self, request: ModelRequest) -> ModelResponse: ...
