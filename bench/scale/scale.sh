#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/scale: spackle with many flows, in network namespaces: 100,000 live
# flows (packet and flow mode), then 1,000,000 flows through a table at its
# default cap. Prints one table: the daemon's memory, how long `status`,
# `conns` and `conns --json` take to answer, and what the table counted,
# each beside the same daemon empty (ratios in parentheses).
#
# Usage: scale.sh [SPACKLE [NETTOOL]]   (as root)
#
#   defaults: build/spackle, build/tests/netns/nettool
#   SCALE_FLOWS     live flows of the first columns (100000)
#   SCALE_THROUGH   flows through the table in the last column (1000000)
#   SCALE_RATE      new flows a second the sender keeps to (20000)
#   SCALE_CALLS     timed calls of conns and of conns --json (3; status
#                   gets 10)
#   SCALE_COLUMNS   which columns (packet flow through)
#   SCALE_USER      spackle's `user =` (spackle, as installed)
#   SCALE_STATUS    PREFIX: save `spackle status --json` at the end of each
#                   column to PREFIX.COLUMN.json
#
# The daemon and a UDP echo server run in namespace A, the sender in B,
# a veth pair between them (192.0.2.1 <-> 192.0.2.2). B also holds
# SCALE_ADDRS addresses from 192.0.2.16 on; `nettool udp-spray` sends one
# datagram from each of FLOWS distinct (address, port) ends to the server
# through a raw socket, and the server answers each: every flow crosses
# spackle's in hook, and its answer the out hook. Nothing runs in, or
# changes the firewall of, the machine's own namespace.
#
# Exits 1 when the daemon died during a column or diverted no packet (the
# numbers would not be its own); never on a value.
set -eu

nettool=build/tests/netns/nettool
[ -x "$nettool" ] || nettool=build/bench/divert/nettool
SPACKLE=$(readlink -f "${1:-build/spackle}")
NETTOOL=$(readlink -f "${2:-$nettool}")
FLOWS=${SCALE_FLOWS:-100000}
THROUGH=${SCALE_THROUGH:-1000000}
RATE=${SCALE_RATE:-20000}
CALLS=${SCALE_CALLS:-3}
STATUS_CALLS=10
COLUMNS_RUN=${SCALE_COLUMNS:-packet flow through}
SCALE_STATUS=${SCALE_STATUS:-}
SCALE_ADDRS=32

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/scale: needs root (network namespaces, netfilter queues)" >&2
	exit 77
fi
for tool in ip iptables jq; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench/scale: $tool not found (apt-get install iproute2 iptables jq)" >&2
		exit 2
	fi
done
for f in "$SPACKLE" "$NETTOOL"; do
	if [ ! -x "$f" ]; then
		echo "bench/scale: $f is not built (cmake --build build)" >&2
		exit 2
	fi
done

A4=192.0.2.1
B4=192.0.2.2
SRC0=192.0.2.16
PORT=7300
ID=$$
TMP=$(mktemp -d /tmp/spackle-bench-scale.XXXXXX)
# spackle drops to its user after set-up, as installed; it reads TMP.
"$(dirname "$0")/../../etc/add-user.sh" >/dev/null
chmod 0755 "$TMP"
PIDS=()
NSA=
NSB=
HZ=$(getconf CLK_TCK)

alive() {
	local st

	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

wait_for() {
	local tries=$1 i

	shift
	for ((i = 0; i < tries; i++)); do
		if "$@"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

in_a() {
	ip netns exec "$NSA" "$@"
}

bg() {
	local name=$1 ns=$2

	shift 2
	ip netns exec "$ns" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

stop_all() {
	local p

	for p in "${PIDS[@]}"; do
		if alive "$p"; then
			kill -TERM "$p" 2>/dev/null || true
		fi
	done
	for p in "${PIDS[@]}"; do
		# The daemon writes its flows' last records at stop: 30 s.
		if ! wait_for 300 eval "! alive $p"; then
			kill -KILL "$p" 2>/dev/null || true
		fi
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
}

ns_down() {
	stop_all
	if [ -n "$NSA" ]; then
		ip netns del "$NSA" 2>/dev/null || true
	fi
	if [ -n "$NSB" ]; then
		ip netns del "$NSB" 2>/dev/null || true
	fi
	NSA=
	NSB=
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	trap - EXIT INT TERM
	ns_down
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ns_up N: a fresh pair of namespaces for column N, the echo server in A.
ns_up() {
	local i

	NSA=spackle-scale-a-$ID-$1
	NSB=spackle-scale-b-$ID-$1
	ip netns add "$NSA"
	ip netns add "$NSB"
	ip link add "ssca$ID" netns "$NSA" type veth peer name "sscb$ID" \
		netns "$NSB"
	ip -n "$NSA" link set lo up
	ip -n "$NSB" link set lo up
	ip -n "$NSA" addr add "$A4/24" dev "ssca$ID"
	ip -n "$NSB" addr add "$B4/24" dev "sscb$ID"
	for ((i = 0; i < SCALE_ADDRS; i++)); do
		ip -n "$NSB" addr add "192.0.2.$((16 + i))/24" dev "sscb$ID"
	done
	ip -n "$NSA" link set "ssca$ID" up
	ip -n "$NSB" link set "sscb$ID" up
	wait_for 50 eval "ip -n $NSA link show ssca$ID | grep -q 'state UP'"
	# The sender has no socket on its ports: B would answer each echo
	# with a port unreachable, a flow of its own in A.
	ip netns exec "$NSB" iptables -A OUTPUT -p icmp \
		--icmp-type destination-unreachable -j DROP
	bg "server-$1" "$NSA" "$NETTOOL" udp-server -a "$A4" -p "$PORT" -t 900
	wait_for 50 grep -qs '^ready' "$TMP/server-$1.out"
}

# start_spackle COL MODE: the daemon in A; sets DPID, or returns 1.
start_spackle() {
	mkdir -p "$TMP/rules" "$TMP/db-$1"
	echo "allow any" >"$TMP/rules/10-all.rules"
	CONF=$TMP/spackle-$1.conf
	cat >"$CONF" <<EOF
mode = enforce
divert = $2
default = allow
failure = open
rules = $TMP/rules
db = $TMP/db-$1
control = $TMP/spackle-$1.sock
hooks = out, in
exempt = lo
user = ${SCALE_USER:-spackle}
EOF
	chown -R "${SCALE_USER:-spackle}" "$TMP/db-$1" 2>/dev/null || true
	bg "spackle-$1" "$NSA" "$SPACKLE" run -c "$CONF"
	DPID=$BG_PID
	if ! wait_for 100 eval "alive $DPID && in_a '$SPACKLE' status -c '$CONF' >/dev/null 2>&1"; then
		NOTES+=("$2: spackle run did not become ready: $(tail -n 1 "$TMP/spackle-$1.err")")
		return 1
	fi
}

# rss PID FIELD: VmRSS, VmHWM, RssAnon or RssFile of PID in MiB.
rss() {
	awk -v f="$2:" '$1 == f { printf "%.1f\n", $2 / 1024 }' \
		"/proc/$1/status" 2>/dev/null || echo n/a
}

cpu_ticks() {
	local st f

	st=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return
	}
	st=${st##*) }
	read -r -a f <<<"$st"
	echo $((f[11] + f[12]))
}

# counter NAME: one of status --json's counters (n/a without an answer).
counter() {
	jq -r ".counters.$1 // \"n/a\"" "$TMP/status.json" 2>/dev/null ||
		echo n/a
}

# Namespace A's queues: packets queued, dropped, passed unqueued (the
# NFQUEUE rules' hits less the first two: a full fail-open queue).
queue_stats() {
	local q d hits

	read -r q d < <(in_a cat /proc/net/netfilter/nfnetlink_queue \
		2>/dev/null | awk '{ q += $8; d += $6 + $7 }
		END { printf "%d %d\n", q, d }')
	hits=$(in_a iptables-save -c 2>/dev/null | awk '/-j NFQUEUE/ &&
		match($0, /^\[[0-9]+:/) { s += substr($0, 2, RLENGTH - 2) }
		END { print s + 0 }')
	echo "$q $d $((hits - q - d < 0 ? 0 : hits - q - d))"
}

# timed N NAME ARGS...: run `spackle ARGS -c CONF` N times in A, output
# to TMP/NAME.out; sets T_P50 and T_MAX (ms, wall clock) and T_OK (calls
# that answered, of N).
timed() {
	local n=$1 name=$2

	shift 2
	# One bash in A runs the calls, so no `ip netns exec` is timed.
	# shellcheck disable=SC2016 # expanded by that bash
	in_a bash -c 'n=$1 out=$2 sp=$3 conf=$4; shift 4
		for ((i = 0; i < n; i++)); do
			t0=$EPOCHREALTIME
			if "$sp" "$@" -c "$conf" >"$out" 2>&1; then r=0; else r=1; fi
			echo "$t0 $EPOCHREALTIME $r"
		done' bash "$n" "$TMP/$name.out" "$SPACKLE" "$CONF" "$@" \
		>"$TMP/$name.times"
	read -r T_P50 T_MAX T_OK < <(awk '{ print ($2 - $1) * 1000, $3 }' \
		"$TMP/$name.times" | sort -n | awk '
		{ v[NR] = $1; if ($2 == 0) ok++ }
		END { printf "%.1f %.1f %d\n", v[int((NR + 1) / 2)], v[NR], ok }')
	if [ "$T_OK" -lt "$n" ]; then
		NOTES+=("$COLNAME: $name answered $T_OK of $n calls: $(tail -n 1 "$TMP/$name.out")")
	fi
}

# live COL KEY: flows_live from status, into V[COL,KEY].
live() {
	in_a "$SPACKLE" status -c "$CONF" --json >"$TMP/status.json" 2>&1 ||
		true
	V[$1,$2]=$(counter flows_live)
}

# measure COL N REFRESH: what the daemon answers and holds now, into
# V[COL,*]; N calls of conns and of conns --json. With REFRESH, the flows
# are sent again before each (packet mode: they would idle out, 60 s,
# while the calls run; no new flow is made).
measure() {
	local c=$1 n=$2 ping ok

	live "$c" live
	V[$c,created]=$(counter flows_created)
	V[$c,evicted]=$(counter flows_evicted)
	V[$c,rss]=$(rss "$DPID" VmRSS)
	V[$c,anon]=$(rss "$DPID" RssAnon)
	V[$c,file]=$(rss "$DPID" RssFile)
	timed "$STATUS_CALLS" status status
	V[$c,st50]=$T_P50 V[$c,stmax]=$T_MAX
	ok=$T_OK
	# A ping through one worker while conns runs: how long the worker
	# stood still building its part of the answer.
	bg "ping-$c" "$NSA" "$NETTOOL" ping -a "$B4" -n 30000 -i 10 -w 1000
	ping=$BG_PID
	[ -n "$3" ] && send_flows "$c" "$3" refresh
	live "$c" live_cn
	timed "$n" conns conns
	V[$c,cn50]=$T_P50 V[$c,cnmax]=$T_MAX
	ok=$((ok + T_OK))
	V[$c,lines]=$(($(wc -l <"$TMP/conns.out") - 1))
	[ -n "$3" ] && send_flows "$c" "$3" refresh
	live "$c" live_cj
	timed "$n" conns-json conns --json
	V[$c,cj50]=$T_P50 V[$c,cjmax]=$T_MAX
	ok=$((ok + T_OK))
	V[$c,jlen]=$(jq 'length' "$TMP/conns-json.out" 2>/dev/null ||
		echo n/a)
	kill -TERM "$ping" 2>/dev/null || true
	wait "$ping" 2>/dev/null || true
	V[$c,ping]=$(sed -n 's/.*max_ms=\([0-9.]*\).*/\1/p' "$TMP/ping-$c.out")
	V[$c,ping]=${V[$c,ping]:-n/a}
	V[$c,hwm]=$(rss "$DPID" VmHWM)
	V[$c,calls]="$ok/$((STATUS_CALLS + 2 * n))"
}

# send_flows COL N [refresh]: N flows from B at RATE a second, with the
# daemon's CPU meanwhile; a refresh sends the same flows again (no new
# flow: their verdicts are cached) and records nothing.
send_flows() {
	local c=$1 n=$2 rate=$RATE t0 t1 out

	t0=$(cpu_ticks "$DPID")
	out=$(ip netns exec "$NSB" "$NETTOOL" udp-spray -a "$A4" -p "$PORT" \
		-s "$SRC0" -k "$SCALE_ADDRS" -n "$n" -r "$rate" \
		-d $((n * 2 / rate + 30)) -w 3000 -L 16) || true
	t1=$(cpu_ticks "$DPID")
	# The last answers' packets may still be in the daemon's hands.
	sleep 1
	[ "${3:-}" = refresh ] && return 0
	V[$c,sent]=$(sed -n 's/.* sent=\([0-9]*\).*/\1/p' <<<"$out")
	V[$c,answered]=$(sed -n 's/.* answered=\([0-9]*\).*/\1/p' <<<"$out")
	V[$c,secs]=$(sed -n 's/.* secs=\([0-9.]*\).*/\1/p' <<<"$out")
	V[$c,cpu]=$(awk -v d=$((t1 - t0)) -v hz="$HZ" \
		'BEGIN { printf "%.2f\n", d / hz }')
}

# after COL: the queues' and the daemon's loss counters.
losses() {
	local c=$1

	read -r "V[$c,queued]" "V[$c,qdrops]" "V[$c,unqueued]" \
		<<<"$(queue_stats)"
	in_a "$SPACKLE" status -c "$CONF" --json >"$TMP/status.json" 2>&1 ||
		true
	V[$c,enobufs]=$(counter enobufs)
	V[$c,storelost]=$(counter store_lost)
	V[$c,storewritten]=$(counter store_written)
	if [ -n "$SCALE_STATUS" ]; then
		cp "$TMP/status.json" "$SCALE_STATUS.$c.json"
	fi
}

# daemon_up COL MODE: fresh namespaces and a daemon in divert MODE.
# Returns 1 when it did not start.
daemon_up() {
	ns_up "$1"
	if [ "$2" = flow ]; then
		# A's conntrack keeps the datagrams' flows alive as long as
		# spackle's table would (its UDP timeout, 60 s, and more).
		in_a sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600 \
			2>/dev/null || true
	fi
	start_spackle "$1" "$2" || return 1
	sleep 1
}

# daemon_down COL NAME: the sanity checks on the column that carried the
# traffic, the daemon's stop timed, then down.
daemon_down() {
	local t

	if [ -z "$DPID" ]; then
		:
	elif ! alive "$DPID"; then
		NOTES+=("$2: the daemon died: $(tail -n 1 "$TMP/spackle-$1.err")")
		FAILED=1
	elif [ "${V[$1,queued]:-0}" = 0 ]; then
		NOTES+=("$2: the daemon diverted no packet")
		FAILED=1
	fi
	# Its stop: every live flow's last record goes to the store first.
	if alive "$DPID"; then
		t=$EPOCHREALTIME
		kill -TERM "$DPID" 2>/dev/null || true
		if wait_for 600 eval "! alive $DPID"; then
			V[$1,stop]=$(awk -v a="$t" -v b="$EPOCHREALTIME" \
				'BEGIN { printf "%.1f\n", b - a }')
		else
			V[$1,stop]="> 60"
		fi
	fi
	ns_down
	DPID=
}

# per_flow COL RSS0 LIVE0: RSS growth per live flow, bytes.
per_flow() {
	awk -v r="${V[$1,rss]}" -v r0="$2" -v l="${V[$1,live]}" -v l0="$3" \
		'BEGIN { if (r !~ /^[0-9.]+$/ || r0 !~ /^[0-9.]+$/ ||
			l !~ /^[0-9]+$/ || l - l0 <= 0) print "n/a"
		else printf "%.0f\n", (r - r0) * 1048576 / (l - l0) }'
}

declare -A V
declare -A BASE
NAMES=()
NOTES=()
FAILED=0
col=0
CONF=
DPID=
COLNAME=
E_PACKET=0
for c in $COLUMNS_RUN; do
	case $c in
	packet | flow)
		e=$((col + 1))
		l=$((col + 2))
		col=$l
		NAMES+=("$c, empty" "$c, $FLOWS live")
		BASE[$l]=$e
		[ "$c" = packet ] && E_PACKET=$e
		COLNAME="$c"
		echo "# $c: empty, then $FLOWS flows ..." >&2
		if daemon_up "$e" "$c"; then
			measure "$e" "$CALLS" ""
			send_flows "$l" "$FLOWS"
			refresh=
			[ "$c" = packet ] && refresh=$FLOWS
			measure "$l" "$CALLS" "$refresh"
			losses "$l"
			V[$l,perflow]=$(per_flow "$l" "${V[$e,rss]}" "${V[$e,live]}")
		fi
		daemon_down "$l" "$c"
		;;
	through)
		col=$((col + 1))
		NAMES+=("packet, $THROUGH through")
		[ "$E_PACKET" -gt 0 ] && BASE[$col]=$E_PACKET
		COLNAME="$THROUGH through"
		echo "# packet: $THROUGH flows through ..." >&2
		if daemon_up "$col" packet; then
			rss0=$(rss "$DPID" VmRSS)
			send_flows "$col" "$THROUGH"
			measure "$col" "$CALLS" ""
			losses "$col"
			V[$col,perflow]=$(per_flow "$col" "$rss0" 0)
		fi
		daemon_down "$col" "$COLNAME"
		;;
	*)
		echo "bench/scale: unknown column \"$c\" (packet flow through)" >&2
		exit 2
		;;
	esac
done

# --- the table ---------------------------------------------------------------

# cell COL KEY RATIO: the value, and its ratio to the column's baseline
# (the same daemon empty) when RATIO is "ratio" and both are numbers.
cell() {
	local v=${V[$1,$2]:-n/a} b=

	if [ -n "${BASE[$1]:-}" ]; then
		b=${V[${BASE[$1]},$2]:-}
	fi
	if [ "$3" != ratio ] || ! [[ $v =~ ^[0-9.]+$ ]] ||
		! [[ $b =~ ^[0-9.]+$ ]]; then
		echo "$v"
	else
		awk -v v="$v" -v b="$b" 'BEGIN {
			if (b + 0 == 0) print v; else printf "%s (%.2f)\n", v, v / b }'
	fi
}

W=22
printf '\nbench/scale: %s live flows, %s through, sent at %s flows/s; ' \
	"$FLOWS" "$THROUGH" "$RATE"
printf '%s CPUs, kernel %s\n' "$(nproc)" "$(uname -r)"
printf '(value, and its ratio to the same mode'"'"'s empty daemon in parentheses)\n\n'
printf '%-36s' "row"
for n in "${NAMES[@]}"; do
	printf "%-${W}s" "$n"
done
printf '\n'
for r in "sent|flows sent|-" "answered|answers back|-" \
	"secs|time to send, s|-" "cpu|daemon CPU while sending, s|-" \
	"live|flows live (status)|-" "created|flows created|-" \
	"evicted|flows evicted|-" "rss|daemon RSS, MiB|ratio" \
	"anon|  of which anonymous, MiB|ratio" \
	"file|  of which files (LMDB map), MiB|ratio" \
	"perflow|RSS per added flow, B|-" \
	"hwm|daemon peak RSS at the end, MiB|ratio" \
	"st50|status p50, ms|ratio" "stmax|status max, ms|ratio" \
	"live_cn|flows live before conns|-" \
	"cn50|conns p50, ms|ratio" "cnmax|conns max, ms|ratio" \
	"live_cj|flows live before conns --json|-" \
	"cj50|conns --json p50, ms|ratio" "cjmax|conns --json max, ms|ratio" \
	"calls|calls answered|-" "lines|conns rows|-" \
	"jlen|conns --json flows|-" "ping|ping max during conns, ms|ratio" \
	"queued|packets queued|-" "qdrops|queue drops|-" \
	"unqueued|passed unqueued (fail-open)|-" "enobufs|enobufs|-" \
	"storewritten|store records written|-" \
	"storelost|store records lost|-" "stop|daemon stop (SIGTERM), s|-"; do
	IFS='|' read -r key label opt <<<"$r"
	printf '%-36s' "$label"
	for ((i = 1; i <= col; i++)); do
		printf "%-${W}s" "$(cell "$i" "$key" "$opt")"
	done
	printf '\n'
done
for n in "${NOTES[@]}"; do
	echo "note: $n"
done
echo "Times: wall clock of \`spackle CMD\` run in A, output to a file," \
	"median and max of the calls. RSS: VmRSS and VmHWM of the daemon." \
	"ping: the longest ICMP echo round trip (one every 10 ms, through one" \
	"worker) while conns and conns --json ran."
exit "$FAILED"
