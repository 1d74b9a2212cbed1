"""The committed stubs are exactly what grpcio-tools makes from proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import livescan.v1.session_service_pb2 as pb

HERE = Path(__file__).resolve().parent.parent


def test_generated_stubs_match_the_protos() -> None:
    result = subprocess.run(
        [sys.executable, str(HERE / "generate.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_installed_stubs_are_the_committed_ones() -> None:
    # Editable or not, the imported stubs must be the committed files.
    installed = Path(pb.__file__).resolve()
    committed = HERE / "src" / "livescan" / "v1" / "session_service_pb2.py"
    assert installed.read_bytes() == committed.read_bytes(), (
        f"livescan.v1 is imported from {installed}, which differs from {committed}: reinstall clients/python"
    )
