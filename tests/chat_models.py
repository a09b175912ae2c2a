"""A chat model standing in for a paid LLM: replays recorded replies, streamed in small chunks.

It is a real LangChain ``BaseChatModel`` (``invoke`` and ``stream`` go through LangChain's own
machinery); only the text is recorded. Chunks are a few characters long, like sub-word tokens,
so a ``[n]`` marker or a sentence end can arrive split across two chunks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field


class RecordedChatModel(BaseChatModel):
    """Replies ``replies[i]`` to the i-th call (the last one again after that).

    ``fail_after``: the stream raises ConnectionError after that many chunks (and ``invoke``
    fails at once). ``streams=False``: ``stream`` raises NotImplementedError, as a provider
    without streaming may. ``calls`` records "invoke" / "stream" in order.
    """

    replies: list[str]
    chunk_chars: int = 4
    delay_s: float = 0.0
    fail_after: int | None = None
    streams: bool = True
    calls: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "recorded"

    def _reply(self) -> str:
        return self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append("invoke")
        if self.fail_after is not None:
            msg = "connection refused"
            raise ConnectionError(msg)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply()))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self.calls.append("stream")
        if not self.streams:
            msg = "this provider does not stream"
            raise NotImplementedError(msg)
        text = self._reply()
        for i, start in enumerate(range(0, len(text), self.chunk_chars)):
            if self.fail_after is not None and i >= self.fail_after:
                msg = "connection reset by peer"
                raise ConnectionError(msg)
            time.sleep(self.delay_s)
            yield ChatGenerationChunk(
                message=AIMessageChunk(content=text[start : start + self.chunk_chars])
            )
