"""Key files, envelope encryption and the signing key.

Keys live in files under ``<data>/keys`` (mode 0600), never in the database:

- ``kek-<n>.bin``      key-encryption keys (AES-256); ``kek.current`` names the active one.
                       Data keys are stored *wrapped* by a KEK; rotation adds a KEK and
                       rewraps data keys, files stay as they are.
- ``hmac.bin``         secret for keyed hashes (blind indexes of names, blob file names,
                       check-in tokens); sub-keys are derived per purpose with HKDF.
- ``signing-ed25519.pem``  the installation's Ed25519 key for bundles and audit checkpoints.

Back these files up separately from the data (see docs/operations.md): the
database and archive without them are unreadable, which is the point.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WRAP_AAD = b"ia-events/dek/v1"


class KeyMissing(Exception):
    """A key file is missing or unreadable."""


def _write_secret(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    os.chmod(path, 0o600)


@dataclass
class KeyRing:
    directory: Path
    _keks: dict[str, bytes] = field(default_factory=dict, repr=False)
    _hmac: bytes | None = field(default=None, repr=False)
    _signing: Ed25519PrivateKey | None = field(default=None, repr=False)
    # HKDF costs ~20 us and runs several times per check-in; hmac.bin never changes
    # while a ring is loaded, so each purpose's sub-key is derived once.
    _subkeys: dict[str, bytes] = field(default_factory=dict, repr=False)
    # Unwrapped data keys, by (scope, key row id, KEK id, wrapped bytes): the key's
    # version as stored. A rotation rewraps (new bytes, new entry); another database
    # with the same row id wraps differently. Process memory only -- never written
    # anywhere, never logged, never in ``repr``.
    _data_keys: dict[tuple[str, int, str, bytes], bytes] = field(default_factory=dict, repr=False)

    def _repr_pretty_(self, printer, cycle):
        # IPython's and hypothesis' pretty printers ignore ``repr=False`` and would
        # print the raw key bytes; they get the safe ``repr`` instead.
        printer.text(repr(self))

    # -- creation -----------------------------------------------------------------

    @classmethod
    def create_or_load(cls, directory: Path) -> KeyRing:
        """Create missing key files (idempotent) and load them."""
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        if not (directory / "kek.current").exists():
            _write_secret(directory / "kek-1.bin", AESGCM.generate_key(bit_length=256))
            _write_secret(directory / "kek.current", b"1")
        if not (directory / "hmac.bin").exists():
            _write_secret(directory / "hmac.bin", os.urandom(32))
        if not (directory / "signing-ed25519.pem").exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_secret(directory / "signing-ed25519.pem", pem)
        return cls.load(directory)

    @classmethod
    def load(cls, directory: Path) -> KeyRing:
        if not (directory / "kek.current").exists():
            raise KeyMissing(f"no keys in {directory}")
        ring = cls(directory)
        for path in sorted(directory.glob("kek-*.bin")):
            ring._keks[path.stem.removeprefix("kek-")] = path.read_bytes()
        ring._hmac = (directory / "hmac.bin").read_bytes()
        # load_pem_private_key is typed for every key type; ours is Ed25519 (written by init).
        ring._signing = serialization.load_pem_private_key(  # type: ignore[assignment]
            (directory / "signing-ed25519.pem").read_bytes(), password=None
        )
        if ring.current_kek_id not in ring._keks:
            raise KeyMissing(f"key-encryption key {ring.current_kek_id} is missing")
        return ring

    # -- envelope encryption ------------------------------------------------------------

    @property
    def current_kek_id(self) -> str:
        return (self.directory / "kek.current").read_text().strip()

    def kek_ids(self) -> list[str]:
        return sorted(self._keks, key=int)

    def wrap(self, dek: bytes) -> tuple[str, bytes]:
        kek_id = self.current_kek_id
        nonce = os.urandom(12)
        return kek_id, nonce + AESGCM(self._keks[kek_id]).encrypt(nonce, dek, WRAP_AAD)

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes:
        try:
            kek = self._keks[kek_id]
        except KeyError as exc:
            raise KeyMissing(f"key-encryption key {kek_id} is missing") from exc
        return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], WRAP_AAD)

    def data_key(self, scope: str, key_id: int, kek_id: str, wrapped: bytes) -> bytes:
        """The unwrapped data key of a stored ``DataKey`` row, unwrapped once per version."""
        slot = (scope, key_id, kek_id, bytes(wrapped))
        key = self._data_keys.get(slot)
        if key is None:
            key = self._data_keys[slot] = self.unwrap(kek_id, slot[3])
        return key

    def add_kek(self) -> str:
        """Create a new KEK and make it current; old KEKs stay until rewrapped."""
        new_id = str(max((int(k) for k in self._keks), default=0) + 1)
        key = AESGCM.generate_key(bit_length=256)
        _write_secret(self.directory / f"kek-{new_id}.bin", key)
        _write_secret(self.directory / "kek.current", new_id.encode())
        self._keks[new_id] = key
        return new_id

    # -- keyed hashes -----------------------------------------------------------------------

    def subkey(self, purpose: str) -> bytes:
        key = self._subkeys.get(purpose)
        if key is None:
            assert self._hmac is not None
            key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()
            ).derive(self._hmac)
            self._subkeys[purpose] = key
        return key

    def keyed_hash(self, purpose: str, data: bytes) -> str:
        return hmac.new(self.subkey(purpose), data, hashlib.sha256).hexdigest()

    # -- signing ----------------------------------------------------------------------------

    def sign(self, data: bytes) -> bytes:
        assert self._signing is not None
        return self._signing.sign(data)

    @property
    def public_key(self) -> Ed25519PublicKey:
        assert self._signing is not None
        return self._signing.public_key()

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def fingerprint(self) -> str:
        """SHA-256 of the raw public key, grouped for reading aloud."""
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        digest = hashlib.sha256(raw).hexdigest().upper()
        return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], aad)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
