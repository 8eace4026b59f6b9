"""The LLM adapter: a local GGUF file run by llama-cpp-python.

The chat template comes from the GGUF's own metadata (llama-cpp-python reads
`tokenizer.chat_template` when no chat format is forced), so any instruct
model works without hard-coding one family's prompt format. The file is
verified against its pinned SHA-256 before it is loaded.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from vigie.config import Settings
from vigie.errors import Unavailable
from vigie.models import verify_llm_file

log = logging.getLogger(__name__)

# llama.cpp's OpenMP threads sleep when idle instead of spinning: measured on 2 cores
# (shared/FIELD-NOTES.md), the default spin fell to 0.67 generation tokens/s when
# another job shared the cores, PASSIVE kept 6.6-13. Read when llama.cpp's library
# loads (the first `import llama_cpp`); a value set by the site is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class LLMError(Unavailable):
    """The model could not be loaded or run; the message says what to do."""


def template_takes_system(template: str) -> bool:
    """Whether a GGUF's chat template accepts a system message.

    ChatML (Qwen, ...) does. Mistral's instruct templates raise on any role but
    alternating user/assistant: their system prompt goes into the first user turn.
    """
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(template, eos_token="</s>", bos_token="<s>")
    try:
        formatter(messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    except Exception:  # noqa: BLE001 - a template refuses by raising from Jinja
        return False
    return True


def fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The system message put at the head of the first user message (Mistral's way)."""
    if not messages or messages[0]["role"] != "system":
        return messages
    system, rest = messages[0]["content"], list(messages[1:])
    if rest and rest[0]["role"] == "user":
        rest[0] = {"role": "user", "content": f"{system}\n\n{rest[0]['content']}"}
        return rest
    return [{"role": "user", "content": system}, *rest]


class LocalLLM:
    def __init__(
        self,
        path: Path,
        expected_sha256: str | None = None,
        context: int = 4096,
        threads: int | None = None,
        batch: int = 512,
        n_gpu_layers: int = 0,
        use_mmap: bool = False,
        lora_path: Path | None = None,
    ) -> None:
        verify_llm_file(path, expected_sha256)
        if lora_path is not None and not Path(lora_path).is_file():
            raise LLMError(
                f"LoRA adapter not found: {lora_path}; set VIGIE_LORA_PATH to a GGUF adapter "
                "converted for this model, or unset it"
            )
        import llama_cpp

        if n_gpu_layers != 0 and not llama_cpp.llama_supports_gpu_offload():
            raise LLMError(
                f"n_gpu_layers={n_gpu_layers} asks for GPU offload, but this llama-cpp-python "
                "build has no GPU support; set VIGIE_N_GPU_LAYERS=0 or install a CUDA build"
            )
        self.path = path
        self.context = context
        # One generation at a time: the UI serves several browsers from one model, and a
        # llama.cpp context cannot run two generations at once. Held for a whole stream.
        self._busy = threading.RLock()
        self._llama = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=context,
            n_threads=threads or os.cpu_count() or 1,
            n_batch=batch,
            n_gpu_layers=n_gpu_layers,
            use_mmap=use_mmap,
            lora_path=str(lora_path) if lora_path is not None else None,
            verbose=False,
        )
        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise LLMError(
                f"{path.name} carries no chat template in its metadata; "
                "Vigie needs an instruction-tuned GGUF"
            )
        self.takes_system = template_takes_system(template)
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._format = Jinja2ChatFormatter(
            template,
            eos_token=self._token_text(self._llama.token_eos()),
            bos_token=self._token_text(self._llama.token_bos()),
        )
        log.info("LLM %s loaded (context %d, gpu layers %d)", path.name, context, n_gpu_layers)

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalLLM:
        return cls(
            settings.resolved_llm_path,
            expected_sha256=settings.llm_sha256,
            context=settings.llm_context,
            threads=settings.llm_threads,
            batch=settings.llm_batch,
            n_gpu_layers=settings.n_gpu_layers,
            use_mmap=settings.use_mmap,
            lora_path=settings.lora_path,
        )

    @property
    def name(self) -> str:
        return self.path.name

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llama.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        """Tokens of the prompt the chat template makes of `messages`."""
        if not self.takes_system:
            messages = fold_system(messages)
        prompt = self._format(messages=messages).prompt  # type: ignore[arg-type]
        return len(self._llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def stream_chat(
        self, messages: list[dict[str, str]], max_tokens: int = 384, temperature: float = 0.1
    ) -> Iterator[str]:
        """Yield the answer's text as the model produces it."""
        if not self.takes_system:
            messages = fold_system(messages)
        with self._busy:  # released when the stream ends or is closed
            stream = self._llama.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=temperature,
                stream=True,
            )
            for part in stream:
                delta = part["choices"][0].get("delta", {})  # type: ignore[index]
                text = delta.get("content")
                if text:
                    yield text
