"""The embedder exported to ONNX, for ONNX Runtime: written once from the verified model.

`vigie models prepare` (the set-up) and `vigie models export` write it; the
embedder adapter (`retrieval/embedder.py`) reads it when `embedder_backend` is
"onnx" (the default) or "onnx-int8". Nothing here downloads: the export reads
the local sentence-transformers directory, already checked against its
SHA-256s, through transformers and torch's TorchScript exporter.

The graph holds the whole sentence-transformers pipeline but the tokenizer:
the transformer (eager attention, so ONNX Runtime's optimiser could fuse it),
then the pooling its `1_Pooling/config.json` names (mean or CLS), then L2
normalisation. Its inputs are `input_ids` and `attention_mask` (int64, batch x
tokens), its output `embedding` (float32, batch x dimension).

"onnx-int8" adds ONNX Runtime's dynamic int8 quantisation of the weights'
MatMuls (`model-int8.onnx`): faster, and its vectors move (bench/embedder.py
prints by how much), so a store records it as another embedder.

The export is deterministic (same model, same pinned torch: same bytes); its
folder, `MODELS_DIR/onnx/<embedder identity>/`, gets a `SHA256SUMS` verified at
every load, and `source.json` naming the model it was made from. A folder made
from another version of the model is another folder, never a stale file.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Literal

from vigie.models import CHECKSUM_FILE, ModelError, sha256_of, verify_embedder_dir

log = logging.getLogger(__name__)

OnnxVariant = Literal["float32", "int8"]
GRAPH_FILES: dict[OnnxVariant, str] = {"float32": "model.onnx", "int8": "model-int8.onnx"}
SOURCE_FILE = "source.json"
OPSET = 17


def variant_of(backend: str) -> OnnxVariant:
    """The graph an `embedder_backend` runs ("onnx-int8": the int8 one)."""
    return "int8" if backend == "onnx-int8" else "float32"


def export_folder(models_dir: Path, identity: str) -> Path:
    """Where the export of the embedder with this identity lives."""
    return models_dir / "onnx" / identity.replace("@", "-")


def pooling_mode(embedder_dir: Path) -> Literal["mean", "cls"]:
    """The pooling the sentence-transformers folder declares (mean when it says nothing)."""
    config = embedder_dir / "1_Pooling" / "config.json"
    if config.is_file():
        declared = json.loads(config.read_text(encoding="utf-8"))
        if declared.get("pooling_mode_cls_token"):
            return "cls"
        if not declared.get("pooling_mode_mean_tokens", True):
            raise ModelError(
                f"{config}: only mean or CLS pooling can be exported to ONNX; "
                "set VIGIE_EMBEDDER_BACKEND=torch for this model"
            )
    return "mean"


def graph_path(folder: Path, variant: OnnxVariant) -> Path:
    return folder / GRAPH_FILES[variant]


def verified_graph(models_dir: Path, identity: str, variant: OnnxVariant) -> Path | None:
    """The export's graph if it exists and matches its SHA256SUMS; None if never made.
    A folder whose files do not match is named as corrupt."""
    folder = export_folder(models_dir, identity)
    graph = graph_path(folder, variant)
    if not (folder / CHECKSUM_FILE).is_file() or not graph.is_file():
        return None
    verify_embedder_dir(folder, setting="VIGIE_MODELS_DIR")
    return graph


def ensure_export(
    embedder_dir: Path, models_dir: Path, identity: str, variant: OnnxVariant
) -> Path:
    """The verified ONNX graph of this embedder, exported first if it does not exist yet.
    An export that no longer matches its SHA256SUMS is made again from the verified model."""
    try:
        graph = verified_graph(models_dir, identity, variant)
    except ModelError as exc:
        log.warning("%s: exporting it again", exc)
        graph = None
    if graph is not None:
        return graph
    folder = export_folder(models_dir, identity)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        # A staging folder of this process's own: two processes exporting at once each
        # write theirs, and the first to finish is the one kept.
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as exc:
        raise _unwritable(embedder_dir, folder, exc) from None
    try:
        log.info("exporting %s to ONNX (%s), once", embedder_dir.name, variant)
        _write_float32(embedder_dir, staging / GRAPH_FILES["float32"])
        if variant == "int8":
            _write_int8(staging / GRAPH_FILES["float32"], staging / GRAPH_FILES["int8"])
        (staging / SOURCE_FILE).write_text(
            json.dumps({"embedder": identity, "opset": OPSET}, indent=2) + "\n", encoding="utf-8"
        )
        sums = [f"{sha256_of(f)}  {f.name}\n" for f in sorted(staging.iterdir()) if f.is_file()]
        (staging / CHECKSUM_FILE).write_text("".join(sums), encoding="utf-8")
        staging.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    except OSError as exc:
        if graph_path(folder, variant).is_file():  # another process finished first
            return verified_graph(models_dir, identity, variant) or graph_path(folder, variant)
        raise _unwritable(embedder_dir, folder, exc) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return graph_path(folder, variant)


def _unwritable(embedder_dir: Path, folder: Path, exc: OSError) -> ModelError:
    return ModelError(
        f"cannot write the ONNX export of {embedder_dir.name} in {folder.parent}: "
        f"{exc.strerror or exc}; run `vigie models export` as the models' owner, or set "
        "VIGIE_EMBEDDER_BACKEND=torch"
    )


def _write_float32(embedder_dir: Path, target: Path) -> None:
    """The transformer, its pooling and normalisation, as one float32 ONNX graph."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(
        str(embedder_dir), local_files_only=True, attn_implementation="eager"
    ).eval()

    class Pooled(torch.nn.Module):
        """The last hidden state pooled (mean over real tokens, or CLS) and L2-normalised:
        what sentence-transformers' Pooling and Normalize modules compute."""

        def __init__(self, mode: str) -> None:
            super().__init__()
            self.model = model
            self.mode = mode

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            states = self.model(input_ids=input_ids, attention_mask=attention_mask)[0]
            if self.mode == "cls":
                pooled = states[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(states.dtype)
                pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    tokens = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow
        torch.onnx.export(
            Pooled(pooling_mode(embedder_dir)),
            example,
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": tokens, "attention_mask": tokens, "embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def _write_int8(source: Path, target: Path) -> None:
    """ONNX Runtime's dynamic quantisation of the MatMuls that hold weights (per output
    channel; activations quantised at run time). The attention's activation-by-activation
    MatMuls stay float32. Measured (bench/embedder.py): 3.8x torch; piaf-fr MRR@10 -0.01
    French, -0.013 to -0.026 English over French against float32, hence not the default."""
    import onnx
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    weighted = {init.name for init in graph.initializer}
    weight_matmuls = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and any(name in weighted for name in node.input)
    ]

    logging.disable(logging.WARNING)  # its advice to pre-process, printed on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_quantize=weight_matmuls,
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    finally:
        logging.disable(logging.NOTSET)
