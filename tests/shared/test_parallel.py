"""shared.parallel: the Ray task runner that training and sweeps share."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the `scale` extra (Ray) is not installed")


def test_a_task_failing_for_bad_input_ends_the_run_in_one_line_naming_it(
    tmp_path: Path,
) -> None:
    import ray

    from shared.errors import DataError
    from shared.parallel import Task, connect, run_tasks

    def bad(day: int) -> None:  # a closure: Ray ships it by value to the worker
        raise DataError(f"ticker XYZ has no price on day {day}")

    connect(num_cpus=1)
    try:
        log = tmp_path / "v" / "task.log"
        with pytest.raises(DataError) as caught:
            run_tasks([Task("variant v seed 0", bad, (3,), log)], "backtested")
        message = str(caught.value)
        assert message == f"variant v seed 0: ticker XYZ has no price on day 3 (log: {log})"
        # Its log is kept beside its outputs, with the whole traceback.
        assert "task failed" in log.read_text() and "Traceback" in log.read_text()
    finally:
        ray.shutdown()
