"""One helper request from git, start to finish: parse, ask the agent, else open the store.

    stdin --protocol.parse--> Request --agent (unlocked)--> answer --> stdout
                                      \\--slow path: open the store, maybe prompt--> stdout

    slow path:  sagemakerSecret, nothing saved for the URL --> answer from Secrets Manager,
                hand it to the agent's cache; never stored, erase only says who must rotate
    the agent's cached token: answered while git config names the same secret, else dropped
                locked + match  --> passphrase (askpass or terminal) --> answer, start agent
                three wrong passphrases --> one line naming reset, and quit=1 on get:
                                  git's own prompts (then a 4th passphrase) would follow
                only an expired token, with a refresh token --> username, refresh token and
                                  expiry, when a helper after ours (git config) may refresh it
                erase of the stored token (the host said 401) --> one line: removed, login
                                  (in a fetch or push; `git credential reject` stays silent)
                nothing stored  --> token prompt on a terminal, else a one-line hint
                                    (first, one line when the stored token expired)
                inside a kernel --> hint and quit=1: git's own fallback prompt would hang
                nothing stored, a GitHub App's client id configured --> its device flow: at a
                                  terminal here; elsewhere the agent finishes it (device)
                a GitHub App's token about to expire --> refreshed first (device.renew)
                several accounts for the host, none named --> asked on a terminal, else the
                                  first; one line says which, and how to choose (choice)
                store or erase while locked (no agent, no passphrase to hand) --> sealed into
                                  the keyring's inbox, nothing asked; the next unlock applies it
                the Git panel, locked with a token stored --> its line, and quit=1, so the panel
                                  shows it as the error instead of its credentials dialog
    quit=1 stops every later helper too, so it is sent only when none runs after ours.

The fast path imports only the protocol, paths and the agent client; everything heavier
(keyring, crypto, prompts) is imported by the slow path. Messages for people go to stderr
as one line; stdout carries protocol only. Any failure is at worst one line, never a
traceback.
"""

from __future__ import annotations

import sys
import time

from git_credential_sagemaker.credential import agentclient, paths, protocol
from git_credential_sagemaker.errors import UserError

TYPE_CHECKING = False  # importing typing would cost the fast path more than the agent does
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import BinaryIO

    from git_credential_sagemaker.credential.prompt import Prompter
    from git_credential_sagemaker.credential.settings import Settings
    from git_credential_sagemaker.credential.store import Store

PREFIX = "git-credential-sagemaker: "
EXPIRY_WARNING_DAYS = 7


def say(message: str) -> None:
    text = message if message.startswith(PREFIX) else PREFIX + message
    lines = text.splitlines() or [PREFIX]
    print(lines[0], file=sys.stderr)


def run(
    operation: str,
    options: Mapping[str, str],
    env: Mapping[str, str],
    stdin: BinaryIO,
    stdout: BinaryIO,
) -> int:
    """Serve one operation; never raises for anything a request or the store can do."""
    if operation == "capability":
        stdout.write(protocol.capability_answer())
        stdout.flush()
        return 0
    if operation not in ("get", "store", "erase"):
        return 0  # git-credential(1): unknown operations are ignored
    try:
        code = _run(operation, options, env, stdin, stdout)
    except UserError as exc:
        say(str(exc))
        code = 1
    except OSError as exc:
        say(f"{operation} failed: {exc.strerror or type(exc).__name__}")
        code = 1
    stdout.flush()
    return code


def _run(
    operation: str,
    options: Mapping[str, str],
    env: Mapping[str, str],
    stdin: BinaryIO,
    stdout: BinaryIO,
) -> int:
    raw = stdin.read(protocol.MAX_REQUEST + 1)
    try:
        if len(raw) > protocol.MAX_REQUEST:
            raise protocol.ProtocolError("request larger than 1 MiB")
        request = protocol.parse(raw)
    except protocol.ProtocolError as exc:
        say(f"invalid request from git ({exc}); nothing was read or stored")
        return 1
    if not protocol.addressed(request):
        return 0  # git refuses these itself; answered, any stored token would do
    store_dir = paths.store_dir(env, options.get("dir"))
    runtime_dir = paths.runtime_dir(env)
    sock = agentclient.socket_path(runtime_dir, store_dir)
    if operation == "store" and _first_store(request) and _is_new(sock, store_dir, request):
        checked = check_new_token(request)
        if checked is None:
            return 1
        request, raw = checked, protocol.format_request(checked)
    rejected = operation == "erase" and request.password is not None and in_transfer(env)
    if rejected and _agents_password(sock, store_dir, request) != request.password:
        rejected = False  # a stale password, or no agent: the slow path decides
    reply = agentclient.call(sock, agentclient.encode(operation, store_dir, raw))
    if reply is not None and reply[0] == agentclient.SEVERAL:
        from git_credential_sagemaker.credential import choice

        reply = choice.agents_choice(
            request, reply[1], env, _config_entries(), sock, store_dir, say
        )
    if reply is not None and reply[0] == agentclient.GONE:
        say(reply[1].decode(errors="replace"))  # a refresh refused: signing in starts anew
        reply = (agentclient.NOMATCH, b"")
    if (
        reply is not None
        and reply[0] == agentclient.OK
        and refresh_only(operation, reply[1])
        and last_in_chain(request, _config_entries())
    ):
        reply = (agentclient.NOMATCH, b"")  # an expired token, and nobody after us to refresh it
    if reply is not None and reply[0] == agentclient.OK:
        stdout.write(reply[1])
        if rejected:
            say(removed_line(request))
        if operation == "get":
            warn_if_expiring(request, reply[1], runtime_dir)
        return 0
    if reply is not None and reply[0] == agentclient.ERROR:
        say(reply[1].decode(errors="replace"))
        return 1
    # The agent looks in the keyring first: no answer from it means none is stored there.
    nomatch = reply is not None and reply[0] == agentclient.NOMATCH
    if reply is not None and reply[0] in (agentclient.CACHED, agentclient.SECRET) and reply[1]:
        done = agents_secret(operation, request, reply, sock, store_dir, stdout)
        if done is not None:
            return done
        nomatch = True
    return serve_locked(operation, request, options, env, stdout, known_nomatch=nomatch)


def agents_secret(
    operation: str,
    request: protocol.Request,
    reply: tuple[bytes, bytes],
    sock: str,
    store_dir: str,
    stdout: BinaryIO,
) -> int | None:
    """What the agent said of a token from a secret; None when the slow path takes over.

    A cached token is answered only while git config names the same secret for the URL;
    otherwise the agent drops it, and the slow path serves what the config says now.
    """
    from git_credential_sagemaker.credential import secrets

    name_b, _, answer = reply[1].partition(b"\n")
    name = name_b.decode(errors="replace")
    if operation == "erase":
        say(secrets.rejected(name, request.host))
        return 0
    if secrets.current_name(request) == name:
        if reply[0] == agentclient.CACHED:
            stdout.write(answer)
            return 0
        return None  # past its time: read the secret again
    agentclient.call(sock, agentclient.encode("drop", store_dir, protocol.format_request(request)))
    return None


def serve_locked(
    operation: str,
    request: protocol.Request,
    options: Mapping[str, str],
    env: Mapping[str, str],
    stdout: BinaryIO,
    known_nomatch: bool = False,
) -> int:
    """The slow path: no agent answered, so open the store here and maybe prompt."""
    from git_credential_sagemaker.credential import gitconfig, unlock
    from git_credential_sagemaker.credential.settings import Settings, parse_timeout
    from git_credential_sagemaker.errors import PromptError, WrongPassphrase

    timeout = parse_timeout(options["timeout"]) if "timeout" in options else None
    entries = _config_entries()
    config = gitconfig.as_dict(entries)
    conf = Settings.load(env, config, options.get("dir"), timeout)
    store = unlock.open_store(conf)
    last = last_in_chain(request, entries)
    stop = stops_git(conf.prompter) and last
    secret = secret_name(request, config)
    held = not known_nomatch and _holds(operation, request, store)
    if secret is not None and (operation == "store" or not held):
        # A token saved with login for this URL comes first, as it does when the agent
        # answers; the secret serves when there is none.
        return serve_secret(operation, request, secret, conf, stdout, stop)
    try:
        if operation == "get":
            return get_locked(request, conf, store, stdout, known_nomatch, last, stop)
        elif operation == "store":
            return store_locked(request, conf, store)
        else:
            erase_locked(request, conf, store, env)
    except WrongPassphrase as exc:
        say(str(exc))
        if operation == "get" and last:
            stdout.write(b"quit=1\n")  # else git's own prompts, then a fourth passphrase
        return 1
    except PromptError as exc:
        if operation == "store" and conf.prompter.in_panel:
            from git_credential_sagemaker.credential import context

            say(context.not_saved(store.path.exists()))
        else:
            say(str(exc))
        # The panel's first try (no prompt allowed): quit makes git fail with our line as the
        # error the panel shows, not with the "could not read Username" that opens its dialog,
        # since the token is stored. Its rerun with the dialog's answers still gets them.
        in_panel = conf.prompter.in_panel and not conf.prompter.allowed
        if operation == "get" and (stop or (in_panel and last)):
            stdout.write(b"quit=1\n")
        return 1
    return 0


def get_locked(
    request: protocol.Request,
    conf: Settings,
    store: Store,
    stdout: BinaryIO,
    known_nomatch: bool,
    last: bool,
    stop: bool,
) -> int:
    """git asks for a token and no agent answered: refresh, take in the inbox, sign in, or
    ask, as the store and this process allow (the module's picture says which when)."""
    from git_credential_sagemaker.credential import (
        choice,
        device,
        gitconfig,
        oauth,
        operations,
        unlock,
    )

    if not known_nomatch and device.renewable(request, store) is not None:
        unlock.unlock_and_remember(conf, store, say=say)
        gone = device.renew(request, store)
        if gone is not None:
            say(gone)
    if (
        not known_nomatch
        and store.pending()
        and operations.find(request, store) is None
        and (not kept_for_later(conf, store) or conf.prompter.channel() is not None)
    ):
        unlock.unlock_and_remember(conf, store, say=say)  # the inbox may hold it
    if known_nomatch or operations.find(request, store) is None:
        if not (known_nomatch or last) and operations.expired_match(request, store):
            unlock.unlock_and_remember(conf, store, say=say)
            stdout.write(operations.refresh_answer(request, store))
            return 0
        flow = oauth.configured(request.protocol or "", request.host or "", gitconfig.get_urlmatch)
        if flow is not None:
            return sign_in(request, flow, conf, store, stdout, stop)
        say_if_expired(request, store)
        return ask_for_token(request, conf.prompter, stdout, stop)
    unlock.unlock_and_remember(conf, store, say=say)
    names = operations.accounts(request, store)
    if len(names) > 1:
        chosen = choice.pick(request.host or "", names, conf.prompter, say)
        request = choice.named(request, chosen)
    answer = operations.get(request, store)
    stdout.write(answer)
    warn_if_expiring(request, answer, str(conf.runtime_dir))
    return 0


def sign_in(
    request: protocol.Request,
    flow: tuple[str, str],
    conf: Settings,
    store: Store,
    stdout: BinaryIO,
    stop: bool,
) -> int:
    """Nothing stored for a host with a GitHub App: its device flow instead of a token prompt.

    At a terminal it runs here, and the push goes on once the browser approves it. Anywhere
    else nothing may wait: the agent, if one runs, starts the flow and finishes it in the
    background, and one line says where to approve; else one line says how to sign in.
    """
    from git_credential_sagemaker.credential import device, oauth, unlock
    from git_credential_sagemaker.credential.prompt import login_target

    protocol_, host = request.protocol or "", request.host or ""
    if conf.prompter.channel() == "tty":
        unlock.unlock_and_remember(conf, store, say=say)  # asked now, not after the browser

        def show(code: oauth.DeviceCode) -> None:
            say(
                f"{device.instructions(code)}; waiting for the approval (Ctrl-C stops it; to "
                f"paste a token instead: {paths.APP} login {login_target(protocol_, host)})"
            )

        username = request.username or oauth.USERNAME
        put = device.agent_put(conf.call_agent)
        try:
            secrets = device.sign_in_here(store, protocol_, host, username, flow, show, put)
        except KeyboardInterrupt:
            say("signing in was stopped; nothing was stored")
            return 1
        stdout.write(protocol.answer(request, username, secrets))
        return 0
    code = device.start_in_agent(conf.call_agent, protocol_, host, request.username, flow)
    if code is not None:
        say(f"{device.instructions(code)}; once you approve it there, git works again")
    else:
        say(device.sign_in_line(conf.prompter, protocol_, host))
    if stop:
        stdout.write(b"quit=1\n")
    return 0


def kept_for_later(conf: Settings, store: Store) -> bool:
    """Whether a store or erase goes to the sealed inbox: the keyring exists, has one, and
    opening it would take a passphrase typed here (not the environment's, not KMS), which a
    store never asks for."""
    from git_credential_sagemaker.credential import inbox, keys

    if conf.env_passphrase is not None or store.unlocked:
        return False
    fields = store.settings()
    return fields is not None and inbox.PUBLIC in fields and not keys.kms_key(fields)


def _sealable(request: protocol.Request) -> bytes:
    """What the inbox keeps of a request: what a store or erase uses, no more."""
    kept = {name: getattr(request, name) for name in protocol.KEY_FIELDS + protocol.SECRET_FIELDS}
    return protocol.format_request(protocol.Request(**kept, check=request.check))


def store_locked(request: protocol.Request, conf: Settings, store: Store) -> int:
    """git stores what worked: into the keyring, or into its inbox while it is locked."""
    from git_credential_sagemaker.credential import context, inbox, operations, unlock

    if not operations.storable(request):
        return 0
    if kept_for_later(conf, store):
        if _first_store(request):
            checked = check_new_token(request)  # kept with it: the check is not lost
            if checked is None:
                return 1
            request = checked
        store.queue(inbox.Item("store", _sealable(request)))
        if conf.prompter.in_panel:
            say(context.kept_for_unlock())
        return 0
    unlock.unlock_and_remember(conf, store, say=say)
    if _first_store(request) and _stored_password(request, store) != request.password:
        checked = check_new_token(request)
        if checked is None:
            return 1
        request = checked
    operations.store(request, store)
    return 0


def erase_locked(
    request: protocol.Request, conf: Settings, store: Store, env: Mapping[str, str]
) -> None:
    """git erases what the host refused: from the keyring, or, while it is locked, by an item
    in the inbox, so that neither the keyring nor an earlier item brings the token back."""
    from git_credential_sagemaker.credential import inbox, operations, unlock

    matched = operations.has_match(request, store)
    if kept_for_later(conf, store):
        if matched or store.pending():
            store.queue(inbox.Item("erase", _sealable(request)))
            if matched and request.password is not None and in_transfer(env):
                say(removed_line(request, later=True))
        return
    if matched:
        unlock.unlock_and_remember(conf, store, say=say)
        removed = operations.erase(request, store)
        if removed and request.password is not None and in_transfer(env):
            say(removed_line(request))


def secret_name(request: protocol.Request, config: Mapping[str, str]) -> str | None:
    """The Secrets Manager secret git config names for this URL (no subprocess unless some
    URL names one)."""
    from git_credential_sagemaker.credential import secrets

    return secrets.name_for(request, config)


def serve_secret(
    operation: str,
    request: protocol.Request,
    name: str,
    conf: Settings,
    stdout: BinaryIO,
    stop: bool,
) -> int:
    """A URL whose token lives in a secret: answer it, never store it, never erase it.

    Nothing is prompted and the keyring is never unlocked. A running agent keeps the answer
    in memory for at most an hour, and refuses to store it.
    """
    from git_credential_sagemaker.credential import secrets

    if operation == "store":
        return 0  # the secret is where this token lives; the keyring never holds it
    if operation == "erase":
        say(secrets.rejected(name, request.host))
        return 0
    try:
        username, password = secrets.fetch(name)
    except UserError as exc:
        say(str(exc))
        if stop:
            stdout.write(b"quit=1\n")
        return 1
    stdout.write(protocol.format_lines([("username", username), ("password", password)]))
    stdout.flush()
    cached = protocol.Request(
        protocol=request.protocol,
        host=request.host,
        path=request.path,
        username=username,
        password=password,
    )
    conf.call_agent("cache", name.encode() + b"\n" + protocol.format_request(cached))
    return 0


def _holds(operation: str, request: protocol.Request, store: Store) -> bool:
    """Whether the keyring has what `get` would answer (or `erase` would remove)."""
    from git_credential_sagemaker.credential import operations

    try:
        if operation == "get":
            return operations.find(request, store) is not None
        return operations.has_match(request, store)
    except UserError:
        return False  # a keyring that can't be read holds nothing to answer with


def _first_store(request: protocol.Request) -> bool:
    """A store that may carry a token GitHub has not been asked about yet."""
    return bool(
        request.password
        and request.protocol
        and request.host
        and not request.ephemeral
        and request.check is None
    )


def _is_new(sock: str, store_dir: str, request: protocol.Request) -> bool:
    """Whether the agent holds another token (or none) for this key; False when no agent
    answers, since the slow path then compares for itself."""
    held = _agents_answer(sock, store_dir, request)
    if held is None or held[0] == agentclient.SECRET:
        return False  # the slow path, or the agent, knows a secret's token when it sees it
    return held[1] != request.password


def _agents_password(sock: str, store_dir: str, request: protocol.Request) -> str | None:
    """The token the agent's keyring answers for this key (not a secret's), else None."""
    held = _agents_answer(sock, store_dir, request)
    return held[1] if held is not None and held[0] == agentclient.OK else None


def _agents_answer(
    sock: str, store_dir: str, request: protocol.Request
) -> tuple[bytes, str | None] | None:
    """(the agent's reply kind, the password it answers) for the request's key; None when
    no agent answers."""
    key = protocol.Request(
        protocol=request.protocol, host=request.host, path=request.path, username=request.username
    )
    reply = agentclient.call(
        sock, agentclient.encode("get", store_dir, protocol.format_request(key))
    )
    if reply is None:
        return None
    if reply[0] == agentclient.SEVERAL:  # the first account's answer, as git would take it
        from git_credential_sagemaker.credential import choice

        reply = (agentclient.OK, choice.split(reply[1])[1])
    if reply[0] not in (agentclient.OK, agentclient.CACHED):
        return reply[0], None
    answer = reply[1] if reply[0] == agentclient.OK else reply[1].partition(b"\n")[2]
    fields = dict(line.partition(b"=")[::2] for line in answer.splitlines())
    password = fields.get(b"password")
    return reply[0], None if password is None else password.decode(errors="replace")


def say_if_expired(request: protocol.Request, store: Store) -> None:
    """Before a prompt: the stored token was skipped because it expired, not lost."""
    from git_credential_sagemaker.credential import operations
    from git_credential_sagemaker.credential.prompt import login_target, sanitize

    try:
        entry = operations.expired_match(request, store)
    except UserError:
        return  # a keyring that can't be read says so when it is opened
    if entry is None or entry.expiry is None:
        return
    host = sanitize(entry.host)
    target = login_target(entry.protocol, entry.host)
    user = f" --username {sanitize(entry.username)}" if entry.username else ""
    when = time.strftime("%Y-%m-%d", time.gmtime(int(entry.expiry)))
    say(
        f"the token for {host}{f' ({sanitize(entry.username)})' if entry.username else ''} "
        f"expired on {when}; replace it with: git-credential-sagemaker login {target}{user}"
    )


def in_transfer(env: Mapping[str, str]) -> bool:
    """Whether git runs us for a fetch, push or clone: its remote helper, which starts ours,
    has GIT_DIR set. `git credential reject` is plumbing, and its callers (scripts, git's
    own t0303) expect a silent erase."""
    return bool(env.get("GIT_DIR"))


def removed_line(request: protocol.Request, later: bool = False) -> str:
    """git erases the token the host just refused: say so, and how to save a new one."""
    from git_credential_sagemaker.credential.prompt import login_target, sanitize

    host = sanitize(request.host or "")
    target = login_target(request.protocol or "", request.host or "")
    user = f" --username {sanitize(request.username)}" if request.username else ""
    when = "leaves the keyring at its next unlock" if later else "was removed from the keyring"
    return (
        f"{host} rejected the stored token, so it {when}; "
        f"save a new one with: git-credential-sagemaker login {target}{user}"
    )


def _stored_password(request: protocol.Request, store: Store) -> str | None:
    from git_credential_sagemaker.credential import operations

    entry = operations.find(request, store)
    return None if entry is None else store.secrets(entry).get("password")


def check_new_token(request: protocol.Request) -> protocol.Request | None:
    """Ask GitHub about a token stored for the first time: the request to store, with its
    expiry and what GitHub said, or None when GitHub rejected it (nothing is stored)."""
    from git_credential_sagemaker.credential import github

    result, extra, lines = github.on_first_store(
        request.protocol or "",
        request.host or "",
        request.password or "",
        request.password_expiry_utc is not None,
    )
    for line in lines:
        say(line)
    if result is None:
        return request
    if result.status == github.REJECTED:
        return None
    fields = {name: getattr(request, name) for name in protocol.FIELDS}
    fields.update(extra)
    fields["check"] = result.to_meta()
    return protocol.Request(**fields)


def _config_entries() -> list[tuple[str, str]]:
    from git_credential_sagemaker.credential import gitconfig

    return gitconfig.read_entries()


def refresh_only(operation: str, answer: bytes) -> bool:
    """An answer for an expired token: a refresh token for a later helper, and no password."""
    keys = {line.partition(b"=")[0] for line in answer.splitlines()}
    return operation == "get" and keys.isdisjoint((b"password", b"credential"))


def last_in_chain(request: protocol.Request, entries: Sequence[tuple[str, str]]) -> bool:
    """Whether no credential helper runs after ours for this request, by git config."""
    from urllib.parse import quote

    from git_credential_sagemaker.credential import chain, gitconfig

    user = "" if request.username is None else quote(request.username, safe="") + "@"
    path = "" if request.path is None else "/" + request.path
    url = f"{request.protocol}://{user}{request.host}{path}"
    return not chain.helpers_after(entries, url, gitconfig.is_our_helper)


def stops_git(prompter: Prompter) -> bool:
    """Inside a kernel git's own fallback prompt would hang the cell, so tell git to quit."""
    return prompter.in_kernel and not prompter.askpass and prompter.allowed


def ask_for_token(
    request: protocol.Request, prompter: Prompter, stdout: BinaryIO, stop: bool
) -> int:
    """Nothing stored for this host: ask on a terminal, else say how to log in."""
    from git_credential_sagemaker.credential import hosts
    from git_credential_sagemaker.credential.prompt import sanitize

    channel = prompter.channel()
    if channel == "askpass" or not prompter.allowed:
        return 0  # git prompts through askpass itself, or the user disabled prompts
    host = request.host or ""
    if channel != "tty":
        say(prompter.hint(f"no token stored for {sanitize(host)}"))
        if stop:
            stdout.write(b"quit=1\n")
        return 0
    where = f"{request.protocol}://{sanitize(host)}"
    hint = hosts.token_hint(host)
    if hint:
        say(hint)
    username = request.username
    if username is None:
        username = prompter.ask(f"Username for '{where}': ", secret=False)
    if username is None:
        return 0
    token = prompter.ask(
        f"Token for '{request.protocol}://{sanitize(username)}@{sanitize(host)}': "
    )
    if not token:
        return 0
    stdout.write(protocol.format_lines([("username", username), ("password", token)]))
    return 0


def warn_if_expiring(
    request: protocol.Request, answer: bytes, runtime_dir: str, now: float | None = None
) -> None:
    """Warn once (per token and expiry) when the answered token expires within 7 days.

    The once-marker lives in the runtime directory, and only when that is ours. A token with
    a refresh token is renewed (here, or by a helper after ours): nothing to replace by hand.
    """
    fields = dict(line.partition(b"=")[::2] for line in answer.splitlines())
    if b"oauth_refresh_token" in fields:
        return
    try:
        expiry = int(fields.get(b"password_expiry_utc", b""))
    except ValueError:
        return
    now = time.time() if now is None else now
    if expiry - now > EXPIRY_WARNING_DAYS * 86400:
        return
    import os
    from hashlib import sha256

    from git_credential_sagemaker.credential.prompt import sanitize

    user = fields.get(b"username", b"").decode(errors="replace")
    tag = sha256(f"{request.host}\0{user}\0{expiry}".encode()).hexdigest()[:16]
    marker = os.path.join(runtime_dir, f"expiry-warned-{tag}")
    if paths.usable_private_dir(runtime_dir, os.getuid()):
        try:
            os.makedirs(runtime_dir, mode=0o700, exist_ok=True)
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
        except FileExistsError:
            return
        except OSError:
            pass
    when = time.strftime("%Y-%m-%d", time.gmtime(expiry))
    state = "expired on" if expiry <= now else "expires on"
    host = sanitize(request.host or "")
    say(
        f"the token for {host} ({sanitize(user)}) {state} {when}; replace it with: "
        f"git-credential-sagemaker login {host}"
    )
