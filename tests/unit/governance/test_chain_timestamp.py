"""A record's `at` is written the same way whatever the moment: records made before the timestamp was
computed the fast way must still verify."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from souverain.governance.audit.chain import timestamp


def written_before(moment: datetime) -> str:  # the definition records were made with at first
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_at_is_utc_to_the_microsecond_as_before_for_any_moment() -> None:
    draw = random.Random(7)
    moments = [
        datetime(2026, 11, 22, 23, 37, 54, 460818, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))),  # another offset, another day
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),  # a year of three digits
        datetime(1, 1, 1, 12, tzinfo=UTC),
    ]
    moments += [
        datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=draw.randrange(10**17)) for _ in range(1000)
    ]
    for moment in moments:
        assert timestamp(moment) == written_before(moment), moment
    assert timestamp(moments[0]) == "2026-11-22T23:37:54.460818Z"
