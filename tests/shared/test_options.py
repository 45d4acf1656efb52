"""shared.options.naming: the command names the option, the library names the data."""

from __future__ import annotations

import pytest

from shared.errors import BundleError, DataError, EstimationError
from shared.options import naming


def test_naming_puts_the_flag_before_a_data_error_and_keeps_its_type() -> None:
    with pytest.raises(EstimationError) as caught, naming("--holdings"):
        raise EstimationError("h.csv: file not found")
    assert str(caught.value) == "--holdings h.csv: file not found"


def test_naming_leaves_other_errors_alone() -> None:
    with pytest.raises(ValueError, match=r"^bug$"), naming("--asof"):
        raise ValueError("bug")
    with pytest.raises(BundleError, match=r"^model x: bad$"), naming("--asof"):
        raise BundleError("model x: bad")  # not a DataError: not the option's data


def test_the_library_message_names_the_data_alone() -> None:
    import datetime as dt

    from shared.windows import effective_asof

    with pytest.raises(DataError, match=r"^2030-01-02 is in the future \(today is 2030-01-01\)$"):
        effective_asof([dt.date(2029, 12, 31)], dt.date(2030, 1, 2), today=dt.date(2030, 1, 1))
