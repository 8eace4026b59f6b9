"""The bundle's software bill of materials (CycloneDX 1.5) and its licence list.

The receiving site has to know exactly what third-party code it is running and under
which licences, without network access to look anything up. Versions come from the
pinned lock; hashes are those of the wheel files actually shipped (not the lock's list of
acceptable hashes); licences come from each wheel's own METADATA. Output depends only on
the inputs (the serial number is a UUID5 of a caller-given seed, the timestamp is given),
so two builds give the same SBOM.
"""

from __future__ import annotations

import re
import uuid
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

import vigie
from vigie.errors import InputError
from vigie.models import sha256_of

__all__ = [
    "LockError",
    "LockedPackage",
    "SbomError",
    "cyclonedx",
    "licence_list",
    "licence_of",
    "normalise",
    "parse_lock",
    "wheel_metadata",
]

# METADATA carries the long description; anything past this is not a real METADATA file.
_METADATA_LIMIT = 16 * 1024 * 1024
_COMMENT = re.compile(r"(^|\s+)#.*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SPDX_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*(:[A-Za-z0-9.+-]+)?$")
_SPDX_OPERATORS = {"AND", "OR", "WITH"}

# SPDX licence ids common among Python packages. CycloneDX 1.5 restricts `license.id` to
# the SPDX list, so only these are written as ids; any other id-like string is written as
# an `expression` (still valid), and free text as a `name`.
SPDX_IDS = {
    i.lower(): i
    for i in (
        "0BSD AFL-2.1 AGPL-3.0-only AGPL-3.0-or-later Apache-1.1 Apache-2.0 Artistic-2.0 "
        "BlueOak-1.0.0 BSD-1-Clause BSD-2-Clause BSD-3-Clause BSD-3-Clause-Clear BSD-4-Clause "
        "BSL-1.0 CC-BY-4.0 CC-BY-SA-4.0 CC0-1.0 CDDL-1.0 CNRI-Python ECL-2.0 EPL-1.0 EPL-2.0 "
        "EUPL-1.2 GPL-2.0-only GPL-2.0-or-later GPL-3.0-only GPL-3.0-or-later HPND ISC "
        "LGPL-2.0-only LGPL-2.0-or-later LGPL-2.1-only LGPL-2.1-or-later LGPL-3.0-only "
        "LGPL-3.0-or-later MIT MIT-0 MIT-CMU MPL-1.1 MPL-2.0 NCSA OFL-1.1 OpenSSL PSF-2.0 "
        "Python-2.0 Python-2.0.1 Unicode-3.0 Unicode-DFS-2016 Unlicense UPL-1.0 W3C WTFPL "
        "X11 Zlib ZPL-2.1 LLVM-exception Classpath-exception-2.0 GCC-exception-3.1"
    ).split()
}


class LockError(InputError):
    """requirements.lock is not a fully pinned pip-tools lock."""


class SbomError(InputError):
    """The shipped wheels do not match the lock (missing, other version, other hash)."""


@dataclass(frozen=True)
class LockedPackage:
    """One pinned requirement: PEP 503 name, version as written, accepted sha256 hex digests."""

    name: str
    version: str
    hashes: tuple[str, ...]


def normalise(name: str) -> str:
    """PEP 503 normalised project name ("Typing_Extensions" -> "typing-extensions")."""
    return canonicalize_name(name)


def _logical_lines(text: str) -> list[str]:
    """Join `\\` continuations the way pip does: a comment line ends the continuation."""
    lines: list[str] = []
    pending: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        is_comment = line.lstrip().startswith("#")
        if line.endswith("\\") and not is_comment:
            pending.append(line[:-1])
            continue
        pending.append(line)
        lines.append(_COMMENT.sub("", " ".join(pending)).strip())
        pending = []
    if pending:
        lines.append(_COMMENT.sub("", " ".join(pending)).strip())
    return [line for line in lines if line]


def _lock_entry(line: str) -> LockedPackage:
    tokens = line.split()
    cut = next((i for i, tok in enumerate(tokens) if tok.startswith("-")), len(tokens))
    spec, options = " ".join(tokens[:cut]), tokens[cut:]
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        raise LockError(f"requirements.lock: cannot parse {spec!r}: {exc}") from exc
    if req.url:
        try:
            _name, wheel_version, _build, _tags = parse_wheel_filename(req.url.rsplit("/", 1)[-1])
        except InvalidWheelFilename as exc:
            raise LockError(f"requirements.lock: {spec!r} is not pinned to a wheel") from exc
        version = str(wheel_version)
    else:
        pins = list(req.specifier)
        if len(pins) != 1 or pins[0].operator not in ("==", "===") or "*" in pins[0].version:
            raise LockError(f"requirements.lock: {spec!r} is not pinned to one exact version")
        version = pins[0].version
    hashes: list[str] = []
    i = 0
    while i < len(options):
        option = options[i]
        if option == "--hash" and i + 1 < len(options):
            option, i = f"--hash={options[i + 1]}", i + 1
        if option.startswith("--hash="):
            alg, _, digest = option[len("--hash=") :].partition(":")
            digest = digest.lower()
            if alg != "sha256" or not _SHA256.match(digest):
                raise LockError(f"requirements.lock: {req.name}: unsupported hash {option!r}")
            hashes.append(digest)
        i += 1
    return LockedPackage(normalise(req.name), version, tuple(hashes))


def parse_lock(text: str) -> list[LockedPackage]:
    """The pinned packages of a pip-tools `requirements.lock`, in file order.

    Comments and global options (`--index-url`, `--find-links`, ...) are skipped; editable
    installs, unpinned or duplicate requirements and non-sha256 hashes are refused, since
    an air-gapped install cannot resolve anything that the lock leaves open.
    """
    packages: list[LockedPackage] = []
    seen: set[str] = set()
    for line in _logical_lines(text):
        if line.startswith(("-e", "--editable")):
            raise LockError(f"requirements.lock: editable requirement {line!r}")
        if line.startswith("-"):
            continue
        package = _lock_entry(line)
        if package.name in seen:
            raise LockError(f"requirements.lock: {package.name} appears twice")
        seen.add(package.name)
        packages.append(package)
    return packages


def wheel_metadata(wheel: Path) -> dict:
    """The licence-relevant fields of a wheel's `*.dist-info/METADATA`.

    Keys are the METADATA field names: Name, Version, Summary, License-Expression, License
    (first non-blank line, at most 200 characters) and Classifier (a list of the
    "License :: ..." classifiers only). Missing fields are "" (or []).
    """
    try:
        with zipfile.ZipFile(wheel) as zf:
            found = [
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            ]
            if len(found) != 1:
                raise SbomError(f"{wheel}: expected one *.dist-info/METADATA, found {found}")
            with zf.open(found[0]) as handle:
                raw = handle.read(_METADATA_LIMIT + 1)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SbomError(f"{wheel}: not a readable wheel ({exc})") from exc
    if len(raw) > _METADATA_LIMIT:
        raise SbomError(f"{wheel}: METADATA is larger than {_METADATA_LIMIT} bytes")
    message = HeaderParser().parsestr(raw.decode("utf-8", errors="replace"))

    def field(key: str) -> str:
        value = message.get(key)
        return str(value).strip() if value is not None else ""

    licence = next((ln.strip() for ln in field("License").splitlines() if ln.strip()), "")
    if licence.upper() in ("UNKNOWN", "NONE"):
        licence = ""
    classifiers = [
        str(c).strip()
        for c in message.get_all("Classifier") or []
        if str(c).strip().startswith("License ::")
    ]
    return {
        "Name": field("Name"),
        "Version": field("Version"),
        "Summary": field("Summary"),
        "License-Expression": field("License-Expression"),
        "License": licence[:200],
        "Classifier": classifiers,
    }


def licence_of(meta: dict) -> str:
    """License-Expression, else the License classifiers, else the License line, else UNKNOWN."""
    if meta.get("License-Expression"):
        return str(meta["License-Expression"])
    classifiers = [c.removeprefix("License ::").strip() for c in meta.get("Classifier", [])]
    specific = [c for c in classifiers if c != "OSI Approved"] or classifiers
    if specific:
        return "; ".join(specific)
    if meta.get("License"):
        return str(meta["License"])
    return "UNKNOWN"


def _is_spdx_expression(text: str) -> bool:
    """Whether `text` parses as an SPDX expression: ids joined by AND/OR/WITH, parentheses."""
    depth, expect_id = 0, True
    tokens = re.findall(r"\(|\)|[^\s()]+", text)
    for token in tokens:
        if token == "(":
            if not expect_id:
                return False
            depth += 1
        elif token == ")":
            if expect_id or depth == 0:
                return False
            depth -= 1
        elif token in _SPDX_OPERATORS:
            if expect_id:
                return False
            expect_id = True
        elif expect_id and _SPDX_TOKEN.match(token):
            expect_id = False
        else:
            return False
    return bool(tokens) and not expect_id and depth == 0


def _licence_entries(licence: str) -> list[dict[str, Any]]:
    """CycloneDX `licenses`: a listed SPDX id, else an SPDX expression, else a name.

    Empty for UNKNOWN: CycloneDX reads a missing `licenses` as "not known".
    """
    if licence == "UNKNOWN":
        return []
    known = SPDX_IDS.get(licence.lower())
    if known:
        return [{"license": {"id": known}}]
    if _is_spdx_expression(licence):
        return [{"expression": licence}]
    return [{"license": {"name": licence}}]


def _shipped(
    packages: list[LockedPackage], wheels: dict[str, Path]
) -> list[tuple[LockedPackage, Path, dict]]:
    """Each locked package with its shipped wheel and metadata, sorted by name.

    Refuses a package with no wheel, or whose wheel names another project or version, or
    one locked at two versions. Wheels that no locked package names are left out.
    """
    by_name = {normalise(name): Path(path) for name, path in wheels.items()}
    unique: dict[str, LockedPackage] = {}
    for package in packages:  # the same package may come from two lock files
        seen = unique.get(package.name)
        if seen is not None and seen.version != package.version:
            raise SbomError(f"{package.name} is locked at {seen.version} and {package.version}")
        hashes = (*seen.hashes, *package.hashes) if seen else package.hashes
        unique[package.name] = LockedPackage(package.name, package.version, hashes)
    missing = sorted(name for name in unique if name not in by_name)
    if missing:
        raise SbomError(f"no wheel shipped for: {', '.join(missing)}")
    shipped = []
    for package in sorted(unique.values(), key=lambda p: p.name):
        wheel = by_name[package.name]
        meta = wheel_metadata(wheel)
        try:
            same_version = Version(meta["Version"]) == Version(package.version)
        except InvalidVersion:
            same_version = meta["Version"] == package.version
        if normalise(meta["Name"]) != package.name or not same_version:
            raise SbomError(
                f"{wheel.name} is {meta['Name']} {meta['Version']}, "
                f"but the lock pins {package.name} {package.version}"
            )
        shipped.append((package, wheel, meta))
    return shipped


def cyclonedx(
    packages: list[LockedPackage],
    wheels: dict[str, Path],
    serial_seed: str,
    timestamp: str,
    *,
    version: str | None = None,
    check_lock_hashes: bool = False,
) -> dict:
    """A CycloneDX 1.5 BOM of the locked packages, as a JSON-ready dict.

    `wheels` maps each normalised name to the wheel file in the bundle; its SHA-256 is the
    one recorded. With `check_lock_hashes`, a wheel whose hash the lock does not accept is
    refused (`pip install --require-hashes` would refuse it too); it is off by default
    because a wheel built locally from an sdist (llama-cpp-python) never matches the lock.
    `version` is Vigie's own version (default: `vigie.__version__`).
    """
    components = []
    for package, wheel, meta in _shipped(packages, wheels):
        sha = sha256_of(wheel)
        if check_lock_hashes and package.hashes and sha not in package.hashes:
            raise SbomError(
                f"{wheel.name}: sha256 {sha} is not among the lock's hashes for {package.name}"
            )
        purl = f"pkg:pypi/{package.name}@{quote(package.version, safe='')}"
        component: dict[str, Any] = {
            "type": "library",
            "bom-ref": purl,
            "name": package.name,
            "version": package.version,
            "purl": purl,
            "hashes": [{"alg": "SHA-256", "content": sha}],
        }
        licences = _licence_entries(licence_of(meta))
        if licences:
            component["licenses"] = licences
        if meta["Summary"]:
            component["description"] = meta["Summary"]
        components.append(component)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, serial_seed)}",
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "component": {
                "type": "application",
                "bom-ref": "vigie",
                "name": "vigie",
                "version": version or vigie.__version__,
            },
        },
        "components": components,
    }


def licence_list(packages: list[LockedPackage], wheels: dict[str, Path]) -> list[dict]:
    """[{name, version, licence}] sorted by name, for the bundle's LICENSES.json."""
    return [
        {"name": package.name, "version": package.version, "licence": licence_of(meta)}
        for package, _wheel, meta in _shipped(packages, wheels)
    ]
