"""The unlock agent: keeps the derived key in memory so later git calls need no passphrase.

    unlock --key over a pipe--> agent (detached) <--unix socket, same uid only-- helper
    accept loop --one thread per client (bounded)--> read (deadline) --> handle --> reply

The key reaches the agent through its stdin pipe: never argv, the environment or disk.
The agent detaches fully (new session, every inherited fd closed), or `git credential
fill` would wait forever for EOF on a pipe it kept open. It lives until the machine stops,
`lock`, or its --timeout. Its socket lives in the runtime dir, never on the volume.

Whatever one client sends (garbage, too much, nothing at all) costs that client an error
line or its connection, never the agent: clients are served concurrently, each has a few
seconds to send its request, and store operations take turns under one lock.

A token read from a Secrets Manager secret is handed over with `cache`, with the secret's
name. The keyring comes first: `get` answers a stored token when there is one, else the
cached one for at most secrets.CACHE_SECONDS, as `cached` with the secret's name, so the
helper answers it only while git config still names that secret (else it sends `drop`).
Past its time, `get` says `secret` so the helper reads the secret again. Its keyed hash is
kept for the agent's lifetime, so a `store` of it is refused even after the value is
forgotten, and an `erase` of it drops it and says `secret` with the name (the helper then
says who must rotate it). Such a token never reaches the store.

A GitHub App's tokens are refreshed here before `get` answers them, one refresh at a time
(device.renew); a refused refresh answers `gone` with the line to show. `device` starts the
device flow for a host and answers its URL and code at once; a thread waits for the approval
and stores the tokens (`put` stores an entry with fields git never sends, for login --device).

`kms KEY INSTANCE` lets a KMS key wrap the data key the agent holds (setup --kms-key while
unlocked), bound to the notebook instance setup names: the agent makes the KMS call itself,
with its own AWS credentials, so the key never leaves it, not even to a same-uid client.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import hmac
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from git_credential_sagemaker import children
from git_credential_sagemaker.credential import (
    agentclient,
    crypto,
    device,
    oauth,
    operations,
    protocol,
    secrets,
)
from git_credential_sagemaker.credential.files import ensure_private_dir
from git_credential_sagemaker.credential.settings import PASSPHRASE_ENV, parse_timeout
from git_credential_sagemaker.credential.store import Store
from git_credential_sagemaker.errors import StoreError, UserError

# A request is git's (at most 1 MiB) plus the op and the store's path.
MAX_MESSAGE = protocol.MAX_REQUEST + 8192
START_TIMEOUT = 15.0
# The helper sends its whole request at once; a client still silent after this is dropped.
READ_DEADLINE = 5.0
REPLY_DEADLINE = 5.0
# Clients served at once; more are dropped (the helper then opens the store itself).
MAX_CLIENTS = 32
# The accept loop wakes at least this often, so a missed wake-up cannot keep the key alive.
WAKE_INTERVAL = 60.0
OPS = ("get", "store", "erase", "lock", "status", "cache", "drop", "kms", "put", "device")
# Secret-sourced tokens kept at once (the oldest key goes first), and hashes remembered.
MAX_CACHED = 64
MAX_SECRET_HASHES = 4096


def peer_allowed(peer_uid: int, own_uid: int) -> bool:
    """Only the agent's own user may use its key (root is not special here)."""
    return peer_uid == own_uid


def peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


class TooLarge(Exception):
    """A client sent more than any real request holds."""


def read_request(conn: socket.socket, deadline: float) -> bytes:
    """Everything the client sends until it shuts down writing, by `deadline` (monotonic)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the client sent no complete request in time")
        conn.settimeout(remaining)
        chunk = conn.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_MESSAGE:
            raise TooLarge


def _error(text: str) -> bytes:
    line = (text.splitlines() or ["unknown error"])[0]
    return agentclient.ERROR + b"\n" + line.encode(errors="replace")


class Cached:
    """A token from a secret: the key it answers, and its value until `until` (monotonic)."""

    __slots__ = ("digest", "key", "password", "secret", "until", "username")

    def __init__(
        self,
        secret: str,
        key: dict[str, Optional[str]],
        username: Optional[str],
        password: Optional[str],
        digest: bytes,
        until: float,
    ) -> None:
        self.secret = secret  # the name git config gave for the URL when it was read
        self.key = key
        self.username = username
        self.password = password  # None once expired or erased; the key stays known
        self.digest = digest
        self.until = until


class Agent:
    """Answers helper requests with the store's key held in memory."""

    def __init__(
        self,
        store_dir: Path,
        key: bytes,
        timeout: Optional[float],
        cache_seconds: float = secrets.CACHE_SECONDS,
    ) -> None:
        self.store_dir = store_dir.absolute()
        self.store = Store(store_dir, key=key)  # no passphrase source: never prompts
        self.started = time.time()
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.expires = None if timeout is None else self.started + timeout
        self.store_lock = threading.Lock()  # one store operation at a time
        self.stopping = threading.Event()
        self.slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self.address = ""
        self.cache_seconds = min(cache_seconds, secrets.CACHE_SECONDS)
        self.cache_lock = threading.Lock()  # guards `cached` and `from_secrets`
        self.cached: dict[tuple[Optional[str], ...], Cached] = {}
        self.from_secrets: dict[bytes, str] = {}  # keyed hash -> secret name, oldest first
        self.device_lock = threading.Lock()  # guards `device_codes`
        self.device_codes: dict[tuple[str, str], oauth.DeviceCode] = {}  # awaiting approval
        self.salt = os.urandom(32)

    def handle(self, message: bytes) -> tuple[bytes, bool]:
        """(reply, keep serving). Never raises: any failure is a one-line ERROR reply."""
        try:
            return self._handle(message)
        except UserError as exc:
            return _error(str(exc) or type(exc).__name__), True
        except Exception as exc:  # one bad request must not end the agent
            # Only the type: an unexpected message could quote a secret.
            return _error(
                f"the unlock agent could not handle this request ({type(exc).__name__})"
            ), True

    def _handle(self, message: bytes) -> tuple[bytes, bool]:
        op_b, _, rest = message.partition(b"\n")
        store_b, _, payload = rest.partition(b"\n")
        if store_b.decode(errors="replace") != str(self.store_dir):
            return _error("this agent serves another store"), True
        op = op_b.decode(errors="replace")
        if op not in OPS:
            return _error(f"the unlock agent knows no operation {op[:40]!r}"), True
        if op == "lock":
            return agentclient.OK + b"\n", False
        if op == "status":
            expires = "never" if self.expires is None else f"{self.expires:.0f}"
            body = f"pid={os.getpid()}\nstarted={self.started:.0f}\nexpires={expires}\n"
            return agentclient.OK + b"\n" + body.encode(), True
        if op == "kms":  # the KMS key, then the notebook instance's ARN (or nothing)
            key_id, _, instance = payload.decode(errors="replace").partition("\n")
            return self.wrap_with_kms(key_id, instance or None), True
        if op == "cache":  # the secret's name, then the request
            name, _, payload = payload.partition(b"\n")
            return self.cache(name.decode(errors="replace"), protocol.parse(payload)), True
        if op == "put":  # an entry with secrets git never sends (device.encode_put)
            fields, secrets_, check = device.decode_put(payload)
            with self.store_lock:
                self.store.put(fields, secrets_, check)
            return agentclient.OK + b"\n", True
        if op == "device":
            return self.start_device_flow(payload), True
        request = protocol.parse(payload)
        gone, answer, names = None, b"", []
        with self.store_lock, self.store.snapshot():  # one read of the file for all this
            if self.store.pending():  # kept while locked by a git that found no agent
                self.store.take_in(lambda item: operations.apply(item, self.store))
            if op == "get":  # the keyring first: a token the user saved wins
                gone = device.renew(request, self.store)
                answer = operations.get(request, self.store)
                names = operations.accounts(request, self.store) if answer else []
        if op == "drop":
            self.drop(request)
            return agentclient.OK + b"\n", True
        if op == "get":
            if gone is not None:
                return agentclient.GONE + b"\n" + gone.encode(), True
            if len(names) > 1:
                listed = "\0".join(names).encode()
                return agentclient.SEVERAL + b"\n" + listed + b"\n" + answer, True
            if answer:
                return agentclient.OK + b"\n" + answer, True
            return self.from_cache(request) or agentclient.NOMATCH + b"\n", True
        if op == "store" and self.is_from_secret(request.password):
            return agentclient.OK + b"\n", True  # refused: the secret is where it lives
        if op == "erase":
            secret = self.forget(request)
            if secret is not None:
                return agentclient.SECRET + b"\n" + secret.encode(), True
        with self.store_lock:
            if op == "store":
                operations.store(request, self.store)
            else:
                operations.erase(request, self.store)
        return agentclient.OK + b"\n", True

    def wrap_with_kms(self, key_id: str, instance: Optional[str]) -> bytes:
        """Let KMS key `key_id` open the store too, bound to `instance` as setup binds it:
        `ok` then `wrapped`, or `already`; `nomatch` for a file in the format before the data
        key, which its own unlock moves."""
        from git_credential_sagemaker.credential import keys, kms

        if not key_id or protocol.has_control(key_id):
            return _error("kms needs a KMS key's ARN, id or alias")
        if instance is not None and not (instance.startswith("arn:") and instance.isprintable()):
            return _error("kms needs the notebook instance's ARN, or none")

        def wrap(data_key: bytes, context: dict[str, str]) -> tuple[bytes, str]:
            return kms.encrypt(key_id, data_key, context)

        with self.store_lock:
            fields = self.store.settings() or {}
            if fields.get("version") != keys.CURRENT:
                return agentclient.NOMATCH + b"\n"
            self.store.instance = instance  # the context names what the caller's setup sees
            wrapped = self.store.wrap_with_kms(key_id, wrap)
        return agentclient.OK + b"\n" + (b"wrapped" if wrapped else b"already")

    # -- a GitHub App's device flow, finished here ------------------------------------------

    def start_device_flow(self, payload: bytes) -> bytes:
        """Start signing in for a host, or give the code already waiting for approval; wait
        for the approval in a thread, and store the tokens then (`device` explains)."""
        ask = json.loads(payload)
        where = (str(ask["protocol"]), str(ask["host"]))
        client_id, base = str(ask["client_id"]), str(ask["base"])
        with self.device_lock:  # one flow a host: two pushes at once show the same code
            waiting = self.device_codes.get(where)
            if waiting is None or waiting.expires_at <= time.time():
                waiting = oauth.start(base, client_id)
                self.device_codes[where] = waiting
                username = str(ask.get("username") or oauth.USERNAME)
                threading.Thread(
                    target=self._finish_device_flow,
                    args=(where, username, client_id, base, waiting),
                    daemon=True,
                ).start()
        shown = {"verification_uri": waiting.verification_uri, "user_code": waiting.user_code}
        return agentclient.OK + b"\n" + json.dumps(shown).encode()

    def _finish_device_flow(
        self,
        where: tuple[str, str],
        username: str,
        client_id: str,
        base: str,
        code: oauth.DeviceCode,
    ) -> None:
        try:
            tokens = oauth.wait(base, client_id, code, self.stopping.wait, self.stopping.is_set)
            fields, secrets_, check = device.entry(*where, username, tokens, client_id, base)
            with self.store_lock:
                self.store.put(fields, secrets_, check)
        except UserError:
            pass  # denied, expired or stopped: the next push shows a new code
        finally:
            with self.device_lock:
                if self.device_codes.get(where) is code:
                    del self.device_codes[where]

    # -- tokens from Secrets Manager, in memory only -------------------------------------

    def _hash(self, password: str) -> bytes:
        return hmac.new(self.salt, password.encode(errors="surrogatepass"), hashlib.sha256).digest()

    def cache(self, secret: str, request: protocol.Request) -> bytes:
        """Keep a token the helper read from `secret`; remember its hash for good."""
        if not (secret and request.protocol and request.host and request.password):
            return _error("cache needs a secret's name, a protocol, a host and a password")
        digest = self._hash(request.password)
        entry = Cached(
            secret,
            dict(zip(protocol.KEY_FIELDS, request.key)),
            request.username,
            request.password,
            digest,
            time.monotonic() + self.cache_seconds,
        )
        with self.cache_lock:
            self.cached.pop(request.key, None)
            self.cached[request.key] = entry
            while len(self.cached) > MAX_CACHED:
                del self.cached[next(iter(self.cached))]
            self.from_secrets.pop(digest, None)
            self.from_secrets[digest] = secret
            while len(self.from_secrets) > MAX_SECRET_HASHES:
                del self.from_secrets[next(iter(self.from_secrets))]
        return agentclient.OK + b"\n"

    def _entries_for(self, request: protocol.Request) -> list[Cached]:
        """The cached tokens a request names (under cache_lock)."""
        if not protocol.addressed(request):
            return []
        # The path exactly: a secret named for one path (credential.useHttpPath) is no
        # answer for another, nor for a request without one.
        return [
            entry
            for entry in self.cached.values()
            if protocol.matches(request, entry.key) and entry.key["path"] == request.path
        ]

    def from_cache(self, request: protocol.Request) -> Optional[bytes]:
        """The reply for a `get` of a secret's URL, with the secret's name (the helper checks
        git config still names it); None when no secret answered it here."""
        with self.cache_lock:
            self.forget_expired()
            for entry in self._entries_for(request):
                name = entry.secret.encode()
                if entry.password is None:  # expired or erased: read it again
                    return agentclient.SECRET + b"\n" + name
                answer = protocol.answer(request, entry.username, {"password": entry.password})
                return agentclient.CACHED + b"\n" + name + b"\n" + answer
        return None

    def drop(self, request: protocol.Request) -> None:
        """Forget the cached tokens for a URL whose git config no longer names their secret.

        Their hashes stay: a token that came from a secret is still never stored."""
        with self.cache_lock:
            for entry in self._entries_for(request):
                del self.cached[tuple(entry.key[field] for field in protocol.KEY_FIELDS)]

    def is_from_secret(self, password: Optional[str]) -> bool:
        if password is None:
            return False
        digest = self._hash(password)
        with self.cache_lock:
            return digest in self.from_secrets

    def forget(self, request: protocol.Request) -> Optional[str]:
        """Drop the cached tokens an `erase` names; the secret its password came from, if any."""
        digest = None if request.password is None else self._hash(request.password)
        with self.cache_lock:
            for entry in self.cached.values():
                if protocol.matches(request, entry.key) and digest in (None, entry.digest):
                    entry.password = None
            return None if digest is None else self.from_secrets.get(digest)

    def forget_expired(self) -> Optional[float]:
        """Drop values past their time (under cache_lock); seconds until the next one expires."""
        now = time.monotonic()
        soonest = None
        for entry in self.cached.values():
            if entry.password is None:
                continue
            if entry.until <= now:
                entry.password = None
            elif soonest is None or entry.until - now < soonest:
                soonest = entry.until - now
        return soonest

    def serve_client(self, conn: socket.socket) -> None:
        """One client, start to finish, on its own thread; nothing it does escapes."""
        keep = True
        try:
            with conn:
                try:
                    message = read_request(conn, time.monotonic() + READ_DEADLINE)
                except TooLarge:
                    reply = _error("request larger than 1 MiB")
                except OSError:
                    return  # silent past its deadline, or gone: drop it
                else:
                    reply, keep = self.handle(message)
                with contextlib.suppress(OSError):
                    conn.settimeout(REPLY_DEADLINE)
                    conn.sendall(reply)
        finally:
            self.slots.release()
            if not keep:
                self.stop()

    def stop(self) -> None:
        """Ask the accept loop to end, waking it with a connection of our own."""
        self.stopping.set()
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as wake:
            wake.settimeout(REPLY_DEADLINE)
            wake.connect(self.address)

    def serve(self, listener: socket.socket) -> None:
        """Accept until `lock` or the deadline; returns between store operations, never inside one.

        On return the store lock is held for good: the caller is about to exit.
        """
        own = os.getuid()
        self.address = listener.getsockname()
        while not self.stopping.is_set():
            remaining = None if self.deadline is None else self.deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            with self.cache_lock:
                soonest = self.forget_expired()
            wake = min(x for x in (remaining, soonest, WAKE_INTERVAL) if x is not None)
            listener.settimeout(max(wake, 0.01))
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                time.sleep(0.1)  # e.g. out of file descriptors: let clients finish
                continue
            self._dispatch(conn, own)
        self.store_lock.acquire()

    def _dispatch(self, conn: socket.socket, own: int) -> None:
        """Hand a same-uid client to a thread of its own; drop anyone else."""
        try:
            allowed = not self.stopping.is_set() and peer_allowed(peer_uid(conn), own)
        except OSError:
            allowed = False
        if not allowed or not self.slots.acquire(blocking=False):
            conn.close()
            return
        try:
            threading.Thread(target=self.serve_client, args=(conn,), daemon=True).start()
        except RuntimeError:  # no thread to be had: drop this client, keep serving
            self.slots.release()
            conn.close()


def listen(path: str) -> socket.socket:
    """Bind the agent's socket, recovering silently from a stale one left by a dead agent."""
    if os.path.lexists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody listens: a dead agent's leftover
        else:
            probe.close()
            raise StoreError(f"an agent already listens on {path}")
        finally:
            probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(16)
    return listener


def _detach(keep: int) -> None:
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0


def spawn(store_dir: Path, runtime_dir: Path, key: bytes, timeout: Optional[float]) -> None:
    """Start a detached agent holding `key`; returns once its socket accepts connections."""
    ensure_private_dir(runtime_dir, create=True)
    path = agentclient.socket_path(str(runtime_dir), str(store_dir))
    if agentclient.call(path, agentclient.encode("lock", str(store_dir))) is not None:
        deadline = time.monotonic() + 5  # an older agent for this store steps aside
        while os.path.lexists(path) and time.monotonic() < deadline:
            time.sleep(0.01)
    options = ["--store", str(store_dir), "--socket", path]
    if timeout is not None:
        options += ["--timeout", str(timeout)]
    proc = subprocess.Popen(
        children.argv("git_credential_sagemaker.credential.agent", options),
        cwd=runtime_dir,
        env={name: value for name, value in os.environ.items() if name != PASSPHRASE_ENV},
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
    )
    try:
        _, err = proc.communicate(key, timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise StoreError("the unlock agent did not start in time") from None
    if proc.returncode != 0:
        reason = err.decode(errors="replace").strip().splitlines()[-1:] or ["no reason given"]
        raise StoreError(f"the unlock agent did not start: {reason[0]}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="git-credential-sagemaker agent",
        description="(internal) hold the key; read from stdin",
    )
    parser.add_argument("--store", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--timeout", metavar="SECONDS")
    args = parser.parse_args(argv)
    try:
        timeout = None if args.timeout is None else parse_timeout(args.timeout)
    except UserError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return 2
    key = sys.stdin.buffer.read(crypto.KEY_BYTES + 1)
    if len(key) != crypto.KEY_BYTES:
        print("agent: expected a key on stdin", file=sys.stderr)
        return 1
    try:
        ensure_private_dir(Path(args.socket).parent, create=False)
        listener = listen(args.socket)
    except (StoreError, OSError) as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return 1
    if os.fork() != 0:
        os._exit(0)  # the caller reaps this parent; the agent lives on, reparented
    _detach(listener.fileno())
    bound = os.stat(args.socket).st_ino
    try:
        Agent(Path(args.store), key, timeout).serve(listener)
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            if os.stat(args.socket).st_ino == bound:
                os.unlink(args.socket)
        os._exit(0)  # also ends client threads still waiting on a silent client


if __name__ == "__main__":
    raise SystemExit(main())
