"""What a fresh interpreter imports: the test of every "stays light" promise."""

from __future__ import annotations

import subprocess
import sys

from tests.paths import ROOT


def imported_after(code: str) -> set[str]:
    """The top-level packages a new Python process has imported once ``code`` has run."""
    listing = "\nimport sys as _s\nprint(' '.join(sorted({m.split('.')[0] for m in _s.modules})))"
    proc = subprocess.run(
        [sys.executable, "-c", code + listing],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=True,
    )  # fmt: skip
    return set(proc.stdout.strip().splitlines()[-1].split())
