"""docs/api.md, "Transport and format": every time in an answer or an event is ISO 8601 UTC
with six fractional digits and ``Z`` — one format a client parses every field with."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from paygate.kit.clock import iso_utc

SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


@given(
    st.datetimes(min_value=datetime(1971, 1, 2), max_value=datetime(9998, 12, 30)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_every_moment_has_one_shape_and_keeps_its_instant(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    text = iso_utc(aware)
    assert SHAPE.match(text), text
    assert datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) == aware


def test_a_whole_second_keeps_its_fraction_and_a_channels_zone_is_converted() -> None:
    beijing = timezone(timedelta(hours=8))
    assert iso_utc(datetime(2026, 12, 1, 21, 6, 45, tzinfo=beijing)) == "2026-12-01T13:06:45.000000Z"
    assert iso_utc(None) is None
