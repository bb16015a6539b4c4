#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The web monitor in a real browser (issue 16): `spackle run` in namespace A
# with `web = 127.0.0.1:PORT`, servers in namespace B, and Debian's chromium
# headless in namespace A driven over the DevTools protocol by browser.py:
#
#   * without the token, or with a wrong one: 401 and the fixed message,
#     nothing else (no script, no flow data); a change with the cookie but
#     without the X-Spackle-Token header: 403;
#   * with the token from `spackle web -c CONF`: the page loads, drops the
#     token from the address bar, and lists a held-open TCP connection of
#     nettool with its process name; a click on the port header sorts the
#     rows (again: the other way), typing in the filter narrows them;
#   * the Traffic chart has points with data, from the store, and nettool
#     among the top processes;
#   * clicking "block" on that connection's row makes nettool's next
#     connection to that host fail (another program still gets through),
#     and "undo" in the Rules view lets it through again; the same for a
#     connection in, to nettool's server in A from B (undo from the notice);
#   * a flow whose TLS SNI is `<img src=x onerror=alert(1)>`, and a program
#     whose path holds `<svg onload=alert(3)>`, are shown as text in the
#     Connections view: no element made of them, no dialog opened, no
#     exception, no Content-Security-Policy violation;
#   * "block" on that program (a `*` in its path, which no rule may hold)
#     is refused, and the page shows the daemon's own message.
#
# Usage: web.sh SPACKLE NETTOOL
#   SPACKLE_WEB_SCREENSHOT=FILE  also save a 1280x800 screenshot of the
#                                Connections view there (docs/web.png)
#   SPACKLE_NETNS_KEEP=1         keep the temporary directory
# Every networking command runs under `ip netns exec`; the machine's own
# namespace is never changed. Waits are bounded; the EXIT trap cleans up.
# Exit 0 pass, 1 fail, 2 set-up failed, 77 skipped (not root, no chromium).
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 SPACKLE NETTOOL" >&2
	exit 2
fi
SPACKLE=$(readlink -f "$1")
NETTOOL=$(readlink -f "$2")
HERE=$(dirname "$(readlink -f "$0")")
PY=/usr/bin/python3

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: not root (network namespaces)"
	exit 77
fi
if ! command -v chromium >/dev/null 2>&1; then
	echo "SKIP: chromium not installed (make deps-test, or apt-get install chromium)"
	exit 77
fi
if ! "$PY" -c 'import websocket' 2>/dev/null; then
	echo "FAIL setup: $PY cannot import websocket (apt-get install python3-websocket)"
	exit 2
fi
for tool in ip jq timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL setup: $tool not found"
		exit 2
	fi
done

ID=$$
NSA=spackle-wb-a-$ID
NSB=spackle-wb-b-$ID
VA=spwa$ID
VB=spwb$ID
A4=192.0.2.1
B4=192.0.2.2
WEB=127.0.0.1:3031
P_TCP=7401 # nettool's echo server: the held connections, block and undo
P_SNI=7402 # the hostile ClientHello's server
P_DENY=7403 # denied by a rule: blocked flows for the Blocked view
P_UDP=7404
P_NAMED=7405 # screenshot only: flows named by their first payload
P_IN=7406 # a server in A: a connection in, blocked and let in again

TMP=$(mktemp -d /tmp/spackle-wb.XXXXXX) || exit 2
TMP=$(readlink -f "$TMP")
CONF=$TMP/spackle.conf
PIDS=()
DAEMON=
npass=0
nfail=0

# shellcheck source=tests/netns/lib.sh
. "$HERE/../netns/lib.sh"
daemon_user || { echo "FAIL setup: the user spackle"; exit 2; }

# Should browser.py be killed outright, its chromium (a process group of
# its own, led by the pid in this file) is stopped here.
stop_chromium() {
	local pid

	pid=$(cat "$TMP/chromium.pid" 2>/dev/null) || return 0
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	kill -TERM -- "-$pid" 2>/dev/null && sleep 1
	kill -KILL -- "-$pid" 2>/dev/null
	return 0
}
trap 'stop_chromium; cleanup' EXIT
trap 'exit 130' INT TERM

echo "# spackle web test: $(chromium --version 2>/dev/null), kernel $(uname -r)"
ns_pair || { echo "FAIL setup: namespaces"; exit 2; }
mkdir -p "$TMP/rules" "$TMP/db" "$TMP/run"
cat >"$TMP/rules/10-web-test.rules" <<EOF
# written by tests/web/web.sh
allow out proto udp to $B4 port $P_UDP note "the test's udp server"
deny out proto tcp to domain evil.example port $P_SNI note "holds the flow for its name"
deny out proto tcp to $B4 port $P_DENY note "a port the test keeps shut"
allow out proto tcp to domain example.org port $P_NAMED note "named by their first payload"
EOF
cat >"$CONF" <<EOF
# written by tests/web/web.sh
mode = enforce
default = allow
hooks = out, in
exempt = lo
rules = $TMP/rules
db = $TMP/db
store_flush_ms = 500
control = $TMP/run/spackle.sock
web = $WEB
web_token = $TMP/run/web.token
EOF

bg_b tcp-server "$NETTOOL" tcp-server -a "$B4" -p "$P_TCP" -m echo -t 300
bg_b sni-server "$NETTOOL" tcp-server -a "$B4" -p "$P_SNI" -m echo -t 300
bg_b deny-server "$NETTOOL" tcp-server -a "$B4" -p "$P_DENY" -m echo -t 300
bg_b udp-server "$NETTOOL" udp-server -a "$B4" -p "$P_UDP" -t 300
bg_b named-server "$NETTOOL" tcp-server -a "$B4" -p "$P_NAMED" -m echo -t 300
bg_a in-server "$NETTOOL" tcp-server -a "$A4" -p "$P_IN" -m echo -t 300
for s in tcp-server sni-server deny-server udp-server named-server in-server; do
	wait_for 50 grep -qs '^ready' "$TMP/$s.out" ||
		{ echo "FAIL setup: $s: $(cat "$TMP/$s.out")"; exit 2; }
done

if ! daemon_start web; then
	echo "FAIL setup: the daemon did not answer status: $(tail -n 5 "$TMP/daemon-web.err")"
	exit 2
fi
pass start "spackle run answers status (pid $DAEMON)"

# `spackle web` prints the URL with the token, as a user would open it.
url=$(spk web -c "$CONF" 2>"$TMP/web-cmd.err")
if [[ $url =~ ^http://$WEB/\?token=[0-9a-f]{64}$ ]]; then
	pass cmd/web "spackle web prints http://$WEB/?token=<64 hex digits>"
else
	fail cmd/web "want http://$WEB/?token=<64 hex>, got '$url' $(cat "$TMP/web-cmd.err")"
	echo "$npass passed, $nfail failed"
	exit 1
fi

# Traffic for the store (the Traffic view), then the held connections the
# Connections view must list: nettool's, and a copy of nettool whose path
# is markup.
for i in 1 2 3 4 5; do
	{
		ip netns exec "$NSA" "$NETTOOL" tcp-connect -a "$B4" -p "$P_TCP" -e -w 2000
		ip netns exec "$NSA" "$NETTOOL" udp-send -a "$B4" -p "$P_UDP" -n 2 -w 1000
		ip netns exec "$NSA" "$NETTOOL" tcp-connect -a "$B4" -p "$P_DENY" -w 300
	} >>"$TMP/warm.out" 2>&1
done
HOSTILE_DIR="$TMP/<svg onload=alert(3)>"
if ! { mkdir -p "$HOSTILE_DIR" && cp "$NETTOOL" "$HOSTILE_DIR/nt<b>*x" &&
	chmod 0755 "$HOSTILE_DIR"; }; then
	echo "FAIL setup: the hostile copy of nettool"
	exit 2
fi
bg_a held "$NETTOOL" tcp-connect -a "$B4" -p "$P_TCP" -e -w 2000 -H 280000
bg_a held-hostile "$HOSTILE_DIR/nt<b>*x" tcp-connect -a "$B4" -p "$P_TCP" -w 2000 -H 280000
bg_b held-in "$NETTOOL" tcp-connect -a "$A4" -p "$P_IN" -e -w 2000 -H 280000
if ! { wait_for 50 grep -qs '^result=ok' "$TMP/held.out" &&
	wait_for 50 grep -qs '^result=ok' "$TMP/held-hostile.out" &&
	wait_for 50 grep -qs '^result=ok' "$TMP/held-in.out"; }; then
	echo "FAIL setup: held connections: $(cat "$TMP/held.out" "$TMP/held-hostile.out" "$TMP/held-in.out")"
	exit 2
fi
written() {
	spk status -c "$CONF" --json | jq -e '.counters.store_written > 0' >/dev/null
}
wait_for 150 written ||
	echo "# the store wrote nothing in 15 s: the Traffic check may fail"

# The browser runs inside namespace A, where the daemon's web address is.
shot=()
if [ -n "${SPACKLE_WEB_SCREENSHOT:-}" ]; then
	# A screenshot for the docs: also a name from an HTTP Host (curl
	# waits for the echo server to close) and one from a TLS SNI.
	shot=(--screenshot "$(readlink -f "$SPACKLE_WEB_SCREENSHOT")"
		--named-port "$P_NAMED")
	bg_a curl curl -s -m 250 --http0.9 -H "Host: www.example.org" \
		"http://$B4:$P_NAMED/"
fi
ip netns exec "$NSA" timeout -k 5 240 "$PY" -B "$HERE/browser.py" \
	--url "$url" --nettool "$NETTOOL" --hostile-exe "$HOSTILE_DIR/nt<b>*x" \
	--server "$B4" --port "$P_TCP" --sni-port "$P_SNI" --deny-port "$P_DENY" \
	--pidfile "$TMP/chromium.pid" --tmpdir "$TMP" \
	--local "$A4" --in-port "$P_IN" --peer-ns "$NSB" \
	"${shot[@]}" >"$TMP/browser.out" 2>&1
rc=$?
cat "$TMP/browser.out"
npass=$((npass + $(grep -c '^PASS ' "$TMP/browser.out")))
nfail=$((nfail + $(grep -c '^FAIL ' "$TMP/browser.out")))
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$TMP/browser.out"; then
	fail browser "browser.py exited $rc without a result"
fi

kill -TERM "$DAEMON"
if wait_for 100 eval "! alive $DAEMON" && wait "$DAEMON"; then
	pass stop "the daemon stopped, exit 0"
else
	fail stop "the daemon did not stop cleanly: $(tail -n 3 "$TMP/daemon-web.err")"
fi

echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
