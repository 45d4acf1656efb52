"""A job's folder is kept only when it holds the whole backtest of that very job."""

from __future__ import annotations

import json
from pathlib import Path

from shared.publish import OutputFolder
from sweep.tasks import JOB_NAME, finished


def _publish(out: Path) -> None:
    with OutputFolder(out) as folder:
        folder.publish("backtest", lambda stage: [(stage / "report.html").write_text("r")])


def test_finished_needs_the_published_set_and_the_same_job(tmp_path: Path) -> None:
    out = tmp_path / "top2" / "0"
    assert not finished(out, "k1")
    _publish(out)
    assert not finished(out, "k1"), "a set without its job record is computed again"
    (out / JOB_NAME).write_text(json.dumps({"key": "k1"}))
    assert finished(out, "k1")
    # The variant's overrides were edited: same folder, another job.
    assert not finished(out, "k2")
