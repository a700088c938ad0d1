"""Encryption at rest for private keys and connector secrets (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``HUB_KEY_ENCRYPTION_KEY``. Fernet is from ``cryptography``; see
https://cryptography.io/en/latest/fernet/. Several keys may be given, comma-separated, newest first:
new secrets are encrypted with the first, and decryption tries each (MultiFernet), so a new key can be
put in front while rows encrypted with the old one still open.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from hub.errors import ConfigurationError


class SecretBox:
    """Encrypts ``bytes`` to an ASCII token and back.

    Raises:
        ConfigurationError: on decrypt, when no configured key opens the token (wrong KEK).
    """

    def __init__(self, keys: str):
        self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])

    def encrypt(self, data: bytes) -> str:
        return self._fernet.encrypt(data).decode("ascii")

    def decrypt(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode("ascii"))
        except InvalidToken:
            raise ConfigurationError(
                "a stored secret cannot be decrypted with HUB_KEY_ENCRYPTION_KEY (was the key changed?)"
            ) from None
