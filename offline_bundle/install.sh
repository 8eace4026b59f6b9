#!/bin/sh
# Install (or upgrade, or roll back) Vigie from an extracted, verified bundle. No network.
#
#   sh install.sh --prefix /opt/vigie --key vigie-signing.pub.pem [--force]
#   sh install.sh --prefix /opt/vigie --rollback
#
# Layout under the prefix:
#   releases/VERSION/   venv/ (from the bundle's wheels), models/, vigie.toml
#   current, previous   links to the release in use and the one before (rollback)
#   home/               VIGIE_HOME: store, ledger, users, audit trail (kept across upgrades)
#   bin/vigie           the command, with VIGIE_HOME and VIGIE_CONFIG set
#
# Steps: verify the bundle again (verify.sh --dir), refuse a downgrade unless --force,
# install missing Debian packages from debs/, create the virtual environment with
# `pip install --no-index`, place the models, write the configuration, migrate the home,
# create the first admin (VIGIE_ADMIN_PASSWORD, else a generated password printed once),
# switch `current`, and end with `vigie doctor`.
set -eu

say() { printf 'install: %s\n' "$*"; }
fail() { printf 'install: %s\n' "$*" >&2; exit 1; }

BUNDLE=$(cd "$(dirname "$0")" && pwd)
PREFIX=""
KEY=""
FORCE=0
ROLLBACK=0
PYTHON="${PYTHON:-python3}"
while [ $# -gt 0 ]; do
    case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --key) KEY="$2"; shift 2 ;;
    --force) FORCE=1; shift ;;
    --rollback) ROLLBACK=1; shift ;;
    *) fail "unknown argument: $1 (see the comment at the top of install.sh)" ;;
    esac
done
[ -n "$PREFIX" ] || fail "give --prefix DIR"
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)

switch() { # switch LINK TARGET: replace a link atomically
    ln -sfn "$2" "$PREFIX/.$1.new"
    mv -T "$PREFIX/.$1.new" "$PREFIX/$1"
}

installed_version() {
    [ -L "$PREFIX/current" ] && basename "$(readlink "$PREFIX/current")" || true
}

if [ "$ROLLBACK" -eq 1 ]; then
    [ -L "$PREFIX/previous" ] || fail "no previous installation to go back to"
    now=$(readlink "$PREFIX/current")
    before=$(readlink "$PREFIX/previous")
    switch current "$before"
    switch previous "$now"
    say "rolled back to $(basename "$before") (previous: $(basename "$now"))"
    exit 0
fi

[ -n "$KEY" ] || fail "give --key PUBLIC_KEY.pem (the signing key's public half, received separately)"
sh "$BUNDLE/verify.sh" --dir "$BUNDLE" "$KEY" || fail "the bundle does not verify: nothing installed"

VERSION=$(sed -n 's/^  "version": "\([^"]*\)",\{0,1\}$/\1/p' "$BUNDLE/MANIFEST.json")
[ -n "$VERSION" ] || fail "no version in MANIFEST.json"
CURRENT=$(installed_version)
if [ -n "$CURRENT" ] && [ "$CURRENT" != "$VERSION" ]; then
    highest=$(printf '%s\n%s\n' "$CURRENT" "$VERSION" | sort -V | tail -n 1)
    if [ "$highest" = "$CURRENT" ] && [ "$FORCE" -ne 1 ]; then
        fail "version $VERSION is older than the installed $CURRENT: refused (--force to downgrade)"
    fi
fi

# Debian packages: only those missing, only from the bundle.
missing=""
for pkg in tesseract-ocr tesseract-ocr-fra tesseract-ocr-eng poppler-utils; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    ls "$BUNDLE"/debs/*.deb >/dev/null 2>&1 || fail "missing Debian packages:$missing (and no debs/ in this bundle)"
    [ "$(id -u)" -eq 0 ] || fail "missing Debian packages:$missing: run install.sh as root"
    # Only the bundle's packages this host lacks: an installed package (perhaps newer,
    # from a security update) is never replaced.
    absent_debs=""
    for deb in "$BUNDLE"/debs/*.deb; do
        name=$(dpkg-deb -f "$deb" Package)
        dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "install ok installed" \
            || absent_debs="$absent_debs $deb"
    done
    say "installing Debian packages:$missing ($(echo "$absent_debs" | wc -w) file(s) from debs/)"
    # shellcheck disable=SC2086  # bundle file names have no spaces (verify.sh checked them)
    dpkg -i $absent_debs >/dev/null || fail "dpkg could not install:$missing (see dpkg's message above)"
fi

"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || fail "$PYTHON is not Python 3.11 (set PYTHON=/path/to/python3.11)"

RELEASE="$PREFIX/releases/$VERSION"
# Built in place (a venv's scripts name their own path), and marked unfinished until the end.
[ "$(readlink "$PREFIX/current" 2>/dev/null || true)" = "$RELEASE" ] && [ -f "$RELEASE/.complete" ] \
    && { say "$VERSION is already installed and current"; exit 0; }
rm -rf "$RELEASE"
mkdir -p "$RELEASE"

say "virtual environment for $VERSION (pip --no-index, from the bundle's wheels)"
"$PYTHON" -m venv "$RELEASE/venv"
"$RELEASE/venv/bin/python" -m pip install --quiet --no-index --no-deps --no-compile \
    --disable-pip-version-check "$BUNDLE"/wheels/*.whl
# Byte-compiled on every core (pip compiles on one: 126 s against 52 + 38 s here). As with
# pip's own pass, a file that does not compile (a package's Python 2 test data) is skipped.
site_packages=$("$RELEASE/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$RELEASE/venv/bin/python" -m compileall -q -j 0 "$site_packages" >/dev/null 2>&1 || true
say "models"
cp -R "$BUNDLE/models" "$RELEASE/models"

# The configuration: this release's models (the Python of the verified bundle reads
# MODELS.json), the embedded store under the shared home.
"$RELEASE/venv/bin/python" - "$RELEASE" <<'EOF'
import json
import sys
from pathlib import Path

release = final = Path(sys.argv[1])
models = json.loads((release / "models" / "MODELS.json").read_text(encoding="utf-8"))
embedder = next(m for m in models if m["kind"] == "embedder")
llm = next(m for m in models if m["kind"] == "llm")
lines = [
    "# Written by install.sh; site settings go in VIGIE_HOME/vigie.toml's place: edit here.",
    f'models_dir = "{final / "models"}"',
    f'embedder_path = "{final / embedder["path"]}"',
    f'llm_path = "{final / llm["path"]}"',
    f'llm_sha256 = "{llm["sha256"]}"',
]
speech = next((m for m in models if m["kind"] == "speech"), None)
if speech is not None:
    lines.append(f'speech_model_path = "{final / speech["path"]}"')
(release / "vigie.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
EOF
# The embedder's ONNX export (ONNX Runtime runs it), made here from the verified model folder
# by the release's own torch: deterministic, checked by its SHA256SUMS at every load.
say "embedder exported to ONNX"
VIGIE_CONFIG="$RELEASE/vigie.toml" VIGIE_HOME="$PREFIX/home" "$RELEASE/venv/bin/vigie" models export
touch "$RELEASE/.complete"

mkdir -p "$PREFIX/bin"
cat >"$PREFIX/bin/vigie" <<EOF
#!/bin/sh
export VIGIE_HOME="\${VIGIE_HOME:-$PREFIX/home}"
export VIGIE_CONFIG="\${VIGIE_CONFIG:-$PREFIX/current/vigie.toml}"
exec "$PREFIX/current/venv/bin/vigie" "\$@"
EOF
chmod 755 "$PREFIX/bin/vigie"

if [ -n "$CURRENT" ] && [ "$CURRENT" != "$VERSION" ]; then
    switch previous "$PREFIX/releases/$CURRENT"
fi
switch current "$RELEASE"

# The home: kept across upgrades; its format version recorded (no format change so far:
# a release that changes it migrates here, before the first command runs).
umask 077
mkdir -p "$PREFIX/home"
chmod 700 "$PREFIX/home"
printf '%s\n' "$VERSION" >"$PREFIX/home/installed-version"
"$PREFIX/bin/vigie" init
say "installed $VERSION in $PREFIX (previous: ${CURRENT:-none})"
"$PREFIX/bin/vigie" doctor
