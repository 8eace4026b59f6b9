"""Legacy Office files (Word 97-2003 `.doc`, Excel `.xls`, PowerPoint `.ppt`) and RTF,
converted by LibreOffice headless into their OOXML kin, then read by ingest/office.py;
and word-processing documents that record no page breaks printed to PDF by it, so that
their pieces can be given the pages they print on (`ingest.office.paginated`).

Each conversion runs `soffice` (installed by scripts/setup.sh from Debian) on a copy of
the file in a throw-away folder, with a throw-away profile whose settings forbid every
macro and untrusted link, under a time limit (its whole process group is killed past
it), and where the system allows it in a network namespace of its own (`unshare`), so
that a document's linked image or remote template cannot be fetched. The converted file
is kept under Vigie's home (`converted/`, named by the original's SHA-256), so probing a
file and parsing its pages convert it once; the folder is a cache and may be deleted.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from ingest.errors import UnreadableFile
from ingest.office import DOCX, ODT, PPTX, XLSX
from vigie.models import sha256_of

DOC, XLS, PPT, RTF = "doc", "xls", "ppt", "rtf"
LEGACY_SUFFIXES = {".doc": DOC, ".xls": XLS, ".ppt": PPT, ".rtf": RTF}
# A legacy kind and the kind it is read as once converted.
LEGACY_KINDS = {DOC: DOCX, RTF: DOCX, XLS: XLSX, PPT: PPTX}
_NAMES = {
    DOC: "a legacy Word document (DOC)",
    XLS: "a legacy Excel workbook (XLS)",
    PPT: "a legacy PowerPoint presentation (PPT)",
    RTF: "an RTF document",
    DOCX: "a Word document",
    ODT: "an OpenDocument text",
}

# The profile's settings: macros never run, whatever the document says; no link is
# followed from a document that is not trusted (none is).
_PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
           xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">
  <prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">
  <prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">
  <prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc">
  <prop oor:name="FirstRun" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


def soffice() -> str | None:
    """The LibreOffice program, or None when it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


@functools.cache
def _isolation() -> tuple[str, ...]:
    """The command prefix that gives the converter no network: `unshare` into a network
    namespace of its own (as root, or as a user where user namespaces are allowed), or
    nothing where the system forbids both (the machine is air-gapped all the same)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for prefix in ((unshare, "--net"), (unshare, "--net", "--map-root-user")):
        try:
            done = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return prefix
    return ()


def converted(path: Path, kind: str, home: Path, timeout: float, target: str = "") -> Path:
    """`path` (of `kind`) converted to `target` (by default: a legacy kind's OOXML kin),
    converting it when it is not converted yet; raise `UnreadableFile` saying why it
    cannot be."""
    target = target or LEGACY_KINDS[kind]
    folder = home / "converted"
    result_file = folder / f"{sha256_of(path)[:24]}.{target}"
    if result_file.is_file() and result_file.stat().st_size > 0:
        return result_file
    program = soffice()
    if program is None:
        raise UnreadableFile(
            f"{_NAMES[kind]}: LibreOffice is needed to read it and is not installed "
            "(scripts/setup.sh installs it)"
        )
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix="vigie-convert-") as tmp:
        work = Path(tmp)
        source = work / f"source.{kind}"
        shutil.copyfile(path, source)
        profile = work / "profile"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_PROFILE_SETTINGS, "utf-8")
        command = [
            *_isolation(), program, "--headless", "--norestore", "--nolockcheck",
            "--nodefault", "--nologo", f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to", target, "--outdir", str(work / "out"), str(source),
        ]  # fmt: skip
        _run(command, work, timeout, kind)
        result = work / "out" / f"source.{target}"
        if not result.is_file() or result.stat().st_size == 0:
            raise UnreadableFile(f"{_NAMES[kind]}: LibreOffice could not convert it "
                                 "(corrupt, or protected by a password)")  # fmt: skip
        partial = result_file.with_name(f"{result_file.name}.{os.getpid()}.part")
        shutil.move(result, partial)
        os.replace(partial, result_file)  # whole or absent, should two workers convert at once
    return result_file


def _run(command: list[str], work: Path, timeout: float, kind: str) -> None:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),  # nothing written to the user's own profile
        "LANG": "C.UTF-8",
        "SAL_USE_VCLPLUGIN": "svp",  # no display
    }
    process = subprocess.Popen(
        command, cwd=work, env=environment, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise UnreadableFile(
            f"{_NAMES[kind]}: LibreOffice took over {timeout:.0f} s to convert it"
        ) from exc


_RTF_CREATED = re.compile(rb"\\creatim\\yr(\d{4})\\mo(\d{1,2})\\dy(\d{1,2})")


def legacy_created(path: Path, kind: str) -> str | None:
    """When a legacy file says it was created ("1994-03-12"): an RTF's info group, a
    compound file's summary information; None when it does not say (a conversion's own
    date is the day it was converted, never the document's)."""
    try:
        if kind == RTF:
            with path.open("rb") as handle:
                found = _RTF_CREATED.search(handle.read(256 * 1024))
            if found is None:
                return None
            when = dt.date(*(int(part) for part in found.groups()))
        else:
            import olefile

            with olefile.OleFileIO(str(path)) as ole:
                created = ole.get_metadata().create_time
            if created is None:
                return None
            when = created.date()
    except (OSError, ValueError, TypeError):
        return None
    return when.isoformat() if 1900 < when.year < 2100 else None
