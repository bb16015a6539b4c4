#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Namespace tests of the divert daemon: `spackle run` in namespace A, real
# TCP and UDP servers (nettool) in namespace B, a veth pair between them.
#
# Usage: run.sh SPACKLE NETTOOL
#
#   SPACKLE_DIVERT_MODE  packet (default), flow, tun, or a list ("packet
#                        flow tun"): the whole suite runs once per mode,
#                        with `divert = MODE` in the config (tun: `backend
#                        = tun`, `divert = packet`: the tunnel backend).
#   SPACKLE_FIREWALL     the config's `firewall =` (default auto)
#   SPACKLE_NETNS_KEEP   1: keep the temporary directory (configs, logs)
#
# One line per check: "PASS|FAIL|SKIP MODE/NAME: outcome (time)". Exit 0 when
# every check passed, 1 when one failed, 2 when the set-up failed, 77 when
# skipped (not root; `spackle run` not built yet).
#
# Every iptables, nft and traffic command runs under `ip netns exec`; the
# machine's own namespace is never touched. Every wait is bounded in count
# and time; the EXIT trap kills what was started and deletes the namespaces.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 SPACKLE NETTOOL" >&2
	exit 2
fi
SPACKLE=$(readlink -f "$1")
NETTOOL=$(readlink -f "$2")

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: not root (the namespace tests need CAP_NET_ADMIN and CAP_SYS_ADMIN)"
	exit 77
fi
if ! "$SPACKLE" help 2>/dev/null | grep -q '^  run '; then
	echo "SKIP: spackle run not built yet"
	exit 77
fi
for tool in ip iptables-save ip6tables-save iptables nft jq timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL setup: $tool not found (apt-get install iproute2 iptables nftables jq coreutils)"
		exit 2
	fi
done
if [ ! -x "$NETTOOL" ]; then
	echo "FAIL setup: nettool \"$NETTOOL\" is not executable"
	exit 2
fi

ID=$$
NSA=spackle-netns-a-$ID
NSB=spackle-netns-b-$ID
VA=spka$ID
VB=spkb$ID
A4=192.0.2.1
B4=192.0.2.2
A6=2001:db8::1
B6=2001:db8::2

P_ALLOW=7001
P_DENY=7002
P_REJECT=7003
P_USER=7004
P_PROC=7005
P_RELOAD=7006
P_IN_DENY=7010
P_IN_ALLOW=7011
P_IN_REJECT=7012
# tcp-ports' first local port (above the ephemeral range)
P_REUSE=61000
# Servers outlive no run: they exit by themselves after this many seconds.
SERVER_LIFETIME=290
# A denied TCP connect must not complete within this many ms: past the
# first SYN retransmission (the kernel's initial RTO is 1 s), so the rule
# is seen to hold for a retransmitted SYN too, not only the first.
DENY_WAIT_MS=1200
# A rejected connect or datagram must fail within this many ms.
REJECT_MS=1000

MODES=${SPACKLE_DIVERT_MODE:-packet}
MODES=${MODES//,/ }
FIREWALL=${SPACKLE_FIREWALL:-auto}
MODE=packet

TMP=$(mktemp -d /tmp/spackle-netns.XXXXXX) || exit 2
chmod 755 "$TMP"
RULES=$TMP/rules
PIDS=()
DAEMON=
DAEMON_LOG=
CONF=
RUNS=0
npass=0
nfail=0
nskip=0

# --- reporting --------------------------------------------------------------

# jqe (and the helpers run.sh redefines below for its own output).
# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
daemon_user || { echo "FAIL setup: the user spackle"; exit 2; }

pass() {
	echo "PASS $MODE/$1: $2"
	npass=$((npass + 1))
}

fail() {
	echo "FAIL $MODE/$1: $2"
	nfail=$((nfail + 1))
}

skip() {
	echo "SKIP $MODE/$1: $2"
	nskip=$((nskip + 1))
}

# kv KEY TEXT: the value of KEY=VALUE in nettool's output (first match).
kv() {
	local re="(^|[[:space:]])$1=([^[:space:]]+)"

	if [[ $2 =~ $re ]]; then
		echo "${BASH_REMATCH[2]}"
	fi
}

now_ms() {
	date +%s%3N
}

# --- processes and namespaces ------------------------------------------------

in_a() {
	ip netns exec "$NSA" "$@"
}

in_b() {
	ip netns exec "$NSB" "$@"
}

# alive PID: the process exists and is not a zombie.
alive() {
	local st

	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# bg NAME NS CMD...: start CMD in namespace NS in the background; its output
# goes to $TMP/NAME.out and .err; the PID is in $BG_PID. `ip netns exec`
# execs CMD, so the PID is CMD's own.
bg() {
	local name=$1 ns=$2

	shift 2
	# Emptied before the job starts (lib.sh's bg_a says why).
	: >"$TMP/$name.out"
	ip netns exec "$ns" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# wait_for TRIES CMD...: run CMD every 0.1 s until it succeeds, TRIES times.
wait_for() {
	local tries=$1 i

	shift
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# reap PID TRIES: wait for PID to exit (0.1 s steps); its status in $REAPED.
reap() {
	local pid=$1 tries=$2

	REAPED=
	wait_for "$tries" eval "! alive $pid" || return 1
	wait "$pid" 2>/dev/null
	REAPED=$?
	return 0
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local p

	set +e
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do
		alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		if ! wait_for 30 eval "! alive $p"; then
			kill -KILL "$p" 2>/dev/null
		fi
		wait "$p" 2>/dev/null
	done
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	if [ "${SPACKLE_NETNS_KEEP:-0}" = 1 ]; then
		echo "# kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A host firewall that spackle must leave as it found it: a rule of the
# host's own in each hook spackle uses (the tunnel backend's too) (this also makes iptables-nft create
# those built-in chains now, so the snapshot before and after compare).
host_rules() {
	local t o c p icmp

	for t in iptables ip6tables; do
		in_a "$t" -A OUTPUT -p tcp --dport 9 -m comment \
			--comment "host rule" -j DROP || return 1
		in_a "$t" -A INPUT -p tcp --dport 9 -m comment \
			--comment "host rule" -j DROP || return 1
		# mangle OUTPUT, where the tunnel backend marks.
		in_a "$t" -t mangle -A OUTPUT -p tcp --dport 9 -m comment \
			--comment "host rule" -j RETURN || return 1
		# Counters only, for tun_counts: packets the tunnel backend
		# marked, by protocol, once marked (OUTPUT, after spackle's
		# chain) and as they leave (POSTROUTING), and those that left
		# by the veth or lo, which should be none. (The tun is not
		# named: fw_same takes any "spackle" for a rule left behind.)
		icmp=icmp
		[ "$t" = ip6tables ] && icmp=ipv6-icmp
		for c in OUTPUT POSTROUTING; do
			for p in tcp udp "$icmp"; do
				in_a "$t" -t mangle -A "$c" -p "$p" -m mark \
					--mark 0xc00000/0xe00000 -m comment \
					--comment "host rule: marked $p" ||
					return 1
			done
		done
		for o in "$VA" lo; do
			in_a "$t" -t mangle -A POSTROUTING -o "$o" -m mark \
				--mark 0xc00000/0xe00000 -m comment --comment \
				"host rule: marked, out by $o" || return 1
		done
	done
}

# The firewall of namespace A without comments lines and counters.
fw_snapshot() {
	echo "## iptables-save"
	in_a iptables-save | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]/[]/g'
	echo "## ip6tables-save"
	in_a ip6tables-save | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]/[]/g'
	echo "## nft list ruleset"
	# (nft warns on stderr about tables iptables-nft manages: expected.)
	in_a nft list ruleset 2>/dev/null |
		sed -E -e '/^[[:space:]]*#/d' \
			-e 's/counter packets [0-9]+ bytes [0-9]+/counter/g'
	# The tunnel backend's share: policy routing, tc, the device.
	echo "## ip rule"
	in_a ip -4 rule show
	in_a ip -6 rule show
	echo "## routes of every table but local"
	in_a ip -4 route show table all | grep -v '^local\|table local'
	in_a ip -6 route show table all | grep -v '^local\|table local\|^multicast\|fe80::/64\|^anycast'
	echo "## tc"
	in_a tc qdisc show | grep -v 'qdisc noqueue'
	in_a tc filter show dev "$VA" ingress
	echo "## links"
	in_a ip -o link show | awk '{ print $2 }'
}

# start_server NAME NS KIND ADDR PORT: a nettool server, waited for.
start_server() {
	local name=$1 ns=$2 kind=$3 addr=$4 port=$5

	: >"$TMP/$name.log"
	bg "$name" "$ns" "$NETTOOL" "$kind" -a "$addr" -p "$port" \
		-t "$SERVER_LIFETIME" -o "$TMP/$name.log"
	wait_for 50 grep -qs '^ready' "$TMP/$name.out"
}

start_servers() {
	local p

	for p in $P_ALLOW $P_DENY $P_REJECT $P_USER $P_PROC $P_RELOAD; do
		start_server "tcp4-$p" "$NSB" tcp-server "$B4" "$p" || return 1
	done
	for p in $P_ALLOW $P_DENY $P_REJECT $P_PROC; do
		start_server "tcp6-$p" "$NSB" tcp-server "$B6" "$p" || return 1
	done
	for p in $P_ALLOW $P_DENY $P_REJECT; do
		start_server "udp4-$p" "$NSB" udp-server "$B4" "$p" || return 1
		start_server "udp6-$p" "$NSB" udp-server "$B6" "$p" || return 1
	done
	for p in $P_IN_DENY $P_IN_ALLOW $P_IN_REJECT; do
		start_server "in4-$p" "$NSA" tcp-server "$A4" "$p" || return 1
	done
}

# --- traffic checks -----------------------------------------------------------

# tcp_check NAME WANT ADDR PORT [ns a|b] [nettool options...]
# WANT: ok (connect and echo), timeout (no connect within DENY_WAIT_MS, and
# the server saw nothing), refused (ECONNREFUSED within REJECT_MS).
tcp_check() {
	local name=$1 want=$2 addr=$3 port=$4 ns=a out res ms log before after

	shift 4
	if [ "${1:-}" = b ] || [ "${1:-}" = a ]; then
		ns=$1
		shift
	fi
	case $addr in
	*:*) log=$TMP/tcp6-$port.log ;;
	*) log=$TMP/tcp4-$port.log ;;
	esac
	[ "$ns" = b ] && log=$TMP/in4-$port.log
	before=$(wc -l <"$log" 2>/dev/null || echo 0)
	if [ "$ns" = b ]; then
		out=$(in_b "$NETTOOL" tcp-connect -a "$addr" -p "$port" \
			-w "$DENY_WAIT_MS" -e "$@")
	else
		out=$(in_a "$NETTOOL" tcp-connect -a "$addr" -p "$port" \
			-w "$DENY_WAIT_MS" -e "$@")
	fi
	res=$(kv result "$out")
	ms=$(kv connect_ms "$out")
	after=$(wc -l <"$log" 2>/dev/null || echo 0)
	case $want in
	ok)
		if [ "$res" = ok ]; then
			pass "$name" "connect+echo ok ($ms ms)"
		else
			fail "$name" "want ok, got: $out"
		fi
		;;
	timeout)
		if [ "$res" != timeout ]; then
			fail "$name" "want timeout, got: $out"
		elif [ "$after" != "$before" ]; then
			fail "$name" "timed out but the server accepted a connection"
		else
			pass "$name" "no connect within $DENY_WAIT_MS ms ($ms ms)"
		fi
		;;
	refused)
		if [ "$res" != refused ]; then
			fail "$name" "want refused, got: $out"
		elif ! awk -v m="$ms" -v l="$REJECT_MS" 'BEGIN { exit !(m < l) }'; then
			fail "$name" "refused, but after $ms ms (limit $REJECT_MS)"
		else
			pass "$name" "ECONNREFUSED ($ms ms)"
		fi
		;;
	esac
	[ "$res" = "$want" ]
}

# udp_check NAME WANT ADDR PORT: 3 datagrams on a connected socket, tagged,
# counted by the server's log. WANT: ok (all 3 arrive and come back),
# timeout (none arrives), refused (ECONNREFUSED within REJECT_MS, none
# arrives).
udp_check() {
	local name=$1 want=$2 addr=$3 port=$4 out res ms log tag n fam=4

	case $addr in *:*) fam=6 ;; esac
	log=$TMP/udp$fam-$port.log
	tag="$MODE-$name-$RANDOM"
	tag=${tag//\//-}
	out=$(in_a "$NETTOOL" udp-send -a "$addr" -p "$port" -n 3 -T "$tag" \
		-w 1000)
	res=$(kv result "$out")
	ms=$(kv ms "$out")
	n=0
	if [ "$want" = ok ]; then
		wait_for 10 eval "[ \$(grep -c -- ' $tag ' '$log') -ge 3 ]"
	fi
	n=$(grep -c -- " $tag " "$log")
	case $want in
	ok)
		if [ "$res" = ok ] && [ "$n" -eq 3 ]; then
			pass "$name" "3/3 datagrams arrived and echoed ($ms ms)"
		else
			fail "$name" "want 3 arrived and echoed; server got $n; client: $out"
		fi
		;;
	timeout)
		# A kernel DROP in OUTPUT fails send() with EPERM, and the
		# tunnel's blackhole route (failure closed) with EINVAL; a
		# verdict from the queue cannot: either way nothing may arrive.
		if [ "$n" -eq 0 ] && { [ "$res" = timeout ] || [ "$res" = eperm ] ||
			{ [ "$res" = error ] && [ "$(kv errno "$out")" = 22 ]; }; }; then
			pass "$name" "0/3 datagrams arrived, client: $res ($ms ms)"
		else
			fail "$name" "want none arrived; server got $n; client: $out"
		fi
		;;
	refused)
		if [ "$res" != refused ] || [ "$n" -ne 0 ]; then
			fail "$name" "want ECONNREFUSED and none arrived; server got $n; client: $out"
		elif ! awk -v m="$ms" -v l="$REJECT_MS" 'BEGIN { exit !(m < l) }'; then
			fail "$name" "refused, but after $ms ms (limit $REJECT_MS)"
		else
			pass "$name" "ECONNREFUSED, 0/3 arrived ($ms ms)"
		fi
		;;
	esac
}

# --- the daemon -----------------------------------------------------------------

# write_conf NAME [key=value...]: $TMP/NAME.conf, the base config plus the
# overrides; sets $CONF.
write_conf() {
	local name=$1 kv_ key

	shift
	CONF=$TMP/$name.conf
	{
		echo "# written by tests/netns/run.sh"
		echo "mode = enforce"
		if [ "$MODE" = tun ]; then
			echo "backend = tun"
			echo "divert = packet"
		else
			echo "divert = $MODE"
		fi
		echo "default = allow"
		echo "failure = open"
		echo "rules = $RULES"
		echo "db = $TMP/db-$name"
		echo "control = $TMP/spackle-$name.sock"
		echo "queues = 2"
		echo "queue_base = 4200"
		echo "hooks = out, in"
		echo "exempt = lo"
		echo "firewall = $FIREWALL"
	} >"$CONF.base"
	cp "$CONF.base" "$CONF"
	for kv_ in "$@"; do
		key=${kv_%%=*}
		sed -i "s|^$key = .*|$key = ${kv_#*=}|" "$CONF"
	done
	rm -f "$CONF.base"
	mkdir -p "$TMP/db-$name"
}

spk() {
	timeout -k 1 10 ip netns exec "$NSA" "$SPACKLE" "$@"
}

# daemon_start NAME: start `spackle run -c $CONF` in A, wait until
# `spackle status` answers (50 x 0.1 s).
daemon_start() {
	local name=$1 t0 i

	RUNS=$((RUNS + 1))
	DAEMON_LOG=$TMP/daemon-$RUNS-$name.log
	t0=$(now_ms)
	ip netns exec "$NSA" "$SPACKLE" run -c "$CONF" 2>"$DAEMON_LOG" \
		>"$DAEMON_LOG.out" &
	DAEMON=$!
	PIDS+=("$DAEMON")
	for ((i = 0; i < 50; i++)); do
		if ! alive "$DAEMON"; then
			wait "$DAEMON" 2>/dev/null
			fail "$name/start" "spackle run exited with $? before it was ready; log:"
			sed 's/^/#   /' "$DAEMON_LOG" | tail -n 20
			DAEMON=
			return 1
		fi
		if spk status -c "$CONF" >/dev/null 2>&1; then
			pass "$name/start" "ready ($(($(now_ms) - t0)) ms)"
			return 0
		fi
		sleep 0.1
	done
	fail "$name/start" "spackle status did not answer within 5 s; log:"
	sed 's/^/#   /' "$DAEMON_LOG" | tail -n 20
	kill -KILL "$DAEMON" 2>/dev/null
	wait "$DAEMON" 2>/dev/null
	DAEMON=
	return 1
}

# daemon_stop NAME: SIGTERM; exit 0 within 5 s.
daemon_stop() {
	local name=$1 t0

	[ -n "$DAEMON" ] || return 1
	t0=$(now_ms)
	kill -TERM "$DAEMON"
	if ! reap "$DAEMON" 50; then
		fail "$name/sigterm" "still running 5 s after SIGTERM"
		kill -KILL "$DAEMON"
		wait "$DAEMON" 2>/dev/null
		DAEMON=
		return 1
	fi
	DAEMON=
	if [ "$REAPED" -ne 0 ]; then
		fail "$name/sigterm" "exit status $REAPED after SIGTERM; log:"
		sed 's/^/#   /' "$DAEMON_LOG" | tail -n 10
		return 1
	fi
	pass "$name/sigterm" "exit 0 ($(($(now_ms) - t0)) ms)"
}

# daemon_kill9 NAME: SIGKILL, and the kernel's steering stays behind.
daemon_kill9() {
	local name=$1

	# Disowned first, so bash does not report the job as "Killed".
	disown "$DAEMON" 2>/dev/null
	kill -KILL "$DAEMON"
	wait_for 50 eval "! alive $DAEMON"
	DAEMON=
	if fw_snapshot | grep -qi spackle; then
		pass "$name/kill9-steering-stays" "spackle's rules still installed after SIGKILL"
	else
		fail "$name/kill9-steering-stays" "no spackle rule left after SIGKILL"
	fi
}

# fw_same NAME: namespace A's firewall equals the snapshot before spackle.
fw_same() {
	local name=$1

	fw_snapshot >"$TMP/fw.after"
	if grep -qi spackle "$TMP/fw.after"; then
		fail "$name/rules-removed" "spackle rules left behind:"
		grep -i spackle "$TMP/fw.after" | sed 's/^/#   /'
	elif ! cmp -s "$TMP/fw.before" "$TMP/fw.after"; then
		fail "$name/rules-removed" "firewall differs from before start:"
		diff -u "$TMP/fw.before" "$TMP/fw.after" | sed 's/^/#   /'
	else
		pass "$name/rules-removed" "iptables-save, ip6tables-save, nft ruleset as before start"
	fi
}

# One jump per hook after a restart over stale rules (crash cleanup).
stale_cleaned() {
	local name=$1 t h n what=

	[ "$MODE" = tun ] && { stale_cleaned_tun "$name"; return; }
	if in_a nft list tables | grep -q 'table inet spackle'; then
		n=$(in_a nft list tables | grep -c 'table inet spackle')
		[ "$n" -eq 1 ] || what="$n nft tables"
	fi
	for t in iptables-save ip6tables-save; do
		for h in OUTPUT INPUT; do
			n=$(in_a "$t" -t filter | grep -c -- "^-A $h .*-j SPACKLE-")
			if [ "$n" -gt 1 ] ||
				{ [ "$n" -eq 0 ] && ! in_a nft list tables |
					grep -q 'table inet spackle'; }; then
				what="$what $t: $n jumps from $h;"
			fi
		done
	done
	if [ -z "$what" ]; then
		pass "$name/restart-cleans-stale" "one steering jump per hook and family after restart"
	else
		fail "$name/restart-cleans-stale" "after restart:$what"
	fi
}

# The tunnel's steering once after a restart over a killed run's: one
# marking jump per family, one fwmark rule per family, one redirect per
# family on the veth, one tun device.
stale_cleaned_tun() {
	local name=$1 n what=

	if in_a nft list tables | grep -q 'table inet spackle'; then
		n=$(in_a nft list tables | grep -c 'table inet spackle')
		[ "$n" -eq 1 ] || what="$what $n nft tables;"
	else
		for t in iptables-save ip6tables-save; do
			n=$(in_a "$t" -t mangle |
				grep -c -- '^-A OUTPUT -j SPACKLE-TUN')
			[ "$n" -eq 1 ] || what="$what $t: $n marking jumps;"
		done
	fi
	for f in -4 -6; do
		n=$(in_a ip "$f" rule show | grep -c '^21328:')
		[ "$n" -eq 1 ] || what="$what ip $f rule: $n spackle rules;"
	done
	n=$(in_a tc filter show dev "$VA" ingress | grep -c 'Egress Redirect')
	[ "$n" -eq 2 ] || what="$what tc: $n redirects on $VA;"
	n=$(in_a ip -o link show | grep -c ': spackle0[:@]')
	[ "$n" -eq 1 ] || what="$what $n spackle0 devices;"
	if [ -z "$what" ]; then
		pass "$name/restart-cleans-stale" "one marking jump, fwmark rule and redirect per family, one tun"
	else
		fail "$name/restart-cleans-stale" "after restart:$what"
	fi
}

# widest: the longest line of stdin, in characters (LC_ALL=C text: one a
# column).
widest() {
	awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }'
}

# text_views NAME: `conns` and `status` as a person reads them, each line
# in 100 columns; conns has its header and the flow to P_ALLOW, allowed,
# and with --wide the whole path of the rule; status's headings come in
# order after what needs attention (or the line saying nothing does).
text_views() {
	local name=$1 out wide heads w

	out=$(LC_ALL=C spk conns -c "$CONF")
	wide=$(LC_ALL=C spk conns -c "$CONF" --wide)
	w=$(printf '%s\n' "$out" | widest)
	if [ "$w" -le 100 ] &&
		printf '%s\n' "$out" | head -n 1 | grep -q '^dir proto local ' &&
		printf '%s\n' "$out" | grep -Eq ":$P_ALLOW +allow " &&
		printf '%s\n' "$wide" | grep -qF " $RULES/10-test.rules:"; then
		pass "$name/conns-text" "$(printf '%s\n' "$out" | wc -l) lines, the widest $w columns"
	else
		fail "$name/conns-text" "want <= 100 columns ($w), the header, an allowed flow to port $P_ALLOW, and with --wide $RULES/10-test.rules:
$out
--- wide
$wide"
	fi
	out=$(LC_ALL=C spk status -c "$CONF")
	w=$(printf '%s\n' "$out" | widest)
	heads=$(printf '%s\n' "$out" | awk 'body && /^[a-z]/ { sub(/:.*/, ""); printf "%s,", $0 } /^$/ { body = 1 }')
	if [ "$w" -le 100 ] && echo "$heads" | grep -Eq \
		'^(attention|nothing needs attention),divert,flows,names,(conntrack,)?attribution,store,(capture,)?rules,steering,$'; then
		pass "$name/status-text" "the widest line $w columns; $heads"
	else
		fail "$name/status-text" "want <= 100 columns ($w) and attention, divert, flows, names, (conntrack,) attribution, store, (capture,) rules, steering in order:
$out"
	fi
}

# conns_json: the live flows as one JSON array (an array, or one object a line).
# The packets queue NUM has been given ("id_sequence" in the namespace's
# /proc/net/netfilter/nfnetlink_queue), 0 when it is not bound.
queue_seq() {
	in_a awk -v q="$1" '$1 == q { print $8; f = 1 } END { if (!f) print 0 }' \
		/proc/net/netfilter/nfnetlink_queue
}

# queue_spread NAME ADDR PORT: 24 connections from A to ADDR:PORT, one
# after the other; every balanced queue (4200, 4201) must have been given
# packets of them.
queue_spread() {
	local name=$1 addr=$2 port=$3 i b0 b1 d0 d1

	b0=$(queue_seq 4200)
	b1=$(queue_seq 4201)
	i=0
	while [ $i -lt 24 ]; do
		in_a "$NETTOOL" tcp-connect -a "$addr" -p "$port" -w 2000 \
			>/dev/null 2>&1
		i=$((i + 1))
	done
	d0=$(($(queue_seq 4200) - b0))
	d1=$(($(queue_seq 4201) - b1))
	if [ "$d0" -gt 0 ] && [ "$d1" -gt 0 ]; then
		pass "$name" "24 connections to $addr:$port: queue 4200 got $d0 packets, 4201 got $d1"
	else
		fail "$name" "24 connections to $addr:$port: queue 4200 got $d0 packets, 4201 got $d1 (want both > 0)"
	fi
}

conns_json() {
	spk conns -c "$CONF" --json |
		jq -s 'if length == 1 and (.[0] | type) == "array" then .[0] else . end'
}

CONN_KEYS='["proto","src","sport","dst","dport","dir","pid","exe","uid","host","verdict","rule","packets_out","packets_in","bytes_out","bytes_in","first_ns","last_ns"]'
STATUS_KEYS='["mode","backend","firewall","queues","uptime","counters"]'
COUNTER_KEYS='["received","accepted","dropped","rejected","malformed","enobufs","flows_live","flows_evicted"]'

# bulk_check NAME ADDR PORT: 32 MiB to the echo server at ADDR PORT and
# back through the filter, every byte checked (nettool tcp-bulk). Where
# the daemon sees every packet (packet mode, the tunnel), the stream also
# crossed it as GSO super-packets, whole (status's gso_received grew), and
# the tunnel cut those leaving into segments itself (gso_segments grew:
# divert/tun_gso.c).
bulk_check() {
	local name=$1 addr=$2 port=$3 out before after

	before=$(spk status -c "$CONF" --json | jq -c '.counters | {gso_received, gso_segments}')
	out=$(in_a "$NETTOOL" tcp-bulk -a "$addr" -p "$port" -n 32768 -w 10000)
	after=$(spk status -c "$CONF" --json | jq -c '.counters | {gso_received, gso_segments}')
	if [ "$(kv result "$out")" != ok ]; then
		fail "$name" "want every byte back: $out"
		return
	fi
	if [ "$MODE" = flow ] ||
		jq -en --argjson b "$before" --argjson a "$after" --arg m "$MODE" \
			'$a.gso_received > $b.gso_received and
			 ($m != "tun" or $a.gso_segments > $b.gso_segments)' >/dev/null; then
		pass "$name" "$out; before $before, after $after"
	else
		fail "$name" "want super-packets through whole ($MODE): before $before, after $after; $out"
	fi
}

# hold_conn NAME ADDR PORT [nettool options]: a connection held open 4 s in
# the background; its local port in $HELD_PORT.
hold_conn() {
	local name=$1 addr=$2 port=$3

	shift 3
	HELD_PORT=
	bg "hold-$RUNS-$name" "$NSA" "$NETTOOL" tcp-connect -a "$addr" \
		-p "$port" -w "$DENY_WAIT_MS" -e -H 4000 "$@"
	if ! wait_for 30 grep -qs '^result=' "$TMP/hold-$RUNS-$name.out"; then
		return 1
	fi
	HELD_PORT=$(kv local_port "$(cat "$TMP/hold-$RUNS-$name.out")")
	[ "$(kv result "$(cat "$TMP/hold-$RUNS-$name.out")")" = ok ]
}

# flow_of PORT SPORT: the conns entry of the TCP flow to PORT from SPORT.
flow_of() {
	conns_json | jq -c --arg d "$1" --arg s "$2" \
		'[.[] | select(.proto == "tcp" and (.dport | tostring) == $d
		   and (.sport | tostring) == $s)] | first // empty'
}

rule_ref() {
	local n

	n=$(grep -n -F -x -- "$1" "$RULES/10-test.rules" | cut -d: -f1)
	echo "10-test.rules:$n"
}

write_rules() {
	rm -rf "$RULES"
	mkdir -p "$RULES"
	cat >"$RULES/10-test.rules" <<EOF
# written by tests/netns/run.sh; checks find their rule by its text
allow out proto tcp to $B4 port $P_ALLOW
deny out proto tcp to $B4 port $P_DENY
reject out proto tcp to $B4 port $P_REJECT
allow out proto udp to $B4 port $P_ALLOW
deny out proto udp to $B4 port $P_DENY
reject out proto udp to $B4 port $P_REJECT
allow out proto tcp to $B6 port $P_ALLOW
deny out proto tcp to $B6 port $P_DENY
reject out proto tcp to $B6 port $P_REJECT
allow out proto udp to $B6 port $P_ALLOW
deny out proto udp to $B6 port $P_DENY
reject out proto udp to $B6 port $P_REJECT
deny out user 65534 proto tcp to $B4 port $P_USER
deny out process "*/nettool-other" proto tcp to $B4 port $P_PROC
deny out process "*/nettool-other" proto tcp to $B6 port $P_PROC
deny in proto tcp port $P_IN_DENY
reject in proto tcp port $P_IN_REJECT
EOF
}

# --- scenarios --------------------------------------------------------------------

# Without a daemon every port answers, so a timeout or a refusal later is
# the daemon's doing.
scenario_baseline() {
	local p

	for p in $P_ALLOW $P_DENY $P_REJECT $P_USER $P_PROC $P_RELOAD; do
		tcp_check "tcp4-$p" ok "$B4" "$p"
	done
	for p in $P_ALLOW $P_DENY $P_REJECT; do
		tcp_check "tcp6-$p" ok "$B6" "$p"
		udp_check "udp4-$p" ok "$B4" "$p"
		udp_check "udp6-$p" ok "$B6" "$p"
	done
	tcp_check "in4-$P_IN_DENY" ok "$A4" "$P_IN_DENY" b
	tcp_check "in4-$P_IN_ALLOW" ok "$A4" "$P_IN_ALLOW" b
	tcp_check "in4-$P_IN_REJECT" ok "$A4" "$P_IN_REJECT" b
	tcp_check uid-65534 ok "$B4" "$P_USER" -u 65534
}

# port_reuse_check ADDR FIRST SUFFIX: one program's 40 connections to ADDR
# end (a reset each) and another program opens 40 on the same local ports
# (FIRST and up) at once, the first still running (the check is
# enforce/port-reuseSUFFIX): each is a flow of its own,
# decided for its own program. In flow mode the kernel reopens each
# conntrack entry (a SYN on a closed entry ends it, with a destroy
# event), and the daemon ends the old flow before it classifies the SYN:
# else the SYN met the allowed program's flow and passed.
port_reuse_check() {
	local addr=$1 first=$2 a b name=port-reuse$3

	bg "reuse-$RUNS$3" "$NSA" "$NETTOOL" tcp-ports -a "$addr" \
		-p "$P_PROC" -b "$first" -n 40 -w 2000 -H 8000
	wait_for 50 grep -qs '^result=' "$TMP/reuse-$RUNS$3.out"
	a=$(grep '^result=' "$TMP/reuse-$RUNS$3.out")
	b=$(in_a "$TMP/bin/nettool-other" tcp-ports -a "$addr" -p "$P_PROC" \
		-b "$first" -n 40 -w "$DENY_WAIT_MS")
	# The store's flows on those ports (flow mode ends a denied flow at
	# the next conntrack dump: it has no entry), each program's by
	# verdict: the ports it has a flow on.
	REUSE_FLOWS=
	wait_for 30 reuse_flows_stored "$addr" "$first"
	if [ "$(kv connected "$a")" = 40 ] && [ "$(kv connected "$b")" = 0 ] &&
		echo "$REUSE_FLOWS" | jqe '.["nettool allow"] == 40 and
		.["nettool-other deny"] == 40 and
		(keys - ["nettool allow", "nettool-other deny"] | length) == 0' \
		>/dev/null 2>&1; then
		pass "enforce/$name" "allowed program: $a; then the denied one on the same ports: $b; the store's flows there, ports by program and verdict: $REUSE_FLOWS"
	else
		fail "enforce/$name" "want the allowed program's 40 connected, then the denied one's 0, each with 40 flows of its own: $a; $b; ports by program and verdict: ${REUSE_FLOWS:-none}"
	fi
}

# reuse_flows_stored ADDR FIRST: the store's flows to ADDR from
# port_reuse_check's ports: {"PROGRAM VERDICT": ports} in REUSE_FLOWS;
# true when the denied program has all 40.
reuse_flows_stored() {
	REUSE_FLOWS=$(spk log -c "$CONF" --json 2>/dev/null | jq -sc \
		--arg a "$1" --arg d "$P_PROC" --argjson lo "$2" '[.[] |
		select(.proto == "tcp" and .dst == $a and
		(.dport | tostring) == $d and (.sport | tonumber) >= $lo and
		(.sport | tonumber) < $lo + 40) |
		{k: ((.exe // "?" | split("/") | last) + " " + .verdict),
		 p: .sport}] | group_by(.k) |
		map({key: .[0].k, value: (map(.p) | unique | length)}) |
		from_entries')
	echo "$REUSE_FLOWS" | jqe '.["nettool-other deny"] == 40' >/dev/null 2>&1
}

scenario_enforce() {
	local s flow ref out err rc st saved n other dropped

	write_conf enforce
	# The denied packets' capture, written by the daemon (as its user)
	# through its writer thread.
	mkdir -p "$TMP/cap-enforce"
	chown spackle: "$TMP/cap-enforce"
	echo "capture_denied = $TMP/cap-enforce/denied.pcap" >>"$CONF"
	daemon_start enforce || return

	st=$(spk status -c "$CONF" --json)
	if echo "$st" | jqe --argjson k "$STATUS_KEYS" --argjson c "$COUNTER_KEYS" \
		'(($k - keys) | length == 0) and (.counters | type == "object")
		 and (($c - (.counters | keys)) | length == 0) and .mode == "enforce"' \
		>/dev/null 2>&1; then
		pass enforce/status-json "$(echo "$st" | jq -c '{mode, backend, firewall, queues}')"
	else
		fail enforce/status-json "missing keys or mode: $st"
	fi

	# Each thread is named for its work, as top -H and ps -L show it: a
	# worker per queue (DNS's too), the store's writer, and the writer of
	# the denied packets' capture.
	out=$(echo "$st" | jq -r '[range(.queue_base; .queue_base + .queues)]
		+ [.dns_queue | numbers] | map("spackle-q\(.)")
		+ ["spackle-store", "spackle-log"] | .[]' | sort)
	s=$(sort -u /proc/"$DAEMON"/task/*/comm 2>/dev/null)
	err=$(comm -23 <(echo "$out") <(echo "$s") | tr '\n' ' ')
	if [ -n "$out" ] && [ -z "$err" ]; then
		pass enforce/thread-names "$(echo "$s" | tr '\n' ' ')"
	else
		fail enforce/thread-names "missing: ${err:-all} (threads: $(echo "$s" | tr '\n' ' '))"
	fi

	# 1-3, 10: allow, deny, reject over TCP and UDP, IPv4 and IPv6.
	tcp_check enforce/tcp4-allow ok "$B4" "$P_ALLOW"
	tcp_check enforce/tcp4-deny timeout "$B4" "$P_DENY"
	tcp_check enforce/tcp4-reject refused "$B4" "$P_REJECT"
	udp_check enforce/udp4-allow ok "$B4" "$P_ALLOW"
	udp_check enforce/udp4-deny timeout "$B4" "$P_DENY"
	udp_check enforce/udp4-reject refused "$B4" "$P_REJECT"
	tcp_check enforce/tcp6-allow ok "$B6" "$P_ALLOW"
	tcp_check enforce/tcp6-deny timeout "$B6" "$P_DENY"
	tcp_check enforce/tcp6-reject refused "$B6" "$P_REJECT"
	udp_check enforce/udp6-allow ok "$B6" "$P_ALLOW"
	udp_check enforce/udp6-deny timeout "$B6" "$P_DENY"
	udp_check enforce/udp6-reject refused "$B6" "$P_REJECT"
	bulk_check enforce/tcp4-bulk "$B4" "$P_ALLOW"
	bulk_check enforce/tcp6-bulk "$B6" "$P_ALLOW"
	# Neighbour discovery under the steering: with the host's IPv6
	# neighbour entries gone, a connection finds its peer again (the tun
	# backend's ingress redirect took the advertisements once).
	in_a ip -6 neigh flush all
	tcp_check enforce/tcp6-neighbour ok "$B6" "$P_ALLOW"
	tcp_check enforce/tcp4-default-allow ok "$B4" "$P_RELOAD"

	# 4: user rules use the uid of the sending socket.
	tcp_check enforce/user-65534-deny timeout "$B4" "$P_USER" -u 65534
	tcp_check enforce/user-root-allow ok "$B4" "$P_USER"

	# Many connections between one pair of hosts spread over both
	# queues (the split hashes ports too: pfconf/queue_split.c).
	if [ "$MODE" != tun ]; then
		queue_spread enforce/queue-spread "$B4" "$P_ALLOW"
	fi

	# Inbound: a new connection into A is decided by `in` rules.
	tcp_check enforce/in-deny timeout "$A4" "$P_IN_DENY" b
	tcp_check enforce/in-allow ok "$A4" "$P_IN_ALLOW" b
	# The reset REJECT sends back leaves through the out hook: it must
	# reach the peer (flow mode: the kernel passes it by its mark).
	tcp_check enforce/in-reject refused "$A4" "$P_IN_REJECT" b

	# conns --json: a held allowed flow, its fields, rule and uid.
	if hold_conn enforce-conns "$B4" "$P_ALLOW"; then
		flow=$(flow_of "$P_ALLOW" "$HELD_PORT")
		ref=$(rule_ref "allow out proto tcp to $B4 port $P_ALLOW")
		if [ -z "$flow" ]; then
			fail enforce/conns-json "no flow to port $P_ALLOW from port $HELD_PORT in: $(conns_json | head -c 600)"
		elif echo "$flow" | jqe --argjson k "$CONN_KEYS" --arg r "$ref" \
			'(($k - keys) | length == 0) and .verdict == "allow"
			 and (.rule | endswith($r)) and .dir == "out"
			 and (.uid | tostring) == "0" and .packets_out > 0
			 and .packets_in > 0' >/dev/null; then
			pass enforce/conns-json "$(echo "$flow" | jq -c '{verdict, rule, uid, exe, packets_out, packets_in}')"
		else
			fail enforce/conns-json "want every key, allow, $ref, uid 0, dir out, packets both ways: $flow"
		fi
	else
		fail enforce/conns-json "could not hold a connection to port $P_ALLOW"
		flow=
	fi
	text_views enforce

	# 4b: process rules, once attribution fills in `exe`.
	if [ -n "$flow" ] && echo "$flow" | jqe '.exe != null' >/dev/null; then
		mkdir -p "$TMP/bin"
		cp "$NETTOOL" "$TMP/bin/nettool-other"
		saved=$NETTOOL
		NETTOOL=$TMP/bin/nettool-other
		tcp_check enforce/process-other-deny timeout "$B4" "$P_PROC"
		NETTOOL=$saved
		tcp_check enforce/process-nettool-allow ok "$B4" "$P_PROC"
		# One process: its exe looked up as bash's (a connection through
		# /dev/tcp), then exec'd into nettool-other: the rule for the
		# new program, not for the exe known for its pid.
		printf '#!/bin/bash\nexec 3<>/dev/tcp/%s/%s || exit 3\nexec 3>&-\nexec %q "$@"\n' \
			"$B4" "$P_ALLOW" "$TMP/bin/nettool-other" >"$TMP/bin/exec-other"
		chmod +x "$TMP/bin/exec-other"
		NETTOOL=$TMP/bin/exec-other
		tcp_check enforce/process-exec-deny timeout "$B4" "$P_PROC"
		NETTOOL=$saved
		# The eBPF exe cache: one process's 20 connections, its exe
		# read for the first (a fork or exec elsewhere in its slot may
		# cost a read more).
		st=$(spk status -c "$CONF" --json)
		if [ "$(echo "$st" | jq -r '.attribution.exe_cache')" = true ]; then
			before=$(echo "$st" | jq '.counters.attrib_exe_cached')
			in_a "$NETTOOL" tcp-latency -a "$B4" -p "$P_ALLOW" -n 20 \
				-w 3000 >/dev/null
			after=$(spk status -c "$CONF" --json |
				jq '.counters.attrib_exe_cached')
			if [ $((after - before)) -ge 15 ]; then
				pass enforce/exe-cache "$((after - before)) of 20 owners' exe from the cache"
			else
				fail enforce/exe-cache "want at least 15 of 20 owners' exe from the cache, got $((after - before))"
			fi
		else
			skip enforce/exe-cache "no exe cache: $(echo "$st" | jq -r '.attribution.exe_cache_off // .attribution.method')"
		fi
		port_reuse_check "$B4" "$P_REUSE" ""
		port_reuse_check "$B6" "$((P_REUSE + 100))" 6
	else
		skip enforce/process "process attribution not yet available (conns shows exe null)"
	fi

	# 9: a bad reload keeps the old rules; a good one changes a new flow.
	printf 'allow out proto tcp to %s port %s\nallow out bogus\n' "$B4" \
		"$P_RELOAD" >"$RULES/20-bad.rules"
	err=$(spk rules reload -c "$CONF" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -eq 1 ] && echo "$err" | grep -Eq '20-bad\.rules:2:[0-9]+:'; then
		pass enforce/reload-bad "exit 1: $(echo "$err" | grep -E '20-bad\.rules:2:' | head -n 1)"
	else
		fail enforce/reload-bad "want exit 1 and 20-bad.rules:2:COL on stderr; exit $rc, stderr: $err"
	fi
	rm -f "$RULES/20-bad.rules"
	tcp_check enforce/reload-bad-keeps-deny timeout "$B4" "$P_DENY"
	tcp_check enforce/reload-bad-keeps-allow ok "$B4" "$P_ALLOW"
	alive "$DAEMON" || fail enforce/reload-bad "the daemon died"

	# A connection lives across the reload that rejects its port.
	local live_id=
	if hold_conn reload-live "$B4" "$P_RELOAD"; then
		live_id=$(flow_of "$P_RELOAD" "$HELD_PORT" | jq -r '.id // empty')
	fi
	echo "reject out proto tcp to $B4 port $P_RELOAD" >"$RULES/30-reload.rules"
	out=$(spk rules reload -c "$CONF" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		pass enforce/reload-good "exit 0"
	else
		fail enforce/reload-good "exit $rc: $out"
	fi
	tcp_check enforce/reload-good-new-flow refused "$B4" "$P_RELOAD"
	# The live flow is decided again, and the store keeps that as an
	# event of its own.
	if [ -z "$live_id" ]; then
		fail enforce/reload-live-flow "no live flow to port $P_RELOAD before the reload"
	elif flow=$(flow_of "$P_RELOAD" "$HELD_PORT") &&
		echo "$flow" | jqe '.verdict == "reject"' >/dev/null 2>&1; then
		pass enforce/reload-live-flow "flow $live_id: $(echo "$flow" | jq -c '{verdict, rule}')"
	else
		fail enforce/reload-live-flow "want verdict reject for flow $live_id: ${flow:-gone}"
	fi
	if [ -n "$live_id" ] && wait_for 30 eval "spk log -c '$CONF' --events --json |
		jqe --argjson id $live_id 'any(.[]; .type == \"verdict\" and .flow == \$id and .text == \"allow -> reject\")' >/dev/null 2>&1"; then
		pass enforce/reload-verdict-event "spackle log --events: verdict, flow $live_id, allow -> reject"
	else
		fail enforce/reload-verdict-event "no verdict event for flow ${live_id:-?}: $(spk log -c "$CONF" --events 2>&1 | tail -n 3)"
	fi

	# SIGHUP: the same reload; the reject goes away again.
	rm -f "$RULES/30-reload.rules"
	kill -HUP "$DAEMON"
	s=$(now_ms)
	if wait_for 30 eval "in_a '$NETTOOL' tcp-connect -a $B4 -p $P_RELOAD -w 500 >/dev/null"; then
		pass enforce/sighup-reload "port $P_RELOAD allowed again ($(($(now_ms) - s)) ms after SIGHUP)"
	else
		fail enforce/sighup-reload "port $P_RELOAD still not allowed 3 s after SIGHUP"
	fi

	# The config as it started: a reload names no key as changed
	# (`firewall = auto` was decided at start; still auto is the same).
	out=$(spk rules reload -c "$CONF" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && ! echo "$out" | grep -q 'applied only by a restart'; then
		pass enforce/reload-same-config "$(echo "$out" | tail -n 1)"
	else
		fail enforce/reload-same-config "want exit 0 naming no key; exit $rc: $out"
	fi

	# A key a reload cannot apply: the reload applies the rules and
	# names the key as waiting for a restart; the daemon keeps its value.
	cp "$CONF" "$CONF.before"
	echo "store_flush_ms = 750" >>"$CONF"
	out=$(spk rules reload -c "$CONF" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && echo "$out" |
		grep -q 'applied only by a restart: store_flush_ms$'; then
		pass enforce/reload-restart-keys "$(echo "$out" | tail -n 1)"
	else
		fail enforce/reload-restart-keys "want exit 0 naming store_flush_ms; exit $rc: $out"
	fi
	mv "$CONF.before" "$CONF"

	st=$(spk status -c "$CONF" --json)
	if echo "$st" | jqe '.counters.received > 0 and .counters.dropped > 0
		and .counters.rejected > 0' >/dev/null 2>&1; then
		pass enforce/counters "$(echo "$st" | jq -c .counters)"
	else
		fail enforce/counters "want received, dropped, rejected > 0: $st"
	fi

	[ "$MODE" = tun ] && tun_audit
	daemon_stop enforce
	fw_same enforce

	# Every denied packet reached the capture (the stop writes what was
	# handed over); nothing else did.
	out=$(tcpdump -nn -r "$TMP/cap-enforce/denied.pcap" 2>/dev/null)
	n=$(echo "$out" | grep -c "\.$P_DENY: ")
	other=$(echo "$out" | grep -vc -e "\.$P_DENY: " -e '^$')
	dropped=$(echo "$st" | jq '.counters.dropped + .counters.rejected')
	if [ "$n" -gt 0 ] && [ "$n" -le "$dropped" ]; then
		pass enforce/capture-denied "$n packets to port $P_DENY in the capture ($other to other ports, which were rejected), $dropped denied or rejected by the time of the last status"
	else
		fail enforce/capture-denied "want 1..$dropped packets to port $P_DENY in $TMP/cap-enforce/denied.pcap, got $n: $(echo "$out" | head -n 3)"
	fi

	# Whatever the backend, the flows it decided are the store's, and
	# replay of their capture and explain decide them alike.
	local rp lg ex
	rp=$("$SPACKLE" replay "$TMP/cap-enforce/denied.pcap" -c "$CONF" \
		--json 2>/dev/null | jq -sc --arg p "$P_DENY" --arg d "$B4" \
		'[.[] | select(.proto == "tcp" and .dst == $d and
		(.dport | tostring) == $p)]')
	lg=$("$SPACKLE" log -c "$CONF" --json 2>/dev/null | jq -sc --arg p \
		"$P_DENY" --arg d "$B4" '[.[] | select(.proto == "tcp" and
		.dst == $d and (.dport | tostring) == $p)]')
	ex=$("$SPACKLE" explain -c "$CONF" --proto tcp --dst "$B4" \
		--dport "$P_DENY" --json 2>/dev/null |
		jq -c '{verdict, rule: "\(.rule.file):\(.rule.line)"}')
	if jq -en --argjson rp "${rp:-null}" --argjson lg "${lg:-null}" \
		--argjson ex "${ex:-null}" '($rp | length) > 0 and
		($rp | all(.verdict == "deny" and .rule == $ex.rule)) and
		$ex.verdict == "deny" and
		($rp | all(.sport as $s | any($lg[]; .sport == $s and
			.verdict == "deny" and .rule == $ex.rule)))' >/dev/null 2>&1; then
		pass enforce/replay-explain-store "$(jq -n --argjson rp "$rp" '$rp | length') denied flows: replay, explain and spackle log say deny by $(echo "$ex" | jq -r .rule | sed 's|.*/||')"
	else
		fail enforce/replay-explain-store "replay: ${rp:-none}; explain: ${ex:-none}; log: $(echo "${lg:-}" | head -c 400)"
	fi
}

# Where a packet on its way into the tunnel can be lost or counted twice,
# for a failure's message: the mark rules, where marked packets left (the
# host rules' counters in POSTROUTING), the stack's own drops, the
# redirects (their drops), the device's qdisc and its own counters.
tun_counts() {
	local t

	{
		for t in iptables ip6tables; do
			echo "$t:"
			in_a "$t-save" -c -t mangle | awk '/--set-xmark|marked/ {
				c = $0; sub(/.*--comment /, "", c)
				sub(/ -j .*/, "", c)
				print $1, $3, c }'
		done
		in_a nstat -asz | grep -E 'OutNoRoutes|OutDiscards'
		in_a conntrack -S 2>/dev/null |
			grep -oE '(drop|insert_failed|invalid)=[1-9][0-9]*'
		in_a tc -s filter show dev "$VA" ingress |
			grep -E 'mirred|Sent|dropped'
		in_a tc -s qdisc show dev spackle0
		for f in tx_packets tx_dropped rx_packets; do
			echo "$f $(in_a cat /sys/class/net/spackle0/statistics/$f)"
		done
	} 2>&1 | tr -s ' \n' ' ' | head -c 2500
}

# The tunnel backend's audit: its counters (marked out, redirected in,
# the device's own) add up with the daemon's; with the IPv4 redirect on
# the veth taken away, the steering check names the interface and the wire
# tap finds the inbound stream that now reaches A past the tunnel.
tun_audit() {
	local j=$TMP/tun-audit.json

	spk audit -c "$CONF" --json >"$j" 2>"$j.err"
	if jq -e '.counters.adds_up and .steering.ok and .verdict == "clean"
		and .counters.tun.marked_out > 0 and .counters.tun.redirected_in > 0
		and .counters.tun.device_sent >= .counters.received' "$j" >/dev/null 2>&1; then
		pass enforce/tun-audit-clean "$(jq -c '.counters | {sent_to_queues, received, tun}' "$j")"
	else
		fail enforce/tun-audit-clean "want clean, adds up, both ways counted: $(head -c 600 "$j" "$j.err"); $(tun_counts)"
	fi
	in_a tc filter del dev "$VA" ingress pref 21330
	bg "tun-bypass" "$NSB" "$NETTOOL" tcp-stream -a "$A4" -p "$P_IN_ALLOW" \
		-d 5 -i 100 -w 1000
	wait_for 30 grep -qs '^connected' "$TMP/tun-bypass.out"
	timeout -k 1 15 ip netns exec "$NSA" "$SPACKLE" audit -c "$CONF" \
		--watch 2 --json >"$j" 2>"$j.err"
	if jq -e --arg va "$VA" --arg p "$P_IN_ALLOW" '.verdict == "holes"
		and (.steering.hooks | any(.hook == "tc ingress" and .ok == false
			and .missing == $va))
		and (.hidden | any(.proto == "tcp" and
			((.dport | tostring) == $p or (.sport | tostring) == $p)))' \
		"$j" >/dev/null 2>&1; then
		pass enforce/tun-audit-bypass "$(jq -c '{verdict, steering: [.steering.hooks[] | select(.ok == false)], hidden: [.hidden[] | {proto, src, sport, dst, dport, dir, cause}][0]}' "$j")"
	else
		fail enforce/tun-audit-bypass "want holes naming $VA and the stream to port $P_IN_ALLOW hidden: $(head -c 800 "$j" "$j.err")"
	fi
}

# The tunnel backend starts under traffic: a stream from A, a message a
# millisecond, runs while the daemon starts. Its steering goes in route
# first and marks after, so no packet is marked before the route into the
# tunnel is there (one that is leaves past the tunnel, unseen): the audit
# after start adds up, nothing passed unseen.
scenario_tun_start() {
	local j=$TMP/tun-start.json

	write_conf tunstart
	bg "tun-start-stream" "$NSA" "$NETTOOL" tcp-stream -a "$B4" \
		-p "$P_ALLOW" -d 3 -i 1 -w 1000
	if ! wait_for 30 grep -qs '^connected' "$TMP/tun-start-stream.out"; then
		fail tunstart/stream "the stream did not connect: $(head -c 300 "$TMP/tun-start-stream.err")"
		return
	fi
	daemon_start tunstart || return
	wait_for 60 grep -qs '^result' "$TMP/tun-start-stream.out"
	spk audit -c "$CONF" --json >"$j" 2>"$j.err"
	if grep -qs '^result=ok' "$TMP/tun-start-stream.out" &&
		jq -e '.counters.adds_up and .counters.passed_unseen == 0
		and .counters.tun.marked_out > 0' "$j" >/dev/null 2>&1; then
		pass tunstart/audit-clean "$(grep '^result' "$TMP/tun-start-stream.out"); $(jq -c '.counters | {received, passed_unseen, tun}' "$j")"
	else
		fail tunstart/audit-clean "want the stream whole and an audit that adds up: $(grep '^result' "$TMP/tun-start-stream.out"); $(jq -c '.counters | {received, passed_unseen, difference, tun}' "$j" 2>&1 | head -c 600); $(tun_counts)"
	fi
	daemon_stop tunstart
	fw_same tunstart
}

# ct_mark SPORT DPORT PROTO: the conntrack mark of A's flow (from
# /proc/net/nf_conntrack in A), empty when there is none.
ct_mark() {
	in_a cat /proc/net/nf_conntrack 2>/dev/null |
		awk -v s="sport=$1" -v d="dport=$2" -v p="$3" '
		$3 == p && index($0, " " s " ") && index($0, " " d " ") {
			for (i = 1; i <= NF; i++)
				if ($i ~ /^mark=/) { print substr($i, 6); exit }
		}'
}

# Flow mode alone: the kernel passes a decided flow's later packets by its
# conntrack mark. Counters still match what was sent, a reload re-decides a
# live flow at once, and another program's mark bits are left alone.
# ct_counter NAME: a counter of status --json (0 when absent).
ct_counter() {
	spk status -c "$CONF" --json | jq -r ".counters.$1 // 0"
}

# flow_events_split: each worker's conntrack socket gets its own flows'
# destroy events (pfconf/queue_split.c's event filter): 12 UDP flows end
# (A's UDP timeout at 1 s for the while), and the workers read fewer than
# two events per flow ended, where without the split each of the three
# would read every one.
flow_ends_seen() {
	[ $(($(ct_counter ct_flows_ended) - $1)) -ge 12 ]
}
flow_events_split() {
	local split e0 r0 e1 r1 i old

	split=$(ct_counter ct_split_workers)
	e0=$(ct_counter ct_flows_ended)
	r0=$(ct_counter ct_events_read)
	old=$(in_a sysctl -n net.netfilter.nf_conntrack_udp_timeout)
	in_a sysctl -qw net.netfilter.nf_conntrack_udp_timeout=1
	for i in $(seq 12); do
		in_a "$NETTOOL" udp-send -a "$B4" -p "$P_ALLOW" -n 1 \
			-T "split-$i" -w 1000 >/dev/null 2>&1
	done
	wait_for 300 flow_ends_seen "$e0"
	in_a sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$old"
	e1=$(($(ct_counter ct_flows_ended) - e0))
	r1=$(($(ct_counter ct_events_read) - r0))
	if [ "$split" = 3 ] && [ "$e1" -ge 12 ] && [ "$r1" -lt $((2 * e1)) ]; then
		pass flow/ct-events-split "3 workers with an event filter; $e1 flows ended, $r1 destroy events read"
	else
		fail flow/ct-events-split "want 3 workers split, 12 or more flows ended and fewer than 2 events read a flow: $split split, $e1 ended, $r1 read"
	fi
}

scenario_flow() {
	local out flow n st mark

	# Another program's bits: 0x1 in the conntrack mark, 0x2 in the
	# packet mark, set before spackle's chain sees the packet (and in
	# place before spackle starts and after it stops, as the host's).
	in_a iptables -t mangle -A OUTPUT -j CONNMARK --or-mark 0x1
	in_a iptables -t mangle -A OUTPUT -j MARK --or-mark 0x2
	cp "$TMP/fw.before" "$TMP/fw.before.saved"
	fw_snapshot >"$TMP/fw.before"
	write_conf flowmode
	daemon_start flowmode || return

	# 20 datagrams and their 20 echoes on one socket: one crosses the
	# divert, conntrack counts the rest.
	out=$(in_a "$NETTOOL" udp-send -a "$B4" -p "$P_ALLOW" -n 20 \
		-T "flow-count" -w 1000)
	n=$(kv echoed "$out")
	flow=$(conns_json | jq -c --arg d "$P_ALLOW" '[.[] | select(.proto ==
		"udp" and (.dport | tostring) == $d)] | last // empty')
	if [ "${n:-0}" -ge 19 ] && echo "$flow" | jqe --argjson n "$n" \
		'.packets_out >= 20 and .packets_out <= 22 and
		 .packets_in >= $n and .packets_in <= $n + 2' >/dev/null 2>&1; then
		pass flow/counters "20 sent, $n echoed; conns: $(echo "$flow" | jq -c '{packets_out, packets_in, bytes_out, bytes_in}')"
	else
		fail flow/counters "want packets_out 20..22 and packets_in echoed..+2 (echoed $n: $out): ${flow:-no flow}"
	fi
	# Most of those passed in the kernel by their flow's mark, which
	# audit counts beside what crossed the divert.
	st=$(spk audit -c "$CONF" --json 2>/dev/null)
	if echo "$st" | jqe '.counters.fast_path >= 30 and .counters.adds_up' \
		>/dev/null 2>&1; then
		pass flow/fast-path "audit: $(echo "$st" | jq -c '.counters | {sent_to_queues, received, fast_path, adds_up}')"
	else
		fail flow/fast-path "want at least 30 packets passed by mark, counters adding up: $(echo "$st" | jq -c .counters 2>/dev/null)"
	fi
	mark=$(ct_mark "$(echo "$flow" | jq -r .sport)" "$P_ALLOW" udp)
	if [ -n "$mark" ] && [ $((mark & 0x1)) -eq 1 ] &&
		[ $((mark & 0xe00000)) -eq $((0x200000)) ] &&
		[ $((mark & ~0xe00001)) -eq 0 ]; then
		pass flow/foreign-mark "conntrack mark $(printf 0x%x "$mark"): the other program's 0x1 kept, spackle's accept 0x200000 beside it"
	else
		fail flow/foreign-mark "want mark 0x200001, got ${mark:-none}"
	fi

	flow_events_split

	# A live TCP stream to P_RELOAD; a reload rejects the port: the
	# stream stops at once (the kernel drops by the new mark).
	bg flow-stream "$NSA" "$NETTOOL" tcp-stream -a "$B4" -p "$P_RELOAD" \
		-d 6 -i 100 -w 1000
	local pid=$BG_PID
	if ! wait_for 30 grep -qs '^connected' "$TMP/flow-stream.out"; then
		fail flow/reload-live "the stream did not connect: $(cat "$TMP/flow-stream.out")"
	else
		# Some echoes first: the flow is established and marked.
		wait_for 30 eval "[ \$(grep -cs '^echo ' '$TMP/flow-stream.out') -ge 3 ]"
		echo "deny out proto tcp to $B4 port $P_RELOAD" \
			>"$RULES/30-reload.rules"
		spk rules reload -c "$CONF" >/dev/null 2>&1
		wait_for 40 eval "! alive $pid"
		out=$(grep '^result=' "$TMP/flow-stream.out")
		if [ "$(kv result "$out")" = stalled ]; then
			pass flow/reload-live "the live stream stalled after the reload: $out"
		else
			fail flow/reload-live "want result=stalled: ${out:-still running}"
		fi
		rm -f "$RULES/30-reload.rules"
		spk rules reload -c "$CONF" >/dev/null 2>&1
	fi
	daemon_stop flowmode
	fw_same flowmode
	in_a iptables -t mangle -D OUTPUT -j CONNMARK --or-mark 0x1
	in_a iptables -t mangle -D OUTPUT -j MARK --or-mark 0x2
	mv "$TMP/fw.before.saved" "$TMP/fw.before"
}

# 5: monitor mode accepts what enforce would deny, and records it.
scenario_monitor() {
	local flow

	write_conf monitor mode=monitor
	daemon_start monitor || return
	tcp_check monitor/tcp4-would-reject ok "$B4" "$P_REJECT"
	udp_check monitor/udp4-would-deny ok "$B4" "$P_DENY"
	if hold_conn monitor "$B4" "$P_DENY"; then
		pass monitor/tcp4-would-deny "connect+echo ok"
		flow=$(flow_of "$P_DENY" "$HELD_PORT")
		if echo "$flow" | jqe '.verdict == "deny" and .monitor == true' \
			>/dev/null 2>&1; then
			pass monitor/conns-records-deny "$(echo "$flow" | jq -c '{verdict, monitor, rule}')"
		else
			fail monitor/conns-records-deny "want verdict deny, monitor true: ${flow:-no flow}"
		fi
	else
		fail monitor/tcp4-would-deny "connection to port $P_DENY failed: $(cat "$TMP/hold-$RUNS-monitor.out")"
	fi
	daemon_stop monitor
	fw_same monitor
}

# 6: failure = open: after SIGKILL, new flows pass and a stream carries on.
scenario_fail_open() {
	local out kill_ms after res

	write_conf open failure=open
	daemon_start open || return
	tcp_check open/tcp4-allow ok "$B4" "$P_ALLOW"
	bg "stream-$RUNS" "$NSA" "$NETTOOL" tcp-stream -a "$B4" -p "$P_ALLOW" \
		-d 4 -i 100 -w 3000
	local spid=$BG_PID
	if ! wait_for 30 eval "[ \$(grep -cs '^echo ' '$TMP/stream-$RUNS.out') -ge 3 ]"; then
		fail open/stream-before-kill "stream did not start: $(cat "$TMP/stream-$RUNS.out")"
	fi
	kill_ms=$(now_ms)
	daemon_kill9 open
	# The store outlives its daemon: the history reads without it.
	out=$("$SPACKLE" log -c "$CONF" --json 2>&1)
	if printf '%s\n' "$out" | jq -s -e --arg d "$B4" --argjson p "$P_ALLOW" \
		'map(select(.dst == $d and .dport == $p and .verdict == "allow")) | length >= 1' \
		>/dev/null 2>&1; then
		pass open/log-after-kill9 "spackle log shows the allowed flows of the killed daemon"
	else
		fail open/log-after-kill9 "no allowed flow to $B4:$P_ALLOW in spackle log: $(printf '%s' "$out" | head -c 300)"
	fi
	tcp_check open/after-kill9-tcp4-new ok "$B4" "$P_DENY"
	udp_check open/after-kill9-udp4-new ok "$B4" "$P_DENY"
	tcp_check open/after-kill9-tcp6-new ok "$B6" "$P_DENY"
	if reap "$spid" 100; then
		out=$(cat "$TMP/stream-$RUNS.out")
		res=$(kv result "$out")
		after=$(awk -v k="$kill_ms" '/^echo / { split($3, a, "="); if (a[2] > k) n++ } END { print n + 0 }' \
			"$TMP/stream-$RUNS.out")
		if [ "$res" = ok ] && [ "$after" -ge 10 ]; then
			pass open/established-stream "$after echoes after SIGKILL, max gap $(kv maxgap_ms "$out") ms"
		else
			fail open/established-stream "result $res, $after echoes after SIGKILL: $(tail -n 1 "$TMP/stream-$RUNS.out")"
		fi
	else
		fail open/established-stream "the stream client did not end"
	fi

	# A restart removes the stale rules and attaches again.
	daemon_start open-restart || return
	stale_cleaned open
	tcp_check open/restart-deny-again timeout "$B4" "$P_DENY"
	daemon_stop open
	fw_same open
}

# 7: failure = closed: after SIGKILL nothing passes.
scenario_fail_closed() {
	write_conf closed failure=closed
	daemon_start closed || return
	tcp_check closed/tcp4-allow ok "$B4" "$P_ALLOW"
	daemon_kill9 closed
	tcp_check closed/after-kill9-tcp4-new timeout "$B4" "$P_ALLOW"
	udp_check closed/after-kill9-udp4-new timeout "$B4" "$P_ALLOW"
	daemon_start closed-restart || return
	stale_cleaned closed
	tcp_check closed/restart-allow ok "$B4" "$P_ALLOW"
	daemon_stop closed
	fw_same closed
}

# --- main ----------------------------------------------------------------------------

echo "# spackle netns test: $("$SPACKLE" version 2>/dev/null), kernel $(uname -r), $(iptables -V 2>/dev/null)"
echo "# namespaces $NSA ($A4, $A6) <-> $NSB ($B4, $B6); modes: $MODES; firewall = $FIREWALL"
if ! ns_pair; then
	echo "FAIL setup: could not create the namespaces and veth pair"
	exit 2
fi
if ! host_rules; then
	echo "FAIL setup: could not add the host rules in $NSA"
	exit 2
fi
if ! start_servers; then
	echo "FAIL setup: a nettool server did not start:"
	cat "$TMP"/*.err | sed 's/^/#   /'
	exit 2
fi
write_rules
fw_snapshot >"$TMP/fw.before"
MODE=nodaemon
scenario_baseline
if [ "$nfail" -ne 0 ]; then
	echo "FAIL setup: the test network does not work without a daemon"
	exit 2
fi

for MODE in $MODES; do
	case $MODE in
	packet | flow | tun) ;;
	*)
		echo "FAIL setup: SPACKLE_DIVERT_MODE: \"$MODE\" is not packet, flow or tun"
		exit 2
		;;
	esac
	echo "# divert = $MODE"
	[ "$MODE" = tun ] && scenario_tun_start
	scenario_enforce
	scenario_monitor
	scenario_fail_open
	scenario_fail_closed
	[ "$MODE" = flow ] && scenario_flow
done

echo "# $npass passed, $nfail failed, $nskip skipped"
if [ "$nfail" -ne 0 ]; then
	for f in "$TMP"/daemon-*.log; do
		[ -s "$f" ] || continue
		echo "# --- $(basename "$f") (last 15 lines)"
		tail -n 15 "$f" | sed 's/^/#   /'
	done
	exit 1
fi
[ "$npass" -gt 0 ] || exit 1
exit 0
