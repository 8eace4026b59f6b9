"""The sealed offline bundle: build on the connected side, verify with stock tools, install
with no network.

- `build.py`: assembles the bundle (wheels for the locked set, models, Debian packages,
  SBOM, manifest) and writes one deterministic archive;
- `archive.py`, `manifest.py`, `sbom.py`: the archive, SHA256SUMS and MANIFEST.json, the
  CycloneDX SBOM and licence list;
- `signing.py`: Ed25519 keys and signatures through the openssl command line;
- `verify.sh`, `install.sh`: the administrator's POSIX shell scripts on the isolated host;
- `inspect.py`: what a bundle holds.
"""
