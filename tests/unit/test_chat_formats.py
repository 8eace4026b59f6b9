"""Both chat formats: ChatML (the stand-in, Qwen) and Mistral's instruct template."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from retrieval.llm import LLMError, LocalLLM, fold_system, template_takes_system
from vigie.config import Settings

# Mistral-7B-Instruct-v0.2's chat template, as its tokenizer_config.json and GGUF carry it.
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}"
    "{% endif %}{% endfor %}"
)
MESSAGES = [
    {"role": "system", "content": "Réponds seulement à partir des extraits."},
    {"role": "user", "content": "<extraits>…</extraits>\n\nQuestion : qui ?"},
]


def render(template: str, messages: list[dict[str, str]]) -> str:
    formatter = Jinja2ChatFormatter(template, eos_token="</s>", bos_token="<s>")
    return formatter(messages=messages).prompt


def test_mistral_gets_its_system_prompt_folded_into_the_first_user_turn() -> None:
    assert template_takes_system(MISTRAL_TEMPLATE) is False
    with pytest.raises(Exception, match="alternate"):
        render(MISTRAL_TEMPLATE, MESSAGES)
    prompt = render(MISTRAL_TEMPLATE, fold_system(MESSAGES))
    assert prompt == (
        "<s>[INST] Réponds seulement à partir des extraits.\n\n"
        "<extraits>…</extraits>\n\nQuestion : qui ? [/INST]"
    )


def test_chatml_keeps_its_system_message(llm: LocalLLM) -> None:
    template = llm._llama.metadata["tokenizer.chat_template"]
    assert template_takes_system(template) is True and llm.takes_system
    prompt = render(template, MESSAGES)
    assert prompt.startswith("<|im_start|>system\nRéponds seulement à partir des extraits.")
    assert "<|im_start|>user\n<extraits>" in prompt


def test_the_system_prompt_alone_becomes_a_user_turn() -> None:
    assert fold_system(MESSAGES[:1]) == [{"role": "user", "content": MESSAGES[0]["content"]}]
    assert fold_system(MESSAGES[1:]) == MESSAGES[1:]


def test_a_missing_lora_adapter_is_named(models_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "ministere-lora.gguf"
    with pytest.raises(LLMError, match="LoRA adapter not found: .*ministere-lora.gguf"):
        LocalLLM.from_settings(Settings(models_dir=models_dir, lora_path=missing))
