"""Unlocking, written once: where the passphrase comes from, three tries, then the agent.

    KMS (a store wrapped by setup --kms-key: the instance's role, no prompt) ---\\
    $GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE ----------------------\\
    ask (askpass / terminal / a notebook's getpass) --3 tries--> Store.unlock --> key
        (the first time, one line first says what the passphrase protects)
    key --agent.spawn--> later calls need no passphrase (not with the env passphrase:
                         automation gets no background process, and `unlock` says so)

The helper, login, unlock and the notebook functions all come through here.
"""

from __future__ import annotations

import sys
from typing import Callable, Optional

from git_credential_sagemaker.credential import agent, kms, operations
from git_credential_sagemaker.credential.paths import APP as PROG
from git_credential_sagemaker.credential.prompt import ATTEMPTS, choose_passphrase
from git_credential_sagemaker.credential.settings import PASSPHRASE_ENV, Settings
from git_credential_sagemaker.credential.store import FILENAME, PassphraseSource, Store
from git_credential_sagemaker.errors import PromptError, StoreError, UsageError, WrongPassphrase

Ask = Callable[[str], Optional[str]]
Say = Callable[[str], None]


def _stderr(line: str) -> None:
    print(f"git-credential-sagemaker: {line}", file=sys.stderr)


def why_a_passphrase(conf: Settings) -> str:
    """The line shown before a passphrase is chosen: what it protects, when it comes back."""
    timer = f" or {conf.timeout:g} seconds from now" if conf.timeout else ""
    return (
        f"choose a passphrase: it encrypts your tokens in {conf.store_dir / FILENAME}, and you "
        f"will be asked for it again only after a restart, after `{PROG} lock`{timer}"
    )


def passphrase_source(
    conf: Settings, ask: Optional[Ask] = None, say: Say = _stderr
) -> PassphraseSource:
    """The environment's passphrase, else `ask` (default: the prompting policy)."""
    asker: Ask = ask or conf.prompter.ask
    store_path = str(conf.store_dir)

    def source(new: bool) -> str:
        if conf.env_passphrase is not None:
            return conf.env_passphrase
        if new:
            if ask is not None or conf.prompter.channel() is not None:
                say(why_a_passphrase(conf))  # only when a prompt follows: a failure is one line
            return choose_passphrase(
                asker,
                store_path,
                conf.prompter.hint("a passphrase is needed to create the keyring"),
            )
        answer = asker(f"Passphrase for {store_path}: ")
        if answer is None:
            raise PromptError(conf.prompter.hint("the keyring is locked", action="unlock"))
        return answer

    return source


def open_store(
    conf: Settings, ask: Optional[Ask] = None, key: Optional[bytes] = None, say: Say = _stderr
) -> Store:
    return Store(
        conf.store_dir,
        passphrase=passphrase_source(conf, ask, say),
        key=key,
        kms=kms.unwrapper(say),
        instance=kms.instance_arn(conf.resource_metadata),
    )


def unlock(conf: Settings, store: Store, say: Say = _stderr) -> bytes:
    """The key, allowing three tries at a typed passphrase; a wrong one writes nothing."""
    tries = 1 if conf.env_passphrase is not None else ATTEMPTS
    for attempt in range(1, tries + 1):
        try:
            key = store.unlock()
        except WrongPassphrase:
            if attempt == tries:
                break
            say("wrong passphrase, try again")
            continue
        if store.moved:
            # An agent still running holds the key the file had before (maybe in code from
            # before the upgrade, which can't read the new format): it goes, a new one comes.
            conf.call_agent("lock")
        take_in(store, say)
        return key
    raise WrongPassphrase(
        f"wrong passphrase for {store.path} ({tries} {'try' if tries == 1 else 'tries'}); "
        f"nothing was changed; if it is forgotten, start a new keyring (its tokens are lost) "
        f"with: {PROG} reset"
    )


def take_in(store: Store, say: Say = _stderr) -> None:
    """What the inbox kept while the keyring was locked, applied now that it is open."""
    for line in store.take_in(lambda item: operations.apply(item, store)):
        say(line)


def start_agent(conf: Settings, key: bytes, strict: bool = False, say: Say = _stderr) -> bool:
    """Hand the key to an agent. Not strict: a failure is one line, and this call goes on.

    With the environment's passphrase there is no agent, as the README promises automation;
    strict (`unlock`, whose whole job is the agent) says so rather than claim to unlock.
    """
    if conf.env_passphrase is not None:
        if strict:
            raise UsageError(
                f"{PASSPHRASE_ENV} opens {conf.store_dir / FILENAME}, but nothing stays "
                "unlocked while it is set: each command opens the keyring with it, and no "
                f"background process is started; to stay unlocked, unset it and run: {PROG} unlock"
            )
        return False
    try:
        agent.spawn(conf.store_dir, conf.runtime_dir, key, conf.timeout)
    except (StoreError, OSError) as exc:
        if strict:
            raise StoreError(f"the keyring could not stay unlocked: {exc}") from None
        say(f"the keyring stays locked after this command: {exc}")
        return False
    return True


def hand_over(conf: Settings, key: bytes, say: Say = _stderr) -> bool:
    """After a key change: the agent holding the old key goes, one with `key` takes its place.

    agent.spawn first tells the running one to step aside; when no new one can start (or
    must not: the environment's passphrase), the old one is told to lock all the same.
    """
    if start_agent(conf, key, say=say):
        return True
    conf.call_agent("lock")
    return False


def unlock_and_remember(
    conf: Settings, store: Store, strict: bool = False, say: Say = _stderr
) -> bytes:
    """Unlock (unless already), then start the agent so later git calls don't ask."""
    was_unlocked = store.unlocked
    key = unlock(conf, store, say)
    if not was_unlocked:
        start_agent(conf, key, strict, say)
    return key
