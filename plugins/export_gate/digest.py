"""Keyed subject digests: how a person is named outside the scanner.

A digest is HMAC-SHA256 over a *typed* identifier ("MOBILE" + "8613812345678", "key:patient_id" + "P001"),
truncated to 16 bytes. The type keeps a passport number from colliding with an equal-looking account number;
the key (from the deployment's secret) keeps anyone holding a ledger or report from testing whether a given
phone number was exported by hashing it themselves.
"""

from __future__ import annotations

import hmac
import os

try:  # the OpenSSL one-shot HMAC that hmac.digest() wraps, called directly: a scan computes millions
    from _hashlib import hmac_digest as _hmac_sha256
except ImportError:  # Pythons built without OpenSSL
    _hmac_sha256 = hmac.digest

#: Bytes kept of the HMAC output: 128 bits, collision-free for any realistic number of people.
DIGEST_BYTES = 16
_SEPARATOR = "\x1f"


class SubjectHasher:
    """Turns typed, normalised identifiers into keyed digests. Picklable, so worker processes can use it."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("a subject hasher needs a non-empty key")
        self._key = bytes(key)

    @classmethod
    def ephemeral(cls) -> SubjectHasher:
        """A hasher with a random key, for a scan whose digests are never stored (e.g. a dry run)."""
        return cls(os.urandom(32))

    def digest(self, kind: str, identifier: str) -> bytes:
        """The digest of ``identifier`` of type ``kind``; callers normalise the identifier first."""
        return _hmac_sha256(self._key, (kind + _SEPARATOR + identifier).encode(), "sha256")[:DIGEST_BYTES]
