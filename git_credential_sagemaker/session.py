"""The helper's slow path: no agent answered, so open the store here and maybe prompt.

    locked + match    --> passphrase (askpass or terminal) --> answer, start the agent
    nothing stored    --> token prompt on a terminal, else a one-line hint
    inside a kernel   --> hint and quit=1: git must not fall back to a prompt that hangs
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import BinaryIO

from git_credential_sagemaker import agent, helper, hosts, protocol, runner
from git_credential_sagemaker.prompt import Prompter, PromptError, sanitize
from git_credential_sagemaker.settings import Settings, read_git_config
from git_credential_sagemaker.store import FileKeyring, StoreError


def serve(
    operation: str,
    request: protocol.Request,
    options: Mapping[str, str],
    env: Mapping[str, str],
    stdout: BinaryIO,
    known_nomatch: bool = False,
) -> int:
    try:
        timeout = float(options["timeout"]) if "timeout" in options else None
    except ValueError:
        runner.say(f"--timeout needs a number of seconds, not {options['timeout']!r}")
        return 1
    try:
        conf = Settings.load(env, read_git_config(), options.get("dir"), timeout)
        store = conf.open_store()
        if operation == "get":
            if known_nomatch or helper.find(request, store) is None:
                return ask_for_token(request, conf.prompter, stdout)
            unlock(conf, store)
            answer = helper.get(request, store)
            stdout.write(answer)
            runner.warn_if_expiring(request, answer, str(conf.runtime_dir))
        elif operation == "store":
            if helper.storable(request):
                unlock(conf, store)
                helper.store(request, store)
        elif helper.find(request, store) is not None:
            unlock(conf, store)
            helper.erase(request, store)
    except PromptError as exc:
        runner.say(str(exc))
        if operation == "get" and stops_git(conf.prompter):
            stdout.write(b"quit=1\n")
        return 1
    except StoreError as exc:
        runner.say(str(exc))
        return 1
    return 0


def stops_git(prompter: Prompter) -> bool:
    """Inside a kernel git's own fallback prompt would hang the cell, so tell git to quit."""
    return prompter.in_kernel and not prompter.askpass and prompter.allowed


def unlock(conf: Settings, store: FileKeyring) -> None:
    """Unlock with the passphrase, then hand the key to an agent so later calls don't ask."""
    key = conf.unlock(store)
    if conf.env_passphrase is None:
        try:
            agent.spawn(conf.store_dir, conf.runtime_dir, key, conf.timeout)
        except (StoreError, OSError) as exc:
            runner.say(f"the keyring stays locked after this command: {exc}")


def ask_for_token(request: protocol.Request, prompter: Prompter, stdout: BinaryIO) -> int:
    """Nothing stored for this host: ask on a terminal, else say how to log in."""
    channel = prompter.channel()
    if channel == "askpass" or not prompter.allowed:
        return 0  # git prompts through askpass itself, or the user disabled prompts
    host = request.host or ""
    if channel != "tty":
        runner.say(prompter.hint(f"no token stored for {sanitize(host)}"))
        if stops_git(prompter):
            stdout.write(b"quit=1\n")
        return 0
    where = f"{request.protocol}://{sanitize(host)}"
    hint = hosts.token_hint(host)
    if hint:
        runner.say(hint)
    username = request.username
    if username is None:
        username = prompter.ask(f"Username for '{where}': ", secret=False)
    if username is None:
        return 0
    token = prompter.ask(f"Token for '{request.protocol}://{sanitize(username)}@"
                         f"{sanitize(host)}': ")
    if not token:
        return 0
    stdout.write(protocol.format_lines([("username", username), ("password", token)]))
    return 0

