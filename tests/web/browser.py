#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The web monitor's checks in chromium (run by tests/web/web.sh inside the
daemon's network namespace; see there for what is checked and why).

Prints one `PASS name: detail` or `FAIL name: detail` line per check and
exits 1 when any failed, 2 when the browser could not be started.
Every wait is bounded in time; the browser is stopped by its pid and its
directory removed on every way out.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, CdpError  # noqa: E402

SNI = "<img src=x onerror=alert(1)>"
MSG_401 = "401: this page needs its token: run spackle web"

results = {"pass": 0, "fail": 0}


def check(name, ok, detail):
    print("%s %s: %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)
    results["pass" if ok else "fail"] += 1
    return ok


def js(s):
    """A Python string as a JavaScript string literal."""
    return json.dumps(s)


def client_hello(name):
    """A TLS 1.2/1.3 ClientHello whose server_name is name (bytes), as any
    client may send it: the daemon must take it as data."""
    ciphers = bytes.fromhex("13011302c02fc030")
    sni = b"\x00" + len(name).to_bytes(2, "big") + name
    sni = len(sni).to_bytes(2, "big") + sni
    exts = b"\x00\x00" + len(sni).to_bytes(2, "big") + sni
    sid = os.urandom(32)
    body = (b"\x03\x03" + os.urandom(32) + bytes([len(sid)]) + sid +
            len(ciphers).to_bytes(2, "big") + ciphers + b"\x01\x00" +
            len(exts).to_bytes(2, "big") + exts)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs


def nettool_connect(nettool, server, port, wait_ms=1500):
    """nettool tcp-connect with an echo: (exit code, its result line)."""
    try:
        p = subprocess.run(
            [nettool, "tcp-connect", "-a", server, "-p", str(port), "-e",
             "-w", str(wait_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=wait_ms / 1000 * 3 + 5)
    except subprocess.TimeoutExpired:
        return 124, "timed out"
    return p.returncode, p.stdout.decode(errors="replace").strip()


def connect_in(netns, nettool, local, port, wait_ms=1500):
    """A connection in: nettool in the peer namespace to local:port."""
    try:
        p = subprocess.run(
            ["ip", "netns", "exec", netns, nettool, "tcp-connect", "-a", local,
             "-p", str(port), "-e", "-w", str(wait_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=wait_ms / 1000 * 3 + 5)
    except subprocess.TimeoutExpired:
        return 124, "timed out"
    return p.returncode, p.stdout.decode(errors="replace").strip()


def python_connect(server, port):
    """Another program (this one) to the same host: True when it connects."""
    try:
        with socket.create_connection((server, port), timeout=3) as s:
            s.sendall(b"spackle-echo-01\n")
            return s.recv(16) != b""
    except OSError:
        return False


def conns_row(proc, dst, port):
    """A JavaScript expression: the Connections row of proc to dst:port."""
    return """[...document.querySelectorAll('#conns tbody tr')].find(r => {
        const n = r.querySelector('td.proc .name');
        return n && n.textContent === %s &&
            r.querySelector('td.remote').textContent.includes(%s) &&
            r.children[4].textContent === %s;
    })""" % (js(proc), js(dst), js(str(port)))


def notice_text(b, kind, timeout=10, contains=""):
    """The notice's text once it is of kind (ok, error) and holds contains."""
    return b.wait_for(
        "(() => { const n = document.getElementById('notice');"
        " return !n.hidden && n.classList.contains(%s) && n.textContent.includes(%s)"
        " ? n.textContent : ''; })()" % (js(kind), js(contains)), timeout)


def check_401(b, base):
    b.responses.clear()
    b.navigate(base + "/")
    st = b.responses[-1].get("status") if b.responses else None
    body = b.eval("document.body ? document.body.innerText.trim() : ''")
    scripts = b.eval("document.scripts.length + document.querySelectorAll('link,style').length")
    check("token/none", st == 401 and body == MSG_401 and scripts == 0,
          "no token: HTTP %s, body %r, %s script/style elements" % (st, body, scripts))
    b.responses.clear()
    b.navigate(base + "/?token=" + "0" * 64)
    st = b.responses[-1].get("status") if b.responses else None
    body = b.eval("document.body ? document.body.innerText.trim() : ''")
    check("token/wrong", st == 401 and body == MSG_401,
          "a wrong token: HTTP %s, body %r" % (st, body))
    r = b.eval("""fetch('/api/conns').then(async r => [r.status, await r.text()])""")
    check("token/api", r and r[0] == 401 and r[1].strip() == MSG_401,
          "GET /api/conns without the token: %r" % (r,))


def diagnose(b):
    """After a failure: what the page showed and what the API said."""
    try:
        view = b.eval("(document.querySelector('.tab[aria-selected=true]') || {dataset: {}}).dataset.view")
        rows = b.eval("[...document.querySelectorAll('#conns tbody tr')].map(r =>"
                      " [...r.children].slice(0, 5).map(c => c.textContent).join(' | '))")
        api = b.eval("""fetch('/api/conns', {headers: {'X-Spackle-Token':
            sessionStorage.getItem('spackle_token') || ''}}).then(r => r.json())
            .then(a => a.map(f => [f.exe, f.dst, f.dport, f.host, f.name_raw, f.verdict, f.rule]))""")
        print("# the page's view: %s; its Connections rows:" % view)
        for r in rows or []:
            print("#   " + r)
        print("# /api/conns (exe, dst, dport, host, name_raw, verdict, rule):")
        for f in api or []:
            print("#   %r" % (f,))
    except CdpError as e:
        print("# no diagnosis: %s" % e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="what `spackle web` prints")
    ap.add_argument("--nettool", required=True)
    ap.add_argument("--hostile-exe", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sni-port", type=int, required=True)
    ap.add_argument("--deny-port", type=int, required=True)
    ap.add_argument("--pidfile", help="where to keep chromium's pid while it runs")
    ap.add_argument("--tmpdir", help="where to make chromium's user-data-dir")
    ap.add_argument("--local", required=True, help="this namespace's address")
    ap.add_argument("--in-port", type=int, required=True,
                    help="nettool's server here, for a connection in")
    ap.add_argument("--peer-ns", required=True, help="the server's namespace")
    ap.add_argument("--screenshot")
    ap.add_argument("--named-port", type=int,
                    help="with --screenshot: a flow named by a valid SNI too")
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    base = "%s://%s" % (u.scheme, u.netloc)

    try:
        b = Browser(1280, 800, pidfile=a.pidfile, tmpdir=a.tmpdir)
    except (CdpError, OSError) as e:
        print("FAIL browser: chromium did not start: %s" % e, flush=True)
        return 2
    # ctest's timeout or the wrapper's clean-up: stop the browser first.
    signal.signal(signal.SIGTERM, lambda *_: (b.stop(), os._exit(1)))
    try:
        run(b, a, base)
    except CdpError as e:
        check("browser", False, "the protocol: %s" % e)
    finally:
        if results["fail"]:
            diagnose(b)
        log = b.chromium_log()
        b.stop()
        if results["fail"]:
            print("# chromium's log (last lines):\n# " +
                  "\n# ".join(log.strip().split("\n")[-8:]))
    return 1 if results["fail"] else 0


def run(b, a, base):
    nettool = os.path.basename(a.nettool)
    hostile_exe = a.hostile_exe

    # --- without the token --------------------------------------------------
    check_401(b, base)

    # --- with it ----------------------------------------------------------------
    b.navigate(a.url)
    left = b.eval("location.search")
    check("token/address-bar", left == "" and "token" not in b.eval("location.href"),
          "the token left the address bar (search now %r)" % left)
    row = b.wait_for("(() => { const r = %s; return r ? r.textContent : ''; })()"
                     % conns_row(nettool, a.server, a.port), 15)
    check("conns/live", bool(row),
          "a held-open TCP connection is listed with its process %r: %s" % (
              nettool, " ".join((row or "no such row").split())[:160]))
    # Sort by a click on a column's header, and again the other way.
    ports = "[...document.querySelectorAll('#conns tbody tr')].map(r => Number(r.children[4].textContent) || 0)"
    b.click("document.querySelector('#conns th[data-key=dport]')")
    up = b.eval(ports)
    b.click("document.querySelector('#conns th[data-key=dport]')")
    down = b.eval(ports)
    b.click("document.querySelector('#conns th[data-key=age]')")  # newest first again
    check("conns/sort", bool(up) and len(set(up)) > 1 and up == sorted(up) and down == sorted(up, reverse=True),
          "by port, ascending then descending: %s / %s" % (up[:8], down[:8]))
    # Filter by typing, as a person does.
    b.click("document.getElementById('filter')")
    b.call("Input.insertText", {"text": str(a.deny_port)})
    b.pump(0.3)
    rows = b.eval("[...document.querySelectorAll('#conns tbody tr')].map(r => r.textContent)")
    check("conns/filter", bool(rows) and len(rows) < len(up) and all(str(a.deny_port) in r for r in rows),
          "typing %d in the filter leaves %d of %d rows, each with it" % (a.deny_port, len(rows or []), len(up)))
    b.eval("(() => { const i = document.getElementById('filter'); i.value = '';"
           " i.dispatchEvent(new Event('input')); })()")

    # With the pointer over the rows they keep their places while flows
    # come (newest first: a new one would go on top), so a button aimed at
    # is not moved from under the click; leaving the list brings them in.
    order = ("[...document.querySelectorAll('#conns tbody tr')].map(r =>"
             " [1, 3, 4, 6].map(i => r.children[i].textContent).join(' '))")
    summary = "document.getElementById('conns-summary').textContent"
    b.pump(1.2)
    b.click("document.querySelector('#conns tbody tr:nth-child(2) td.proc')")
    before = b.eval(order)
    nettool_connect(a.nettool, a.server, a.port)
    b.pump(2.5)
    during = b.eval(order)
    held = b.eval(summary)
    b.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 5, "y": 5})
    b.pump(1.5)
    after = b.eval(order)
    check("conns/held", bool(before) and during == before and "held" in (held or "") and
          after and after[0] not in before and "live flow" in b.eval(summary),
          "under the pointer %d rows kept their order through a new connection (%r); "
          "after it left, on top: %r" % (len(before or []), held, (after or ["none"])[0]))

    mode = b.eval("document.getElementById('status').textContent")
    check("status", "enforce" in (mode or "") and "updated" in (mode or ""),
          "the status line: %r" % " ".join((mode or "").split()))

    # A change with the cookie alone, as another site in this browser could
    # send it: refused.
    r = b.eval("""fetch('/api/rule', {method: 'POST', credentials: 'include',
        headers: {'Content-Type': 'text/plain'},
        body: JSON.stringify({action: 'deny', any: true, process: %s})})
        .then(r => r.status)""" % js(a.nettool))
    check("token/cookie-only-change", r == 403,
          "POST /api/rule with the cookie and no X-Spackle-Token header: HTTP %s" % r)

    # --- hostile names ---------------------------------------------------------
    s = socket.create_connection((a.server, a.sni_port), timeout=5)
    try:
        s.sendall(client_hello(SNI.encode()))
        found = b.wait_for("""[...document.querySelectorAll('#conns tbody td')]
            .some(td => td.textContent.includes(%s))""" % js(SNI), 15)
        check("hostile/sni-shown", bool(found),
              "the SNI %s shown literally in Connections" % SNI if found else
              "no cell shows the SNI %r (does /api/conns carry it? name_raw)" % SNI)
        exe_shown = b.wait_for("""[...document.querySelectorAll('#conns tbody td.proc')]
            .some(td => td.textContent.includes(%s))""" % js(hostile_exe), 15)
        check("hostile/exe-shown", bool(exe_shown),
              "the program path %r shown literally" % hostile_exe)
        b.pump(1.5)  # a few more polls: anything that would run, runs
        made = b.eval("""document.querySelectorAll('img, [onerror], [onload]').length +
            document.querySelectorAll('#view-conns svg, #conns b').length""")
        check("hostile/no-elements", made == 0,
              "no <img>, <svg>, <b> or on* attribute made from the names (%s found)" % made)
        check("hostile/no-dialog", not b.dialogs,
              "no JavaScript dialog opened" if not b.dialogs else "dialogs: %r" % b.dialogs)
    finally:
        s.close()

    # --- a refused change: the daemon's message on the page --------------------
    want = b.eval("""fetch('/api/rule', {method: 'POST', headers: {'Content-Type': 'application/json',
        'X-Spackle-Token': sessionStorage.getItem('spackle_token') || ''},
        body: JSON.stringify({action: 'deny', process: %s, address: %s})})
        .then(async r => [r.status, (await r.json()).error])""" % (js(hostile_exe), js(a.server)))
    clicked = b.click("""[...document.querySelectorAll('#conns tbody tr')].find(r =>
        r.querySelector('td.proc').textContent.includes(%s))
        .querySelector('button[data-action=deny][data-any="0"]')""" % js(hostile_exe))
    shown = notice_text(b, "error") if clicked else None
    check("change/refused", bool(want and want[0] == 400 and want[1] and shown and want[1] in shown),
          "block on %r: the daemon answers %r; the page shows %r" % (
              hostile_exe, want, " ".join((shown or "nothing").split())))

    # --- traffic --------------------------------------------------------------------
    b.click("document.querySelector('.tab[data-view=traffic]')")
    pts = b.wait_for("""(() => {
        const p = [...document.querySelectorAll('#chart svg [data-bytes]')];
        const f = [...document.querySelectorAll('#chart svg [data-flows]')];
        const bytes = p.reduce((s, e) => s + Number(e.dataset.bytes), 0);
        const flows = f.reduce((s, e) => s + Number(e.dataset.flows), 0);
        return p.length > 0 && bytes > 0 && flows > 0 ? [p.length, bytes, f.length, flows] : null;
    })()""", 30)
    check("traffic/points", bool(pts),
          "the chart has %d byte points (%d bytes) and %d flow bars (%d flows)" % tuple(pts)
          if pts else "no chart points with data in 30 s")
    top = b.wait_for("document.querySelector('#top-procs tbody').textContent.includes(%s)"
                     % js(nettool), 10)
    check("traffic/top", bool(top), "%s among the top processes" % nettool)

    # --- block, then undo --------------------------------------------------------------
    b.click("document.querySelector('.tab[data-view=conns]')")
    b.wait_for(conns_row(nettool, a.server, a.port) + " !== undefined", 10)
    clicked = b.click(conns_row(nettool, a.server, a.port) +
                      ".querySelector('button[data-action=deny][data-any=\"0\"]')")
    added = notice_text(b, "ok", contains="added") if clicked else None
    rid = b.eval("(() => { const u = document.querySelector('#notice button[data-undo]');"
                 " return u ? u.dataset.undo : ''; })()") if added else ""
    check("block/click", bool(added and rid),
          "clicked block on %s to %s: %s" % (
              nettool, a.server, " ".join((added or notice_text(b, "error", 1) or
                                          "no answer").split())))
    if not rid:
        return
    # The next connection of that program to that host fails: the daemon
    # reloads before it answers, so the very next one.
    rc, out = nettool_connect(a.nettool, a.server, a.port)
    check("block/next-fails", rc != 0,
          "%s to %s:%d after block: exit %d %s" % (nettool, a.server, a.port, rc, out))
    check("block/others-pass", python_connect(a.server, a.port),
          "another program (python3) to the same host still connects")
    # Some blocked flows for the Blocked view and the screenshot.
    for _ in range(2):
        nettool_connect(a.nettool, a.server, a.deny_port, 300)
    b.pump(2.5)
    if a.screenshot:
        named = None
        if a.named_port:
            named = socket.create_connection((a.server, a.named_port), timeout=5)
            named.sendall(client_hello(b"api.example.org"))
            b.wait_for("document.querySelector('#conns tbody').textContent.includes('api.example.org')", 5)
        b.pump(1.5)
        b.eval("window.scrollTo(0, 0)")
        b.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 1279, "y": 799})
        b.screenshot(a.screenshot)
        print("# screenshot: %s" % a.screenshot)
        if named is not None:
            named.close()
    b.click("document.querySelector('.tab[data-view=blocked]')")
    blk = b.wait_for("""[...document.querySelectorAll('#blocked tbody tr')]
        .some(r => r.textContent.includes(%s) && r.textContent.includes(%s))"""
                     % (js(nettool), js(str(a.port))), 10)
    check("blocked/listed", bool(blk), "the refused connection is in Blocked with its process")

    b.click("document.querySelector('.tab[data-view=rules]')")
    undo_btn = ("document.querySelector('#web-rules button[data-undo=\"' + CSS.escape(%s) + '\"]')"
                % js(rid))
    listed = b.wait_for("!!" + undo_btn, 10)
    check("rules/listed", bool(listed), "the page's rule web:%s is listed with an undo button" % rid)
    clicked = b.click(undo_btn)
    removed = b.wait_for("(() => { const n = document.getElementById('notice');"
                         " return !n.hidden && n.textContent.includes('removed') ? n.textContent : ''; })()",
                         10) if clicked else None
    check("undo/click", bool(removed), "clicked undo: %s" % " ".join((removed or "no answer").split()))
    rc, out = nettool_connect(a.nettool, a.server, a.port)
    check("undo/next-passes", rc == 0,
          "%s to %s:%d after undo: exit %d %s" % (nettool, a.server, a.port, rc, out))

    # The scripts as served: no way in for markup or code made of strings.
    # (every script the page loaded: app.js and the modules it imports)
    sinks = b.eval("""Promise.all([...new Set([...document.querySelectorAll('script[src]')]
        .map(s => s.src).concat(performance.getEntriesByType('resource').map(e => e.name)
        .filter(n => new URL(n).pathname.endsWith('.js'))))]
        .map(u => fetch(u).then(r => r.text()).then(t => [u, t])))
        .then(all => all.flatMap(([u, t]) =>
            (t.match(/\\.(innerHTML|outerHTML|insertAdjacentHTML)\\b|document\\.write|\\beval\\(|new Function\\(/g) || [])
            .map(m => u.replace(location.origin, '') + ': ' + m)))""")
    nscripts = b.eval("new Set(performance.getEntriesByType('resource').map(e => e.name)"
                      ".filter(n => new URL(n).pathname.endsWith('.js'))).size")
    check("page/no-html-sinks", sinks == [] and nscripts >= 2,
          "no innerHTML, outerHTML, insertAdjacentHTML, document.write, eval or new Function"
          " in the %s scripts served" % nscripts if sinks == [] else "found: %s" % sinks)

    # --- a connection in: block from that host, then undo from the notice --------
    # (as a person looking for one connection among many would: narrow the
    # list to its port first)
    b.click("document.querySelector('.tab[data-view=conns]')")
    b.click("document.getElementById('filter')")
    b.call("Input.insertText", {"text": str(a.in_port)})
    row_in = """[...document.querySelectorAll('#conns tbody tr')].find(r =>
        r.querySelector('td.proc .name').textContent === %s && r.children[6].textContent === 'in' &&
        r.children[4].textContent === %s)""" % (js(nettool), js(str(a.in_port)))
    listed = b.wait_for("!!" + row_in, 10)
    clicked = listed and b.click(row_in + ".querySelector('button[data-action=deny][data-any=\"0\"]')")
    added = notice_text(b, "ok", contains="deny in") if clicked else None
    check("in/block-click", bool(added) and "deny in" in added,
          "block on the connection in to %s's port %d: %s" % (
              nettool, a.in_port, " ".join((added or "row listed %s, clicked %s, notice %r" % (
                  bool(listed), bool(clicked), b.eval("document.getElementById('notice').textContent"))).split())))
    if added:
        rc, out = connect_in(a.peer_ns, a.nettool, a.local, a.in_port)
        check("in/next-fails", rc != 0, "from %s to %s:%d after block: exit %d %s" % (
            a.peer_ns, a.local, a.in_port, rc, out))
        clicked = b.click("document.querySelector('#notice button[data-undo]')")
        removed = b.wait_for("(() => { const n = document.getElementById('notice');"
                             " return !n.hidden && n.textContent.includes('removed') ? n.textContent : ''; })()",
                             10) if clicked else None
        rc, out = connect_in(a.peer_ns, a.nettool, a.local, a.in_port)
        check("in/undo-passes", bool(removed) and rc == 0,
              "undo from the notice (%s), then: exit %d %s" % (
                  " ".join((removed or "no answer").split()), rc, out))

    # --- over the whole visit ---------------------------------------------------------
    b.pump(1.0)
    check("page/no-exceptions", not b.exceptions,
          "no uncaught exception" if not b.exceptions else "; ".join(b.exceptions)[:400])
    csp = [e for e in b.console_errors if "Content Security Policy" in e or e.startswith("security")]
    check("page/csp", not csp, "no Content-Security-Policy violation" if not csp
          else "; ".join(csp)[:400])
    check("page/no-dialog", not b.dialogs, "no JavaScript dialog over the whole visit")


if __name__ == "__main__":
    sys.exit(main())
