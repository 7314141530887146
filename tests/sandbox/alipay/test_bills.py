"""Bills (§1.5): the download URL query and the GBK zip it serves."""

from __future__ import annotations

import asyncio
import io
import zipfile
from typing import Any

from paygate.sandbox.alipay import AUTH_CODE_SUCCESS
from paygate.sandbox.alipay.bills import DETAIL_HEADER
from tests.sandbox.alipay.conftest import Env


async def sdk(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = await asyncio.to_thread(fn, *args, **kwargs)
    return result


async def bill_query(env: Env, bill_type: str, bill_date: str) -> dict[str, Any]:
    return await sdk(
        env.python_sdk().server_api,
        "alipay.data.dataservice.bill.downloadurl.query",
        {"bill_type": bill_type, "bill_date": bill_date},
    )


async def pay(env: Env, no: str, total: str, subject: str) -> dict[str, Any]:
    return await sdk(
        env.python_sdk().api_alipay_trade_pay,
        out_trade_no=no,
        scene="bar_code",
        auth_code=AUTH_CODE_SUCCESS,
        subject=subject,
        total_amount=total,
    )


async def test_trade_bill_of_a_past_day(env: Env) -> None:
    first = await pay(env, "BILL_A", "10.00", "商品甲")
    await pay(env, "BILL_B", "0.50", "商品乙")
    await sdk(env.python_sdk().api_alipay_trade_refund, "4.00", out_trade_no="BILL_A", out_request_no="RF_A1")
    day = first["gmt_payment"][:10]

    today = await bill_query(env, "trade", day)
    assert (today["code"], today["sub_code"]) == ("40004", "isp.bill_not_exist")  # T+1

    env.sandbox.advance_clock(24 * 3600)
    answer = await bill_query(env, "trade", day)
    assert answer["code"] == "10000"
    url = answer["bill_download_url"]
    assert url.startswith(f"{env.base_url}/alipay/downloadBillFile.resource?")
    download = await env.http.get(url)  # plain, unsigned GET
    assert download.status_code == 200

    account = env.creds["seller_id"] + "0156"
    label = day.replace("-", "")
    archive = zipfile.ZipFile(io.BytesIO(download.content), metadata_encoding="gbk")
    detail_name, summary_name = f"{account}_{label}_业务明细.csv", f"{account}_{label}_业务明细(汇总).csv"
    assert sorted(archive.namelist()) == sorted([detail_name, summary_name])
    assert all(not info.flag_bits & 0x800 for info in archive.infolist())  # no UTF-8 flag

    lines = archive.read(detail_name).decode("gbk").splitlines()
    assert lines[0] == "#支付宝业务明细查询"
    assert lines[1] == f"#账号：[{account}]"
    assert lines[2].startswith(f"#起始日期：[{day[:4]}年{day[5:7]}月{day[8:]}日 00:00:00]   终止日期：[")
    assert lines[3] == "#" + "-" * 41 + "业务明细列表" + "-" * 40
    assert lines[4] == DETAIL_HEADER and len(lines[4].split(",")) == 25
    rows = [line.split(",") for line in lines[5:8]]
    assert all(len(row) == 25 for row in rows)
    by_kind = {(r[1].strip(), r[2].strip()): r for r in rows}
    paid, refunded = by_kind["BILL_A", "交易"], by_kind["BILL_A", "退款"]
    assert paid[0] == first["trade_no"] + "\t" and paid[1] == "BILL_A\t" and paid[3] == "商品甲"
    assert (paid[11], paid[12], paid[21]) == ("10.00", "10.00", "\t")
    assert (refunded[11], refunded[12], refunded[21]) == ("-4.00", "-4.00", "RF_A1\t")
    assert lines[8] == "#" + "-" * 41 + "业务明细列表结束" + "-" * 36
    assert lines[9] == "#交易合计：2笔，商家实收共10.50元，商家优惠共0.00元"
    assert lines[10] == "#退款合计：1笔，商家实收退款共-4.00元，商家优惠退款共0.00元"
    assert lines[11].startswith("#导出时间：[")

    summary = archive.read(summary_name).decode("gbk").splitlines()
    total_row = next(line for line in summary if line.startswith("合计"))
    assert total_row.split(",")[2:6] == ["2", "1", "6.50", "6.50"]

    env.sandbox.advance_clock(31)
    assert (await env.http.get(url)).status_code == 404  # valid ~30 s


async def test_signcustomer_bill_and_refusals(env: Env) -> None:
    paid = await pay(env, "ACC_A", "3.00", "账务")
    env.sandbox.advance_clock(24 * 3600)
    answer = await bill_query(env, "signcustomer", paid["gmt_payment"][:10])
    content = (await env.http.get(answer["bill_download_url"])).content
    archive = zipfile.ZipFile(io.BytesIO(content), metadata_encoding="gbk")
    (name,) = archive.namelist()
    assert name.endswith("_账务明细.csv")
    lines = archive.read(name).decode("gbk").splitlines()
    header = lines[4].split(",")
    assert len(header) == 12 and header[6] == "收入金额（+元）"
    row = lines[5].split(",")
    assert row[2] == "ACC_A\t" and row[6] == "3.00" and row[8] == "3.00"

    bad_type = await bill_query(env, "everything", "2020-01-01")
    assert (bad_type["code"], bad_type["sub_code"]) == ("40002", "isv.invalid-parameter")
    bad_date = await bill_query(env, "trade", "2020/01/01")
    assert bad_date["sub_code"] == "isv.invalid-parameter"
