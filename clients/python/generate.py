#!/usr/bin/env python3
"""Regenerates the committed gRPC/protobuf stubs of the Python SDK.

    python clients/python/generate.py           # rewrite src/livescan/v1/ from proto/
    python clients/python/generate.py --check   # regenerate into a temp dir; exit 1 if
                                                # the committed copy differs

Needs grpcio-tools at exactly GRPCIO_TOOLS_VERSION (the output embeds the
version, so any other version would always differ).
"""

from __future__ import annotations

import argparse
import difflib
import filecmp
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GRPCIO_TOOLS_VERSION = "1.76.0"

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROTO_ROOT = REPO / "proto"
PROTOS = ["livescan/v1/session_service.proto"]
# Where the generated `livescan.v1` package lives, so that the generated
# `from livescan.v1 import session_service_pb2` resolves once installed.
OUT_ROOT = HERE / "src"
GENERATED_DIR = OUT_ROOT / "livescan" / "v1"


def _check_tools_version() -> None:
    try:
        version = importlib.metadata.version("grpcio-tools")
    except importlib.metadata.PackageNotFoundError:
        sys.exit(f"grpcio-tools is not installed: pip install grpcio-tools=={GRPCIO_TOOLS_VERSION}")
    if version != GRPCIO_TOOLS_VERSION:
        sys.exit(
            f"grpcio-tools {version} is installed, but the committed stubs come from "
            f"{GRPCIO_TOOLS_VERSION}: pip install grpcio-tools=={GRPCIO_TOOLS_VERSION}"
        )


def generate(out_root: Path) -> Path:
    """Runs protoc into out_root; returns the directory holding the livescan/v1 files."""
    _check_tools_version()
    import grpc_tools  # noqa: PLC0415 (imported only once its version is known)

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    out_root.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *PROTOS,
    ]
    result = subprocess.run(command, cwd=PROTO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"protoc failed ({result.returncode}):\n{result.stderr}")
    return out_root / "livescan" / "v1"


def _files(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def check() -> int:
    with tempfile.TemporaryDirectory(prefix="livescan-gen-") as tmp:
        fresh = generate(Path(tmp))
        expected, committed = _files(fresh), _files(GENERATED_DIR)
        problems: list[str] = []
        for name in sorted(set(expected) | set(committed)):
            if name not in committed:
                problems.append(f"missing from {GENERATED_DIR}: {name}")
            elif name not in expected:
                problems.append(f"not generated from the protos (stale?): {GENERATED_DIR / name}")
            elif not filecmp.cmp(fresh / name, GENERATED_DIR / name, shallow=False):
                diff = difflib.unified_diff(
                    (GENERATED_DIR / name).read_text().splitlines(keepends=True),
                    (fresh / name).read_text().splitlines(keepends=True),
                    fromfile=f"committed/{name}",
                    tofile=f"generated/{name}",
                    n=1,
                )
                problems.append(f"differs: {name}\n" + "".join(list(diff)[:40]))
    if problems:
        print("the committed stubs are out of date with proto/:", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        print(f"run: python {os.path.relpath(__file__)}", file=sys.stderr)
        return 1
    print(f"generated stubs up to date: {', '.join(expected)}")
    return 0


def write() -> int:
    with tempfile.TemporaryDirectory(prefix="livescan-gen-") as tmp:
        fresh = generate(Path(tmp))
        if GENERATED_DIR.exists():
            shutil.rmtree(GENERATED_DIR)
        shutil.copytree(fresh, GENERATED_DIR)
    print(f"wrote {', '.join(_files(GENERATED_DIR))} to {GENERATED_DIR}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the committed stubs differ")
    args = parser.parse_args()
    return check() if args.check else write()


if __name__ == "__main__":
    sys.exit(main())
