# SPDX-License-Identifier: GPL-2.0-or-later
"""A small client of the Chrome DevTools Protocol for the web monitor's
browser test (tests/web/browser.py): start Debian's chromium headless with
a user-data-dir of its own, talk to one page over a websocket
(python3-websocket), and stop it again by its pid and remove the dir.

Every wait here is bounded in time; nothing waits on a fixed sleep alone.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import websocket  # Debian: python3-websocket (websocket-client)


class CdpError(Exception):
    pass


def find_chromium():
    """The chromium binary, or None."""
    for name in ("chromium", "chromium-browser"):
        for d in os.environ.get("PATH", "/usr/bin:/bin").split(":") + ["/usr/bin"]:
            p = os.path.join(d, name)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
    return None


class Browser:
    """chromium --headless=new with one page attached (flat session)."""

    def __init__(self, width=1280, height=800, start_timeout=30.0, log=None,
                 pidfile=None, tmpdir=None):
        self.width = width
        self.height = height
        self.log = log or (lambda s: None)
        self.proc = None
        self.ws = None
        # the user-data-dir: under tmpdir when given, so that the caller's
        # clean-up removes it even if this process is killed outright
        self.dir = tempfile.mkdtemp(prefix="spackle-web-chromium.", dir=tmpdir)
        self.session = None
        self.pidfile = pidfile  # the browser's pid (= its group), for a
        # caller's clean-up should this process be killed outright
        self.next_id = 0
        self.events = []  # every event seen, (method, params)
        self.dialogs = []  # Page.javascriptDialogOpening params
        self.exceptions = []  # Runtime.exceptionThrown details
        self.console_errors = []  # Log.entryAdded / console errors, text
        self.responses = []  # Network.responseReceived params of documents
        self._start(start_timeout)

    # --- start and stop ----------------------------------------------------

    def _start(self, timeout):
        exe = find_chromium()
        if exe is None:
            raise CdpError("chromium not found")
        args = [
            exe,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--metrics-recording-only",
            "--password-store=basic",
            "--use-mock-keychain",
            "--hide-scrollbars",
            "--font-render-hinting=none",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            "--window-size=%d,%d" % (self.width, self.height),
            "--user-data-dir=" + self.dir,
            "about:blank",
        ]
        errlog = open(os.path.join(self.dir, "chromium.log"), "wb")
        # A session (process group) of its own, so that stop() ends the
        # browser's helpers (zygote, renderers) with it, by this group id.
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog,
            start_new_session=True)
        errlog.close()
        if self.pidfile:
            with open(self.pidfile, "w") as f:
                f.write("%d\n" % self.proc.pid)
        portfile = os.path.join(self.dir, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CdpError("chromium exited with %s: %s" % (
                    self.proc.returncode, self.chromium_log()[-600:]))
            try:
                with open(portfile) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise CdpError("no DevToolsActivePort after %.0f s" % timeout)
        url = "ws://127.0.0.1:%s%s" % (lines[0].strip(), lines[1].strip())
        self.ws = websocket.create_connection(url, timeout=10, suppress_origin=True)
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        att = self.call("Target.attachToTarget",
                        {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session = att["sessionId"]
        for m in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self.call(m)
        self.call("Emulation.setDeviceMetricsOverride", {
            "width": self.width, "height": self.height,
            "deviceScaleFactor": 1, "mobile": False})

    def chromium_log(self):
        try:
            with open(os.path.join(self.dir, "chromium.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """Close the browser, end its process group by id, remove its dir."""
        if self.ws is not None:
            try:
                self.ws.settimeout(3)
                self.ws.send(json.dumps({"id": 999999, "method": "Browser.close"}))
            except Exception:
                pass
            try:
                self.ws.close()
            except Exception:
                pass
            self.ws = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            # then its helpers (the group is the browser's pid)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break  # nothing left in the group
                try:
                    self.proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    pass
                time.sleep(0.2)
            self.proc = None
            if self.pidfile:
                try:
                    os.unlink(self.pidfile)
                except OSError:
                    pass
        if self.dir and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    # --- the protocol -------------------------------------------------------

    def _event(self, msg):
        method = msg.get("method", "")
        params = msg.get("params", {})
        self.events.append((method, params))
        if method == "Page.javascriptDialogOpening":
            self.dialogs.append(params)
            # dismiss it, or the page stays blocked
            self.next_id += 1
            self.ws.send(json.dumps({
                "id": self.next_id, "method": "Page.handleJavaScriptDialog",
                "params": {"accept": False}, "sessionId": self.session}))
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            text = d.get("text", "")
            exc = d.get("exception", {})
            if exc.get("description"):
                text += " " + exc["description"]
            self.exceptions.append(text)
        elif method == "Log.entryAdded":
            e = params.get("entry", {})
            if e.get("level") == "error":
                self.console_errors.append("%s: %s (%s)" % (
                    e.get("source"), e.get("text"), e.get("url", "")))
        elif method == "Runtime.consoleAPICalled":
            if params.get("type") in ("error", "assert"):
                args = params.get("args", [])
                self.console_errors.append("console: " + " ".join(
                    str(a.get("value", a.get("description", ""))) for a in args))
        elif method == "Network.responseReceived":
            if params.get("type") == "Document":
                self.responses.append(params.get("response", {}))

    def call(self, method, params=None, session=True, timeout=15.0):
        """Send one command and wait (bounded) for its answer; events that
        come meanwhile are recorded."""
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError("%s: no answer in %.0f s" % (method, timeout))
            self.ws.settimeout(left)
            try:
                raw = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                raise CdpError("%s: no answer in %.0f s" % (method, timeout))
            m = json.loads(raw)
            if "id" in m:
                if m["id"] == mid:
                    if "error" in m:
                        raise CdpError("%s: %s" % (method, m["error"].get("message")))
                    return m.get("result", {})
                continue
            self._event(m)

    def pump(self, seconds):
        """Take in events for up to seconds."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.ws.settimeout(left)
            try:
                raw = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                return
            m = json.loads(raw)
            if "id" not in m:
                self._event(m)

    def eval(self, expr, timeout=15.0):
        """The value of a JavaScript expression (awaited), by value."""
        r = self.call("Runtime.evaluate", {
            "expression": expr, "returnByValue": True, "awaitPromise": True,
            "userGesture": False}, timeout=timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CdpError("evaluate: %s %s" % (
                d.get("text"), d.get("exception", {}).get("description", "")))
        return r.get("result", {}).get("value")

    def navigate(self, url, timeout=20.0):
        """Load url and wait (bounded) until its document is complete."""
        r = self.call("Page.navigate", {"url": url}, timeout=timeout)
        if r.get("errorText"):
            raise CdpError("navigate %s: %s" % (url, r["errorText"]))
        self.wait_for("document.readyState === 'complete'", timeout=timeout)

    def wait_for(self, expr, timeout=15.0, interval=0.2):
        """Poll a JavaScript expression until it is truthy; its value, or
        None after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                v = self.eval(expr)
            except CdpError:
                v = None
            if v:
                return v
            if time.monotonic() >= deadline:
                return None
            self.pump(interval)

    def click(self, selector_expr):
        """A real mouse click (moved, pressed, released) at the middle of
        the element that selector_expr (a JavaScript expression giving an
        element) names, scrolled into view first. As a person does, the
        pointer rests on the element first and the button is pressed only
        once the element is still the one under it (a live page may have
        moved it in between). False if there is none."""
        measure = """(() => {
            const e = %s;
            if (!e) return null;
            if (%%s) e.scrollIntoView({block: 'center', inline: 'nearest'});
            const r = e.getBoundingClientRect();
            const x = r.left + r.width / 2, y = r.top + r.height / 2;
            const at = document.elementFromPoint(x, y);
            return {x: x, y: y, w: r.width, h: r.height,
                    under: !!at && (at === e || e.contains(at))};
        })()""" % selector_expr
        rect = self.eval(measure % "true")
        for _ in range(10):
            if not rect or rect["w"] <= 0 or rect["h"] <= 0:
                return False
            x, y = rect["x"], rect["y"]
            self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
            rect = self.eval(measure % "false")
            if rect and rect["under"] and (rect["x"], rect["y"]) == (x, y):
                break
        else:
            return False
        self.call("Input.dispatchMouseEvent", {
            "type": "mousePressed", "x": x, "y": y, "button": "left", "clickCount": 1})
        self.call("Input.dispatchMouseEvent", {
            "type": "mouseReleased", "x": x, "y": y, "button": "left", "clickCount": 1})
        return True

    def screenshot(self, path):
        import base64
        r = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": False,
            "clip": {"x": 0, "y": 0, "width": self.width, "height": self.height,
                     "scale": 1}}, timeout=30)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
