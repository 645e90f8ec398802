"""A loopback stand-in for GitHub's OAuth endpoints, run as its own process, real HTTP both ways.

    python fakeoauth.py PORT_FILE   serves on 127.0.0.1, writes its port to PORT_FILE
    POST /login/device/code          a device code and a user code (interval 1 s)
    POST /login/oauth/access_token   device grant: authorization_pending until the test
                                     approves (or denies, or lets it expire); slow_down once
                                     when asked; refresh grant: a new pair, the old refresh
                                     token retired (reuse is refused, and counted)
    /_control/...                    what the test says and asks: approve, deny, expire,
                                     slow_down, revoke, expires_in, form, stats, valid

Answers are JSON when asked for (Accept: application/json), else a form, as GitHub does; the
control `form` makes every answer a form. FakeOAuth starts it and talks to its control API.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

CLIENT_ID = "Iv1.fakeclient"
START_TIMEOUT = 20.0


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.codes: dict[str, dict[str, Any]] = {}  # device code -> status, user code
        self.access: dict[str, float] = {}  # access token -> its expiry (epoch)
        self.refresh: set[str] = set()  # refresh tokens that still work
        self.retired: set[str] = set()
        self.expires_in = 3600
        self.form = False
        self.slow_down = 0
        self.stats = {"refreshes": 0, "reused": 0, "device_polls": 0, "refused": 0}

    def issue(self) -> dict[str, Any]:
        access, refresh = f"ghu_{secrets.token_hex(12)}", f"ghr_{secrets.token_hex(12)}"
        self.access[access] = time.time() + self.expires_in
        self.refresh.add(refresh)
        return {
            "access_token": access,
            "expires_in": self.expires_in,
            "refresh_token": refresh,
            "refresh_token_expires_in": 15811200,
            "token_type": "bearer",
            "scope": "",
        }


STATE = State()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def answer(self, data: dict[str, Any], status: int = 200) -> None:
        control = self.path.startswith("/_control/")  # the test's own API: always JSON
        wants_json = control or ("json" in self.headers.get("Accept", "") and not STATE.form)
        body = (json.dumps(data) if wants_json else urlencode(data)).encode()
        self.send_response(status)
        kind = "application/json" if wants_json else "application/x-www-form-urlencoded"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def fields(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        return dict(parse_qsl(self.rfile.read(length).decode()))

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/_control/"):
            self.control(path.removeprefix("/_control/"), self.fields())
            return
        form = self.fields()
        if form.get("client_id") != CLIENT_ID:
            self.answer({"error": "incorrect_client_credentials"})
            return
        with STATE.lock:
            if path == "/login/device/code":
                code, user = secrets.token_hex(10), f"{secrets.token_hex(2)}-{secrets.token_hex(2)}"
                STATE.codes[code] = {"status": "pending", "user_code": user.upper()}
                self.answer(
                    {
                        "device_code": code,
                        "user_code": user.upper(),
                        "verification_uri": "https://github.com/login/device",
                        "expires_in": 900,
                        "interval": 1,
                    }
                )
            elif path == "/login/oauth/access_token":
                self.answer(self.grant(form))
            else:
                self.answer({"error": "not_found"}, 404)

    def grant(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("grant_type") == "refresh_token":
            token = form.get("refresh_token", "")
            if token not in STATE.refresh:
                STATE.stats["reused" if token in STATE.retired else "refused"] += 1
                return {"error": "bad_refresh_token"}
            STATE.refresh.discard(token)
            STATE.retired.add(token)
            STATE.stats["refreshes"] += 1
            return STATE.issue()
        STATE.stats["device_polls"] += 1
        code = STATE.codes.get(form.get("device_code", ""))
        if code is None:
            return {"error": "incorrect_device_code"}
        if STATE.slow_down:
            STATE.slow_down -= 1
            return {"error": "slow_down", "interval": 6}
        status = code["status"]
        if status == "approved":
            code["status"] = "used"
            return STATE.issue()
        errors = {"pending": "authorization_pending", "denied": "access_denied"}
        return {"error": errors.get(status, "expired_token")}

    def control(self, what: str, form: dict[str, str]) -> None:
        with STATE.lock:
            if what in ("approve", "deny", "expire"):
                status = {"approve": "approved", "deny": "denied", "expire": "expired"}[what]
                waiting = [c for c in STATE.codes.values() if c["status"] == "pending"]
                for code in waiting:
                    code["status"] = status
                self.answer({"changed": len(waiting)})
            elif what == "slow_down":
                STATE.slow_down += 1
                self.answer({})
            elif what == "revoke":
                STATE.retired |= STATE.refresh
                STATE.refresh.clear()
                STATE.access.clear()
                self.answer({})
            elif what == "expires_in":
                STATE.expires_in = int(form["seconds"])
                self.answer({})
            elif what == "form":
                STATE.form = form.get("on") == "1"
                self.answer({})
            elif what == "stats":
                waiting = sum(c["status"] == "pending" for c in STATE.codes.values())
                self.answer({**STATE.stats, "pending": waiting})
            elif what == "valid":
                expiry = STATE.access.get(form.get("token", ""))
                self.answer({"valid": int(expiry is not None and expiry > time.time())})
            else:
                self.answer({"error": "unknown control"}, 404)


class FakeOAuth:
    """The fake as a process of its own: started, asked over HTTP, stopped."""

    def __init__(self, root: Path) -> None:
        port_file = root / "fakeoauth.port"
        self.process = subprocess.Popen(
            [sys.executable, "-I", __file__, str(port_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not (port_file.exists() and port_file.read_text().endswith("\n")):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("the fake OAuth server did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port_file.read_text().strip()}"

    def control(self, what: str, **fields: str) -> dict[str, str]:
        request = urllib.request.Request(  # noqa: S310  # loopback, http by design
            f"{self.url}/_control/{what}",
            data=urlencode(fields).encode(),
            headers={"Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return {k: str(v) for k, v in json.loads(answer.read()).items()}

    def stats(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.control("stats").items()}

    def valid(self, _username: str, token: str) -> bool:
        return self.control("valid", token=token)["valid"] == "1"

    def stop(self) -> None:
        from support import stop  # not at the top: the server half runs isolated (-I)

        stop([self.process.pid])
        self.process.wait(timeout=10)


def main(port_file: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Path(port_file).write_text(f"{server.server_address[1]}\n")
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
