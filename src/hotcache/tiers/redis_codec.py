"""Wire formats of the Redis tier: deterministic key encoding, value serializers, AES-GCM sealing.

Pure functions and small immutable objects shared by the sync and the asyncio Redis tiers.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import sys
import threading
from collections import OrderedDict
from typing import Any, Callable, List, Optional, Sequence, Union

__all__ = ["Codec", "Rejected", "encode_key", "make_codec", "namespace_prefix"]

# ---------------------------------------------------------------------------------------------
# Keys
#
#   redis key = "{namespace}:#{encoded key}"          e.g.  b"svc:user:#t2:i42:sname"
#
# The "#" after the namespace separator is a character no namespace may contain, so the SCAN
# pattern "{namespace}:#*" matches this namespace's keys and never those of a longer namespace
# ("svc" vs "svc:user": "svc:#*" cannot match "svc:user:#..." because "user" is not "#...").
#
# Encoded keys are type-tagged and injective over the supported types, computed from values only
# (never hash(), never id(), never repr() of a container), so every process and every CPython
# version computes the same bytes:
#
#   None          "n"
#   integral      "i" + decimal digits      bool, int and integral float: 1 == 1.0 == True -> "i1"
#                 "x" + hex                  ints of more than 12000 bits (str() is capped)
#   other float   "f" + repr(x)              shortest round-trip repr: "f1.5", "finf", "f-inf",
#                                            "fnan" (every NaN, see docs/tiers.md)
#   str           "s" + text                 UTF-8 (lone surrogates kept with surrogatepass)
#   bytes         "b" + hex
#   type          "y" + module + ":" + qualname   (typed keys, cachetools' keyword marker); only
#                                            a class that module.qualname names (builtins and
#                                            importable classes): a local class or one made by
#                                            type() twice shares its name with other classes
#   tuple         "t" + "".join(len(e) + ":" + e for e in encoded items)   nests; "t" is ()
#
# Numbers that Python's dict treats as the same key (1, 1.0, True) get the same Redis key, so the
# two tiers agree on what a key is: a store under 1.0 replaces the L1 entry stored under 1, and
# must also replace (invalidate) the Redis copy, or the old value would come back from L2.
# ---------------------------------------------------------------------------------------------

_LEAD = "#"
_GLOB = frozenset("*?[]\\")
_BIG_INT_BITS = 12000  # about 3600 digits, below CPython's default int->str limit of 4300
_SMALL = 1 << 62


def namespace_prefix(namespace: Any) -> bytes:
    """The bytes every Redis key of ``namespace`` starts with: ``b"{namespace}:#"``.

    Raises TypeError for a non-str namespace, ValueError for an empty one or one containing a
    SCAN glob character (``* ? [ ] \\``), ``#`` (reserved to keep namespaces apart) or a control
    character.
    """
    if not isinstance(namespace, str):
        raise TypeError("namespace must be a str, not %s" % type(namespace).__name__)
    if not namespace:
        raise ValueError("namespace must not be empty")
    bad = sorted({c for c in namespace if c in _GLOB or c == _LEAD or ord(c) < 32 or ord(c) == 127})
    if bad:
        raise ValueError("namespace %r contains reserved characters %r (glob characters, '#' and "
                         "control characters are not allowed)" % (namespace, "".join(bad)))
    return (namespace + ":" + _LEAD).encode("utf-8", "surrogatepass")


def _int(x: int) -> str:
    if x.bit_length() > _BIG_INT_BITS:
        return "x" + int.__format__(x, "x")
    return "i" + int.__repr__(x)


def _type_key(cls: type) -> str:
    """``"y{module}:{qualname}"`` for a class that importing module and walking qualname finds
    again (so the name identifies it in every process); TypeError for any other class."""
    module, qualname = cls.__module__, cls.__qualname__
    found: Any = sys.modules.get(module) if "<locals>" not in qualname else None
    if found is not None:
        for part in qualname.split("."):
            found = getattr(found, part, None)
    if found is not cls:
        raise TypeError("hotcache.redis_tier cannot encode the class %s.%s as a key: its name does "
                        "not identify it (a local class, or one built by type() that %s does not "
                        "hold under that name); pass key=function(key) -> str to RedisTier"
                        % (module, qualname, module))
    return "y%s:%s" % (module, qualname)


def encode_key(key: Any) -> str:
    """The type-tagged, process-independent text of ``key`` (see the table above).

    Raises TypeError for any type outside None, bool, int, float, str, bytes, type and (nested)
    tuples of these.
    """
    t = type(key)
    if t is str:  # the common cases first, by exact type
        return "s" + key
    if t is int and -_SMALL < key < _SMALL:
        return "i%d" % key
    if isinstance(key, str):
        return "s" + str.__str__(key)
    if isinstance(key, int):  # bool too: True == 1
        return _int(key)
    if isinstance(key, tuple):
        parts = []
        for item in key:
            enc = encode_key(item)
            parts.append("%d:%s" % (len(enc), enc))
        return "t" + "".join(parts)
    if isinstance(key, float):
        if key != key:
            return "fnan"
        if math.isinf(key):
            return "finf" if key > 0 else "f-inf"
        if key.is_integer():
            return _int(int(key))
        return "f" + float.__repr__(key)
    if isinstance(key, bytes):
        return "b" + bytes.hex(key)
    if key is None:
        return "n"
    if isinstance(key, type):
        return _type_key(key)
    raise TypeError("hotcache.redis_tier cannot encode a key of type %s (supported: None, bool, "
                    "int, float, str, bytes, type and tuples of these); pass key=function(key) -> "
                    "str to RedisTier" % type(key).__name__)


# ---------------------------------------------------------------------------------------------
# Values
#
#   without secret:  serializer bytes, as is
#   with secret:     0x02 | salt (16) | nonce (12, random) | AES-256-GCM(serializer bytes) + tag (16)
#                    associated data = 0x02 | redis key   (a value moved to another key fails)
#
# WHY A SALT. Random 96-bit nonces are safe for about 2**32 encryptions under one key (NIST SP
# 800-38D); every process sharing a secret used to share one derived key, so a busy fleet could
# get there. Now each sealer (one per tier) draws a random 16-byte salt and encrypts under
# HKDF-SHA256(secret, salt=salt, info=_HKDF_INFO): its own key. After 2**30 encryptions it draws
# a new salt. A reader derives the key for the salt a value carries (the first secret, then the
# others: rotation) and keeps the last 256 salts' keys, so an L2 hit derives nothing after its
# writer's first value. Version 1 values (one key per secret, no salt) are rejected as foreign:
# they are cache entries and read as misses until they expire.
# ---------------------------------------------------------------------------------------------

_VERSION = 2
_SALT = 16
_NONCE = 12
_TAG = 16
_HKDF_INFO = b"hotcache.redis_tier.v2 aes-256-gcm"
_MIN_SECRET = 16
_ROTATE_AFTER = 1 << 30  # encryptions under one salt's key (random nonces: keep well below 2**32)
_SALT_CACHE = 256        # decryption keys kept, by salt

Secret = Union[bytes, str, Sequence[Union[bytes, str]], None]


class Rejected(Exception):
    """A stored value failed authentication or deserialization; callers treat it as a miss."""


def _not_json(value: Any) -> Any:
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


class _Json:
    """Compact JSON. The C encoder is built once (``JSONEncoder.encode`` builds one per call,
    which doubles the cost of a small value); where CPython's _json is missing, the stdlib path."""

    name = "json"

    def __init__(self) -> None:
        from json import encoder

        encode = json.JSONEncoder(separators=(",", ":")).encode

        def dumps(value: Any) -> bytes:
            return encode(value).encode("utf-8")

        make = getattr(encoder, "c_make_encoder", None)
        try:
            if make is None:
                raise ImportError("no C JSON encoder")
            c_encode = make(None, _not_json, encoder.encode_basestring_ascii, None, ":", ",",
                            False, False, True)

            def c_dumps(value: Any) -> bytes:
                return "".join(c_encode(value, 0)).encode("utf-8")

            sample = [1, "\u00e9", {"k": None}, 2.5]
            if c_dumps(sample) == dumps(sample):
                dumps = c_dumps
        except Exception:  # pragma: no cover - PyPy, builds without _json, a changed signature
            pass
        self.dumps: Callable[[Any], bytes] = dumps
        self._decode = json.JSONDecoder().decode

    def loads(self, data: bytes) -> Any:
        return self._decode(data.decode("utf-8"))


class _Msgpack:
    name = "msgpack"

    def __init__(self) -> None:
        try:
            import msgpack  # type: ignore[import-untyped]
        except ImportError:
            raise ImportError("serializer='msgpack' needs the msgpack package: "
                              "pip install msgpack") from None
        self._packb = msgpack.packb
        self._unpackb = msgpack.unpackb

    def dumps(self, value: Any) -> bytes:
        return self._packb(value, use_bin_type=True)

    def loads(self, data: bytes) -> Any:
        return self._unpackb(data, raw=False, strict_map_key=False)


class _Pickle:
    name = "pickle"
    protocol = 5  # every supported Python (3.9+) reads it

    def dumps(self, value: Any) -> bytes:
        return pickle.dumps(value, protocol=self.protocol)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)


class _Custom:
    def __init__(self, obj: Any) -> None:
        self.name = getattr(obj, "__name__", type(obj).__name__)
        self._dumps: Callable[[Any], Any] = obj.dumps
        self._loads: Callable[[bytes], Any] = obj.loads

    def dumps(self, value: Any) -> bytes:
        data = self._dumps(value)
        if isinstance(data, str):
            return data.encode("utf-8")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("%s.dumps returned %s, not bytes or str" % (self.name, type(data).__name__))
        return bytes(data)

    def loads(self, data: bytes) -> Any:
        return self._loads(data)


def _serializer(serializer: Any, sealed: bool, trusted: bool) -> Any:
    if serializer == "json":
        return _Json()
    if serializer == "msgpack":
        return _Msgpack()
    is_pickle = serializer == "pickle" or serializer is pickle or getattr(serializer, "__name__", None) == "_pickle"
    if is_pickle:
        if not (sealed or trusted):
            raise ValueError("serializer='pickle' runs code from whoever can write to Redis: give "
                             "secret= (values are then authenticated before unpickling) or "
                             "trusted=True if every writer of this Redis is trusted")
        return _Pickle()
    if isinstance(serializer, str):
        raise ValueError("unknown serializer %r (use 'json', 'msgpack', 'pickle' or an object with "
                         "dumps/loads)" % (serializer,))
    if callable(getattr(serializer, "dumps", None)) and callable(getattr(serializer, "loads", None)):
        return _Custom(serializer)
    raise TypeError("serializer must be 'json', 'msgpack', 'pickle' or an object with dumps(value) "
                    "-> bytes and loads(bytes) methods, not %r" % (serializer,))


def _secret_bytes(secret: Any) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, (bytes, bytearray)):
        raise TypeError("a secret must be bytes or str, not %s" % type(secret).__name__)
    if len(secret) < _MIN_SECRET:
        raise ValueError("a secret must be at least %d bytes (use secrets.token_bytes(32))" % _MIN_SECRET)
    return bytes(secret)


def _secrets(secret: Secret) -> List[bytes]:
    if isinstance(secret, (bytes, bytearray, str)):
        return [_secret_bytes(secret)]
    if isinstance(secret, (list, tuple)):
        if not secret:
            raise ValueError("secret= got an empty list")
        return [_secret_bytes(s) for s in secret]
    raise TypeError("secret must be bytes, str or a list of them, not %s" % type(secret).__name__)


class _Sealer:
    """AES-256-GCM under per-sealer salted keys: the first secret encrypts, every secret is
    tried to decrypt (see WHY A SALT above). Thread-safe."""

    def __init__(self, secrets: List[bytes], rotate_after: int = _ROTATE_AFTER) -> None:
        try:
            from cryptography.exceptions import InvalidTag
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        except ImportError:
            raise ImportError("secret= needs the cryptography package: pip install "
                              "'hotcache[redis]'") from None
        self._invalid = InvalidTag
        self._hkdf = HKDF
        self._sha256 = hashes.SHA256
        self._aesgcm = AESGCM
        self._secrets = secrets
        self._header = bytes([_VERSION])
        self._rotate_after = rotate_after
        self._lock = threading.Lock()
        self._keys: "OrderedDict[bytes, List[Any]]" = OrderedDict()  # salt -> a cipher per secret
        self._left = 0
        self._own: Any = None  # (header + salt, cipher) of the current salt
        self._rotate()

    def _derive(self, salt: bytes, secret: bytes) -> Any:
        key = self._hkdf(algorithm=self._sha256(), length=32, salt=salt, info=_HKDF_INFO).derive(secret)
        return self._aesgcm(key)

    def _rotate(self) -> None:
        salt = os.urandom(_SALT)
        cipher = self._derive(salt, self._secrets[0])
        self._own = (self._header + salt, cipher)
        self._left = self._rotate_after

    @property
    def salt(self) -> bytes:
        """The salt values are sealed under now (a new one after rotate_after seals)."""
        return bytes(self._own[0][1:])

    def seal(self, rkey: bytes, plaintext: bytes) -> bytes:
        self._left -= 1
        if self._left < 0:
            with self._lock:
                if self._left < 0:
                    self._rotate()
        prefix, cipher = self._own
        nonce = os.urandom(_NONCE)
        return prefix + nonce + cipher.encrypt(nonce, plaintext, self._header + rkey)

    def _ciphers(self, salt: bytes) -> List[Any]:
        ciphers = self._keys.get(salt)
        if ciphers is None:
            ciphers = [self._derive(salt, s) for s in self._secrets]
            with self._lock:
                self._keys[salt] = ciphers
                while len(self._keys) > _SALT_CACHE:
                    self._keys.popitem(last=False)
        return ciphers

    def open(self, rkey: bytes, blob: bytes) -> bytes:
        if len(blob) < 1 + _SALT + _NONCE + _TAG or blob[0] != _VERSION:
            raise Rejected("not a sealed hotcache value (or an unknown wire format version)")
        salt = blob[1:1 + _SALT]
        nonce = blob[1 + _SALT:1 + _SALT + _NONCE]
        body = blob[1 + _SALT + _NONCE:]
        aad = self._header + rkey
        for cipher in self._ciphers(salt):
            try:
                return cipher.decrypt(nonce, body, aad)
            except self._invalid:
                continue
        raise Rejected("authentication failed")


class Codec:
    """Serializer plus optional sealing: ``dumps(rkey, value) -> bytes``,
    ``loads(rkey, data) -> value`` (raises Rejected; never deserializes unauthenticated bytes
    when sealed). ``value_dumps``/``seal`` are the two halves of dumps for hot loops."""

    __slots__ = ("serializer", "sealed", "value_dumps", "seal", "_ser_loads", "_sealer")

    def __init__(self, serializer: Any, sealer: Optional[_Sealer]) -> None:
        self.serializer = serializer
        self.sealed = sealer is not None
        self.value_dumps: Callable[[Any], bytes] = serializer.dumps
        self.seal: Optional[Callable[[bytes, bytes], bytes]] = sealer.seal if sealer is not None else None
        self._ser_loads = serializer.loads
        self._sealer = sealer

    def dumps(self, rkey: bytes, value: Any) -> bytes:
        """Serialized (and sealed) bytes of ``value`` for ``rkey``; serializer errors propagate."""
        data = self.value_dumps(value)
        if self.seal is not None:
            return self.seal(rkey, data)
        return data

    def loads(self, rkey: bytes, data: bytes) -> Any:
        """The value stored under ``rkey``; Rejected for forged, tampered or undecodable bytes."""
        if self._sealer is not None:
            data = self._sealer.open(rkey, data)
        try:
            return self._ser_loads(data)
        except Exception as exc:
            raise Rejected("cannot deserialize: %r" % (exc,)) from None


def make_codec(serializer: Any = "json", secret: Secret = None, trusted: bool = False) -> Codec:
    """Validate the tier's serialization options and build its Codec (ValueError/TypeError/
    ImportError as documented on RedisTier)."""
    sealer = _Sealer(_secrets(secret)) if secret is not None else None
    return Codec(_serializer(serializer, sealer is not None, bool(trusted)), sealer)

