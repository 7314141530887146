"""Generic cryptographic primitives shared by adapters and sandboxes.

Only algorithm-level helpers live here (RSA PKCS#1 v1.5 signatures, AES-256-GCM, key
loading and export). Channel-specific rules (which string is signed, how it is built) live
in each adapter and, independently, in each sandbox: see ``shared/style.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache
from typing import Literal

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "CryptoError",
    "Secret",
    "SecretBox",
    "aes_gcm_decrypt",
    "aes_gcm_encrypt",
    "generate_rsa_key",
    "hmac_sha256_hex",
    "load_private_key",
    "load_public_key",
    "private_key_pem",
    "public_key_pem",
    "rsa_sign",
    "rsa_verify",
]

HashName = Literal["SHA256", "SHA1"]


class CryptoError(ValueError):
    """A key, ciphertext or signature that cannot be used."""


class Secret:
    """A string that never shows itself in ``repr``/``str``/logs (R-SEC-4)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def generate_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _wrap_pem(body: str, label: str) -> bytes:
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    body_lines = "\n".join(lines)
    return f"-----BEGIN {label}-----\n{body_lines}\n-----END {label}-----\n".encode()


@lru_cache(maxsize=256)
def load_private_key(text: str) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PKCS#1 or PKCS#8 PEM, or bare base64 DER of either."""
    raw = text.strip()
    candidates: list[bytes] = []
    if raw.startswith("-----"):
        candidates.append(raw.encode())
    else:
        body = "".join(raw.split())
        candidates += [_wrap_pem(body, "PRIVATE KEY"), _wrap_pem(body, "RSA PRIVATE KEY")]
    for pem in candidates:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            continue
        if isinstance(key, rsa.RSAPrivateKey):
            return key
    raise CryptoError("not an RSA private key")


@lru_cache(maxsize=256)
def load_public_key(text: str) -> rsa.RSAPublicKey:
    """Load an RSA public key from SPKI or PKCS#1 PEM, bare base64 SPKI, or an X.509 cert."""
    raw = text.strip()
    if "BEGIN CERTIFICATE" in raw:
        from cryptography import x509

        cert_key = x509.load_pem_x509_certificate(raw.encode()).public_key()
        if isinstance(cert_key, rsa.RSAPublicKey):
            return cert_key
        raise CryptoError("certificate does not hold an RSA key")
    candidates: list[bytes] = []
    if raw.startswith("-----"):
        candidates.append(raw.encode())
    else:
        body = "".join(raw.split())
        candidates += [_wrap_pem(body, "PUBLIC KEY"), _wrap_pem(body, "RSA PUBLIC KEY")]
    for pem in candidates:
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError):
            continue
        if isinstance(key, rsa.RSAPublicKey):
            return key
    raise CryptoError("not an RSA public key")


def private_key_pem(key: rsa.RSAPrivateKey, fmt: Literal["pkcs1", "pkcs8"] = "pkcs8") -> str:
    encoding = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if fmt == "pkcs1"
        else serialization.PrivateFormat.PKCS8
    )
    return key.private_bytes(serialization.Encoding.PEM, encoding, serialization.NoEncryption()).decode()


def public_key_pem(key: rsa.RSAPublicKey | rsa.RSAPrivateKey) -> str:
    pub = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _hash(name: HashName) -> hashes.HashAlgorithm:
    return hashes.SHA256() if name == "SHA256" else hashes.SHA1()  # noqa: S303 - Alipay "RSA"


def rsa_sign(key: rsa.RSAPrivateKey | str, message: bytes, hash_name: HashName = "SHA256") -> str:
    """RSA PKCS#1 v1.5 signature, base64."""
    private = load_private_key(key) if isinstance(key, str) else key
    return base64.b64encode(private.sign(message, padding.PKCS1v15(), _hash(hash_name))).decode()


def rsa_verify(
    key: rsa.RSAPublicKey | str, message: bytes, signature_b64: str, hash_name: HashName = "SHA256"
) -> bool:
    public = load_public_key(key) if isinstance(key, str) else key
    try:
        signature = base64.b64decode(signature_b64, validate=False)
        public.verify(signature, message, padding.PKCS1v15(), _hash(hash_name))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def hmac_sha256_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def aes_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes | None) -> bytes:
    """Ciphertext followed by the 16-byte tag (the layout WeChat Pay v3 uses)."""
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aes_gcm_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes | None) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError) as exc:
        raise CryptoError("AES-GCM decryption failed") from exc


class SecretBox:
    """Encryption at rest for channel keys and app secrets (R-SEC-4).

    AES-256-GCM under the master key from settings; the stored form is
    ``v1:<base64(nonce ‖ ciphertext ‖ tag)>``. The ``aad`` binds a value to its row and
    column, so a ciphertext copied to another row does not decrypt.
    """

    PREFIX = "v1:"

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise CryptoError("the master key must be 32 bytes")
        self._aead = AESGCM(master_key)

    @classmethod
    def from_b64(cls, master_key_b64: str) -> SecretBox:
        try:
            key = base64.b64decode(master_key_b64, validate=True)
        except ValueError as exc:
            raise CryptoError("the master key is not base64") from exc
        return cls(key)

    def seal(self, plaintext: str, aad: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode(), aad.encode())
        return self.PREFIX + base64.b64encode(nonce + ct).decode()

    def open(self, sealed: str, aad: str) -> Secret:
        if not sealed.startswith(self.PREFIX):
            raise CryptoError("unknown sealed format")
        blob = base64.b64decode(sealed[len(self.PREFIX) :])
        try:
            plain = self._aead.decrypt(blob[:12], blob[12:], aad.encode())
        except InvalidTag as exc:
            raise CryptoError("sealed value does not decrypt (wrong master key or row)") from exc
        return Secret(plain.decode())
