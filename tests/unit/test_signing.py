"""R-SEC-1: the app signing scheme, with the test vectors published in docs/api.md."""

from paygate.kit import signing
from paygate.kit.crypto import generate_rsa_key, private_key_pem, public_key_pem

SECRET = "demo-secret-please-change"
BODY = (
    b'{"out_order_no":"ORDER-1001","pay_type":"alipay.qr","amount":1999,"currency":"CNY","subject":"Coffee"}'
)


def test_request_message_layout() -> None:
    msg = signing.request_message("post", "/gopay", "1767225600", "n0nce-0001", BODY)
    assert msg == b"POST\n/gopay\n1767225600\nn0nce-0001\n" + BODY + b"\n"


def test_hmac_vector_from_docs() -> None:
    msg = signing.request_message("POST", "/gopay", "1767225600", "n0nce-0001", BODY)
    # the same value is printed in docs/api.md; apps in any language can check against it
    assert signing.sign_hmac(SECRET, msg) == (
        "e0da14d2aa6df8885da6064dd16565e38a86b62a331eb57da09dde66d2559f7c"
    )
    response = signing.response_message("1767225600", "n0nce-0002", b'{"errno":0,"msg":"ok","data":{}}')
    assert signing.sign_hmac(SECRET, response) == (
        "997e0464544aebf79e8d8ec0e54e627e3c4c5abcaf6940e97c150d691813fcfb"
    )


def test_hmac_detects_any_change() -> None:
    msg = signing.request_message("POST", "/gopay", "1767225600", "n0nce-0001", BODY)
    sig = signing.sign_hmac(SECRET, msg)
    tampered = signing.request_message(
        "POST", "/gopay", "1767225600", "n0nce-0001", BODY.replace(b"1999", b"1")
    )
    assert not signing.verify_hmac(SECRET, tampered, sig)
    assert not signing.verify_hmac("other", msg, sig)


def test_rsa_sign_and_verify() -> None:
    key = generate_rsa_key()
    msg = signing.response_message("1767225600", "abc", BODY)
    sig = signing.sign_rsa(private_key_pem(key), msg)
    assert signing.verify_rsa(public_key_pem(key), msg, sig)
    assert not signing.verify_rsa(public_key_pem(generate_rsa_key()), msg, sig)
