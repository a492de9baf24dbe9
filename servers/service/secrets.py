"""Passwords and tokens: memory-hard hashes for passwords, only hashes of tokens are ever stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt with N=2**14, r=8 takes 16 MiB and tens of milliseconds: memory-hard, still fine at sign-up rates.
_N, _R, _P = 2**14, 8, 1


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash`, salt random per password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored scrypt hash (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def new_token() -> str:
    """A bearer token: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256 (a token is random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def broker_password(key: str, vehicle_id: str, generation: int) -> str:
    """A vehicle's broker password, derived from the company's broker key (never stored, only its hash).

    The same on every login, so a second device does not lock the first out;
    a new generation (revocation) gives a new password.
    """
    digest = hmac.new(key.encode(), f"{vehicle_id}:{generation}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")
