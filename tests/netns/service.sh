#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The service (issue 8): namespace A runs `spackle run` as an installed
# daemon would, with TCP and UDP servers in namespace B.
#
#   * privilege drop: after set-up the daemon's every thread runs as the
#     user spackle, its capabilities exactly CAP_NET_ADMIN, CAP_NET_RAW,
#     CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH and CAP_SYS_NICE (CapEff
#     0x883004, nothing
#     else permitted or in the bounding set, no_new_privs), and it still
#     decides, attributes another user's connection to its process, and
#     removes its steering and its control socket when it stops;
#   * a missing user, and a public metrics address, stop it before it
#     touches the firewall, each with a message that names the problem;
#   * metrics: /metrics serves Prometheus text with the verdict counters
#     of what really crossed; other paths 404, other methods 405;
#   * readiness and the watchdog (sd_notify, as systemd's Type=notify and
#     WatchdogSec hear it): READY=1 with the daemon's pid once its steering
#     is in place, WATCHDOG=1 each second, STOPPING=1 at SIGTERM;
#   * the json decision log: one object per decided flow with the fields
#     of `conns --json`, and after the file is moved away, SIGHUP makes a
#     new one that gets the next decisions (logrotate).
#
# Usage: service.sh SPACKLE NETTOOL
# Every networking command runs under `ip netns exec`; the machine's own
# namespace is never changed. Waits are bounded; the EXIT trap cleans up.
# Exit 0 pass, 1 fail, 2 set-up failed, 77 skipped (not root).
set -u

if [ $# -lt 2 ]; then
	echo "usage: $0 SPACKLE NETTOOL" >&2
	exit 2
fi
SPACKLE=$(readlink -f "$1")
NETTOOL=$(readlink -f "$2")

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: not root (network namespaces)"
	exit 77
fi
for tool in ip iptables jq curl timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL setup: $tool not found"
		exit 2
	fi
done

ID=$$
NSA=spackle-sv-a-$ID
NSB=spackle-sv-b-$ID
VA=spsa$ID
VB=spsb$ID
A4=192.0.2.1
B4=192.0.2.2
P_TCP=7301
P_UDP=7302
OTHER_UID=4343
METRICS=127.0.0.1:9477
# CAP_DAC_READ_SEARCH (2), CAP_NET_ADMIN (12), CAP_NET_RAW (13),
# CAP_SYS_PTRACE (19), CAP_SYS_NICE (23); ambient: the two the iptables
# tools need.
CAPS=0000000000883004
AMBIENT=0000000000003000

TMP=$(mktemp -d /tmp/spackle-sv.XXXXXX) || exit 2
TMP=$(readlink -f "$TMP")
CONF=$TMP/spackle.conf
LOG=$TMP/log/decisions.json
PIDS=()
DAEMON=
npass=0
nfail=0

# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
daemon_user || { echo "FAIL setup: the user spackle"; exit 2; }

trap cleanup EXIT
trap 'exit 130' INT TERM

SP_UID=$(id -u spackle)
SP_GID=$(id -g spackle)

# write_conf [EXTRA LINE]...
write_conf() {
	{
		cat <<EOF
mode = enforce
default = allow
hooks = out, in
rules = $TMP/rules
db = $TMP/db
control = $TMP/run/spackle.sock
metrics = $METRICS
log = json:$LOG
EOF
		printf '%s\n' "$@"
	} >"$CONF"
}

# status_field PID FIELD: the value of FIELD in /proc/PID/status, its
# words joined by one space
status_field() {
	awk -v f="$2:" '$1 == f { $1 = ""; sub(/^[ \t]+/, ""); print }' \
		"/proc/$1/status"
}

scrape() {
	ip netns exec "$NSA" curl -s -m 5 "$@"
}

# metric NAME: its value in the last scrape ($TMP/metrics), or "" when absent
metric() {
	awk -v n="$1" '$1 == n { print $2 }' "$TMP/metrics"
}

ns_pair || { echo "FAIL setup: namespaces"; exit 2; }
mkdir -p "$TMP/rules" "$TMP/db" "$TMP/log"
chown spackle:spackle "$TMP/log"
cat >"$TMP/rules/10-service.rules" <<EOF
allow out proto tcp to $B4 port $P_TCP note "the test server"
deny out proto udp to $B4 port $P_UDP note "the test sink"
EOF
bg_b tcp-server "$NETTOOL" tcp-server -a "$B4" -p "$P_TCP" -t 120
bg_b udp-server "$NETTOOL" udp-server -a "$B4" -p "$P_UDP" -t 120
wait_for 50 grep -qs '^ready' "$TMP/tcp-server.out" &&
	wait_for 50 grep -qs '^ready' "$TMP/udp-server.out" ||
	{ echo "FAIL setup: servers"; exit 2; }

# --- refusals before anything is touched --------------------------------------

write_conf "user = spackle-no-such-user"
out=$(ip netns exec "$NSA" timeout 10 "$SPACKLE" run -c "$CONF" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && echo "$out" | grep -q "user spackle-no-such-user: no such user" &&
	! ip netns exec "$NSA" iptables-save | grep -q SPACKLE; then
	pass refuse/user "exit $rc: $(echo "$out" | grep -o 'user spackle-no-such-user[^;]*')"
else
	fail refuse/user "want an error naming the user, firewall untouched; exit $rc: $out"
fi
write_conf "metrics = $A4:9477"
out=$(ip netns exec "$NSA" timeout 10 "$SPACKLE" run -c "$CONF" 2>&1)
rc=$?
line=$(grep -n '^metrics' "$CONF" | tail -n 1 | cut -d: -f1)
if [ "$rc" -ne 0 ] && echo "$out" | grep -q "spackle.conf:$line: metrics: $A4:9477 is not a loopback address" &&
	! ip netns exec "$NSA" iptables-save | grep -q SPACKLE; then
	pass refuse/metrics-public "exit $rc, the line named"
else
	fail refuse/metrics-public "exit $rc: $out"
fi

# --- the running daemon --------------------------------------------------------

write_conf
bg_notify() {
	"$NETTOOL" notify-sink -a "$TMP/notify.sock" -t 100 >"$TMP/notify.out" 2>&1 &
	PIDS+=("$!")
	wait_for 50 grep -qs '^ready' "$TMP/notify.out"
}
bg_notify || { echo "FAIL setup: notify-sink"; exit 2; }
export NOTIFY_SOCKET=$TMP/notify.sock WATCHDOG_USEC=3000000
if ! daemon_start main; then
	echo "FAIL setup: the daemon did not start: $(tail -n 3 "$TMP/daemon-main.err")"
	exit 2
fi
unset NOTIFY_SOCKET WATCHDOG_USEC
PID=$(spk status -c "$CONF" --json | jq -r .pid)
# READY=1 comes after the steering: when status answers, it is there.
if wait_for 50 grep -q "READY=1;MAINPID=$PID;STATUS=enforce mode" "$TMP/notify.out" &&
	ip netns exec "$NSA" iptables-save | grep -q -- '-A OUTPUT -j SPACKLE-OUT'; then
	pass notify/ready "READY=1 with MAINPID=$PID, steering in place"
else
	fail notify/ready "$(head -c 300 "$TMP/notify.out")"
fi

ids="Uid $(status_field "$PID" Uid) Gid $(status_field "$PID" Gid) Groups $(status_field "$PID" Groups)"
want="Uid $SP_UID $SP_UID $SP_UID $SP_UID Gid $SP_GID $SP_GID $SP_GID $SP_GID Groups $SP_GID"
if [ "$ids" = "$want" ]; then
	pass drop/ids "real, effective, saved and fs ids are spackle's ($SP_UID:$SP_GID), no other group"
else
	fail drop/ids "want '$want', got '$ids'"
fi
caps="Eff $(status_field "$PID" CapEff) Prm $(status_field "$PID" CapPrm) Bnd $(status_field "$PID" CapBnd) Amb $(status_field "$PID" CapAmb) NoNewPrivs $(status_field "$PID" NoNewPrivs)"
want="Eff $CAPS Prm $CAPS Bnd $CAPS Amb $AMBIENT NoNewPrivs 1"
if [ "$caps" = "$want" ]; then
	pass drop/caps "$caps"
else
	fail drop/caps "want '$want', got '$caps'"
fi
# No thread stayed root, and none holds more than the main thread.
bad=0
nth=0
for t in /proc/"$PID"/task/*; do
	nth=$((nth + 1))
	u=$(awk '$1 == "Uid:" { print $2 $3 $4 $5 }' "$t/status")
	e=$(awk '$1 == "CapEff:" { print $2 }' "$t/status")
	[ "$u" = "$SP_UID$SP_UID$SP_UID$SP_UID" ] || bad=$((bad + 1))
	[ "$e" = "$CAPS" ] || [ "$e" = 0000000000000000 ] || bad=$((bad + 1))
done
if [ "$bad" = 0 ] && [ "$nth" -gt 2 ]; then
	pass drop/threads "$nth threads, each uid $SP_UID with $CAPS or nothing"
else
	fail drop/threads "$bad of $nth threads wrong"
fi

# It still does its work: a connection of another user allowed and owned,
# a datagram denied.
out=$(ip netns exec "$NSA" "$NETTOOL" tcp-connect -a "$B4" -p "$P_TCP" -e -H 1500 -u "$OTHER_UID" 2>&1)
rc=$?
udp=$(ip netns exec "$NSA" "$NETTOOL" udp-send -a "$B4" -p "$P_UDP" -n 1 -w 500 2>&1)
urc=$?
flow=$(spk conns -c "$CONF" --json | jq -c --argjson p "$P_TCP" '[.[] | select(.dport == $p)] | first')
if [ "$rc" = 0 ] && [ "$urc" = 1 ] && echo "$flow" | jqe --argjson u "$OTHER_UID" --arg e "$NETTOOL" \
	'.verdict == "allow" and .uid == $u and .exe == $e and (.pid | type) == "number"' >/dev/null; then
	pass drop/works "uid $OTHER_UID's connection allowed and owned ($(echo "$flow" | jq -c '{pid, uid, exe, attrib}')), the datagram denied"
else
	fail drop/works "tcp exit $rc ($out), udp exit $urc ($udp), flow $flow"
fi

# --- metrics ---------------------------------------------------------------------

code=$(scrape -o "$TMP/metrics" -D "$TMP/metrics.head" -w '%{http_code}' "http://$METRICS/metrics")
allow=$(metric 'spackle_packets_total{verdict="allow"}')
deny=$(metric 'spackle_packets_total{verdict="deny"}')
st=$(spk status -c "$CONF" --json)
missing=
for m in spackle_flows_live spackle_queue_drops_total spackle_socket_drops_total \
	spackle_store_lost_records_total spackle_tamper_events_total \
	spackle_decisions_total spackle_packets_received_total; do
	[ -n "$(metric "$m")" ] && grep -q "^# TYPE $m " "$TMP/metrics" || missing="$missing $m"
done
# Every sample line is NAME{labels} VALUE; every family has HELP and TYPE.
badlines=$(grep -v '^#' "$TMP/metrics" | grep -cvE '^[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? -?[0-9]+(\.[0-9]+)?$')
if [ "$code" = 200 ] && grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/metrics.head" &&
	[ -z "$missing" ] && [ "$badlines" = 0 ] &&
	[ "${allow:-0}" -gt 0 ] && [ "${deny:-0}" -ge 1 ] &&
	[ "$(metric spackle_flows_live)" -ge 2 ] &&
	[ "$deny" -le "$(echo "$st" | jq .counters.dropped)" ]; then
	pass metrics/scrape "200, text format 0.0.4, allow $allow deny $deny packets, live flows $(metric spackle_flows_live)"
else
	fail metrics/scrape "code $code, missing [$missing], $badlines bad lines, allow '$allow' deny '$deny': $(head -c 400 "$TMP/metrics")"
fi
c404=$(scrape -o /dev/null -w '%{http_code}' "http://$METRICS/")
c405=$(scrape -o /dev/null -w '%{http_code}' -X POST "http://$METRICS/metrics")
if [ "$c404" = 404 ] && [ "$c405" = 405 ]; then
	pass metrics/other "/ answers 404, POST 405"
else
	fail metrics/other "/ $c404, POST $c405"
fi

# --- the json decision log ------------------------------------------------------

n1=$(wc -l <"$LOG" 2>/dev/null || echo 0)
tcp_line=$(jq -c --argjson p "$P_TCP" 'select(.dport == $p)' "$LOG" 2>/dev/null | head -n 1)
udp_line=$(jq -c --argjson p "$P_UDP" 'select(.dport == $p)' "$LOG" 2>/dev/null | head -n 1)
keys=$(spk conns -c "$CONF" --json | jq -c '.[0] | keys')
if [ "$n1" -ge 2 ] && jq -e . "$LOG" >/dev/null 2>&1 &&
	echo "$tcp_line" | jqe --argjson k "$keys" --argjson u "$OTHER_UID" --arg e "$NETTOOL" \
		'.event == "decision" and .verdict == "allow" and .uid == $u and .exe == $e
		 and (.rule | endswith("10-service.rules:1")) and (.time | test("^20[0-9-]+T[0-9:.]+Z$"))
		 and ([$k[] as $x | has($x)] | all)' >/dev/null &&
	echo "$udp_line" | jqe '.verdict == "deny" and .proto == "udp"' >/dev/null &&
	[ "$(stat -c %U "$LOG")" = spackle ]; then
	pass log/json "$n1 lines, one object each with every conns field; the file is spackle's"
else
	fail log/json "$n1 lines; tcp $tcp_line; udp $udp_line; owner $(stat -c %U "$LOG" 2>&1)"
fi
# The test's own TCP decisions (other lines, as the links' IPv6 neighbour
# and multicast packets' decisions, may come at any time, before the move
# as after it).
tcp_decisions() {
	jq -c --argjson p "$P_TCP" 'select(.dport == $p and .event == "decision")' "$1" 2>/dev/null | wc -l
}
tcp1=$(tcp_decisions "$LOG")
mv "$LOG" "$LOG.1"
kill -HUP "$DAEMON"
wait_for 50 test -e "$LOG"
ip netns exec "$NSA" "$NETTOOL" tcp-connect -a "$B4" -p "$P_TCP" -e >/dev/null 2>&1
wait_for 20 eval "[ \$(tcp_decisions '$LOG') -ge 1 ]"
old=$(wc -l <"$LOG.1")
old_tcp=$(tcp_decisions "$LOG.1")
new=$(tcp_decisions "$LOG")
if [ "$old" -ge "$n1" ] && [ "$old_tcp" = "$tcp1" ] && [ "$new" -ge 1 ]; then
	pass log/reopen "after SIGHUP the new file has the next decision; the moved one kept its $old lines ($old_tcp of the test's TCP decisions, as before the move)"
else
	fail log/reopen "moved file $old lines (at least $n1 wanted), $old_tcp TCP decisions ($tcp1 before the move); new file $new"
fi

# The watchdog hears each second while the workers tick: three within 5 s.
wait_for 50 eval "[ \$(grep -c ' WATCHDOG=1;*\$' '$TMP/notify.out') -ge 3 ]"
nwd=$(grep -c ' WATCHDOG=1;*$' "$TMP/notify.out")
if [ "$nwd" -ge 3 ]; then
	pass notify/watchdog "$nwd WATCHDOG=1 pings"
else
	fail notify/watchdog "$nwd pings: $(tail -c 300 "$TMP/notify.out")"
fi

# --- stop -------------------------------------------------------------------------

kill -TERM "$DAEMON"
wait_for 100 eval "! alive $DAEMON"
wait "$DAEMON"
rc=$?
if [ "$rc" = 0 ] && ! ip netns exec "$NSA" iptables-save | grep -q SPACKLE &&
	! ip netns exec "$NSA" ip6tables-save | grep -q SPACKLE &&
	[ ! -e "$TMP/run/spackle.sock" ] && [ -d "$TMP/run" ]; then
	pass stop "exit 0 as spackle: steering removed, control socket gone"
	grep -q 'STOPPING=1' "$TMP/notify.out" && pass notify/stopping "STOPPING=1 told" ||
		fail notify/stopping "no STOPPING=1: $(tail -c 200 "$TMP/notify.out")"
else
	fail stop "exit $rc; steering: $(ip netns exec "$NSA" iptables-save | grep -c SPACKLE); socket: $(ls -l "$TMP/run" 2>&1)"
fi

echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
