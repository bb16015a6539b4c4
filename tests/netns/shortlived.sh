#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Short-lived processes (issue 4): `spackle run` in namespace A decides by
# process rules the traffic of programs that send once and exit at once.
#
# Usage: shortlived.sh SPACKLE BINDIR   (BINDIR holds sl-tcp, sl-udp, sl-sink)
#
#   SPACKLE_SL_ROUNDS   rounds (default 100)
#   SPACKLE_SL_METHODS  attribution methods to run, one daemon each
#                       (default "bpf proc"; bpf is skipped, not failed,
#                       in a build without BPF)
#   SPACKLE_NETNS_KEEP  1: keep the temporary directory (configs, logs)
#
# Each round runs four executables one after another, each as a process of
# its own that sends one message to namespace B and exits at once: two
# copies of one TCP client under different paths (allowed/sl-tcp is
# allowed by a process rule, blocked/sl-tcp rejected by one) and two copies
# of one UDP sender (allowed/sl-udp allowed, blocked/sl-udp denied). A flow
# whose process is not known falls to a rule without process that gives it
# away: TCP is dropped (the client times out instead of being refused), UDP
# is rejected (counted apart from the denied). So every row must be 100/100
# for the reason the rules give, or the test fails. The programs run as a
# user of their own, as applications do (docs/attribution.md says why that
# matters for a sender that exits before its datagram is looked at), and a
# moment apart.
#
# All of it runs once per attribution method: `attribution = bpf` (the eBPF
# map names each socket's creator; status must say so and count bpf hits)
# and `attribution = proc` (fd tables and the proc connector; no bpf).
#
# Every command that touches networking runs under `ip netns exec`; the
# machine's own namespace is never changed. Waits are bounded; the EXIT trap
# kills what was started and deletes the namespaces. Exit 0 pass, 1 fail,
# 2 set-up failed, 77 skipped (not root).
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 SPACKLE BINDIR" >&2
	exit 2
fi
SPACKLE=$(readlink -f "$1")
BINDIR=$(readlink -f "$2")

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: not root (namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN)"
	exit 77
fi
for tool in ip iptables jq timeout setpriv; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL setup: $tool not found"
		exit 2
	fi
done
for b in sl-tcp sl-udp sl-sink; do
	if [ ! -x "$BINDIR/$b" ]; then
		echo "FAIL setup: $BINDIR/$b is not built"
		exit 2
	fi
done

ROUNDS=${SPACKLE_SL_ROUNDS:-100}
METHODS=${SPACKLE_SL_METHODS:-bpf proc}
ID=$$
NSA=spackle-sl-a-$ID
NSB=spackle-sl-b-$ID
VA=spsa$ID
VB=spsb$ID
A4=192.0.2.1
B4=192.0.2.2
P_TCP=7401
P_UDP=7402
# The programs' user and group: nobody else's processes exit as it.
TUID=$((40000 + ID % 20000))
# Seconds between two programs: back to back but for a breath, as a shell
# script or a build starts them.
GAP=0.01

TMP=$(mktemp -d /tmp/spackle-sl.XXXXXX) || exit 2
TMP=$(readlink -f "$TMP")
chmod 755 "$TMP"
PIDS=()
DAEMON=
SINK=
npass=0
nfail=0

# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
daemon_user || { echo "FAIL setup: the user spackle"; exit 2; }

in_a() {
	ip netns exec "$NSA" "$@"
}

trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# spackle short-lived test: $ROUNDS rounds x 4 executables per method ($METHODS), user $TUID, kernel $(uname -r)"
if ! ns_pair; then
	echo "FAIL setup: could not create the namespaces"
	exit 2
fi

# Two copies of each program under different paths, runnable by TUID.
for d in allowed blocked; do
	mkdir -p "$TMP/$d"
	cp "$BINDIR/sl-tcp" "$BINDIR/sl-udp" "$TMP/$d/"
	chmod 755 "$TMP/$d" "$TMP/$d/sl-tcp" "$TMP/$d/sl-udp"
done

mkdir -p "$TMP/rules"
cat >"$TMP/rules/10-shortlived.rules" <<EOF
# written by tests/netns/shortlived.sh
allow out process "$TMP/allowed/sl-tcp" proto tcp to $B4 port $P_TCP
reject out process "$TMP/blocked/sl-tcp" proto tcp to $B4 port $P_TCP
deny out proto tcp to $B4 port $P_TCP note "process unknown: dropped"
allow out process "$TMP/allowed/sl-udp" proto udp to $B4 port $P_UDP
deny out process "$TMP/blocked/sl-udp" proto udp to $B4 port $P_UDP
reject out proto udp to $B4 port $P_UDP note "process unknown: rejected"
EOF
# conf METHOD: the daemon's configuration with attribution = METHOD.
conf() {
	mkdir -p "$TMP/db-$1"
	cat >"$TMP/spackle-$1.conf" <<EOF
# written by tests/netns/shortlived.sh
mode = enforce
divert = packet
default = allow
failure = open
rules = $TMP/rules
db = $TMP/db-$1
control = $TMP/spackle-$1.sock
queues = 2
queue_base = 4300
hooks = out, in
exempt = lo
attribution = $1
EOF
}

: >"$TMP/sink.log"
ip netns exec "$NSB" "$BINDIR/sl-sink" "$B4" "$P_TCP" "$TMP/sink.log" 560 \
	>"$TMP/sink.out" 2>&1 &
SINK=$!
PIDS+=("$SINK")
# The UDP port is the sink's too: one more on P_UDP.
ip netns exec "$NSB" "$BINDIR/sl-sink" "$B4" "$P_UDP" "$TMP/sink.log" 560 \
	>"$TMP/sink2.out" 2>&1 &
PIDS+=("$!")
if ! wait_for 50 eval "grep -qs ready '$TMP/sink.out' && grep -qs ready '$TMP/sink2.out'"; then
	echo "FAIL setup: sl-sink did not start: $(cat "$TMP"/sink*.out)"
	exit 2
fi

# row KIND WANT: one row of method M's table.
row() {
	local kind=$1 want=$2 proto tagk arrived ran ok_exit n_exit ex

	proto=${kind##*-}
	tagk=${kind/\//-}
	ran=$(awk -v k="$kind" '$2 == k' "$TMP/rounds-$M.out" | wc -l)
	arrived=$(grep -c -- "^$proto $M-r[0-9]*-$tagk\$" "$TMP/sink.log")
	case $kind in
	allowed/sl-tcp) ok_exit=0 ;;
	blocked/sl-tcp) ok_exit=2 ;; # refused: the process rule's reject
	*) ok_exit=0 ;;              # sendto() takes it either way
	esac
	n_exit=$(awk -v k="$kind" -v e="$ok_exit" '$2 == k && $3 == e' \
		"$TMP/rounds-$M.out" | wc -l)
	if [ "$want" = arrive ]; then
		ex=$ROUNDS
		if [ "$ran" -eq "$ROUNDS" ] && [ "$arrived" -eq "$ROUNDS" ] &&
			[ "$n_exit" -eq "$ROUNDS" ]; then
			pass "$M $kind" "$arrived/$ROUNDS arrived (exit $ok_exit: $n_exit/$ROUNDS)"
		else
			fail "$M $kind" "$arrived/$ROUNDS arrived, exit $ok_exit: $n_exit/$ROUNDS, ran $ran"
		fi
	else
		ex=0
		if [ "$ran" -eq "$ROUNDS" ] && [ "$arrived" -eq 0 ] &&
			[ "$n_exit" -eq "$ROUNDS" ]; then
			pass "$M $kind" "$((ROUNDS - arrived))/$ROUNDS stopped, 0 arrived (exit $ok_exit: $n_exit/$ROUNDS)"
		else
			fail "$M $kind" "$((ROUNDS - arrived))/$ROUNDS stopped, $arrived arrived, exit $ok_exit: $n_exit/$ROUNDS, ran $ran"
		fi
	fi
	printf '%-16s %-8s %6s %8s %8s\n' "$kind" "$want" "$ran" "$arrived" "$ex" >>"$TMP/table-$M"
}

# The daemon's counters after the rounds ($st), and before them.
c() {
	echo "$st" | jq -r ".counters.$1 // 0"
}
b() {
	jq -r ".counters.$1 // 0" "$TMP/status-$M.before"
}

# run_method M: a daemon with attribution = M, the rounds, the checks.
run_method() {
	M=$1
	CONF=$TMP/spackle-$M.conf
	conf "$M"
	echo "# --- attribution = $M"
	# Not through in_a: $! must be the daemon itself (ip netns exec execs it).
	ip netns exec "$NSA" "$SPACKLE" run -c "$CONF" 2>"$TMP/daemon-$M.log" \
		>/dev/null &
	DAEMON=$!
	PIDS+=("$DAEMON")
	if ! wait_for 50 eval "spk status -c '$CONF' >/dev/null 2>&1"; then
		if [ "$M" = bpf ] && grep -qs "built without BPF" "$TMP/daemon-$M.log"; then
			echo "# SKIP attribution = bpf: $(grep -m1 "built without BPF" "$TMP/daemon-$M.log")"
			return 0
		fi
		echo "FAIL setup: spackle run did not answer within 5 s:"
		sed 's/^/#   /' "$TMP/daemon-$M.log" | tail -n 20
		exit 2
	fi
	spk status -c "$CONF" --json >"$TMP/status-$M.before"
	echo "# attribution: $(jq -c .attribution "$TMP/status-$M.before")"

	# The rounds, in namespace A by one shell: per program a line
	# "ROUND KIND EXIT".
	cat >"$TMP/rounds-$M.sh" <<-EOF
	for ((r = 1; r <= $ROUNDS; r++)); do
		for k in allowed/sl-tcp blocked/sl-tcp allowed/sl-udp blocked/sl-udp; do
			case \$k in *tcp) port=$P_TCP ;; *) port=$P_UDP ;; esac
			setpriv --reuid=$TUID --regid=$TUID --clear-groups \\
				"$TMP/\$k" $B4 \$port "$M-r\$r-\${k/\//-}"
			echo "\$r \$k \$?"
			sleep $GAP
		done
	done
	EOF
	t0=$(date +%s%3N)
	timeout 250 ip netns exec "$NSA" bash "$TMP/rounds-$M.sh" >"$TMP/rounds-$M.out" 2>&1
	echo "# attribution = $M: rounds took $(($(date +%s%3N) - t0)) ms"

	# Every allowed message in the log (bounded wait), then count.
	want=$((ROUNDS * 2))
	wait_for 30 eval "[ \$(grep -c -- '^[a-z]* $M-r[0-9]*-allowed-' '$TMP/sink.log') -ge $want ]"
	sleep 0.5
	st=$(spk status -c "$CONF" --json)
	echo "$st" >"$TMP/status-$M.after"

	printf '%-16s %-8s %6s %8s %8s\n' row want ran arrived expected >"$TMP/table-$M"
	row allowed/sl-tcp arrive
	row blocked/sl-tcp stop
	row allowed/sl-udp arrive
	row blocked/sl-udp stop
	sed 's/^/# /' "$TMP/table-$M"

	# The daemon's side: the blocked UDP datagrams dropped by their process
	# rule, the blocked TCP connections rejected by theirs, nothing fell to the
	# unknown-process rules (which drop TCP and reject UDP), and how each owner
	# was found.
	dropped=$(($(c dropped) - $(b dropped)))
	rejected=$(($(c rejected) - $(b rejected)))
	if [ "$dropped" -eq "$ROUNDS" ] && [ "$rejected" -eq "$ROUNDS" ]; then
		pass "$M verdicts" "$dropped dropped (blocked UDP), $rejected rejected (blocked TCP), none by the unknown-process rules"
	else
		fail "$M verdicts" "want $ROUNDS dropped and $ROUNDS rejected, got $dropped dropped, $rejected rejected"
	fi
	unknown=$(($(c attrib_unknown) + $(c attrib_timeouts)))
	echo "# flows renewed (a new socket on old ports) $(c flows_renewed)"
	echo "# attribution: lookups $(c attrib_lookups), by socket $(c attrib_found), after exit $(c attrib_exited), unknown $(c attrib_unknown), timeouts $(c attrib_timeouts), ambiguous $(c attrib_ambiguous); proc events $(c proc_events) (lost $(c proc_events_lost)), execs $(c proc_execs), exe missed $(c proc_exec_missed), read by the main thread $(c proc_exec_by_main), worst lag $(c proc_exec_lag_max_us) us"
	if [ "$unknown" -eq 0 ]; then
		pass "$M attribution" "every flow's process known"
	else
		fail "$M attribution" "$unknown flows with process unknown"
	fi

	# What a user checks: status names the method, and with bpf the
	# maps found owners (the TCP clients' connections by the connections
	# map, at their SYN; a UDP sender's socket is mostly gone before its
	# lookup, step 4).
	text=$(spk status -c "$CONF")
	hits=$(($(c attrib_bpf_hits) + $(c attrib_bpf_conn_hits)))
	if [ "$M" = bpf ]; then
		if echo "$text" | grep -q "^attribution: bpf (cgroup sock_create)" &&
			[ "$hits" -gt 0 ]; then
			pass "$M method" "status says bpf (cgroup sock_create), $hits bpf hits ($(c attrib_bpf_conn_hits) by connection), $(c attrib_bpf_misses) misses"
		else
			fail "$M method" "status: $(echo "$text" | grep '^attribution'), bpf hits $hits"
		fi
	else
		if echo "$text" | grep -q "^attribution: proc connector (bpf: attribution = proc)" &&
			[ "$hits" -eq 0 ]; then
			pass "$M method" "status says proc connector, no bpf hits"
		else
			fail "$M method" "status: $(echo "$text" | grep '^attribution'), bpf hits $hits"
		fi
	fi
	kill -TERM "$DAEMON" 2>/dev/null
	wait_for 50 eval "! alive $DAEMON" || fail "$M sigterm" "daemon still running 5 s after SIGTERM"
	if in_a iptables-save | grep -qi spackle; then
		fail "$M cleanup" "spackle rules left in namespace A"
	fi
}

for m in $METHODS; do
	run_method "$m"
done

echo "# $npass passed, $nfail failed"
if [ "$nfail" -ne 0 ]; then
	for m in $METHODS; do
		[ -f "$TMP/daemon-$m.log" ] || continue
		echo "# --- daemon log, attribution = $m (last 15 lines)"
		tail -n 15 "$TMP/daemon-$m.log" | sed 's/^/#   /'
	done
	exit 1
fi
exit 0
