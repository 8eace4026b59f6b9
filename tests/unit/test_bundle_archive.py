"""The offline bundle's archive, manifest, SBOM and inspection (offline_bundle/*).

The archive must be byte-identical across builds (so anyone can rebuild and compare it
with the signed one) and must be read without trusting it (it crossed the air gap).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from offline_bundle.archive import (
    ArchiveError,
    members,
    read_member,
    safe_extract,
    top_folder,
    write_archive,
)
from offline_bundle.inspect import describe, render
from offline_bundle.manifest import (
    SPECIAL,
    ManifestError,
    load_manifest,
    sha256_file,
    write_manifest,
    write_sums,
)
from offline_bundle.sbom import (
    LockedPackage,
    LockError,
    SbomError,
    cyclonedx,
    licence_list,
    licence_of,
    normalise,
    parse_lock,
    wheel_metadata,
)

MTIME = 1_700_000_000
TOP = "vigie-bundle-1.2.3"
LONG = "models/e5/" + "very-long-file-name-" * 6 + ".bin"  # > 100 chars: needs a pax path
ACCENTED = "models/e5/modèle été.txt"  # non-ASCII: needs a pax path too
FILES = {
    "install.sh": (b"#!/bin/sh\necho install\n", 0o700),
    "verify.sh": (b"#!/bin/sh\necho verify\n", 0o755),
    "requirements.lock": (b"torch==2.13.0+cpu\n", 0o600),
    "wheels/a-1.0-py3-none-any.whl": (b"wheel a" * 10, 0o644),
    "wheels/b-2.0-py3-none-any.whl": (b"wheel b" * 20, 0o664),
    "models/MODELS.json": (b"{}\n", 0o644),
    "models/e5/weights.bin": (b"\x00\x01" * 500, 0o640),
    LONG: (b"long name\n", 0o644),
    ACCENTED: (b"accents\n", 0o644),
    "debs/tesseract_5.deb": (b"deb" * 7, 0o644),
    "a-b.txt": (b"top-level file\n", 0o644),
    "wheels-README.txt": (b"sorts before wheels/ bytewise ('-' < '/')\n", 0o644),
}


def make_folder(root: Path, order: list[str] | None = None, when: int = 1_600_000_000) -> Path:
    """A bundle-like folder, files created in `order`, all times set to `when`."""
    folder = root / TOP
    for rel in order or list(FILES):
        data, mode = FILES[rel]
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (when, when))
    (folder / "models").chmod(0o700)
    return folder


def make_wheel(directory: Path, name: str, version: str, headers: str = "") -> Path:
    """A minimal wheel (only dist-info/METADATA), deterministic bytes."""
    dist = re.sub(r"[-_.]+", "_", name)
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    metadata = f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n{headers}\nLong text.\n"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(f"{dist}-{version}.dist-info/METADATA", (2020, 1, 1, 0, 0, 0))
        zf.writestr(info, metadata)
        zf.writestr(zipfile.ZipInfo(f"{dist}/__init__.py", (2020, 1, 1, 0, 0, 0)), "")
    return path


def craft_tar(path: Path, entries: list[tarfile.TarInfo]) -> Path:
    """A hand-made (hostile) tar: each entry as given, regular files with 1 byte of data."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for info in entries:
            if info.isreg():
                info.size = 1
                tar.addfile(info, io.BytesIO(b"x"))
            else:
                tar.addfile(info)
    return path


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


# --- archive ---------------------------------------------------------------------------


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    first = make_folder(tmp_path / "one", when=1_600_000_000)
    second = make_folder(tmp_path / "two", order=list(reversed(FILES)), when=1_650_000_123)
    # Group/other bits differ on the second machine; only the owner's x bit may count.
    (second / "wheels/a-1.0-py3-none-any.whl").chmod(0o600)
    a = write_archive(first, tmp_path / "a.tar", MTIME)
    os.utime(first / "install.sh")  # touched after the first build
    b = write_archive(second, tmp_path / "b.tar", MTIME)
    c = write_archive(first, tmp_path / "c.tar", MTIME)
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    assert write_archive(first, tmp_path / "d.tar", MTIME + 1).read_bytes() != a.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.tar",
        "b.tar",
        "c.tar",
        "d.tar",
        "one",
        "two",
    ]


def test_tar_layout_owners_times_modes_and_no_pax_times(tmp_path: Path) -> None:
    out = write_archive(make_folder(tmp_path), tmp_path / "bundle.tar", MTIME)
    raw = out.read_bytes()
    assert raw[257:263] == b"ustar\x00"  # POSIX ustar/pax headers
    for record in (b"atime=", b"ctime=", b"mtime="):
        assert record not in raw
    with tarfile.open(out) as tar:
        infos = tar.getmembers()
    names = [m.name for m in infos]
    assert names[0] == TOP and infos[0].isdir()
    assert all(n.startswith(TOP + "/") for n in names[1:])
    assert names == sorted(names, key=lambda n: n.encode("utf-8"))
    assert len(names) == len(set(names))
    assert names.index(f"{TOP}/wheels-README.txt") < names.index(
        f"{TOP}/wheels/a-1.0-py3-none-any.whl"
    )
    assert names.index(f"{TOP}/wheels") < names.index(f"{TOP}/wheels-README.txt")
    assert f"{TOP}/{LONG}" in names and f"{TOP}/{ACCENTED}" in names
    assert any(m.pax_headers for m in infos)  # the long and accented names did need pax
    for m in infos:
        assert set(m.pax_headers) <= {"path"}, (m.name, m.pax_headers)
        assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", MTIME)
        assert m.isdir() or m.isreg()
    modes = {m.name.removeprefix(TOP + "/"): m.mode for m in infos}
    assert modes["install.sh"] == modes["verify.sh"] == 0o755
    assert modes["requirements.lock"] == modes["wheels/b-2.0-py3-none-any.whl"] == 0o644
    assert modes["models"] == modes[TOP] == 0o755
    assert oct(out.stat().st_mode & 0o777) == oct(0o644)


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo"])
def test_links_and_special_files_are_refused(tmp_path: Path, kind: str) -> None:
    folder = make_folder(tmp_path)
    odd = folder / "wheels" / "odd"
    if kind == "symlink":
        odd.symlink_to(folder / "install.sh")
    elif kind == "hardlink":
        os.link(folder / "install.sh", odd)
    else:
        os.mkfifo(odd)
    with pytest.raises(ArchiveError) as excinfo:
        write_archive(folder, tmp_path / "bundle.tar", MTIME)
    assert str(folder / ("install.sh" if kind == "hardlink" else "wheels/odd")) in str(
        excinfo.value
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [TOP]  # no archive, no temp file


def test_archive_may_not_be_written_inside_its_folder(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    with pytest.raises(ArchiveError, match="contain itself"):
        write_archive(folder, folder / "wheels" / "self.tar", MTIME)


def test_read_member_members_and_top_folder(tmp_path: Path) -> None:
    out = write_archive(make_folder(tmp_path), tmp_path / "bundle.tar", MTIME)
    assert top_folder(out) == TOP
    listed = members(out)
    assert dict(listed) == {rel: len(data) for rel, (data, _mode) in FILES.items()}
    assert [rel for rel, _ in listed] == sorted(FILES, key=lambda r: r.encode("utf-8"))
    assert read_member(out, "install.sh") == FILES["install.sh"][0]
    assert read_member(out, ACCENTED) == b"accents\n"
    with pytest.raises(ArchiveError, match="no file"):
        read_member(out, "MANIFEST.json")
    with pytest.raises(ArchiveError, match="unsafe"):
        read_member(out, "../install.sh")


def test_safe_extract_round_trip(tmp_path: Path) -> None:
    out = write_archive(make_folder(tmp_path / "src"), tmp_path / "bundle.tar", MTIME)
    top = safe_extract(out, tmp_path / "dest")
    assert top == tmp_path / "dest" / TOP
    for rel, (data, mode) in FILES.items():
        assert (top / rel).read_bytes() == data
        assert bool((top / rel).stat().st_mode & 0o100) == bool(mode & 0o100)
    assert [p.name for p in (tmp_path / "dest").iterdir()] == [TOP]  # staging folder gone
    with pytest.raises(ArchiveError, match="already exists"):
        safe_extract(out, tmp_path / "dest")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([entry("top", tarfile.DIRTYPE), entry("top/../x")], "unsafe"),
        ([entry("../x")], "unsafe"),
        ([entry("/tmp/vigie-test-absolute")], "unsafe"),
        ([entry("top", tarfile.DIRTYPE), entry("top/l", tarfile.SYMTYPE, "/etc/passwd")], "link"),
        ([entry("top", tarfile.DIRTYPE), entry("top/l", tarfile.SYMTYPE, "ok.txt")], "link"),
        ([entry("top/f"), entry("top/h", tarfile.LNKTYPE, "top/f")], "link"),
        ([entry("top", tarfile.DIRTYPE), entry("top/dev", tarfile.CHRTYPE)], "special"),
        ([entry("top/a"), entry("other/b")], "more than one top"),
        ([entry("top/a"), entry("top/a")], "twice"),
    ],
)
def test_safe_extract_refuses_hostile_archives(
    tmp_path: Path, entries: list[tarfile.TarInfo], message: str
) -> None:
    crafted = craft_tar(tmp_path / "evil.tar", entries)
    with tarfile.open(crafted) as tar:  # the hostile name really is in the archive
        assert [m.name for m in tar.getmembers()] == [e.name for e in entries]
    dest = tmp_path / "dest"
    with pytest.raises(ArchiveError, match=message):
        safe_extract(crafted, dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "x").exists() and not Path("/tmp/vigie-test-absolute").exists()
    with pytest.raises(ArchiveError):
        members(crafted)


# --- SHA256SUMS and MANIFEST.json ---------------------------------------------------------


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils sha256sum")
def test_sha256sums_matches_the_sha256sum_tool(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / "models" / "e5" / "with space.txt").write_text("space\n")
    (folder / "MANIFEST.json").write_text("{}")  # SPECIAL files are left out
    sums = write_sums(folder)
    listed = [line.split("  ", 1)[1] for line in sums.read_text("utf-8").splitlines()]
    assert listed == sorted(listed, key=lambda r: r.encode("utf-8"))
    assert not set(SPECIAL) & set(listed)
    check = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    own = subprocess.run(["sha256sum", "--", *listed], cwd=folder, capture_output=True, check=True)
    assert own.stdout == sums.read_bytes()
    (folder / "verify.sh").write_text("tampered\n")
    tampered = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True)
    assert tampered.returncode != 0


@pytest.mark.parametrize("bad", ["new\nline.txt", "back\\slash.txt"])
def test_sums_refuse_names_sha256sum_would_escape(tmp_path: Path, bad: str) -> None:
    folder = make_folder(tmp_path)
    (folder / "wheels" / bad).write_text("x")
    with pytest.raises(ManifestError, match="not allowed"):
        write_sums(folder)


def test_manifest_content_parts_and_sums_line(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / "MANIFEST.json.sig").write_bytes(b"old signature")
    models = [{"name": "e5", "dir": "models/e5", "sha256": "ab" * 32, "licence": "MIT"}]
    path = write_manifest(
        folder,
        version="1.2.3",
        platform="linux-x86_64-cp311",
        built="2026-01-02T03:04:05+00:00",
        models=models,
        extra={"python": "3.11"},
    )
    text = path.read_text("utf-8")
    manifest = load_manifest(path.read_bytes())
    assert text == json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert "modèle été" in text  # ensure_ascii=False
    sums_sha = sha256_file(folder / "SHA256SUMS")
    assert sums_sha == hashlib.sha256((folder / "SHA256SUMS").read_bytes()).hexdigest()
    lines = re.findall(r'^  "sha256sums": "([0-9a-f]{64})",?$', text, flags=re.MULTILINE)
    assert lines == [sums_sha]
    assert manifest["format"] == 1 and manifest["name"] == "vigie"
    assert manifest["version"] == "1.2.3" and manifest["platform"] == "linux-x86_64-cp311"
    assert manifest["built"] == "2026-01-02T03:04:05+00:00"
    assert manifest["models"] == models and manifest["python"] == "3.11"
    paths = [f["path"] for f in manifest["files"]]
    assert paths == sorted(FILES, key=lambda r: r.encode("utf-8"))
    for f in manifest["files"]:
        assert f["size"] == len(FILES[f["path"]][0])
        assert f["sha256"] == hashlib.sha256(FILES[f["path"]][0]).hexdigest()
    size = {rel: len(data) for rel, (data, _m) in FILES.items()}
    assert manifest["parts"] == {
        "other": {"files": 5, "bytes": sum(size[r] for r in FILES if "/" not in r)},
        "wheels": {"files": 2, "bytes": sum(size[r] for r in FILES if r.startswith("wheels/"))},
        "models": {"files": 4, "bytes": sum(size[r] for r in FILES if r.startswith("models/"))},
        "debs": {"files": 1, "bytes": size["debs/tesseract_5.deb"]},
    }
    # Same folder, same inputs: same bytes (the signature is not part of the inventory).
    (folder / "MANIFEST.json.sig").write_bytes(b"new signature")
    again = write_manifest(
        folder,
        version="1.2.3",
        platform="linux-x86_64-cp311",
        built="2026-01-02T03:04:05+00:00",
        models=models,
        extra={"python": "3.11"},
    )
    assert again.read_text("utf-8") == text


def test_manifest_refuses_bad_inputs_and_bad_documents(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    common = {"version": "1", "platform": "p", "models": []}
    with pytest.raises(ManifestError, match="replace"):
        write_manifest(folder, built="2026-01-01T00:00:00", extra={"files": []}, **common)
    with pytest.raises(ManifestError, match="ISO"):
        write_manifest(folder, built="yesterday", **common)
    with pytest.raises(ManifestError, match="not UTF-8 JSON"):
        load_manifest(b"{not json")
    with pytest.raises(ManifestError, match="not a JSON object"):
        load_manifest(b"[]")
    good = json.loads(write_manifest(folder, built="2026-01-01T00:00:00", **common).read_bytes())
    for key in ("sha256sums", "files"):
        broken = {k: v for k, v in good.items() if k != key}
        with pytest.raises(ManifestError, match=f"lacks keys: {key}"):
            load_manifest(json.dumps(broken).encode())
    with pytest.raises(ManifestError, match="format"):
        load_manifest(json.dumps({**good, "format": 2}).encode())


# --- requirements.lock, wheels, SBOM ------------------------------------------------------

H = ["1" * 64, "2" * 64, "3" * 64, "4" * 64, "AB" * 32]
LOCK = f"""#
# This file is autogenerated by pip-compile with Python 3.11
# by the following command:
#
#    pip-compile --generate-hashes --output-file=requirements.lock requirements.in
#
--index-url https://download.pytorch.org/whl/cpu
--extra-index-url https://pypi.org/simple

Jinja2==3.1.6 \\
    --hash=sha256:{H[0]} \\
    --hash=sha256:{H[1]}
    # via torch
torch==2.13.0+cpu \\
    --hash=sha256:{H[2]} \\
    # via
    #   -r requirements.in
    #   sentence-transformers
typing_extensions==4.15.0 ; python_version < "3.13" \\
    --hash=sha256:{H[3]}
    # via torch
# a comment that ends in a backslash does not continue \\
zope.interface==7.2 --hash=sha256:{H[4]}  # via nothing

# The following packages are considered to be unsafe in a requirements file:
# setuptools
"""


def test_parse_lock_reads_a_pip_tools_lock() -> None:
    assert parse_lock(LOCK) == [
        LockedPackage("jinja2", "3.1.6", (H[0], H[1])),
        LockedPackage("torch", "2.13.0+cpu", (H[2],)),
        LockedPackage("typing-extensions", "4.15.0", (H[3],)),
        LockedPackage("zope-interface", "7.2", (H[4].lower(),)),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("numpy>=1.0\n", "not pinned"),
        ("numpy\n", "not pinned"),
        ("-e ./local\n", "editable"),
        ("a==1\nA==2\n", "twice"),
        (f"a==1 --hash=md5:{'0' * 32}\n", "unsupported hash"),
    ],
)
def test_parse_lock_refuses_what_an_offline_install_cannot_use(text: str, message: str) -> None:
    with pytest.raises(LockError, match=message):
        parse_lock(text)


def test_wheel_metadata_and_licence_of(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path,
        "Tiny_Pkg",
        "0.1",
        "Summary: A tiny package\nLicense: \n  BSD 3-clause licence text\n  more text\n"
        "Classifier: Programming Language :: Python\n"
        "Classifier: License :: OSI Approved\n"
        "Classifier: License :: OSI Approved :: BSD License\n",
    )
    meta = wheel_metadata(wheel)
    assert meta == {
        "Name": "Tiny_Pkg",
        "Version": "0.1",
        "Summary": "A tiny package",
        "License-Expression": "",
        "License": "BSD 3-clause licence text",
        "Classifier": [
            "License :: OSI Approved",
            "License :: OSI Approved :: BSD License",
        ],
    }
    assert licence_of(meta) == "OSI Approved :: BSD License"
    assert licence_of({**meta, "License-Expression": "MIT OR Apache-2.0"}) == "MIT OR Apache-2.0"
    assert licence_of({**meta, "Classifier": []}) == "BSD 3-clause licence text"
    assert licence_of({"License": "", "Classifier": []}) == "UNKNOWN"
    assert normalise(meta["Name"]) == "tiny-pkg"
    long = make_wheel(tmp_path / "", "long", "1", "License: " + "x" * 500 + "\n")
    assert wheel_metadata(long)["License"] == "x" * 200
    with pytest.raises(SbomError, match="not a readable wheel"):
        (tmp_path / "bad.whl").write_bytes(b"not a zip")
        wheel_metadata(tmp_path / "bad.whl")


def sbom_inputs(tmp_path: Path) -> tuple[list[LockedPackage], dict[str, Path]]:
    wheels_dir = tmp_path / "wheels"
    wheels_dir.mkdir(parents=True, exist_ok=True)
    made = {
        "torch": make_wheel(
            wheels_dir, "torch", "2.13.0+cpu", "License-Expression: BSD-3-Clause\n"
        ),
        "jinja2": make_wheel(wheels_dir, "Jinja2", "3.1.6", "License-Expression: mit\n"),
        "zope-interface": make_wheel(wheels_dir, "zope.interface", "7.2", "License: ZPL 2.1\n"),
        "dual": make_wheel(wheels_dir, "dual", "1.0", "License-Expression: MIT OR Apache-2.0\n"),
        "nolicence": make_wheel(wheels_dir, "nolicence", "0.0.1"),
    }
    packages = [
        LockedPackage(name, version, (sha256_file(made[name]),))
        for name, version in [
            ("torch", "2.13.0+cpu"),
            ("zope-interface", "7.2"),
            ("jinja2", "3.1.6"),
            ("dual", "1.0"),
            ("nolicence", "0.0.1"),
        ]
    ]
    return packages, made


def test_cyclonedx_is_deterministic_and_well_formed(tmp_path: Path) -> None:
    packages, wheels = sbom_inputs(tmp_path)
    args = ("vigie-1.2.3-linux", "2026-01-02T03:04:05Z")
    bom = cyclonedx(packages, wheels, *args, version="1.2.3")
    again = cyclonedx(
        list(reversed(packages)), dict(reversed(list(wheels.items()))), *args, version="1.2.3"
    )
    assert json.dumps(bom, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert cyclonedx(packages, wheels, "other seed", args[1])["serialNumber"] != bom["serialNumber"]
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.5" and bom["version"] == 1
    assert re.fullmatch(
        r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}",
        bom["serialNumber"],
    )
    assert bom["metadata"]["timestamp"] == "2026-01-02T03:04:05Z"
    assert bom["metadata"]["component"] == {
        "type": "application",
        "bom-ref": "vigie",
        "name": "vigie",
        "version": "1.2.3",
    }
    components = bom["components"]
    assert [c["name"] for c in components] == [
        "dual",
        "jinja2",
        "nolicence",
        "torch",
        "zope-interface",
    ]
    by_name = {c["name"]: c for c in components}
    assert by_name["torch"]["purl"] == "pkg:pypi/torch@2.13.0%2Bcpu"
    assert by_name["torch"]["version"] == "2.13.0+cpu"
    assert by_name["jinja2"]["purl"] == "pkg:pypi/jinja2@3.1.6"
    for c in components:
        assert c["type"] == "library" and c["purl"].startswith(f"pkg:pypi/{c['name']}@")
        assert c["hashes"] == [{"alg": "SHA-256", "content": sha256_file(wheels[c["name"]])}]
    assert by_name["torch"]["licenses"] == [{"license": {"id": "BSD-3-Clause"}}]
    assert by_name["jinja2"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert by_name["dual"]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    assert by_name["zope-interface"]["licenses"] == [{"license": {"name": "ZPL 2.1"}}]
    assert "licenses" not in by_name["nolicence"]
    json.dumps(bom, allow_nan=False)  # JSON-ready as is
    assert licence_list(packages, wheels) == [
        {"name": "dual", "version": "1.0", "licence": "MIT OR Apache-2.0"},
        {"name": "jinja2", "version": "3.1.6", "licence": "mit"},
        {"name": "nolicence", "version": "0.0.1", "licence": "UNKNOWN"},
        {"name": "torch", "version": "2.13.0+cpu", "licence": "BSD-3-Clause"},
        {"name": "zope-interface", "version": "7.2", "licence": "ZPL 2.1"},
    ]


def test_cyclonedx_refuses_wheels_that_do_not_match_the_lock(tmp_path: Path) -> None:
    packages, wheels = sbom_inputs(tmp_path)
    with pytest.raises(SbomError, match="no wheel shipped for: torch"):
        cyclonedx(packages, {k: v for k, v in wheels.items() if k != "torch"}, "s", "t")
    other_hash = [LockedPackage(p.name, p.version, ("0" * 64,)) for p in packages]
    with pytest.raises(SbomError, match="not among the lock's hashes"):
        cyclonedx(other_hash, wheels, "s", "t", check_lock_hashes=True)
    # Off by default: a locally built wheel (llama-cpp-python) never has the lock's hash.
    assert len(cyclonedx(other_hash, wheels, "s", "t")["components"]) == len(packages)
    twice = [*packages, LockedPackage("torch", "2.13.0+cpu", ())]
    assert len(cyclonedx(twice, wheels, "s", "t")["components"]) == len(packages)
    with pytest.raises(SbomError, match="locked at 2.13.0"):
        cyclonedx([*packages, LockedPackage("torch", "2.14.0", ())], wheels, "s", "t")
    other_version = [LockedPackage("torch", "2.12.0", ())]
    with pytest.raises(SbomError, match="lock pins torch 2.12.0"):
        cyclonedx(other_version, wheels, "s", "t")


# --- inspect ------------------------------------------------------------------------------


def test_describe_and_render_read_the_archive(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / "models" / "e5" / "weights.bin").write_bytes(b"w" * 1_234_567)
    packages, wheels = sbom_inputs(tmp_path / "src")
    bom = cyclonedx(packages, wheels, "seed", "2026-01-02T03:04:05Z", version="1.2.3")
    (folder / "sbom.cdx.json").write_text(json.dumps(bom, indent=2, sort_keys=True) + "\n")
    model = {"name": "e5", "kind": "embedder", "dir": "models/e5", "sha256": "cd" * 32}
    model["licence"] = "MIT"
    write_manifest(
        folder,
        version="1.2.3",
        platform="linux-x86_64-cp311",
        built="2026-01-02T03:04:05+00:00",
        models=[model],
    )
    (folder / "MANIFEST.json.sig").write_bytes(b"signature")
    out = write_archive(folder, tmp_path / f"{TOP}.tar", MTIME)
    shutil.rmtree(folder)  # describe reads the archive only

    described = describe(out, top=3)
    assert not folder.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "src",
        f"{TOP}.tar",
    ]
    assert described["name"] == "vigie" and described["version"] == "1.2.3"
    assert described["platform"] == "linux-x86_64-cp311"
    assert described["built"] == "2026-01-02T03:04:05+00:00"
    assert described["top_folder"] == TOP and described["signed"] is True
    model_bytes = 1_234_567 + len(FILES[LONG][0]) + len(FILES[ACCENTED][0])
    assert described["models"] == [
        {
            "name": "e5",
            "kind": "embedder",
            "path": "models/e5",
            "sha256": "cd" * 32,
            "licence": "MIT",
            "bytes": model_bytes,
        }
    ]
    assert described["parts"]["models"]["bytes"] == model_bytes + len(b"{}\n")
    assert described["packages"] == 5
    assert described["packages_top"] == [
        {"name": "dual", "version": "1.0"},
        {"name": "jinja2", "version": "3.1.6"},
        {"name": "nolicence", "version": "0.0.1"},
    ]
    manifest = load_manifest(read_member(out, "MANIFEST.json"))
    assert described["total_bytes"] == sum(f["size"] for f in manifest["files"])
    assert described["archive_bytes"] == out.stat().st_size

    report = render(described)
    assert "vigie 1.2.3" in report and "linux-x86_64-cp311" in report
    assert re.search(r"^  models\s+4 files\s+1\.2 MB$", report, flags=re.MULTILINE), report
    assert re.search(r"^  wheels\s+2 files\s+0\.0 MB$", report, flags=re.MULTILINE), report
    assert "e5 (embedder)  models/e5  1.2 MB  licence MIT" in report
    assert "Python packages: 5, first 3 shown" in report and "  jinja2 3.1.6" in report
    assert "signature  present" in report


def test_describe_refuses_an_archive_without_manifest(tmp_path: Path) -> None:
    out = write_archive(make_folder(tmp_path), tmp_path / "bundle.tar", MTIME)
    with pytest.raises(ArchiveError, match="MANIFEST.json"):
        describe(out)
