"""The offline bundle's signatures and verify.sh, run as the administrator would run it.

verify.sh is the gate on the air-gapped host: it must accept a genuine bundle and, for every way
the bundle can be changed, fail with exit 1 and a line naming what changed. The bundles here are
synthetic (a few small files, one with a space in its name, a nested folder) but follow the real
format: SHA256SUMS, a signed MANIFEST.json holding its hash, a deterministic tar, a signed tar.
The script runs under `sh` and, where installed and different, `dash` (Debian's /bin/sh).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from offline_bundle import signing
from offline_bundle.signing import (
    SigningError,
    fingerprint,
    keygen,
    sign,
    sign_archive,
    verify_signature,
)

ROOT = Path(__file__).resolve().parents[2]
VERIFY = ROOT / "offline_bundle" / "verify.sh"
VERSION = "9.9.9"
TOP = f"vigie-bundle-{VERSION}"
MTIME = 1_700_000_000
WHEEL = "wheels/vigie-0.1.0-py3-none-any.whl"
MODEL = "models/stand in/model.bin"  # nested, with a space
NOTES = "release notes.txt"  # top level, with a space
MANIFEST_FILES = {"MANIFEST.json", "MANIFEST.json.sig", "SHA256SUMS"}

ARCHIVE_SIG_FAILS = "the archive's signature does not match"
MANIFEST_SIG_FAILS = "MANIFEST.json: signature does not match"
SUMS_MISMATCH = 'SHA256SUMS: does not match the "sha256sums" hash in MANIFEST.json'


def _shells() -> list[str]:
    """`sh`, plus `dash` when it is installed and not what `sh` already is."""
    shells = ["sh"]
    dash = shutil.which("dash")
    sh = shutil.which("sh")
    if dash and (sh is None or os.path.realpath(dash) != os.path.realpath(sh)):
        shells.append("dash")
    return shells


pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture(params=_shells())
def shell(request: pytest.FixtureRequest) -> str:
    return request.param


@dataclass
class Keys:
    private: Path
    public: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(*keygen(tmp_path_factory.mktemp("keys")))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(*keygen(tmp_path_factory.mktemp("other-keys")))


@dataclass
class Bundle:
    top: Path  # the unpacked top folder the archive is made from
    archive: Path
    keys: Keys
    marker: Path  # created if anything from the bundle is ever executed

    @property
    def sig(self) -> Path:
        return self.archive.with_name(self.archive.name + ".sha256.sig")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_sums(top: Path) -> None:
    """SHA256SUMS over every regular file but the manifest's own, sorted, sha256sum format."""
    names = sorted(
        p.relative_to(top).as_posix()
        for p in top.rglob("*")
        if p.is_file()
        and not p.is_symlink()
        and p.relative_to(top).as_posix() not in MANIFEST_FILES
    )
    lines = "".join(f"{_sha256(top / name)}  {name}\n" for name in names)
    (top / "SHA256SUMS").write_text(lines, encoding="utf-8")


def write_manifest(top: Path, private: Path, **changes: object) -> None:
    """MANIFEST.json as the builder writes it (indent=2, sort_keys), signed with `private`."""
    manifest: dict[str, object] = {
        "created": "2026-01-01T00:00:00Z",
        "name": "vigie",
        "python": "3.11",
        "sha256sums": _sha256(top / "SHA256SUMS"),
        "version": VERSION,
    }
    manifest.update(changes)
    (top / "MANIFEST.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    sign(top / "MANIFEST.json", private)


def pack(top: Path, archive: Path, extra: Sequence[tuple[tarfile.TarInfo, bytes]] = ()) -> Path:
    """A deterministic tar of `top` (sorted, fixed mtime, uid/gid 0), plus raw `extra` members."""
    entries = [(top.name, top)] + sorted(
        (f"{top.name}/{p.relative_to(top).as_posix()}", p) for p in top.rglob("*")
    )
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for arcname, path in entries:
            info = tar.gettarinfo(str(path), arcname=arcname)
            info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "", ""
            if info.isdir():
                info.mode = 0o755
            elif info.isfile():
                info.mode = 0o755 if arcname.endswith(".sh") else 0o644
            if info.isfile():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
        for info, data in extra:
            info.mtime = MTIME
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return archive


def repack(
    bundle: Bundle, *, resign: bool, extra: Sequence[tuple[tarfile.TarInfo, bytes]] = ()
) -> None:
    """Re-tar the (changed) folder; `resign` re-signs the archive with the genuine key."""
    pack(bundle.top, bundle.archive, extra)
    if resign:
        sign_archive(bundle.archive, bundle.keys.private)


@pytest.fixture
def bundle(tmp_path: Path, keys: Keys) -> Bundle:
    marker = tmp_path / "EXECUTED"
    top = tmp_path / "src" / TOP
    files = {
        "install.sh": f'#!/bin/sh\ntouch "{marker}"\n'.encode(),
        "verify.sh": f'#!/bin/sh\ntouch "{marker}"\nexit 0\n'.encode(),
        WHEEL: bytes(range(256)) * 8,
        MODEL: b"\x00\x01weights" * 300,
        NOTES: b"Vigie 9.9.9: notes de version.\n",
        "models/README": b"stand-in models\n",
        "docs/résumé.txt": b"non-ASCII name\n",
    }
    for name, data in files.items():
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_bytes(data)
    write_sums(top)
    write_manifest(top, keys.private)
    archive = tmp_path / "out" / f"{TOP}.tar"
    b = Bundle(top=top, archive=archive, keys=keys, marker=marker)
    repack(b, resign=True)
    return b


def run_verify(shell: str, tmp_path: Path, *args: object) -> subprocess.CompletedProcess[str]:
    """Run verify.sh with its temporary folder under tmp_path, and check it cleaned up."""
    tmpdir = tmp_path / "verify-tmp"
    tmpdir.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    result = subprocess.run(
        [shell, str(VERIFY), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert list(tmpdir.iterdir()) == [], "verify.sh left its temporary folder behind"
    return result


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def assert_fails(result: subprocess.CompletedProcess[str], *needles: str, code: int = 1) -> str:
    """Exit `code`, every needle in the output, and every problem line prefixed `verify: `."""
    text = output(result)
    assert result.returncode == code, text
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"
    assert "verify: OK" not in text
    assert all(line.startswith("verify: ") for line in result.stderr.splitlines()), text
    return text


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# --- the script itself -------------------------------------------------------------------------


def test_script_is_posix_sh(shell: str) -> None:
    text = VERIFY.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/sh\n")
    assert "\nset -eu\n" in text
    result = subprocess.run([shell, "-n", str(VERIFY)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_usage_and_unreadable_inputs_exit_2(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    pub = bundle.keys.public
    for args in [(), (bundle.archive,), ("--dir", bundle.top), ("--bogus", bundle.archive, pub)]:
        result = run_verify(shell, tmp_path, *args)
        assert result.returncode == 2, (args, output(result))
        assert "usage:" in result.stderr
    result = run_verify(shell, tmp_path, bundle.archive, tmp_path / "no-such-key.pem")
    assert_fails(result, "cannot read the public key", code=2)
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("hello\n")
    assert_fails(run_verify(shell, tmp_path, bundle.archive, not_a_key), "public key", code=2)
    result = run_verify(shell, tmp_path, tmp_path / "nothing.tar", pub)
    assert_fails(result, "cannot read the archive", code=2)
    bundle.sig.unlink()
    result = run_verify(shell, tmp_path, bundle.archive, pub)
    assert_fails(result, "cannot read the archive's signature", code=2)
    result = run_verify(shell, tmp_path, "--dir", tmp_path / "no-such-folder", pub)
    assert_fails(result, "cannot read the folder", code=2)


# --- archive mode --------------------------------------------------------------------------------


def test_good_bundle_verifies(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    assert result.returncode == 0, output(result)
    fp = fingerprint(bundle.keys.public)
    assert result.stdout == f"verify: OK {bundle.archive} (key sha256:{fp})\n"
    assert result.stderr == ""
    assert not bundle.marker.exists(), "verify.sh executed something from the bundle"


def test_signature_path_defaults_beside_the_archive(
    shell: str, tmp_path: Path, bundle: Bundle
) -> None:
    elsewhere = tmp_path / "sigs" / "bundle.sha256.sig"
    elsewhere.parent.mkdir()
    bundle.sig.rename(elsewhere)
    bundle.sig.with_suffix("").rename(elsewhere.with_suffix(""))  # its digest goes with it
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public, elsewhere)
    assert result.returncode == 0, output(result)
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    assert result.returncode == 2, output(result)


def test_changed_byte_in_a_packed_file_is_named(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    flip_byte(bundle.top / WHEEL, 100)
    repack(bundle, resign=False)
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    text = assert_fails(
        result, ARCHIVE_SIG_FAILS, f"verify: {WHEEL}: content differs from the manifest"
    )
    assert MANIFEST_SIG_FAILS not in text and SUMS_MISMATCH not in text


def test_changed_byte_in_the_tar_is_caught_twice(
    shell: str, tmp_path: Path, bundle: Bundle
) -> None:
    with tarfile.open(bundle.archive) as tar:
        offset = tar.getmember(f"{TOP}/{MODEL}").offset_data
    flip_byte(bundle.archive, offset + 5)
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    assert_fails(result, ARCHIVE_SIG_FAILS, f"verify: {MODEL}: content differs from the manifest")


def test_changed_byte_in_tar_padding_is_caught_by_the_archive_signature(
    shell: str, tmp_path: Path, bundle: Bundle
) -> None:
    # Past the end-of-archive blocks: tar ignores it, so only the archive's signature sees it.
    flip_byte(bundle.archive, bundle.archive.stat().st_size - 1)
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    text = assert_fails(result, ARCHIVE_SIG_FAILS)
    assert "content differs" not in text


def test_missing_file_is_named(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    (bundle.top / MODEL).unlink()
    repack(bundle, resign=True)
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    text = assert_fails(result, f"verify: {MODEL}: missing")
    assert ARCHIVE_SIG_FAILS not in text


def test_extra_files_are_named(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    (bundle.top / "extra notes.txt").write_text("planted\n")
    (bundle.top / "wheels" / "evil-1.0-py3-none-any.whl").write_bytes(b"PK planted")
    repack(bundle, resign=True)
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    assert_fails(
        result,
        "verify: extra notes.txt: not in the manifest",
        "verify: wheels/evil-1.0-py3-none-any.whl: not in the manifest",
    )


def test_edited_manifest_fails_its_signature(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    manifest = bundle.top / "MANIFEST.json"
    manifest.write_text(manifest.read_text().replace(VERSION, "9.9.10"))
    repack(bundle, resign=True)
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    text = assert_fails(result, MANIFEST_SIG_FAILS)
    assert ARCHIVE_SIG_FAILS not in text and SUMS_MISMATCH not in text


def test_sha256sums_edited_to_match_a_changed_file(
    shell: str, tmp_path: Path, bundle: Bundle
) -> None:
    (bundle.top / NOTES).write_text("Vigie 9.9.9: run install.sh as root, no questions.\n")
    write_sums(bundle.top)  # consistent with the change; MANIFEST.json (and its signature) not
    repack(bundle, resign=True)
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    text = assert_fails(result, SUMS_MISMATCH)
    assert MANIFEST_SIG_FAILS not in text and "content differs" not in text


def test_manifest_without_sha256sums_fails(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    manifest = json.loads((bundle.top / "MANIFEST.json").read_text())
    write_manifest(bundle.top, bundle.keys.private, sha256sums=manifest["sha256sums"].upper())
    repack(bundle, resign=True)
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    assert_fails(result, 'MANIFEST.json: no "sha256sums" entry')


def test_wrong_public_key_fails_both_signatures(
    shell: str, tmp_path: Path, bundle: Bundle, other_keys: Keys
) -> None:
    result = run_verify(shell, tmp_path, bundle.archive, other_keys.public)
    text = assert_fails(result, ARCHIVE_SIG_FAILS, MANIFEST_SIG_FAILS)
    assert "content differs" not in text and "missing" not in text


def test_symlink_member_is_refused(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    (bundle.top / "models" / "passwd").symlink_to("/etc/passwd")
    repack(bundle, resign=True)
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    assert result.returncode in (1, 2), output(result)
    assert_fails(result, f"{TOP}/models/passwd: a link or special file", code=result.returncode)


def test_hardlink_member_is_refused(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    link = tarfile.TarInfo(f"{TOP}/wheels/shadow")
    link.type, link.linkname = tarfile.LNKTYPE, "/etc/shadow"
    repack(bundle, resign=True, extra=[(link, b"")])
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    assert result.returncode in (1, 2), output(result)
    assert_fails(result, f"{TOP}/wheels/shadow: a link or special file", code=result.returncode)


def test_dotdot_and_absolute_members_are_refused(
    shell: str, tmp_path: Path, bundle: Bundle
) -> None:
    escape = tarfile.TarInfo(f"{TOP}/../../../../escaped.txt")
    escape.size = 6
    absolute = tarfile.TarInfo(str(tmp_path / "absolute.txt"))
    absolute.size = 6
    repack(bundle, resign=True, extra=[(escape, b"pwned\n"), (absolute, b"pwned\n")])
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    assert result.returncode in (1, 2), output(result)
    assert_fails(
        result,
        f"{TOP}/../../../../escaped.txt: has a '..' component (refused, nothing extracted)",
        f"{tmp_path / 'absolute.txt'}: absolute path (refused, nothing extracted)",
        code=result.returncode,
    )
    assert list(tmp_path.rglob("escaped.txt")) == []
    assert not (tmp_path / "absolute.txt").exists()


def test_members_outside_the_top_folder_are_refused(
    shell: str, tmp_path: Path, bundle: Bundle
) -> None:
    other = tarfile.TarInfo("other/install.sh")
    other.size = 3
    repack(bundle, resign=True, extra=[(other, b"hi\n")])
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    assert result.returncode in (1, 2), output(result)
    assert_fails(result, f"other/install.sh: outside the top folder {TOP}/", code=result.returncode)


def test_member_name_with_a_newline_is_refused(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    odd = tarfile.TarInfo(f"{TOP}/wheels/two\nlines.whl")
    odd.size = 3
    repack(bundle, resign=True, extra=[(odd, b"hi\n")])
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    assert_fails(result, "a file name contains a newline (refused")


def test_not_a_tar_archive_fails(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    bundle.archive.write_bytes(b"this is not a tar archive\n" * 40)
    sign_archive(bundle.archive, bundle.keys.private)
    result = run_verify(shell, tmp_path, bundle.archive, bundle.keys.public)
    assert_fails(result, "not a readable tar archive")


# --- folder mode (install.sh) --------------------------------------------------------------------


def test_dir_mode_good_folder(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    extracted = tmp_path / "extracted"
    with tarfile.open(bundle.archive) as tar:
        tar.extractall(extracted, filter="data")
    folder = extracted / TOP
    result = run_verify(shell, tmp_path, "--dir", folder, bundle.keys.public)
    assert result.returncode == 0, output(result)
    fp = fingerprint(bundle.keys.public)
    assert result.stdout == f"verify: OK {folder} (key sha256:{fp})\n"
    assert not bundle.marker.exists()


def test_dir_mode_names_each_tampered_file(shell: str, tmp_path: Path, bundle: Bundle) -> None:
    flip_byte(bundle.top / WHEEL, 0)
    (bundle.top / NOTES).unlink()
    (bundle.top / "models" / "stand in" / "extra.bin").write_bytes(b"x")
    result = run_verify(shell, tmp_path, "--dir", bundle.top, bundle.keys.public)
    text = assert_fails(
        result,
        f"verify: {WHEEL}: content differs from the manifest",
        f"verify: {NOTES}: missing",
        "verify: models/stand in/extra.bin: not in the manifest",
    )
    assert MANIFEST_SIG_FAILS not in text and SUMS_MISMATCH not in text


def test_dir_mode_refuses_links_and_does_not_hang_on_a_fifo(
    shell: str, tmp_path: Path, bundle: Bundle
) -> None:
    (bundle.top / "models" / "README").unlink()
    os.mkfifo(bundle.top / "models" / "README")  # listed in SHA256SUMS: must not be opened
    (bundle.top / "hosts").symlink_to("/etc/hosts")
    result = run_verify(shell, tmp_path, "--dir", bundle.top, bundle.keys.public)
    assert_fails(
        result,
        "verify: models/README: a link or special file",
        "verify: models/README: not a regular file",
        "verify: hosts: a link or special file",
    )


def test_dir_mode_missing_manifest_and_path_escapes(
    shell: str, tmp_path: Path, bundle: Bundle
) -> None:
    sums = bundle.top / "SHA256SUMS"
    outside = tmp_path / "outside.txt"
    outside.write_text("outside\n")
    sums.write_text(sums.read_text() + f"{_sha256(outside)}  ../../outside.txt\n")
    (bundle.top / "MANIFEST.json.sig").unlink()
    result = run_verify(shell, tmp_path, "--dir", bundle.top, bundle.keys.public)
    assert_fails(
        result,
        "verify: MANIFEST.json.sig: missing",
        "verify: SHA256SUMS: ../../outside.txt: not a plain relative path inside the bundle",
    )


# --- signing.py ----------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    private, public = keygen(tmp_path / "k", name="test")
    assert (private.name, public.name) == ("test.key.pem", "test.pub.pem")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in private.read_text()
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    private, public = keygen(tmp_path)
    before = private.read_bytes(), public.read_bytes()
    with pytest.raises(SigningError, match="refusing to overwrite"):
        keygen(tmp_path)
    assert (private.read_bytes(), public.read_bytes()) == before
    private.unlink()  # only the public half left: still refused
    with pytest.raises(SigningError, match="refusing to overwrite"):
        keygen(tmp_path)
    assert not private.exists()


def test_sign_and_verify_signature(tmp_path: Path, keys: Keys, other_keys: Keys) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"bundle bytes")
    sig = sign(data, keys.private)
    assert sig == tmp_path / "data.bin.sig"
    assert verify_signature(data, sig, keys.public) is True
    assert verify_signature(data, sig, other_keys.public) is False
    elsewhere = sign(data, keys.private, tmp_path / "other.sig")
    assert elsewhere == tmp_path / "other.sig" and elsewhere.exists()
    data.write_bytes(b"bundle bytez")
    assert verify_signature(data, sig, keys.public) is False
    garbage = tmp_path / "garbage.sig"
    garbage.write_bytes(b"not a signature")
    assert verify_signature(data, garbage, keys.public) is False
    with pytest.raises(SigningError, match="signature not found"):
        verify_signature(data, tmp_path / "none.sig", keys.public)
    with pytest.raises(SigningError, match="private key not found"):
        sign(data, tmp_path / "none.pem")
    with pytest.raises(SigningError, match="openssl"):
        sign(data, keys.public)  # a public key cannot sign


def test_fingerprint_is_the_der_keys_sha256(tmp_path: Path, keys: Keys, other_keys: Keys) -> None:
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", str(keys.public), "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    assert fingerprint(keys.public) == hashlib.sha256(der).hexdigest()
    assert fingerprint(keys.public) != fingerprint(other_keys.public)
    assert len(fingerprint(keys.public)) == 64
    with pytest.raises(SigningError, match="public key not found"):
        fingerprint(tmp_path / "nope.pem")
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("hello\n")
    with pytest.raises(SigningError, match="cannot read the public key not-a-key.pem: openssl: "):
        fingerprint(not_a_key)


def test_missing_openssl_is_a_signing_error(
    tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signing.shutil, "which", lambda _name: None)
    with pytest.raises(SigningError, match="openssl is not installed"):
        fingerprint(keys.public)
    with pytest.raises(SigningError, match="openssl is not installed"):
        keygen(tmp_path / "k")
