"""The columnar trade bill reader (issue 9 item 5, R-REC-1): for any bill, the frames it
reads are exactly the lines the line reader reads — same values, same totals, same refusal —
whatever the block size, line ends, odd amounts or commas inside values."""

from __future__ import annotations

import io

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paygate.channels.contract import UnknownChannelStatus
from paygate.channels.wechatpay.bill import BillFormatError, TradeBillReader
from paygate.channels.wechatpay.bill_frames import TradeBillFrames, lines_frame
from tests.adapters.wechatpay.test_bill import HEADER, PAYMENT, REFUND, SUMMARY, SUMMARY_HEADER

USUAL = {
    "amount": ["8.88", "0.01", "12345678.90", "100.00"],
    "fee": ["0.05328", "-0.01800", "0.00500", "0.00000"],
    "time": ["2026-06-05 16:29:05", "2026-06-05 00:00:00"],
    "currency": ["CNY", ""],
    "product": ["月卡", "会员充值, 月卡"],
}
ODD = {  # the fast path leaves these to the line reader's code, which reads or refuses them
    "amount": ["120", "3.5", "-2.00", "1,000.00", "x"],
    "fee": ["0.05", "", "1e-3"],
    "time": ["2026-06-05T16:29:05", "2026-13-05 00:00:00", "2026-06-05"],
    "currency": ["USD", "JPY"],
    "product": [" 空格 ", "a`b"],
}


@st.composite
def rows(draw: st.DrawFn) -> str:
    """A detail row, sometimes odd (amounts, fees, times, currencies the fast path leaves to
    the line reader's code; values the line reader refuses)."""
    refund = draw(st.booleans())

    def pick(field: str) -> str:
        odd = draw(st.integers(0, 19)) == 0  # one field in twenty
        return draw(st.sampled_from(ODD[field] if odd else USUAL[field]))

    amount = pick("amount")
    values = [
        pick("time"), "wx1", "1900000109", "0", "", f"42{draw(st.integers(0, 30))}",
        f"PG{draw(st.integers(0, 30))}", "oU", "JSAPI", "REFUND" if refund else "SUCCESS", "OTHERS",
        pick("currency"), "0.00" if refund else amount, "0.00", "503" if refund else "0",
        draw(st.sampled_from(["RF1", "RF2", "RF4", ""])) if refund else "0", amount if refund else "0.00",
        "0.00", "ORIGINAL" if refund else "", "SUCCESS" if refund else "", pick("product"), "", pick("fee"),
        "0.60%", "0.00" if refund else amount, amount if refund else "0.00", "",
    ]  # fmt: skip
    return "`" + ",`".join(values)


def read_lines(text: str) -> tuple[pl.DataFrame, object]:
    reader = TradeBillReader(iter(text.splitlines()))
    lines = list(reader)
    return lines_frame(lines, 0), reader.totals


def read_frames(text: str, block: int) -> tuple[pl.DataFrame, object]:
    reader = TradeBillFrames(io.BytesIO(text.encode()), block_bytes=block)
    frames = list(reader)
    return (pl.concat(frames) if frames else lines_frame([], 0)), reader.totals


def outcome(read: object, *args: object) -> tuple[str, object]:
    try:
        return "ok", read(*args)  # type: ignore[operator]
    except (BillFormatError, UnknownChannelStatus) as exc:
        return type(exc).__name__, None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(rows(), max_size=25),
    st.sampled_from(["\r\n", "\n"]),
    st.integers(64, 4000),
    st.booleans(),
)
def test_frames_are_the_lines_the_line_reader_reads(
    drawn: list[str], end: str, block: int, blank: bool
) -> None:
    details = list(drawn)
    if blank and details:
        details.insert(len(details) // 2, "")
    count = sum(1 for row in details if row)
    summary = f"`{count},`8.88,`3.00,`0.00,`0.03528,`8.88,`3.00"
    text = end.join([HEADER, *details, SUMMARY_HEADER, summary]) + end
    expected_kind, expected = outcome(read_lines, text)
    got_kind, got = outcome(read_frames, text, block)
    assert got_kind == expected_kind
    if expected is not None and got is not None:
        (want_frame, want_totals), (got_frame, got_totals) = expected, got  # type: ignore[misc]
        assert got_frame.equals(want_frame), (got_frame, want_frame)
        assert got_totals == want_totals


def bill(*details: str, summary: str = SUMMARY) -> bytes:
    return ("\r\n".join([HEADER, *details, SUMMARY_HEADER, summary]) + "\r\n").encode()


def test_a_usual_bill_in_small_blocks() -> None:
    reader = TradeBillFrames(io.BytesIO(bill(PAYMENT, REFUND)), block_bytes=100)
    frame = pl.concat(list(reader))
    assert frame["kind"].to_list() == ["payment", "refund"]
    assert frame["amount"].to_list() == [888, 300]
    assert frame["fee"].to_list() == [5, 2]  # five decimals, half up to the fen
    assert frame["refund_no"].to_list() == [None, "RF20260605A1"]
    assert frame["seq"].to_list() == [0, 1]
    assert reader.totals is not None and (reader.totals.payments, reader.totals.refunds) == (888, 300)


@pytest.mark.parametrize(
    ("content", "error", "match"),
    [
        (bill(PAYMENT, REFUND).split(SUMMARY_HEADER.encode())[0], BillFormatError, "cut short"),
        (bill(PAYMENT, REFUND)[: len(bill(PAYMENT, REFUND)) // 2], BillFormatError, "columns"),
        (
            bill(PAYMENT, REFUND, summary="`3,`8.88,`3.00,`0.00,`0.03528,`8.88,`3.00"),
            BillFormatError,
            "counts",
        ),
        (bill(PAYMENT[1:], REFUND), BillFormatError, "backtick"),
        (bill(PAYMENT.replace(",`0.60%", ""), REFUND), BillFormatError, "columns"),
        (bill(PAYMENT.replace("`SUCCESS", "`REVOKED"), REFUND), UnknownChannelStatus, "REVOKED"),
        (bill(PAYMENT, REFUND).replace("月卡".encode(), b"\xff\xfe"), BillFormatError, "UTF-8"),
        (b"", BillFormatError, "empty"),
        (HEADER.replace("商户订单号", "订单").encode() + b"\r\n", BillFormatError, "lacks"),
    ],
)
def test_a_bill_that_cannot_be_read_is_refused(content: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        list(TradeBillFrames(io.BytesIO(content), block_bytes=256))
