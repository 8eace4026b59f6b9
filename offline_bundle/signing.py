"""Signing the offline bundle with the openssl command line, not a Python crypto library.

The administrator verifies the bundle on a bare Debian 12 host with `openssl` alone
(offline_bundle/verify.sh), so the build side calls the very same tool: what is signed here is
exactly what `openssl pkeyutl -verify -rawin` checks there, with no format to translate between two
implementations. Keys are Ed25519; signatures are deterministic.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from vigie.errors import VigieError
from vigie.models import sha256_of

__all__ = ["SigningError", "fingerprint", "keygen", "sign", "sign_archive", "verify_signature"]

# Ed25519: small keys, and deterministic signatures (the same key and bytes always give the
# same signature), so two builds of a bundle, signature inside, are byte-identical.
# openssl >= 3.0 (Debian 12) signs and verifies it with `pkeyutl -rawin`.


class SigningError(VigieError):
    """A key or signature could not be made or read; the message is one line."""


def _openssl() -> str:
    """The openssl binary; missing it is an error now rather than a cryptic one later."""
    found = shutil.which("openssl")
    if found is None:
        raise SigningError("openssl is not installed (apt-get install openssl)")
    return found


def _first_line(text: bytes | str) -> str:
    """openssl's first non-empty stderr line, the one that says what went wrong."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return "no message"


def _run(args: list[str], what: str) -> subprocess.CompletedProcess[bytes]:
    """Run openssl with an argument list (never a shell) and turn a failure into SigningError."""
    result = subprocess.run([_openssl(), *args], capture_output=True, check=False)
    if result.returncode != 0:
        raise SigningError(f"{what}: openssl: {_first_line(result.stderr)}")
    return result


def _need_file(path: Path, what: str) -> None:
    """Name the missing file ourselves: openssl's message for it is a multi-line stack."""
    if not path.is_file():
        raise SigningError(f"{what} not found: {path}")


def keygen(directory: Path, name: str = "vigie-signing") -> tuple[Path, Path]:
    """Write `<name>.key.pem` (private, 0600) and `<name>.pub.pem`; never overwrite a key.

    Overwriting would silently orphan every bundle signed with the old key, so an existing file
    is an error. The private key is written by us into a file created 0600 (openssl would create
    it with the umask's mode, readable by others until a chmod).
    """
    directory = Path(directory)
    private = directory / f"{name}.key.pem"
    public = directory / f"{name}.pub.pem"
    for path in (private, public):
        if path.exists() or path.is_symlink():
            raise SigningError(f"refusing to overwrite an existing key: {path}")
    directory.mkdir(parents=True, exist_ok=True)
    pem = _run(["genpkey", "-algorithm", "ED25519"], "cannot generate the key").stdout
    if b"PRIVATE KEY" not in pem:
        raise SigningError("cannot generate the key: openssl wrote no private key")
    try:
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise SigningError(f"refusing to overwrite an existing key: {private}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        os.chmod(private, 0o600)  # O_CREAT's mode is masked by the umask; make it exact
        _run(
            ["pkey", "-in", str(private), "-pubout", "-out", str(public)],
            "cannot write the public key",
        )
    except BaseException:
        # Half a key pair is worse than none: the next keygen would refuse to run.
        private.unlink(missing_ok=True)
        public.unlink(missing_ok=True)
        raise
    return private, public


def sign(path: Path, private_key: Path, signature: Path | None = None) -> Path:
    """Sign `path`'s bytes; the detached DER signature goes to `signature` (default `path.sig`)."""
    path, private_key = Path(path), Path(private_key)
    _need_file(path, "file to sign")
    _need_file(private_key, "private key")
    target = Path(signature) if signature is not None else path.with_name(path.name + ".sig")
    _run(
        ["pkeyutl", "-sign", "-inkey", str(private_key), "-rawin"]
        + ["-in", str(path), "-out", str(target)],
        f"cannot sign {path.name}",
    )
    return target


def verify_signature(path: Path, signature: Path, public_key: Path) -> bool:
    """True iff openssl says the signature verifies; a bad or garbled one is False, not an error.

    Missing files or an unreadable key raise SigningError: "cannot check" must not read as
    "checked and wrong".
    """
    path, signature, public_key = Path(path), Path(signature), Path(public_key)
    _need_file(path, "signed file")
    _need_file(signature, "signature")
    _need_file(public_key, "public key")
    result = subprocess.run(
        [
            _openssl(),
            *["pkeyutl", "-verify", "-pubin", "-inkey", str(public_key), "-rawin"],
            *["-in", str(path), "-sigfile", str(signature)],
        ],
        capture_output=True,
        check=False,
    )
    out = result.stdout.decode("utf-8", "replace")
    err = _first_line(result.stderr)
    if result.returncode == 0 and "Signature Verified Successfully" in out:
        return True
    # "Signature Verification Failure": wrong key, changed data or a garbled signature.
    if "Signature Verification Failure" in out or err.startswith(
        ("Error verifying data", "Error reading signature")
    ):
        return False
    raise SigningError(f"cannot verify {path.name}: openssl: {err}")


def fingerprint(public_key: Path) -> str:
    """SHA-256 hex of the DER public key, short enough to read out over the phone.

    verify.sh prints the same value (`openssl pkey -pubin -outform DER | sha256sum`), so the
    administrator can check the key they hold is the one the build used.
    """
    public_key = Path(public_key)
    _need_file(public_key, "public key")
    der = _run(
        ["pkey", "-pubin", "-in", str(public_key), "-outform", "DER"],
        f"cannot read the public key {public_key.name}",
    ).stdout
    if not der:
        raise SigningError(f"cannot read the public key {public_key.name}: empty output")
    return hashlib.sha256(der).hexdigest()


def sign_archive(archive: Path, private_key: Path) -> tuple[Path, Path]:
    """`<archive>.sha256` (its digest, `sha256sum` format) and `<archive>.sha256.sig`: the
    signature covers every byte of the archive without loading it whole into openssl
    (Ed25519 signs messages, not digests). verify.sh checks both."""
    archive = Path(archive)
    _need_file(archive, "archive")
    listed = archive.with_name(archive.name + ".sha256")
    listed.write_text(f"{sha256_of(archive)}  {archive.name}\n", encoding="utf-8")
    return listed, sign(listed, private_key)
