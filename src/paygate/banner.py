"""What ``make run`` prints before it starts paygate: where to look, what to run."""

from __future__ import annotations

from paygate.config import load_settings


def main() -> None:
    s = load_settings()
    print(
        f"""
paygate is starting (database: {s.database_url})

  internal API     {s.internal_base_url}      docs: {s.internal_base_url}/docs
  console          {s.internal_base_url}/console/   (paygate operator add NAME --role admin)
  public callbacks {s.public_base_url}      (/notify/{{channel}}/…, /return/{{channel}}/…, /cashier/…)
  sandboxes        {s.sandbox_base_url}      Alipay gateway: {s.sandbox_base_url}/alipay/gateway.do
                                             WeChat Pay v3:  {s.sandbox_base_url}/wechatpay/v3/…
                                             Stripe:         {s.sandbox_base_url}/stripe/v1/…
  demo app webhooks {s.demo_receiver_url}   (verifies and prints every notification)

Demo app credentials (JSON):   .venv/bin/paygate demo credentials
Sandbox credentials (JSON):    .venv/bin/paygate sandbox credentials alipay|wechatpay|stripe

Walk a payment end to end, in another terminal:
  .venv/bin/paygate demo pay --pay-type alipay.qr --amount 1999     # note trade_no, qr_code
  .venv/bin/paygate sandbox pay alipay '<qr_code from above>'       # the buyer pays
  .venv/bin/paygate demo query <trade_no>                           # state: succeeded
  .venv/bin/paygate demo refund <trade_no> --amount 500             # part of it back
  .venv/bin/paygate events list --trade <trade_no>                  # the app was notified
(or open the qr_code / pay URL in a browser and click Pay)

The hosted cashier: .venv/bin/paygate demo pay --pay-type cashier, open action.url in a browser.

Other pay types: --pay-type alipay.page|alipay.wap|alipay.app|alipay.jsapi (--buyer-id …)|
  alipay.barcode (--auth-code 286200000000000001)|wechat.native|wechat.jsapi (--openid …)|
  wechat.h5 (--client-ip …)|wechat.app|stripe.card (--currency USD --payment-method pm_card_visa)
then `.venv/bin/paygate sandbox pay <alipay|wechatpay|stripe> <qr_code, url or order number>`.
""",
        flush=True,
    )


if __name__ == "__main__":
    main()
