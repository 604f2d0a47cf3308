"""A small Chrome DevTools Protocol client over `--remote-debugging-pipe`: no extra packages, no ports.

Chromium reads commands from fd 3 and writes replies and events to fd 4, each a JSON text ending in NUL.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_chromium() -> tuple[str | None, str]:
    """The browser's path, installing Debian's `chromium` when missing; else None and the reason."""
    found = find_chromium()
    if found:
        return found, ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "chromium is not installed and this user cannot apt-get install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"]):
        subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=False)
        if cmd[1] == "update":
            subprocess.run(
                ["apt-get", "install", "-y", "-q", "chromium"],
                env=env,
                capture_output=True,
                timeout=900,
                check=False,
            )
        found = find_chromium()
        if found:
            return found, ""
    return None, "apt-get install chromium failed (no network or no package)"


def _high(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    os.set_inheritable(high, True)
    return high


class CDPError(RuntimeError):
    pass


class Browser:
    def __init__(self, executable: str, width: int = 1920, height: int = 1080) -> None:
        self.profile = tempfile.mkdtemp(prefix="hb-chromium-")
        cmd_read, self._cmd_write = os.pipe()  # we write commands; Chromium reads fd 3
        self._evt_read, evt_write = os.pipe()  # Chromium writes fd 4; we read
        # move the child's ends above 9 so the shell's `3<&N 4>&M` cannot clobber one with the other
        cmd_read, evt_write = _high(cmd_read), _high(evt_write)
        args = [executable, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}"]
        shell = f'exec "$0" "$@" 3<&{cmd_read} 4>&{evt_write}'
        self.proc = subprocess.Popen(
            ["bash", "-c", shell, *args],
            pass_fds=(cmd_read, evt_write),
            stdout=subprocess.DEVNULL,
            stderr=open(Path(self.profile) / "chromium.log", "wb"),  # noqa: SIM115
        )
        os.close(cmd_read)
        os.close(evt_write)
        self._next_id = 0
        self._lock = threading.Lock()
        self._replies: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._evt_read, 1 << 20)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cond:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:  # fmt: skip
        with self._lock:
            self._next_id += 1
            mid = self._next_id
            msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            try:
                os.write(self._cmd_write, json.dumps(msg).encode() + b"\0")
            except BrokenPipeError:
                raise CDPError(f"{method}: chromium exited: {self.log_tail()}") from None
        deadline = time.monotonic() + timeout
        with self._cond:
            while mid not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise CDPError(f"{method}: no reply")
                self._cond.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def log_tail(self) -> str:
        try:
            return (Path(self.profile) / "chromium.log").read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def wait_event(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0,
                   start: int = 0) -> dict[str, Any]:  # fmt: skip
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for evt in self.events[start:]:
                    if predicate(evt):
                        return evt
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CDPError("event not seen in time")
                self._cond.wait(left)

    def new_page(self, width: int, height: int) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            page.send(method)
        page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        return page

    def close(self) -> None:
        with contextlib.suppress(CDPError):
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._cmd_write)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        return self.browser.send(method, params, self.session, timeout)

    def goto(self, url: str) -> None:
        start = len(self.browser.events)
        self.send("Page.navigate", {"url": url})
        self.browser.wait_event(
            lambda e: e.get("method") == "Page.loadEventFired" and e.get("sessionId") == self.session,
            start=start,
        )

    def eval(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise CDPError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            try:
                value = self.eval(expression)
            except CDPError as exc:  # the page may be mid-navigation (no body yet): try again
                value, last_error = None, str(exc)[:300]
            if value:
                return value
            if time.monotonic() > deadline:
                raise CDPError(f"timed out waiting for {expression} {last_error}")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions seen on this page so far."""
        out = []
        for e in self.browser.events:
            if e.get("sessionId") != self.session:
                continue
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(params.get("exceptionDetails", {}))[:300])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(json.dumps(params.get("args", []))[:300])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                out.append(params["entry"].get("text", "")[:300] + " " + params["entry"].get("url", ""))
        return out
