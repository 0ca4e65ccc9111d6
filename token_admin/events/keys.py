"""Signing secrets: a Standard Webhooks secret, or an EC P-256 / RSA-2048 private key."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def new_secret(format: str, algorithm: str) -> tuple[str, str]:
    """(secret, key id) for a receiver of ``format``."""
    key_id = secrets.token_urlsafe(12)
    if format == "webhook":
        # 32 random bytes, as the Standard Webhooks spec recommends (24 to 64).
        return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(), key_id
    private_key: Any
    if algorithm == "RS256":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode(), key_id


def public_jwk(private_pem: str, key_id: str, algorithm: str) -> dict[str, Any]:
    algo = jwt.get_algorithm_by_name(algorithm)
    private_key: Any = serialization.load_pem_private_key(private_pem.encode(), password=None)
    jwk = json.loads(algo.to_jwk(private_key.public_key()))
    return {**jwk, "kid": key_id, "alg": algorithm, "use": "sig"}
