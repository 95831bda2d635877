"""The period of a usage report: whole UTC days, 30 up to today by default, refused when it runs backwards
or spans more than a year, with a message that names what to change."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from souverain.errors import InvalidRequest
from souverain.governance.usage import MAX_DAYS, Period

TODAY = date(2026, 3, 15)


def test_by_default_the_last_30_days_up_to_today() -> None:
    assert Period.of(None, None, TODAY) == Period(date(2026, 2, 14), TODAY)
    assert Period.of(None, date(2026, 1, 31), TODAY) == Period(date(2026, 1, 2), date(2026, 1, 31))
    assert Period.of(date(2026, 3, 1), None, TODAY) == Period(date(2026, 3, 1), TODAY)


def test_one_day_and_a_leap_year_are_periods() -> None:
    assert Period.of(TODAY, TODAY, TODAY) == Period(TODAY, TODAY)
    assert Period.of(date(2024, 1, 1), date(2024, 12, 31), TODAY).last_day == date(2024, 12, 31)


@pytest.mark.parametrize(
    ("first_day", "last_day", "what"),
    [
        (date(2026, 3, 2), date(2026, 3, 1), "`from` (2026-03-02) is after `to` (2026-03-01)"),
        (date(2026, 3, 16), None, "`from` (2026-03-16) is after `to` (2026-03-15)"),
        (date(2024, 1, 1), date(2025, 1, 1), f"spans 367 days, a report at most {MAX_DAYS}"),
        (date.min, date.max, "a report at most"),
    ],
    ids=["backwards", "from-after-today", "a-day-too-long", "all-of-time"],
)
def test_a_period_that_runs_backwards_or_is_too_long_is_refused(
    first_day: date, last_day: date | None, what: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        Period.of(first_day, last_day, TODAY)

    assert what in refused.value.message
    assert (refused.value.status, refused.value.param) == (400, "from")


def test_the_first_days_of_the_calendar_do_not_overflow() -> None:
    assert Period.of(None, date(1, 1, 3), TODAY) == Period(date.min, date(1, 1, 3))
    assert Period(date.max, date.max).moments()[1] == datetime(9999, 12, 31, 23, 59, 59, 999999, UTC)
