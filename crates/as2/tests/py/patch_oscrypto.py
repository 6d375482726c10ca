"""Idempotent fix for oscrypto 1.3.0 (PyPI) on OpenSSL 3.0.1x: its libcrypto version
regex accepts one digit per component only, so `import pyas2lib` fails with "Error
detecting the version of libcrypto". Applies the upstream fix to the oscrypto of the
Python that runs this script (run it with the virtualenv's python):

    tests/.venv/bin/python crates/as2/tests/py/patch_oscrypto.py
"""

import importlib.util
import pathlib
import sys

OLD = "'\\\\b(\\\\d\\\\.\\\\d\\\\.\\\\d[a-z]*)\\\\b'"
NEW = "'\\\\b(\\\\d+\\\\.\\\\d+\\\\.\\\\d+[a-z]*)\\\\b'"


def main():
    spec = importlib.util.find_spec("oscrypto")
    if spec is None or not spec.submodule_search_locations:
        print("patch_oscrypto: oscrypto is not installed", file=sys.stderr)
        return 1
    root = pathlib.Path(list(spec.submodule_search_locations)[0]) / "_openssl"
    for name in ("_libcrypto_cffi.py", "_libcrypto_ctypes.py"):
        path = root / name
        if not path.exists():
            continue
        text = path.read_text()
        if OLD in text:
            path.write_text(text.replace(OLD, NEW))
            print(f"patch_oscrypto: patched {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
