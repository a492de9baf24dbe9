"""Mosquitto 2.0 password files: `$7$` PBKDF2-SHA512 hashes and atomic, thread-safe updates."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

#: mosquitto_passwd's default iteration count (Mosquitto 2.0); the broker reads any count.
DEFAULT_ITERATIONS = 101
_SALT_BYTES = 12
_HASH_BYTES = 64

# One lock per file, shared by every PasswordFile of that path in this process:
# two instances editing one file must not lose each other's read-modify-write.
_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    key = path.absolute()
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def hash_broker_password(password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """Return `password` hashed as Mosquitto 2.0 stores it: `$7$<iterations>$<b64 salt>$<b64 hash>`.

    The hash is PBKDF2-HMAC-SHA512 over the UTF-8 password and the raw salt
    bytes, 64 bytes long, as `mosquitto_passwd` writes it.
    """
    if iterations < 1:
        raise ValueError("iterations must be positive")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, _HASH_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_broker_password(password: str, hashed: str) -> bool:
    """Return True when `password` matches a `$7$` hash (from us or from mosquitto_passwd)."""
    parts = hashed.split("$")
    # "$7$101$salt$hash".split("$") == ["", "7", "101", "salt", "hash"]
    if len(parts) != 5 or parts[0] or parts[1] != "7":
        return False
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, len(expected))
    return hmac.compare_digest(digest, expected)


def check_username(username: str) -> str:
    """Return `username` if Mosquitto can store and match it, else raise ValueError."""
    # ':' separates user and hash in the file; '+', '#', '/' would break %u ACL patterns.
    if not username or any(ch in username for ch in ":\n\r\x00/+#") or username != username.strip():
        raise ValueError(f"invalid broker username: {username!r}")
    return username


def write_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace `path` with `text` so that a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class PasswordFile:
    """A Mosquitto password file (`user:$7$…` lines) edited in place, safely from many threads.

    Every change rewrites the whole file to a temporary file and renames it
    over the old one; send the broker SIGHUP (`BrokerProcess.reload()`) to
    make it re-read the file.
    """

    def __init__(self, path: Path | str, *, iterations: int = DEFAULT_ITERATIONS) -> None:
        """Bind to `path` (read lazily; a missing file is an empty one)."""
        self.path = Path(path)
        self.iterations = iterations
        self._lock = _lock_for(self.path)

    def _read(self) -> dict[str, str]:
        entries: dict[str, str] = {}
        if not self.path.exists():
            return entries
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if sep:
                entries[user] = hashed
        return entries

    def _write(self, entries: dict[str, str]) -> None:
        write_atomically(self.path, "".join(f"{user}:{hashed}\n" for user, hashed in entries.items()))

    def set(self, username: str, password: str) -> None:
        """Add `username`, or change its password."""
        check_username(username)
        hashed = hash_broker_password(password, iterations=self.iterations)
        with self._lock:
            entries = self._read()
            entries[username] = hashed
            self._write(entries)

    def set_many(self, users: dict[str, str]) -> None:
        """Add or update several users in one rewrite."""
        hashed = {check_username(u): hash_broker_password(p, iterations=self.iterations) for u, p in users.items()}
        with self._lock:
            entries = self._read()
            entries.update(hashed)
            self._write(entries)

    def set_hashes(self, hashes: dict[str, str]) -> bool:
        """Add or update users from ready-made `$7$` hashes (e.g. from an event log); True if the file changed."""
        for username in hashes:
            check_username(username)
        with self._lock:
            entries = self._read()
            if all(entries.get(u) == h for u, h in hashes.items()):
                return False
            entries.update(hashes)
            self._write(entries)
            return True

    def remove(self, username: str) -> bool:
        """Remove `username` (revoke its login); return whether it was there."""
        with self._lock:
            entries = self._read()
            if entries.pop(username, None) is None:
                return False
            self._write(entries)
            return True

    def users(self) -> list[str]:
        """Return the usernames in the file, in file order."""
        with self._lock:
            return list(self._read())

    def verify(self, username: str, password: str) -> bool:
        """Return True when `username` is in the file with this password."""
        with self._lock:
            hashed = self._read().get(username)
        return hashed is not None and verify_broker_password(password, hashed)

    def __contains__(self, username: object) -> bool:
        """Return True when `username` has a line in the file."""
        return isinstance(username, str) and username in self.users()
