"""What the unlock agent does for one `get`, in process, against the bare lookup it wraps.

    python benchmarks/bench_agent.py [--rounds 15] [--calls 500]

The baseline, measured in the same run on the same store, is `operations.get`: find the entry
and open it, all an agent's `get` did before it also looked for inbox items, a GitHub App
token to refresh and several accounts. Both run in turns, round by round; the medians and
their ratio are printed. The store holds two entries and the key is in hand, as in the agent.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from git_credential_sagemaker.credential import agentclient, operations, protocol
from git_credential_sagemaker.credential.agent import Agent
from git_credential_sagemaker.credential.store import Store


def per_call(action: Callable[[], object], calls: int) -> float:
    """Microseconds per call of `action`, over `calls` calls."""
    started = time.perf_counter()
    for _ in range(calls):
        action()
    return (time.perf_counter() - started) / calls * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as top:
        directory = Path(top) / "store"
        store = Store(directory, passphrase=lambda new: "benchmark passphrase")
        for host, user in (("github.com", "alice"), ("gitlab.com", "bob")):
            fields = {"protocol": "https", "host": host, "path": None, "username": user}
            store.put(fields, {"password": f"token-{user}"})
        key = store.unlock()
        agent = Agent(directory, key, None)
        request = b"protocol=https\nhost=github.com\n"
        message = agentclient.encode("get", str(directory), request)
        bare = Store(directory, key=key)
        parsed = protocol.parse(request)
        assert agent.handle(message)[0].startswith(agentclient.OK)
        agent_runs, bare_runs = [], []
        for _ in range(args.rounds):
            agent_runs.append(per_call(lambda: agent.handle(message), args.calls))
            bare_runs.append(per_call(lambda: operations.get(parsed, bare), args.calls))
    agent_us, bare_us = statistics.median(agent_runs), statistics.median(bare_runs)
    print(f"agent get: {agent_us:.1f} us, bare operations.get: {bare_us:.1f} us, ", end="")
    print(f"ratio {agent_us / bare_us:.2f} (medians of {args.rounds} rounds of {args.calls})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
