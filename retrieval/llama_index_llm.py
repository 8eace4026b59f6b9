"""llama-index's view of Vigie's local model.

A small `CustomLLM` that hands chat messages to `LocalLLM.stream_chat`, so the
GGUF's own chat template formats them (llama-index's default completion
formatting would impose one model family's prompt style).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from pydantic import PrivateAttr

from retrieval.llm import LocalLLM


class VigieLlamaCpp(CustomLLM):
    max_tokens: int = 384
    temperature: float = 0.1
    _local: LocalLLM = PrivateAttr()

    def __init__(self, local: LocalLLM, max_tokens: int = 384, temperature: float = 0.1) -> None:
        super().__init__(max_tokens=max_tokens, temperature=temperature)
        self._local = local

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self._local.context,
            num_output=self.max_tokens,
            is_chat_model=True,
            model_name=self._local.name,
        )

    def _messages(self, messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
        return [{"role": m.role.value, "content": m.content or ""} for m in messages]

    def _stream(self, messages: list[dict[str, str]]):
        return self._local.stream_chat(
            messages, max_tokens=self.max_tokens, temperature=self.temperature
        )

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = "".join(self._stream(self._messages(messages)))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        def generate() -> ChatResponseGen:
            text = ""
            for delta in self._stream(self._messages(messages)):
                text += delta
                yield ChatResponse(
                    message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta
                )

        return generate()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        text = "".join(self._stream([{"role": "user", "content": prompt}]))
        return CompletionResponse(text=text)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        def generate() -> CompletionResponseGen:
            text = ""
            for delta in self._stream([{"role": "user", "content": prompt}]):
                text += delta
                yield CompletionResponse(text=text, delta=delta)

        return generate()
