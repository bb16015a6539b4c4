#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Names beyond DNS (issue 4): clients in namespace A connect by address to
# servers in namespace B with a name in their first payload (TLS SNI from
# `openssl s_client -servername`, HTTP Host), and `spackle run` in A holds
# each decision until that payload, then decides by domain rules.
#
# Usage: names.sh SPACKLE BINDIR   (BINDIR holds sl-sink and sl-http)
#
#   SPACKLE_NETNS_KEEP  1: keep the temporary directory
#
# The addresses have no DNS names, so only the payload can name them. The
# rules allow good.example, deny evil.example and refuse the bare address:
# a name rule outranks an address rule, so every connection is held, its
# handshake passes, and its first payload decides. A denied or unnamed
# connection must fail at once (a reset), not time out.
#
# Every networking command runs under `ip netns exec`; the machine's own
# namespace is never changed. Waits are bounded; the EXIT trap cleans up.
# Exit 0 pass, 1 fail, 2 set-up failed, 77 skipped (not root, no openssl).
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 SPACKLE BINDIR" >&2
	exit 2
fi
SPACKLE=$(readlink -f "$1")
BINDIR=$(readlink -f "$2")

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: not root"
	exit 77
fi
if ! command -v openssl >/dev/null 2>&1; then
	echo "SKIP: openssl not installed (apt-get install openssl)"
	exit 77
fi
for tool in ip jq timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL setup: $tool not found"
		exit 2
	fi
done

ID=$$
NSA=spackle-nm-a-$ID
NSB=spackle-nm-b-$ID
VA=spna$ID
VB=spnb$ID
A4=192.0.2.1
B4=192.0.2.2
A6=2001:db8::1
B6=2001:db8::2
P_HTTP=8080
# One s_server per case (port P_TLS0 + N), each serving one client, but
# cases 7 to 9: a single-threaded s_server for two clients, the first
# denied or rejected on its name: spackle resets both ends, so the server
# is free for the second at once (it waited for a ClientHello that never
# came before).
P_TLS0=8441
# A reset must come well before a timeout would.
RESET_MS=1500

TMP=$(mktemp -d /tmp/spackle-nm.XXXXXX) || exit 2
TMP=$(readlink -f "$TMP")
PIDS=()
DAEMON=
npass=0
nfail=0

# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
daemon_user || { echo "FAIL setup: the user spackle"; exit 2; }

now_ms() {
	date +%s%3N
}

trap cleanup EXIT
trap 'exit 130' INT TERM

# tls_server N ADDR [CLIENTS]: an s_server for case N on port P_TLS0 + N,
# serving CLIENTS (1) one after the other.
tls_server() {
	local n=$1 addr=$2 port=$((P_TLS0 + $1)) clients=${3:-1}

	case $addr in *:*) addr="[$addr]" ;; esac
	ip netns exec "$NSB" timeout 120 openssl s_server -quiet \
		-accept "$addr:$port" -cert "$TMP/cert.pem" \
		-key "$TMP/key.pem" -naccept "$clients" </dev/null \
		>"$TMP/s_server-$n.out" 2>&1 &
	PIDS+=("$!")
	wait_for 50 eval "ip netns exec $NSB ss -Htln 'sport = :$port' | grep -q ."
}

# tls_check NAME N ADDR SNI WANT: s_client to case N's server by address
# with SNI (or none when SNI is "-"). WANT: ok (handshake completes) or
# reset (fails within RESET_MS, no handshake).
tls_check() {
	local name=$1 n=$2 addr=$3 sni=$4 want=$5 port=$(($2 + P_TLS0))
	local t0 ms out target sniarg=(-servername "$sni")

	case $addr in *:*) target="[$addr]:$port" ;; *) target="$addr:$port" ;; esac
	[ "$sni" = - ] && sniarg=(-noservername)
	t0=$(now_ms)
	out=$(echo | ip netns exec "$NSA" timeout 5 openssl s_client -brief \
		-connect "$target" "${sniarg[@]}" 2>&1)
	ms=$(($(now_ms) - t0))
	echo "$out" >"$TMP/s_client-$name.out"
	if [ "$want" = ok ]; then
		if echo "$out" | grep -q "CONNECTION ESTABLISHED"; then
			pass "$name" "TLS handshake with SNI $sni completed ($ms ms)"
		else
			fail "$name" "want a handshake, got: $(echo "$out" | head -n 3 | tr '\n' ' ')"
		fi
	elif echo "$out" | grep -q "CONNECTION ESTABLISHED"; then
		fail "$name" "want a reset, but the handshake completed"
	elif [ "$ms" -ge "$RESET_MS" ]; then
		fail "$name" "no handshake, but it took $ms ms (a reset takes less than $RESET_MS): $(echo "$out" | head -n 2 | tr '\n' ' ')"
	else
		pass "$name" "SNI ${sni}: reset after $ms ms, no handshake ($(echo "$out" | grep -o 'errno=[0-9]*' | head -n 1))"
	fi
}

# http_check NAME HOST WANT: GET by address with Host HOST; WANT ok|reset.
http_check() {
	local name=$1 host=$2 want=$3 out res t0 ms

	t0=$(now_ms)
	out=$(ip netns exec "$NSA" timeout 5 "$BINDIR/sl-http" "$B4" "$P_HTTP" \
		"$host")
	ms=$(($(now_ms) - t0))
	res=${out#result=}
	if [ "$res" = "$want" ] && { [ "$want" = ok ] || [ "$ms" -lt "$RESET_MS" ]; }; then
		pass "$name" "Host $host: $res ($ms ms)"
	else
		fail "$name" "Host $host: want $want, got $out ($ms ms)"
	fi
}

# conn_of PORT: the conns entry of the TCP flow to PORT (the latest).
conn_of() {
	spk conns -c "$CONF" --json |
		jq -c --arg p "$1" '[.[] | select(.proto == "tcp" and (.dport | tostring) == $p)] | last // empty'
}

echo "# spackle names test (SNI, Host): $(openssl version), kernel $(uname -r)"
if ! ns_pair; then
	echo "FAIL setup: could not create the namespaces"
	exit 2
fi
if ! openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=spackle-test \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >"$TMP/req.out" 2>&1; then
	echo "FAIL setup: openssl req: $(cat "$TMP/req.out")"
	exit 2
fi

mkdir -p "$TMP/rules" "$TMP/db"
cat >"$TMP/rules/10-names.rules" <<EOF
# written by tests/netns/names.sh
allow out proto tcp to domain good.example port { $P_HTTP, 8440-8459 }
deny out proto tcp to domain evil.example port { $P_HTTP, 8440-8459 }
reject out proto tcp to { $B4, $B6 } port { $P_HTTP, 8440-8459 } note "no name"
EOF
CONF=$TMP/spackle.conf
cat >"$CONF" <<EOF
# written by tests/netns/names.sh
mode = enforce
divert = packet
default = allow
failure = open
rules = $TMP/rules
db = $TMP/db
control = $TMP/spackle.sock
queues = 2
queue_base = 4400
hooks = out, in
exempt = lo
EOF

ip netns exec "$NSB" "$BINDIR/sl-sink" "$B4" "$P_HTTP" "$TMP/http.log" 120 \
	>"$TMP/sink.out" 2>&1 &
PIDS+=("$!")
for n in 1 2 3 4 5 6 7 8 9; do
	addr=$B4
	[ "$n" = 6 ] || [ "$n" = 8 ] && addr=$B6
	clients=1
	[ "$n" -ge 7 ] && clients=2
	if ! tls_server "$n" "$addr" "$clients"; then
		echo "FAIL setup: openssl s_server $n did not listen: $(cat "$TMP/s_server-$n.out")"
		exit 2
	fi
done
if ! wait_for 50 grep -qs ready "$TMP/sink.out"; then
	echo "FAIL setup: sl-sink did not start"
	exit 2
fi

ip netns exec "$NSA" "$SPACKLE" run -c "$CONF" 2>"$TMP/daemon.log" \
	>/dev/null &
DAEMON=$!
PIDS+=("$DAEMON")
if ! wait_for 50 eval "spk status -c '$CONF' >/dev/null 2>&1"; then
	echo "FAIL setup: spackle run did not answer:"
	tail -n 20 "$TMP/daemon.log" | sed 's/^/#   /'
	exit 2
fi

tls_check tls-sni-allowed 1 "$B4" good.example ok
flow=$(conn_of $((P_TLS0 + 1)))
if echo "$flow" | jqe '.host == "good.example" and .host_from == "sni"
	and .verdict == "allow" and (.rule | test("10-names.rules:2$"))' \
	>/dev/null 2>&1; then
	pass conns-sni "$(echo "$flow" | jq -c '{host, host_from, verdict, rule, exe}')"
else
	fail conns-sni "want host good.example from sni, allowed by rule 2: ${flow:-no flow}"
fi
tls_check tls-sni-denied 2 "$B4" www.evil.example reset
flow=$(conn_of $((P_TLS0 + 2)))
if echo "$flow" | jqe '.host == "www.evil.example" and .verdict == "deny"
	and (.rule | test("10-names.rules:3$"))' >/dev/null 2>&1; then
	pass conns-deny "$(echo "$flow" | jq -c '{host, host_from, verdict, rule}')"
else
	fail conns-deny "want www.evil.example denied by rule 3: ${flow:-no flow}"
fi
tls_check tls-sni-unknown-name 3 "$B4" other.example reset
tls_check tls-no-sni 4 "$B4" - reset
tls_check tls-sni-allowed-again 5 "$B4" GOOD.Example. ok
tls_check tls6-sni-allowed 6 "$B6" api.good.example ok
# Both ends reset: the single-threaded server answers its next client.
tls_check tls-sni-denied-first 7 "$B4" www.evil.example reset
tls_check tls-server-free-after-deny 7 "$B4" good.example ok
tls_check tls6-sni-denied-first 8 "$B6" www.evil.example reset
tls_check tls6-server-free-after-deny 8 "$B6" good.example ok
# A reject rule (no name) resets both ends as well.
tls_check tls-no-sni-first 9 "$B4" - reset
tls_check tls-server-free-after-reject 9 "$B4" good.example ok
st=$(spk status -c "$CONF" --json | jq -r '.counters.peer_resets // 0')
if [ "$st" -eq 6 ]; then
	pass peer-resets "status: $st servers reset (3 denied by name, 3 refused for no name or an unknown one)"
else
	fail peer-resets "want 6 servers reset in status (cases 2, 3, 4, 7, 8, 9), got $st"
fi
http_check http-host-allowed good.example:8080 ok
http_check http-host-denied evil.example reset
http_check http-host-unknown example.net reset
if grep -q "http GET / HTTP/1.1" "$TMP/http.log" &&
	[ "$(grep -c '^http ' "$TMP/http.log")" -eq 1 ]; then
	pass http-server-side "the server saw the allowed request only"
else
	fail http-server-side "server log: $(tr '\n' ' ' <"$TMP/http.log")"
fi
flow=$(conn_of "$P_HTTP")
st=$(spk status -c "$CONF" --json)
if echo "$st" | jqe '.counters.name_holds >= 9 and .counters.names_sni >= 4
	and .counters.names_http >= 3 and .counters.names_missing >= 1' \
	>/dev/null 2>&1; then
	pass counters "$(echo "$st" | jq -c '.counters | {name_holds, names_sni, names_http, names_missing}')"
else
	fail counters "$(echo "$st" | jq -c '.counters')"
fi

kill -TERM "$DAEMON" 2>/dev/null
wait_for 50 eval "! alive $DAEMON" || fail sigterm "still running 5 s after SIGTERM"

echo "# $npass passed, $nfail failed"
if [ "$nfail" -ne 0 ]; then
	echo "# --- daemon log (last 15 lines)"
	tail -n 15 "$TMP/daemon.log" | sed 's/^/#   /'
	exit 1
fi
exit 0
