"""Describe a bundle archive without extracting it: what version, which models, how big.

Meant for the person at either end of the air gap who holds a `vigie-bundle-*.tar` and
wants to know what it is before installing it. It reads MANIFEST.json (and the SBOM) from
the archive, writes nothing to disk, and verifies nothing: the signature and hashes are
checked by verify.sh. Run as `python -m offline_bundle.inspect BUNDLE.tar` (not as a
script path, which would shadow the standard library's `inspect`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from offline_bundle.archive import members, read_member, top_folder
from offline_bundle.manifest import load_manifest

__all__ = ["describe", "render"]

MB = 1_000_000


def _model_bytes(location: str, sizes: dict[str, int]) -> int | None:
    """Bytes of a model's file, or of everything under its folder; None if not in the list."""
    for candidate in (location.strip("/"), f"models/{location.strip('/')}"):
        if candidate in sizes:
            return sizes[candidate]
        under = [size for path, size in sizes.items() if path.startswith(candidate + "/")]
        if under:
            return sum(under)
    return None


def _models(manifest: dict, sizes: dict[str, int]) -> list[dict[str, Any]]:
    models = []
    for entry in manifest["models"]:
        entry = entry if isinstance(entry, dict) else {"name": str(entry)}
        location = entry.get("file") or entry.get("dir") or entry.get("path") or ""
        models.append(
            {
                "name": entry.get("name", ""),
                "kind": entry.get("kind", ""),
                "path": location,
                "sha256": entry.get("sha256", ""),
                "licence": entry.get("licence") or entry.get("license") or "",
                "bytes": _model_bytes(str(location), sizes) if location else None,
            }
        )
    return models


def describe(archive: Path, *, top: int = 10) -> dict:
    """What the bundle says about itself, read from its MANIFEST.json and sbom.cdx.json.

    `packages_top` lists the first `top` Python packages (by name) from the SBOM.
    """
    archive = Path(archive)
    manifest = load_manifest(read_member(archive, "MANIFEST.json"))
    present = dict(members(archive))
    sizes = {f["path"]: int(f["size"]) for f in manifest["files"]}
    if "sbom.cdx.json" in present:
        sbom = json.loads(read_member(archive, "sbom.cdx.json").decode("utf-8"))
        components = sorted(
            (c for c in sbom.get("components", []) if isinstance(c, dict)),
            key=lambda c: str(c.get("name", "")),
        )
        packages = len(components)
        packages_top = [
            {"name": c.get("name", ""), "version": c.get("version", "")} for c in components[:top]
        ]
    else:
        packages = int(manifest["parts"].get("wheels", {}).get("files", 0))
        packages_top = []
    parts = {
        name: {"files": int(part.get("files", 0)), "bytes": int(part.get("bytes", 0))}
        for name, part in sorted(manifest["parts"].items())
    }
    return {
        "archive": archive.name,
        "archive_bytes": archive.stat().st_size,
        "top_folder": top_folder(archive),
        "signed": "MANIFEST.json.sig" in present,
        "name": manifest["name"],
        "version": manifest["version"],
        "platform": manifest["platform"],
        "built": manifest["built"],
        "parts": parts,
        "models": _models(manifest, sizes),
        "packages": packages,
        "packages_top": packages_top,
        "files": len(manifest["files"]),
        "total_bytes": sum(sizes.values()),
    }


def _mb(size: int | None) -> str:
    return "?" if size is None else f"{size / MB:.1f} MB"


def render(described: dict) -> str:
    """A plain-text report of `describe`'s result, sizes in MB (10^6 bytes, one decimal)."""
    d = described
    lines = [
        f"{d['name']} {d['version']}  ({d['platform']})",
        f"  built      {d['built']}",
        f"  archive    {d['archive']}  {_mb(d['archive_bytes'])}  (top folder {d['top_folder']}/)",
        f"  signature  {'present (not checked here)' if d['signed'] else 'MISSING'}",
        "",
        "Parts:",
    ]
    width = max([len(name) for name in d["parts"]] + [5])
    for name, part in d["parts"].items():
        lines.append(f"  {name:<{width}}  {part['files']:>6} files  {_mb(part['bytes']):>12}")
    lines.append(f"  {'total':<{width}}  {d['files']:>6} files  {_mb(d['total_bytes']):>12}")
    lines += ["", f"Models ({len(d['models'])}):"]
    for model in d["models"]:
        kind = f" ({model['kind']})" if model.get("kind") else ""
        lines.append(
            f"  {model['name']}{kind}  {model['path']}  {_mb(model['bytes'])}  "
            f"licence {model['licence'] or '?'}"
        )
        if model["sha256"]:
            lines.append(f"    sha256 {model['sha256']}")
    shown = len(d["packages_top"])
    more = f", first {shown} shown" if 0 < shown < d["packages"] else ""
    lines += ["", f"Python packages: {d['packages']}{more}"]
    lines += [f"  {p['name']} {p['version']}" for p in d["packages_top"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m offline_bundle.inspect BUNDLE.tar`: print the report; 2 on a bad bundle."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m offline_bundle.inspect BUNDLE.tar", file=sys.stderr)
        return 2
    try:
        print(render(describe(Path(args[0]))), end="")
    except (ValueError, OSError) as exc:  # ArchiveError, ManifestError, bad JSON
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
