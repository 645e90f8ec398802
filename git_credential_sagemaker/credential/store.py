"""The encrypted keyring file on the persistent volume: storage only.

It keeps keyrings.alt's file format (an INI file, names escaped by keyrings.alt's `escape`,
values base64) and replaces what is weak in its EncryptedKeyring: Argon2id instead of
1000 rounds of PBKDF2, AES-256-GCM per entry instead of unauthenticated CFB, a checked
reference value instead of `assert`, and atomic writes under a lock instead of in-place ones.
`backend` adapts this class to the `keyring` API.

Layout of `keyring.cfg`::

    [keyring_2Dsetting]            scheme, version, store id, the data key wrapped for each way
                                   in (KDF parameters; KMS key and context), sealed check value,
                                   the inbox's public key and its sealed private key
    [sagemaker_inbox]              items stored or erased while locked (credential/inbox)
    [https_3A_2F_2Fgithub_2Ecom]   one section per service: protocol://host[/path]
    ualice = <base64 sealed JSON>  "u" + escaped username; "n" when git sent no username
    ualice.meta = {...}            key fields, stored and expiry times: plain, sealed as AAD

Every write: lock `.lock` (bounded wait), read and parse, change, keep the bytes just
parsed as `keyring.cfg.bak`, then write a temp file, fsync, rename over the old file, fsync
the directory (`files`). A file that does not parse is never overwritten, nor kept as the
backup, so the error that names a damaged file can offer the last good one. `reset` renames
both aside (never deletes) for a user who forgot the passphrase. A transaction started inside
another one (taking in the inbox applies stores and erases) joins it: one write at its end.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import contextlib
import datetime as dt
import io
import json
import os
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from keyrings.alt.escape import escape  # type: ignore[import-untyped]

from git_credential_sagemaker.credential import crypto, inbox, keys, oauth
from git_credential_sagemaker.credential.files import (
    LOCK_TIMEOUT,
    atomic_write,
    check_private_file,
    describe,
    ensure_private_dir,
    exclusive_lock,
    move_aside,
    prepare_store_dir,
)
from git_credential_sagemaker.credential.paths import APP
from git_credential_sagemaker.errors import StoreError, WrongPassphrase

FILENAME = "keyring.cfg"
BACKUP = FILENAME + ".bak"  # the version before the last write; never read as the store
SETTINGS = escape("keyring-setting")
CHECK_OPTION = escape("password reference")
CHECK_VALUE = b"git-credential-sagemaker reference value"

# Called with new=True when the passphrase is being chosen (so it should be confirmed).
PassphraseSource = Callable[[bool], str]
# (the KMS wrapping, whether a passphrase opens it too) -> the data key, or None when KMS
# did not give it (the callable has said why, in one line).
KmsUnwrap = Callable[[keys.Wrapping, bool], Optional[bytes]]
# (data key, encryption context) -> (the data key wrapped by KMS, the key's ARN); raises
# UserError.
KmsWrap = Callable[[bytes, dict[str, str]], tuple[bytes, str]]
# (KMS key, data key, encryption context) -> the same as KmsWrap, for the key the store names.
KmsEncrypt = Callable[[str, bytes, dict[str, str]], tuple[bytes, str]]


# What a store of the same token keeps when git does not send it back: the refresh token
# (git before 2.41 knows none) and how to refresh it (no git knows that).
KEPT_WITH_TOKEN = ("oauth_refresh_token", oauth.CLIENT_KEY, oauth.BASE_KEY)


@dataclass(frozen=True)
class Entry:
    """What is known about a stored credential without decrypting it."""

    protocol: str
    host: str
    path: Optional[str]
    username: Optional[str]
    stored: str
    expiry: Optional[str]
    section: str
    option: str
    check: Optional[str] = None  # what GitHub said of the token (github.Check.to_meta)
    refreshes: bool = False  # holds a GitHub App's refresh token that we can use (device)

    @property
    def key(self) -> dict[str, Optional[str]]:
        return {
            "protocol": self.protocol,
            "host": self.host,
            "path": self.path,
            "username": self.username,
        }


def service_name(protocol: str, host: str, path: Optional[str]) -> str:
    return f"{protocol}://{host}" + ("" if path is None else f"/{path}")


def option_name(username: Optional[str]) -> str:
    return "n" if username is None else "u" + escape(username)


def _new_parser() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # case matters in names
    return parser


def parse(raw: bytes, scheme: str, version: str) -> configparser.RawConfigParser:
    """A keyring file's bytes, parsed and its header checked.

    ValueError says in plain words what is wrong, for a user who never saw an INI file.
    """
    edited = "it was cut short or edited by hand"
    if not raw.strip():
        raise ValueError("it is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("it is not text (something other than this tool wrote over it)") from None
    parser = _new_parser()
    try:
        parser.read_file(io.StringIO(text))
        settings = dict(parser.items(SETTINGS))
    except configparser.Error:
        raise ValueError(f"it is not a keyring file ({edited})") from None
    if settings.get("scheme") != scheme or settings.get("version") not in keys.VERSIONS:
        found = f"{str(settings.get('scheme'))[:40]!r} {str(settings.get('version'))[:8]!r}"
        raise ValueError(f"it is in a format this version does not know ({found})")
    try:
        if settings["version"] == keys.LEGACY:
            crypto.KdfParams.from_fields(settings)
        keys.check(settings)
        base64.b64decode(settings[CHECK_OPTION], validate=True)
        inbox.check(settings)
    except KeyError:
        raise ValueError(f"its settings are incomplete ({edited})") from None
    except (ValueError, binascii.Error):
        raise ValueError(f"its key settings are malformed or out of range ({edited})") from None
    return parser


def _set_context(parser: configparser.RawConfigParser, context: Mapping[str, str]) -> None:
    """Record the KMS context a new wrapping used (and drop an instance it no longer names)."""
    parser.remove_option(SETTINGS, keys.KMS_INSTANCE)
    for name, value in keys.context_fields(context).items():
        parser.set(SETTINGS, name, value)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _passed(expiry: str) -> bool:
    """Whether a password_expiry_utc value (epoch seconds) is in the past."""
    return expiry.isdigit() and len(expiry) <= 20 and int(expiry) <= dt.datetime.now().timestamp()


class Store:
    """The encrypted keyring file: entries readable without a key, secrets only with it."""

    scheme = crypto.SCHEME
    version = keys.CURRENT

    def __init__(
        self,
        directory: Path,
        passphrase: Optional[PassphraseSource] = None,
        key: Optional[bytes] = None,
        lock_timeout: float = LOCK_TIMEOUT,
        kms: Optional[KmsUnwrap] = None,
        instance: Optional[str] = None,
    ) -> None:
        self.directory = Path(directory)
        self._passphrase = passphrase
        self._key = key
        self._kms = kms
        self.instance = instance  # the notebook instance's ARN, for the KMS context
        self._fresh: Optional[dict[str, str]] = None  # settings of a store not yet written
        self.moved = False  # this process moved the file to the current format
        self._cache: Optional[tuple[bytes, configparser.RawConfigParser]] = None
        self.lock_timeout = lock_timeout
        # The transaction under way (its document and key): reads see it, writes join it.
        self._txn: Optional[tuple[configparser.RawConfigParser, bytes]] = None
        self._txn_changed = False
        self._pinned: Optional[configparser.RawConfigParser] = None  # snapshot()

    @property
    def path(self) -> Path:
        return self.directory / FILENAME

    def __repr__(self) -> str:
        return f"<Store {self.scheme} v{self.version} at {self.path}>"

    # -- reading ---------------------------------------------------------------------------

    @property
    def backup_path(self) -> Path:
        return self.directory / BACKUP

    def _load(self, use_cache: bool = True) -> Optional[configparser.RawConfigParser]:
        """The parsed file, or None when there is none yet. Never changes anything.

        Callers that mutate the result (transact) pass use_cache=False to get their own copy.
        Inside a transaction, it is that transaction's document, changes and all.
        """
        if self._txn is not None:
            return self._txn[0]
        if self._pinned is not None and use_cache:
            return self._pinned
        loaded = self._read(use_cache)
        return None if loaded is None else loaded[1]

    def _read(self, use_cache: bool = True) -> Optional[tuple[bytes, configparser.RawConfigParser]]:
        """(the bytes, parsed), or None when there is no file yet."""
        if not ensure_private_dir(self.directory, create=False) or not check_private_file(
            self.path
        ):
            return None
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise self._unreadable(f"it cannot be read ({describe(exc)})") from None
        if use_cache and self._cache is not None and self._cache[0] == raw:
            return self._cache  # parsing, not reading, is what costs
        try:
            parser = parse(raw, self.scheme, self.version)
        except ValueError as exc:
            raise self._unreadable(str(exc)) from None
        if use_cache:
            self._cache = (raw, parser)
        return raw, parser

    def _unreadable(self, what: str) -> StoreError:
        return StoreError(
            f"keyring file {self.path} is unreadable: {what}; nothing was changed. "
            + self.repair_hint()
        )

    def repair_hint(self) -> str:
        """The one fix for a damaged file: the last good version if there is one, else reset."""
        if self.backup_is_good():
            return (
                "To go back to the version before the last change, run: "
                f"mv {shlex.quote(str(self.backup_path))} {shlex.quote(str(self.path))}"
            )
        return (
            "To start over with a new keyring (the damaged file is kept aside), run: "
            f"{APP} --dir {shlex.quote(str(self.directory))} reset"
        )

    def backup_is_good(self) -> bool:
        """Whether `keyring.cfg.bak` is a private file that parses: safe to restore."""
        try:
            if not check_private_file(self.backup_path):
                return False
            parse(self.backup_path.read_bytes(), self.scheme, self.version)
        except (StoreError, OSError, ValueError):
            return False
        return True

    def entries(self) -> list[Entry]:
        """Every stored credential's public half. Needs no passphrase."""
        parser = self._load()
        return [] if parser is None else self._entries(parser)

    def _entries(self, parser: configparser.RawConfigParser) -> list[Entry]:
        found = []
        for section in parser.sections():
            if section in (SETTINGS, inbox.SECTION):
                continue
            for option, _value in parser.items(section):
                if option.endswith(".meta"):
                    continue
                meta = self._meta(parser, section, option)
                found.append(
                    Entry(
                        protocol=meta["protocol"],
                        host=meta["host"],
                        path=meta.get("path"),
                        username=meta.get("username"),
                        stored=meta.get("stored", ""),
                        expiry=meta.get("expiry"),
                        section=section,
                        option=option,
                        check=meta.get("check"),
                        refreshes=meta.get("refresh") == "oauth",
                    )
                )
        return found

    def _meta(
        self, parser: configparser.RawConfigParser, section: str, option: str
    ) -> dict[str, str]:
        try:
            meta = json.loads(parser.get(section, option + ".meta"))
            if not isinstance(meta, dict):
                raise TypeError
            if (
                escape(service_name(meta["protocol"], meta["host"], meta.get("path"))) != section
                or option_name(meta.get("username")) != option
            ):
                raise ValueError
        except (configparser.Error, ValueError, TypeError, KeyError):
            raise StoreError(
                f"entry {section}/{option} in {self.path} is damaged or was "
                "moved; remove it with `git-credential-sagemaker logout`"
            ) from None
        return meta

    # -- the key ---------------------------------------------------------------------------

    @property
    def unlocked(self) -> bool:
        return self._key is not None

    def unlock(self, parser: Optional[configparser.RawConfigParser] = None) -> bytes:
        """The data key: from KMS when it wraps it, else from the passphrase (`keys`).

        A wrong passphrase fails authentication; a version 1 file moves to version 2.
        """
        if self._key is not None:
            return self._key
        if parser is None:
            parser = self._load()
        if parser is None:
            return self._start_with_passphrase()
        fields = dict(parser.items(SETTINGS))
        kms_key = keys.kms_key(fields)
        if kms_key and self._kms is not None:
            wrapping = keys.wrapping(str(self.path), fields, self.instance)
            data_key = self._kms(wrapping, keys.has_passphrase(fields))
            if data_key is not None and self._opens(parser, data_key):
                self._key = data_key
                return data_key
            self._kms = None  # said once; a retried passphrase does not ask KMS again
        if not keys.has_passphrase(fields):
            raise StoreError(
                f"{self.path} opens only with KMS key {kms_key}, and KMS did not open it; "
                f"give this role kms:Decrypt on that key, or start over with: {APP} reset"
            )
        if self._passphrase is None:
            raise StoreError("the keyring is locked and no passphrase source is available")
        params = crypto.KdfParams.from_fields(fields)
        kek = crypto.derive_key(self._passphrase(False), params)
        if fields["version"] == keys.LEGACY:
            if not self._opens(parser, kek):
                raise WrongPassphrase(f"wrong passphrase for {self.path}")
            self._key = kek
            self._upgrade(kek)
            return self._key
        data_key = keys.unwrap_with_passphrase(kek, fields)
        if data_key is None:
            raise WrongPassphrase(f"wrong passphrase for {self.path}")
        if not self._opens(parser, data_key):
            raise self._unreadable("its key check fails (it was edited by hand)")
        self._key = data_key
        return data_key

    def _start_with_passphrase(self) -> bytes:
        """A new store: choose the passphrase that wraps a new data key."""
        if self._passphrase is None:
            raise StoreError("the keyring is locked and no passphrase source is available")
        params = crypto.KdfParams.fresh()
        kek = crypto.derive_key(self._passphrase(True), params)
        data_key, store_id = keys.new_data_key(), keys.new_store_id()
        self._fresh = {
            **params.to_fields(),
            keys.STORE_ID: store_id,
            keys.BY_PASSPHRASE: keys.wrap_for_passphrase(kek, data_key, store_id),
        }
        self._key = data_key
        return data_key

    def _upgrade(self, legacy_key: bytes) -> None:
        """Move a version 1 file to a wrapped data key, in one atomic write (the old file
        stays as the backup). If it can't be written, the file stays version 1 and still
        opens with the key in hand."""
        data_key, store_id = keys.new_data_key(), keys.new_store_id()

        def change(parser: configparser.RawConfigParser, key: bytes) -> bool:
            if parser.get(SETTINGS, "version") != keys.LEGACY:
                return False  # another process moved it first
            self._reseal(parser, key, data_key)
            parser.set(SETTINGS, "version", keys.CURRENT)
            parser.set(SETTINGS, keys.STORE_ID, store_id)
            wrapped = keys.wrap_for_passphrase(key, data_key, store_id)
            parser.set(SETTINGS, keys.BY_PASSPHRASE, wrapped)
            check = crypto.seal(data_key, CHECK_VALUE, SETTINGS.encode())
            parser.set(SETTINGS, CHECK_OPTION, base64.b64encode(check).decode())
            for name, value in inbox.new_keypair(data_key).items():
                parser.set(SETTINGS, name, value)
            self.moved = True
            return True

        try:
            self.transact(change)
            parser = self._load()
        except StoreError:
            parser = None
        if self._key is None:
            self._key = legacy_key  # the file as it was still opens with it
        if parser is None:
            return
        # The passphrase's key wraps the data key now, whoever moved the file.
        moved = keys.unwrap_with_passphrase(legacy_key, dict(parser.items(SETTINGS)))
        if moved is not None and self._opens(parser, moved):
            self._key = moved

    def wrap_with_kms(self, key_id: str, wrap: KmsWrap) -> bool:
        """Let KMS key `key_id` open this store too; a store not yet written opens only with
        it. False when that key already wraps it. KMS is called before the file is locked."""
        if self._key is None and self._load() is None:
            data_key, store_id = keys.new_data_key(), keys.new_store_id()
            context = keys.kms_context(str(self.path), store_id, self.instance)
            blob, arn = wrap(data_key, context)
            self._fresh = {
                keys.STORE_ID: store_id,
                keys.KMS_KEY: arn,
                keys.BY_KMS: base64.b64encode(blob).decode(),
                **keys.context_fields(context),
            }
            self._key = data_key
            created = False

            def create(parser: configparser.RawConfigParser, key: bytes) -> bool:
                nonlocal created
                created = parser.get(SETTINGS, keys.STORE_ID, fallback=None) == store_id
                return created

            self.transact(create)
            if created:
                return True
            # Another process made the store meanwhile: wrap that one, as any existing store.
        key = self.unlock()
        fields = self.settings() or {}
        if fields.get("version") != keys.CURRENT:
            raise StoreError(f"{self.path} could not be moved to the current format")
        store_id = fields[keys.STORE_ID]
        context = keys.kms_context(str(self.path), store_id, self.instance)
        here = keys.wrapped_as(fields, context)  # on this instance: moved ones wrap again
        if here and keys.kms_key(fields) == key_id:
            return False
        blob, arn = wrap(key, context)
        if here and keys.kms_key(fields) == arn:
            return False

        def change(parser: configparser.RawConfigParser, key: bytes) -> bool:
            if parser.get(SETTINGS, keys.STORE_ID, fallback=None) != store_id:
                raise StoreError(f"{self.path} was replaced meanwhile; nothing was changed")
            parser.set(SETTINGS, keys.KMS_KEY, arn)
            parser.set(SETTINGS, keys.BY_KMS, base64.b64encode(blob).decode())
            _set_context(parser, context)
            return True

        self.transact(change)
        return True

    def opens(self) -> bool:
        """Whether the key in hand opens this file (False when there is none)."""
        parser = self._load()
        return parser is not None and self._key is not None and self._opens(parser, self._key)

    def change_passphrase(self, passphrase: str, encrypt: KmsEncrypt) -> bytes:
        """A new passphrase, and with it a new data key and store id; returns the new key.

        Re-wrapping the old data key would let the old passphrase and any copy from before
        (a snapshot, the backup) open tomorrow's tokens. So every entry and the reference
        value are sealed again under a new random key, which the new passphrase wraps, and
        KMS too (`encrypt`, before the lock, with the same key) when it wrapped the old one.
        An entry the old key could not open stays as it was, for logout to remove.

        The backup is not the file as it was: it would hold the old key, wrapped for the old
        passphrase. It becomes a copy of the new file, written first (transact), so at no
        moment does the directory hold an old-key copy beside a new-key file. It loses
        nothing: the change moved no entry, so the new file is the last good version.
        """
        self.unlock()
        fields = self.settings() or {}
        if fields.get("version") != keys.CURRENT:
            raise StoreError(f"{self.path} could not be moved to the current format")
        old_id, kms_key = fields[keys.STORE_ID], keys.kms_key(fields)
        params = crypto.KdfParams.fresh()
        kek = crypto.derive_key(passphrase, params)
        data_key, store_id = keys.new_data_key(), keys.new_store_id()
        new_fields = {
            **params.to_fields(),
            keys.STORE_ID: store_id,
            keys.BY_PASSPHRASE: keys.wrap_for_passphrase(kek, data_key, store_id),
        }
        if kms_key:
            context = keys.kms_context(str(self.path), store_id, self.instance)
            blob, arn = encrypt(kms_key, data_key, context)
            new_fields.update({keys.KMS_KEY: arn, keys.BY_KMS: base64.b64encode(blob).decode()})
            new_fields.update(keys.context_fields(context))

        def change(parser: configparser.RawConfigParser, key: bytes) -> bool:
            now = dict(parser.items(SETTINGS))
            if now.get(keys.STORE_ID) != old_id or keys.kms_key(now) != kms_key:
                raise StoreError(f"{self.path} was changed meanwhile; nothing was changed")
            self._reseal(parser, key, data_key)
            parser.remove_option(SETTINGS, keys.KMS_INSTANCE)  # new_fields names it, if any
            for name, value in new_fields.items():
                parser.set(SETTINGS, name, value)
            check = crypto.seal(data_key, CHECK_VALUE, SETTINGS.encode())
            parser.set(SETTINGS, CHECK_OPTION, base64.b64encode(check).decode())
            return True

        self.transact(change, keep_previous=False)
        self._key = data_key
        return data_key

    def _reseal(self, parser: configparser.RawConfigParser, old: bytes, new: bytes) -> None:
        """Every entry that `old` opens, and the inbox's private key, sealed again by `new`
        (same AAD: same meta)."""
        if parser.has_option(SETTINGS, inbox.PRIVATE):
            try:
                resealed = inbox.reseal_private(parser.get(SETTINGS, inbox.PRIVATE), old, new)
            except (binascii.Error, crypto.AuthenticationError):
                parser.remove_option(SETTINGS, inbox.PUBLIC)  # unreadable: a new one is made
                parser.remove_option(SETTINGS, inbox.PRIVATE)
            else:
                parser.set(SETTINGS, inbox.PRIVATE, resealed)
        for entry in self._entries(parser):
            meta_json = parser.get(entry.section, entry.option + ".meta")
            aad = self._aad(entry.section, entry.option, meta_json)
            try:
                sealed = base64.b64decode(parser.get(entry.section, entry.option))
                plain = crypto.unseal(old, sealed, aad)
            except (binascii.Error, crypto.AuthenticationError):
                continue  # already unreadable: kept as it is, for logout to remove
            resealed = base64.b64encode(crypto.seal(new, plain, aad)).decode()
            parser.set(entry.section, entry.option, resealed)

    def settings(self) -> Optional[dict[str, str]]:
        """The file's settings (no secrets: wrapped keys only), or None when there is no file."""
        parser = self._load()
        return None if parser is None else dict(parser.items(SETTINGS))

    @staticmethod
    def _opens(parser: configparser.RawConfigParser, key: bytes) -> bool:
        """Whether `key` authenticates this file's reference value."""
        sealed = base64.b64decode(parser.get(SETTINGS, CHECK_OPTION))
        try:
            return crypto.unseal(key, sealed, SETTINGS.encode()) == CHECK_VALUE
        except crypto.AuthenticationError:
            return False

    def lock(self) -> None:
        self._key = None
        self._fresh = None

    # -- entries ---------------------------------------------------------------------------

    @staticmethod
    def _aad(section: str, option: str, meta_json: str) -> bytes:
        return f"{section}\0{option}\0{meta_json}".encode()

    def secrets(self, entry: Entry) -> dict[str, str]:
        """Decrypt one entry. A changed or moved entry is an error, never garbage."""
        parser = self._load()
        if parser is None or not parser.has_option(entry.section, entry.option):
            raise StoreError(f"entry for {entry.host} vanished from {self.path}")
        key = self.unlock(parser)
        if not self._opens(parser, key):
            raise StoreError(
                f"{self.path} was replaced by one with another passphrase since it was "
                "unlocked; run: git-credential-sagemaker lock, then unlock"
            )
        meta_json = parser.get(entry.section, entry.option + ".meta")
        try:
            sealed = base64.b64decode(parser.get(entry.section, entry.option), validate=False)
            plain = crypto.unseal(key, sealed, self._aad(entry.section, entry.option, meta_json))
            data = json.loads(plain)
            if not isinstance(data, dict):
                raise ValueError
        except (crypto.AuthenticationError, binascii.Error, ValueError):
            raise StoreError(
                f"entry for {entry.host} in {self.path} failed authentication "
                "(changed outside this tool); remove it with "
                "`git-credential-sagemaker logout`"
            ) from None
        return {str(k): str(v) for k, v in data.items()}

    def transact(
        self,
        change: Callable[[configparser.RawConfigParser, bytes], bool],
        needs_key: bool = True,
        keep_previous: bool = True,
    ) -> None:
        """Lock, re-read, apply `change`, and write atomically if it reports a change.

        Removing entries needs no key (needs_key=False): a locked user can still log out.
        keep_previous=False: the backup becomes a copy of the new file, not the old one
        (a key change: the old file must not stay behind), written before the file itself.
        """
        if self._txn is not None:  # inside another transaction: it writes, once, at its end
            if change(*self._txn):
                self._txn_changed = True
            return
        prepare_store_dir(self.directory)
        # Unlock before locking: choosing a passphrase must not hold the lock.
        key = self.unlock() if needs_key else b""
        with exclusive_lock(self.directory, self.lock_timeout):
            loaded = self._read(use_cache=False)
            if loaded is None:
                previous, parser = None, self._initial_document(key)
            else:
                previous, parser = loaded
                if needs_key and not self._opens(parser, key):
                    key = self._reopen(parser, key)
            self._txn, self._txn_changed = (parser, key), False
            try:
                changed = change(parser, key) or self._txn_changed
            finally:
                self._txn = None
            if not changed and previous is not None:
                return
            out = io.StringIO()
            parser.write(out)
            self._pinned = None  # a snapshot ends with a write: later reads see it
            if not keep_previous:
                atomic_write(self.backup_path, out.getvalue())
            elif previous is not None:  # it parsed: the last good version, kept first
                atomic_write(self.backup_path, previous)
            atomic_write(self.path, out.getvalue())

    def _reopen(self, parser: configparser.RawConfigParser, key: bytes) -> bytes:
        """The key for a file another process changed since `key` was found.

        Moved to version 2 meanwhile: the passphrase's key in hand unwraps the new data key,
        so nothing is asked again. Created by another process: unlock it afresh.
        """
        moved = keys.unwrap_with_passphrase(key, dict(parser.items(SETTINGS)))
        if moved is not None and self._opens(parser, moved):
            self._key = moved
            return moved
        self.lock()
        return self.unlock(parser)

    def _initial_document(self, key: bytes) -> configparser.RawConfigParser:
        fresh = self._fresh
        if fresh is None:
            raise StoreError(f"{self.path} is gone; unlock again to start a new keyring")
        parser = _new_parser()
        parser.add_section(SETTINGS)
        parser.set(SETTINGS, "scheme", self.scheme)
        parser.set(SETTINGS, "version", self.version)
        for name, value in fresh.items():
            parser.set(SETTINGS, name, value)
        check = crypto.seal(key, CHECK_VALUE, SETTINGS.encode())
        parser.set(SETTINGS, CHECK_OPTION, base64.b64encode(check).decode())
        if self.version == keys.CURRENT:
            for name, value in inbox.new_keypair(key).items():
                parser.set(SETTINGS, name, value)
        return parser

    def _current(
        self, parser: configparser.RawConfigParser, section: str, option: str, key: bytes
    ) -> Optional[tuple[dict[str, str], dict[str, str]]]:
        """(secrets, meta) of an entry that opens with `key`, else None."""
        try:
            meta_json = parser.get(section, option + ".meta")
            sealed = base64.b64decode(parser.get(section, option))
            plain = crypto.unseal(key, sealed, self._aad(section, option, meta_json))
            secrets, meta = json.loads(plain), json.loads(meta_json)
        except (configparser.Error, binascii.Error, crypto.AuthenticationError, ValueError):
            return None
        if not isinstance(secrets, dict) or not isinstance(meta, dict):
            return None
        return {str(k): str(v) for k, v in secrets.items()}, meta

    def put(
        self,
        key_fields: Mapping[str, Optional[str]],
        secrets: Mapping[str, str],
        check: Optional[str] = None,
    ) -> None:
        """Store one credential, replacing the one with the same protocol/host/path/username.

        A store of the same token keeps what is already known of it: the expiry and refresh
        token (git before 2.41 never sends them back), how to refresh it, and GitHub's check,
        unless new ones are given. An expiry
        that has passed is not kept: the host just took the token again, so the old date was
        wrong (or renewed), and keeping it would make every push ask again. An unchanged
        entry is not rewritten: git stores after every successful push.
        """
        protocol, host = key_fields["protocol"], key_fields["host"]
        if not protocol or not host:
            raise StoreError("a credential needs a protocol and a host")
        section = escape(service_name(protocol, host, key_fields.get("path")))
        option = option_name(key_fields.get("username"))

        def change(parser: configparser.RawConfigParser, key: bytes) -> bool:
            wanted = dict(secrets)
            new_check = check
            stored = _now()
            current = None
            if parser.has_option(section, option):
                current = self._current(parser, section, option, key)
            if current is not None and current[0].get("password") == wanted.get("password"):
                old_secrets, old_meta = current
                old_expiry = old_secrets.get("password_expiry_utc")
                if old_expiry is not None and not _passed(old_expiry):
                    wanted.setdefault("password_expiry_utc", old_expiry)
                for name in KEPT_WITH_TOKEN:  # git before 2.41 drops the refresh token
                    if name in old_secrets:
                        wanted.setdefault(name, old_secrets[name])
                if new_check is None:
                    new_check = old_meta.get("check")
                stored = str(old_meta.get("stored") or stored)
                if wanted == old_secrets and new_check == old_meta.get("check"):
                    return False
            meta: dict[str, str] = {k: v for k, v in key_fields.items() if v is not None}
            meta["stored"] = stored
            if new_check is not None:
                meta["check"] = new_check
            self._seal_entry(parser, key, section, option, meta, wanted)
            return True

        self.transact(change)

    def _seal_entry(
        self,
        parser: configparser.RawConfigParser,
        key: bytes,
        section: str,
        option: str,
        meta: dict[str, str],
        secrets: Mapping[str, str],
    ) -> None:
        """Write one entry: its metadata in the clear (the expiry from its secrets), the
        secrets sealed to it."""
        meta = {k: v for k, v in meta.items() if k not in ("expiry", "refresh")}
        if secrets.get("password_expiry_utc"):
            meta["expiry"] = secrets["password_expiry_utc"]
        if oauth.CLIENT_KEY in secrets:  # public, like the expiry: whether a refresh is ours
            meta["refresh"] = "oauth"
        meta_json = json.dumps(meta, sort_keys=True)
        plain = json.dumps(dict(secrets), sort_keys=True).encode()
        sealed = crypto.seal(key, plain, self._aad(section, option, meta_json))
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, option, base64.b64encode(sealed).decode())
        parser.set(section, option + ".meta", meta_json)

    def rewrite(
        self, entry: Entry, compute: Callable[[dict[str, str]], Optional[dict[str, str]]]
    ) -> Optional[dict[str, str]]:
        """Under the lock, re-read `entry`'s secrets and replace them with what `compute`
        makes of them: None leaves them, {} removes the entry. Whatever `compute` does (a
        refresh over the network) happens once at a time across processes, on what is stored
        now. Returns the secrets stored afterwards; None when the entry is gone."""
        result: Optional[dict[str, str]] = None

        def change(parser: configparser.RawConfigParser, key: bytes) -> bool:
            nonlocal result
            current = None
            if parser.has_option(entry.section, entry.option):
                current = self._current(parser, entry.section, entry.option, key)
            if current is None:
                return False
            new = compute(current[0])
            if new is None:
                result = current[0]
                return False
            if not new:
                parser.remove_option(entry.section, entry.option)
                parser.remove_option(entry.section, entry.option + ".meta")
                if not parser.items(entry.section):
                    parser.remove_section(entry.section)
                return True
            meta = {**current[1], "stored": _now()}
            self._seal_entry(parser, key, entry.section, entry.option, meta, new)
            result = new
            return True

        self.transact(change)
        return result

    def remove(self, doomed: Callable[[Entry], bool], needs_key: bool = True) -> int:
        """Delete every entry `doomed` picks, in one atomic write. Returns how many."""
        removed = 0

        def change(parser: configparser.RawConfigParser, key: bytes) -> bool:
            nonlocal removed
            for entry in self._entries(parser):
                if parser.has_option(entry.section, entry.option) and doomed(entry):
                    parser.remove_option(entry.section, entry.option)
                    parser.remove_option(entry.section, entry.option + ".meta")
                    if not parser.items(entry.section):
                        parser.remove_section(entry.section)
                    removed += 1
            return removed > 0

        if self._load() is not None:
            self.transact(change, needs_key)
        return removed

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see the file as read once, for one request's several lookups (the
        agent's `get`); a write ends it, so what follows sees what was written."""
        self._pinned = self._load()
        try:
            yield
        finally:
            self._pinned = None

    # -- the inbox (credential/inbox explains) -------------------------------------------------

    def pending(self) -> int:
        """Items waiting in the inbox for the next unlock. Needs no key."""
        parser = self._load()
        if parser is None or not parser.has_section(inbox.SECTION):
            return 0
        return len(parser.items(inbox.SECTION))

    def queue(self, item: inbox.Item) -> None:
        """Seal a store or an erase to the inbox while locked: asks for nothing. A keyring
        without an inbox yet, or a full inbox, is a one-line StoreError."""

        def change(parser: configparser.RawConfigParser, key: bytes) -> bool:
            fields = dict(parser.items(SETTINGS))
            if inbox.PUBLIC not in fields or keys.STORE_ID not in fields:
                raise StoreError(
                    f"{self.path} keeps nothing for later until it is unlocked once more; "
                    f"run: {APP} unlock"
                )
            if not parser.has_section(inbox.SECTION):
                parser.add_section(inbox.SECTION)
            held = parser.items(inbox.SECTION)
            sealed = inbox.seal(fields[inbox.PUBLIC], fields[keys.STORE_ID], item)
            size = sum(len(value) for _, value in held) + len(sealed)
            if len(held) >= inbox.MAX_ITEMS or size > inbox.MAX_BYTES:
                raise StoreError(
                    f"the inbox of {self.path} is full ({len(held)} items waiting), so this "
                    f"was not kept; take them in with: {APP} unlock"
                )
            parser.set(inbox.SECTION, os.urandom(8).hex(), sealed)
            return True

        if self._load() is None:
            raise StoreError(f"there is no keyring at {self.path} to keep this for")
        self.transact(change, needs_key=False)

    def take_in(self, apply: Callable[[inbox.Item], None]) -> list[str]:
        """With the key: give the store an inbox if it has none, apply each waiting item in
        order, and empty the inbox, all in one atomic write. The lines to say: one for each
        item that did not open (the others are applied all the same)."""
        refused: list[str] = []

        def change(parser: configparser.RawConfigParser, key: bytes) -> bool:
            fields = dict(parser.items(SETTINGS))
            changed = False
            if fields.get("version") == keys.CURRENT and inbox.PUBLIC not in fields:
                for name, value in inbox.new_keypair(key).items():
                    parser.set(SETTINGS, name, value)
                changed = True
            if not parser.has_section(inbox.SECTION):
                return changed
            for _, text in parser.items(inbox.SECTION):
                try:
                    item = inbox.open_item(
                        fields.get(inbox.PRIVATE, ""), key, fields.get(keys.STORE_ID, ""), text
                    )
                except inbox.BadItem:
                    refused.append(
                        f"an item in the inbox of {self.path} was not sealed to this keyring "
                        "(damaged, or written by something else), so it was dropped"
                    )
                    continue
                apply(item)
            parser.remove_section(inbox.SECTION)
            return True

        if self._load() is not None:
            self.transact(change)
        return refused

    def set_aside(self, label: str) -> list[tuple[Path, Path]]:
        """Rename the keyring and its backup to `keyring.cfg.<label>[.bak]`, under the lock.

        Nothing is deleted, and nothing that exists is overwritten. Returns (from, to) pairs.
        """
        if not ensure_private_dir(self.directory, create=False):
            return []
        moved: list[tuple[Path, Path]] = []
        with exclusive_lock(self.directory, self.lock_timeout):
            stem, n = f"{FILENAME}.{label}", 1
            while any(os.path.lexists(self.directory / name) for name in (stem, stem + ".bak")):
                n += 1
                stem = f"{FILENAME}.{label}-{n}"
            # The backup first: if the keyring itself then can't move, nothing is lost.
            for path, name in ((self.backup_path, stem + ".bak"), (self.path, stem)):
                if os.path.lexists(path):
                    moved.append((path, move_aside(path, self.directory / name)))
        self.lock()
        self._cache = None
        return moved[::-1]
