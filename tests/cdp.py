"""A tiny Chrome DevTools Protocol client for the browser tests: headless chromium, one page, its console.

aiohttp (installed with datasets, through fsspec[http]) speaks the websocket; nothing else is needed.
`open_page` loads a file, waits for its load event, and gathers every console error, uncaught exception
and browser log error (a Content-Security-Policy violation, a failed load) the page caused.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def chromium_flags(user_data: str) -> list[str]:
    # --no-sandbox: CI containers run as root, where chromium's sandbox refuses to start
    return ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", f"--user-data-dir={user_data}"]


@contextlib.contextmanager
def chromium_profile():
    """A throwaway --user-data-dir, removed only once nothing writes to it any more.

    Chromium's helpers (crashpad, zygote, renderers) may outlive the main process for a moment and keep writing
    into the profile; removing it then fails with "Directory not empty". So every chromium started here runs in its
    own session (`stop_chromium` kills the whole group), and the removal retries briefly.
    """
    user_data = tempfile.mkdtemp(prefix="snekner-chromium-")
    try:
        yield user_data
    finally:
        for attempt in range(50):
            try:
                shutil.rmtree(user_data)
                break
            except FileNotFoundError:
                break
            except OSError:
                if attempt == 49:
                    raise
                time.sleep(0.1)


def stop_chromium(process: subprocess.Popen) -> None:
    """Terminate chromium and every helper it started (its process group), and wait for the main process."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # helpers that ignored SIGTERM after the main process left


def screenshot(url: str, path: Path, size: str = "1280,2000", timeout: float = 60) -> Path:
    """`chromium --headless --screenshot=PATH --window-size=SIZE URL`."""
    with chromium_profile() as user_data:
        process = subprocess.Popen([find_chromium(), *chromium_flags(user_data), f"--screenshot={path}",
                                    f"--window-size={size}", "--hide-scrollbars", url],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, stderr = process.communicate(timeout=timeout)
        finally:
            stop_chromium(process)
        assert process.returncode == 0, f"chromium failed ({process.returncode}): {stderr.decode(errors='replace')[-2000:]}"
    assert path.is_file() and path.stat().st_size > 1000, f"no screenshot at {path}"
    return path


class Page:
    """A page loaded in headless chromium: evaluate JS in it, read what it logged."""

    def __init__(self, ws, session: str, loop_events: list[dict]):
        self.ws, self.session, self.events = ws, session, loop_events
        self.ids = itertools.count(1)

    async def send(self, method: str, **params) -> dict:
        message_id = next(self.ids)
        await self.ws.send_str(json.dumps({"id": message_id, "method": method, "params": params, "sessionId": self.session}))
        while True:
            message = json.loads((await self.ws.receive(timeout=30)).data)
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    async def wait_for(self, method: str, timeout: float = 30) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            message = json.loads((await self.ws.receive(timeout=timeout)).data)
            self.events.append(message)
            if message.get("method") == method:
                return message

    async def evaluate(self, expression: str):
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def console_errors(self) -> list[str]:
        """Every error the page logged: console.error, uncaught exceptions, the browser's own log (CSP, failed loads)."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append("exception: " + str(details.get("exception", {}).get("description") or details.get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append("log: " + params["entry"].get("text", ""))
        return found


async def _with_page(url: str, check, timeout: float = 60):
    chromium = find_chromium()
    with chromium_profile() as user_data:
        log = Path(user_data) / "stderr.log"  # a file, not a pipe: chromium must never block on a full pipe
        with open(log, "w") as stderr:
            process = subprocess.Popen([chromium, *chromium_flags(user_data), "--remote-debugging-port=0", "about:blank"],
                                       stderr=stderr, stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            endpoint = None
            for _ in range(300):  # chromium announces its websocket on stderr
                if found := re.search(r"DevTools listening on (ws://\S+)", log.read_text(errors="replace")):
                    endpoint = found.group(1)
                    break
                if process.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            assert endpoint, f"chromium did not announce its DevTools endpoint: {log.read_text(errors='replace')[-2000:]}"
            async with aiohttp.ClientSession() as http, http.ws_connect(endpoint, max_msg_size=0) as ws:
                ids = itertools.count(10_000)

                async def browser(method: str, **params) -> dict:
                    message_id = next(ids)
                    await ws.send_str(json.dumps({"id": message_id, "method": method, "params": params}))
                    while True:
                        message = json.loads((await ws.receive(timeout=30)).data)
                        if message.get("id") == message_id:
                            return message["result"]

                target = (await browser("Target.createTarget", url="about:blank"))["targetId"]
                session = (await browser("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
                page = Page(ws, session, [])
                for domain in ("Runtime", "Log", "Page"):
                    await page.send(f"{domain}.enable")
                await page.send("Page.navigate", url=url)
                await page.wait_for("Page.loadEventFired", timeout)
                return await check(page)
        finally:
            stop_chromium(process)


def open_page(path: Path, check, timeout: float = 60):
    """Load `path` in headless chromium and return `await check(page)` (an async function of a Page)."""
    return asyncio.run(asyncio.wait_for(_with_page(Path(path).resolve().as_uri(), check, timeout), timeout * 2))
