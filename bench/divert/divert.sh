#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/divert: the divert path side by side, in network namespaces: no
# filter, a bare accept-all NFQUEUE loop (nfq_accept), the loop finding
# each connection's owner first (nfq_accept -o), that loop over spackle's
# queues as spackle splits them (nfq_accept -o -n), the same under flow
# mode's rules, answering with flow mode's accept mark (nfq_accept -o -m
# -n), spackle (NFQUEUE packet and flow mode, and the tunnel backend) and
# OpenSnitch's daemon. Prints one table of values and ratios to "no
# filter", then spackle's packet mode against the loops, flow mode against
# its loop, and the tunnel backend against packet mode.
#
# Usage: divert.sh [SPACKLE [NETTOOL [NFQ_ACCEPT]]]   (as root)
#
#   defaults: build/spackle, build/tests/netns/nettool (or
#             build/bench/divert/nettool), build/bench/divert/nfq_accept
#   BENCH_SECONDS    length of the throughput, packet and connection rows (5)
#   BENCH_CONNECTS   sequential connects for the latency rows (10000)
#   BENCH_HELD       connections the busy process keeps open (1000)
#   BENCH_THREADS    client threads of the connection-rate row (4)
#   BENCH_COLUMNS    which columns, in order (none conntrack nfq nfq-owner
#                    nfq-split nfq-flow spackle spackle-nostore
#                    spackle-flow spackle-tun opensnitch: all of them, the
#                    default; and spackle-alt, with BENCH_SPACKLE_ALT)
#   BENCH_MODE       spackle's `divert =` (packet; spackle-tun is always
#                    packet: the tunnel backend has no flow mode)
#   BENCH_USER       spackle's `user =` (spackle, as installed; root to
#                    measure what the privilege drop costs)
#   BENCH_ROWS       which traffic rows (bulk bulkin udp rate latency busy)
#   BENCH_STATUS     PREFIX: save `spackle status --json` at the end of
#                    each spackle column to PREFIX.COLUMN.json
#   BENCH_SPACKLE_ALT  another build of spackle, for the column spackle-alt
#                    (packet mode or BENCH_MODE, as the column spackle): a
#                    change against its parent, in the same run
#   BENCH_ROUNDS     run the columns this many times, in turn (1): each
#                    cell is then the median of its rounds (counts and CPU
#                    their sum), each ratio the median of the rounds' own
#                    ratios with the lowest and highest beside it
#
# Each column gets a fresh pair of namespaces: the filter and the clients in
# A, the servers in B, a veth pair between them (192.0.2.1 <-> 192.0.2.2).
# Nothing runs in, or changes the firewall of, the machine's own namespace.
#
# Exits 1 when a column whose filter started moved no traffic in a row, or
# its filter diverted no packet (the numbers would then not be its own).
set -u

# nettool is built with the tests, or here when the tests are off.
nettool=build/tests/netns/nettool
[ -x "$nettool" ] || nettool=build/bench/divert/nettool
SPACKLE=$(readlink -f "${1:-build/spackle}")
NETTOOL=$(readlink -f "${2:-$nettool}")
NFQ_ACCEPT=$(readlink -f "${3:-build/bench/divert/nfq_accept}")
SECONDS_ROW=${BENCH_SECONDS:-5}
CONNECTS=${BENCH_CONNECTS:-10000}
THREADS=${BENCH_THREADS:-4}
COLUMNS_RUN=${BENCH_COLUMNS:-none conntrack nfq nfq-owner nfq-split nfq-flow spackle spackle-nostore spackle-flow spackle-tun opensnitch}
ROWS_RUN=${BENCH_ROWS:-bulk bulkin udp rate latency busy}
HELD=${BENCH_HELD:-1000}
BENCH_STATUS=${BENCH_STATUS:-}
DIVERT_MODE=${BENCH_MODE:-packet}
SPACKLE_ALT=${BENCH_SPACKLE_ALT:+$(readlink -f "$BENCH_SPACKLE_ALT")}
ROUNDS=${BENCH_ROUNDS:-1}
if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
	echo "bench/divert: BENCH_ROUNDS=\"$ROUNDS\": not a count of rounds (1 or more)" >&2
	exit 2
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/divert: needs root (network namespaces, netfilter queues)" >&2
	exit 77
fi
for tool in ip iptables ip6tables iperf3 jq; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench/divert: $tool not found (apt-get install iproute2 iptables iperf3 jq)" >&2
		exit 2
	fi
done
for f in "$NETTOOL" "$NFQ_ACCEPT"; do
	if [ ! -x "$f" ]; then
		echo "bench/divert: $f is not built (cmake --build build)" >&2
		exit 2
	fi
done

A4=192.0.2.1
B4=192.0.2.2
A6=2001:db8::1
B6=2001:db8::2
P_IPERF=5201
P_TCP=7100
P_HOLD=7101
P_UDP=7200
QUEUE=0
TUN_DEV=spackle0
ID=$$
TMP=$(mktemp -d /tmp/spackle-bench-divert.XXXXXX) || exit 2
# spackle drops to its user after set-up, as installed; it reads TMP.
"$(dirname "$0")/../../etc/add-user.sh" >/dev/null && chmod 0755 "$TMP" ||
	exit 2
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
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

in_a() {
	ip netns exec "$NSA" "$@"
}

# shellcheck disable=SC2317 # called through eval (wait_for)
in_b() {
	ip netns exec "$NSB" "$@"
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
		alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait_for 50 eval "! alive $p" || kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=()
}

ns_down() {
	stop_all
	[ -n "$NSA" ] && ip netns del "$NSA" 2>/dev/null
	[ -n "$NSB" ] && ip netns del "$NSB" 2>/dev/null
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

# ns_up N: a fresh pair of namespaces for column N, servers running in B.
ns_up() {
	NSA=spackle-bench-a-$ID-$1
	NSB=spackle-bench-b-$ID-$1
	ip netns add "$NSA" && ip netns add "$NSB" &&
		ip link add "spba$ID" netns "$NSA" type veth peer name \
			"spbb$ID" netns "$NSB" &&
		ip -n "$NSA" link set lo up && ip -n "$NSB" link set lo up &&
		ip -n "$NSA" addr add "$A4/24" dev "spba$ID" &&
		ip -n "$NSB" addr add "$B4/24" dev "spbb$ID" &&
		ip -n "$NSA" addr add "$A6/64" dev "spba$ID" nodad &&
		ip -n "$NSB" addr add "$B6/64" dev "spbb$ID" nodad &&
		ip -n "$NSA" link set "spba$ID" up &&
		ip -n "$NSB" link set "spbb$ID" up || return 1
	wait_for 50 eval "ip -n $NSA link show spba$ID | grep -q 'state UP'" ||
		return 1
	bg "tcp-server-$1" "$NSB" "$NETTOOL" tcp-server -a "$B4" -p "$P_TCP" \
		-m close -t 600
	wait_for 50 grep -qs '^ready' "$TMP/tcp-server-$1.out" || return 1
	# The busy process's connections: an echo server keeps them open.
	bg "hold-server-$1" "$NSB" "$NETTOOL" tcp-server -a "$B4" -p "$P_HOLD" \
		-m echo -t 600
	wait_for 50 grep -qs '^ready' "$TMP/hold-server-$1.out"
}

# cpu_ticks PID: utime + stime of the process (all its threads).
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

# Namespace A's netfilter queues: packets queued (id_sequence), dropped
# (queue full or netlink failure) and passed unqueued. The kernel counts a
# packet a full fail-open queue lets through nowhere; the NFQUEUE rules'
# own counters, less what was queued or dropped, show them. The queues are
# read between two readings of the rules' counters that agree: a packet
# that arrived in between (a row's last connections still closing) would
# count as passed unqueued.
queue_hits() {
	{
		in_a iptables-save -c
		in_a ip6tables-save -c
	} 2>/dev/null | awk '/-j NFQUEUE/ && match($0, /^\[[0-9]+:/) {
		s += substr($0, 2, RLENGTH - 2) } END { print s + 0 }'
}

queue_stats() {
	local q d hits again i

	hits=$(queue_hits)
	for ((i = 0; i < 50; i++)); do
		read -r q d < <(in_a cat /proc/net/netfilter/nfnetlink_queue \
			2>/dev/null | awk '{ q += $8; d += $6 + $7 }
			END { printf "%d %d\n", q, d }')
		again=$(queue_hits)
		[ "$again" = "$hits" ] && break
		hits=$again
		sleep 0.1
	done
	echo "$q $d $((hits - q - d < 0 ? 0 : hits - q - d))"
}

# The tunnel backend's device in A: packets the kernel sent into it (what
# the daemon was given to read) and those it dropped because the device's
# queue was full. No fail-open path lets a packet past it unseen: "-".
tun_stats() {
	local dir=/sys/class/net/$TUN_DEV/statistics q d

	q=$(in_a cat "$dir/tx_packets" 2>/dev/null) || q=n/a
	d=$(in_a cat "$dir/tx_dropped" 2>/dev/null) || d=n/a
	echo "$q $d -"
}

# --- the filters -----------------------------------------------------------

# spackle_conf DIVERT [none]: spackle's configuration, DIVERT its divert
# lines, "none" for no store; its rules allow everything.
spackle_conf() {
	mkdir -p "$TMP/rules" "$TMP/db"
	echo "allow any" >"$TMP/rules/10-all.rules"
	cat >"$TMP/spackle.conf" <<EOF
mode = enforce
$1
default = allow
failure = open
rules = $TMP/rules
db = $([ "${2:-}" = none ] && echo none || echo "$TMP/db")
control = $TMP/spackle.sock
hooks = out, in
exempt = lo
user = ${BENCH_USER:-spackle}
EOF
}

# split_prepare packet|flow: spackle's steering for the spackle column's
# config in that divert mode, as `spackle steering print` writes it, in
# TMP/split.rules; its queues in SPLIT_FIRST and SPLIT_N, flow mode's
# accept mark in SPLIT_MARK. Sets NA and fails when there is none.
split_prepare() {
	local r

	SPLIT_MODE=$1
	spackle_conf "divert = $1"
	if ! "$SPACKLE" steering print --firewall iptables \
		-c "$TMP/spackle.conf" >"$TMP/split.rules" 2>"$TMP/split.err"; then
		NA="spackle steering print failed: $(head -c 200 "$TMP/split.err")"
		return 1
	fi
	r=$(sed -n 's/^# queues \([0-9]*-[0-9]*\),.*/\1/p' \
		"$TMP/split.rules" | head -n 1)
	if ! [[ $r =~ ^[0-9]+-[0-9]+$ ]]; then
		NA="no queue range in spackle's steering"
		return 1
	fi
	SPLIT_FIRST=${r%-*}
	SPLIT_N=$((${r#*-} - SPLIT_FIRST + 1))
	[ "$1" = flow ] || return 0
	SPLIT_MARK=$(sed -n 's/.*-m mark --mark \(0x[0-9a-f]*\)\/0x[0-9a-f]* -m comment --comment "spackle accept".*/\1/p' \
		"$TMP/split.rules" | head -n 1)
	if [ -z "$SPLIT_MARK" ]; then
		NA="no accept mark in spackle's flow steering"
		return 1
	fi
}

# split_rules iptables|ip6tables: that family's rules of TMP/split.rules
# as iptables-restore input, spackle's chains made the built-in ones (a
# RETURN there is the policy's ACCEPT). Packet mode: the queue rules alone,
# its accept marks left out; flow mode: all but the DNS queue's, the marks
# that let a decided connection by in the kernel kept.
split_rules() {
	awk -v fam="$1" -v mode="$SPLIT_MODE" '
		/^# spackle steering, IPv4/ { on = fam == "iptables" }
		/^# spackle steering, IPv6/ { on = fam == "ip6tables" }
		on && /^-A SPACKLE-(OUT|IN) / &&
		(mode == "flow" ? !/"spackle dns"/ : /"spackle queue"|-m bpf/) {
			sub(/^-A SPACKLE-OUT /, "-A OUTPUT ")
			sub(/^-A SPACKLE-IN /, "-A INPUT ")
			rules = rules $0 "\n"
		}
		END { printf "*filter\n%sCOMMIT\n", rules }' "$TMP/split.rules"
}

# start_filter COLUMN: sets FILTER_PID (empty for none) or NA (a reason).
start_filter() {
	local t args

	FILTER_PID=
	NA=
	case $1 in
	none) ;;
	conntrack)
		# What flow mode's kernel side costs before any queue:
		# conntrack with accounting, and a mark match per packet.
		in_a sysctl -qw net.netfilter.nf_conntrack_acct=1 ||
			NA="cannot turn on conntrack accounting"
		for t in iptables ip6tables; do
			in_a "$t" -A OUTPUT -m connmark --mark 0x200000/0xe00000 \
				-j ACCEPT &&
				in_a "$t" -A INPUT -m connmark --mark \
					0x200000/0xe00000 -j ACCEPT ||
				NA="$t connmark rule failed"
		done
		;;
	nfq | nfq-owner | nfq-split | nfq-flow)
		# nfq-owner: the loop with the owner of each connection's
		# SYN looked up before its verdict (nfq_accept.c); nfq-split:
		# that loop over spackle's queues, a thread each (split_prepare);
		# nfq-flow: the same under flow mode's rules, its verdicts
		# carrying flow mode's accept mark, conntrack counting bytes
		# as for flow mode.
		case $1 in
		nfq) args=("$QUEUE") ;;
		nfq-owner) args=(-o "$QUEUE") ;;
		nfq-split) split_prepare packet || return
			args=(-o -n "$SPLIT_N" "$SPLIT_FIRST") ;;
		*) split_prepare flow || return
			in_a sysctl -qw net.netfilter.nf_conntrack_acct=1 ||
				NA="cannot turn on conntrack accounting"
			args=(-o -m "$SPLIT_MARK" -n "$SPLIT_N" "$SPLIT_FIRST") ;;
		esac
		bg nfq "$NSA" "$NFQ_ACCEPT" "${args[@]}"
		FILTER_PID=$BG_PID
		if ! wait_for 50 grep -qs '^ready' "$TMP/nfq.out"; then
			NA="nfq_accept did not start: $(head -c 200 "$TMP/nfq.err")"
			return
		fi
		for t in iptables ip6tables; do
			if [ "$1" = nfq-split ] || [ "$1" = nfq-flow ]; then
				split_rules "$t" | in_a "$t-restore" --noflush ||
					NA="$t: spackle's queue split could not be loaded"
			else
				in_a "$t" -A OUTPUT -j NFQUEUE --queue-num "$QUEUE" \
					--queue-bypass &&
					in_a "$t" -A INPUT -j NFQUEUE --queue-num \
						"$QUEUE" --queue-bypass ||
					NA="$t NFQUEUE rule failed"
			fi
		done
		;;
	spackle | spackle-alt | spackle-nostore | spackle-flow | spackle-tun)
		if [ "$1" = spackle-alt ] && [ ! -x "$SPACKLE" ]; then
			NA="BENCH_SPACKLE_ALT names no program"
			return
		fi
		if ! "$SPACKLE" help 2>/dev/null | grep -q '^  run '; then
			NA="spackle run not built"
			return
		fi
		# spackle-tun: the tunnel backend (divert/tun.c), packet mode,
		# its device the default tun_name; the rest as NFQUEUE's.
		case $1 in
		spackle-flow) spackle_conf "divert = flow" ;;
		spackle-tun) spackle_conf $'backend = tun\ndivert = packet' ;;
		spackle-nostore) spackle_conf "divert = $DIVERT_MODE" none ;;
		*) spackle_conf "divert = $DIVERT_MODE" ;;
		esac
		bg spackle "$NSA" "$SPACKLE" run -c "$TMP/spackle.conf"
		FILTER_PID=$BG_PID
		if ! wait_for 50 eval "alive $FILTER_PID && in_a '$SPACKLE' status -c '$TMP/spackle.conf' >/dev/null 2>&1"; then
			NA="spackle run did not become ready: $(tail -n 1 "$TMP/spackle.err")"
		fi
		;;
	opensnitch)
		if ! command -v opensnitchd >/dev/null 2>&1; then
			NA="opensnitchd not installed (apt-get install opensnitch)"
			return
		fi
		# Headless: no UI listens, DefaultAction allow decides. The
		# daemon reads only /etc/opensnitchd/default-config.json, so
		# ours is bind-mounted over it in the private mount namespace
		# `ip netns exec` gives the daemon (the host's file stays).
		mkdir -p "$TMP/os-rules"
		cat >"$TMP/os-config.json" <<EOF
{
    "Server": {"Address": "unix://$TMP/osui.sock", "LogFile": "$TMP/opensnitchd.log"},
    "DefaultAction": "allow",
    "DefaultDuration": "once",
    "InterceptUnknown": false,
    "ProcMonitorMethod": "proc",
    "LogLevel": 2,
    "Firewall": "iptables",
    "Stats": {"MaxEvents": 150, "MaxStats": 25}
}
EOF
		# shellcheck disable=SC2016 # expanded by that sh
		bg opensnitch "$NSA" sh -c 'mount --bind "$1" /etc/opensnitchd/default-config.json && exec opensnitchd -rules-path "$2" -ui-socket "unix://$3" -log-file "$4" -process-monitor-method proc' \
			sh "$TMP/os-config.json" "$TMP/os-rules" "$TMP/osui.sock" \
			"$TMP/opensnitchd.log"
		FILTER_PID=$BG_PID
		if ! wait_for 100 eval "alive $FILTER_PID && in_a iptables-save -t mangle 2>/dev/null | grep -q NFQUEUE && in_a grep -q . /proc/net/netfilter/nfnetlink_queue"; then
			NA="opensnitchd did not start: $(tail -n 1 "$TMP/opensnitch.err" "$TMP/opensnitchd.log" 2>/dev/null | tr -d '\033' | tail -n 1)"
		fi
		;;
	esac
}

# --- the rows ------------------------------------------------------------------

# row_tcp_bulk COLUMN [-R]: A sends to B; with -R, B sends to A (a
# download: what comes in through the filter's inbound hook).
row_tcp_bulk() {
	local out

	bg "iperf3-$1${2:-}" "$NSB" iperf3 -s -1 -B "$B4" -p "$P_IPERF"
	wait_for 50 eval "in_b ss -Htln | grep -q ':$P_IPERF '" || {
		echo "n/a"
		return
	}
	out=$(in_a iperf3 -c "$B4" -p "$P_IPERF" -t "$SECONDS_ROW" ${2:+"$2"} \
		-J 2>/dev/null)
	echo "$out" | jq -r '.end.sum_received.bits_per_second // empty |
		. / 1e9 * 100 | round / 100' 2>/dev/null || echo "n/a"
}

row_udp() {
	local out

	bg "udp-sink-$1" "$NSB" "$NETTOOL" udp-sink -a "$B4" -p "$P_UDP" \
		-t $((SECONDS_ROW + 20)) -i 1000
	local pid=$BG_PID
	wait_for 50 grep -qs '^ready' "$TMP/udp-sink-$1.out" || {
		echo "n/a"
		return
	}
	in_a "$NETTOOL" udp-flood -a "$B4" -p "$P_UDP" -d "$SECONDS_ROW" \
		-L 64 >"$TMP/udp-flood-$1.out"
	wait_for 100 eval "! alive $pid"
	out=$(grep '^result=' "$TMP/udp-sink-$1.out")
	[[ $out =~ received=([0-9]+) ]] || {
		echo "n/a"
		return
	}
	awk -v n="${BASH_REMATCH[1]}" -v s="$SECONDS_ROW" \
		'BEGIN { printf "%.1f\n", n / s / 1000 }'
}

row_rate() {
	local out

	out=$(in_a "$NETTOOL" tcp-rate -a "$B4" -p "$P_TCP" -d "$SECONDS_ROW" \
		-j "$THREADS" -w 3000)
	[[ $out =~ rate=([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo "n/a"
}

# row_latency [ARG...]: connect p50 and p99 of CONNECTS sequential
# connects; ARGs go to nettool tcp-latency.
row_latency() {
	local out

	out=$(in_a "$NETTOOL" tcp-latency -a "$B4" -p "$P_TCP" -n "$CONNECTS" \
		-w 3000 "$@")
	if [[ $out =~ p50_us=([0-9.]+).*p99_us=([0-9.]+) ]]; then
		echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
	else
		echo "n/a n/a"
	fi
}

# The same sequential connects from a process that first opened BENCH_HELD
# connections and keeps them open (a browser, a database): what finding
# the owner of a new socket costs when its process holds many.
row_busy() {
	row_latency -K "$HELD" -P "$P_HOLD"
}

# want_row ROW: is ROW among BENCH_ROWS?
want_row() {
	[[ " $ROWS_RUN " == *" $1 "* ]]
}

# check_moved COL NAME: did column COL, its filter started, move traffic in
# every traffic row it ran, and did its filter divert any packet? A note
# and MOVED_NOTHING=1 when not. Sanity only: no number is a threshold.
# The daemon's packets received and queue reads (`status --json`), to
# tell the burst the kernel delivered in each row: burst_mark COLUMN
# notes them; burst_row COLUMN COL ROW stores the mean packets per read
# since the last mark, and marks again.
BURST_RX=0
BURST_N=0
burst_counts() {
	in_a "$SPACKLE" status -c "$TMP/spackle.conf" --json 2>/dev/null |
		jq -r '"\(.counters.received // 0) \(.counters.bursts // 0)"' 2>/dev/null ||
		echo "0 0"
}

burst_mark() {
	[[ $1 == spackle* ]] || return 0
	read -r BURST_RX BURST_N <<<"$(burst_counts)"
}

burst_row() {
	local rx n

	[[ $1 == spackle* ]] || return 0
	read -r rx n <<<"$(burst_counts)"
	V[$2,burst_$3]=$(awk -v r=$((rx - BURST_RX)) -v n=$((n - BURST_N)) \
		'BEGIN { if (n > 0) printf "%.2f\n", r / n; else print "-" }')
	BURST_RX=$rx
	BURST_N=$n
}

check_moved() {
	local r

	for r in bulk bulkin udp rate; do
		want_row "$r" || continue
		if ! [[ ${V[$1,$r]} =~ ^[0-9.]+$ ]] ||
			awk -v v="${V[$1,$r]}" 'BEGIN { exit !(v + 0 == 0) }'; then
			NOTES+=("$2: no traffic in the $r row (${V[$1,$r]})")
			MOVED_NOTHING=1
		fi
	done
	if [ "${V[$1,queued]}" = 0 ]; then
		NOTES+=("$2: its filter diverted no packet: the rows measured no filter")
		MOVED_NOTHING=1
	fi
}

# --- the run ---------------------------------------------------------------------

declare -A V
BASE=0
COL_PACKET=0
COL_LOOP=0
COL_OWNER=0
COL_SPLIT=0
COL_FLOWLOOP=0
COL_FLOW=0
COL_CT=0
COL_TUN=0
COL_ALT=0
MOVED_NOTHING=0
NAMES=()
NOTES=()
COLS=()
col=0
for c in $COLUMNS_RUN; do
	case $c in
	none) name="no filter" ;;
	conntrack) name="conntrack only" ;;
	nfq) name="bare NFQUEUE loop" ;;
	nfq-owner) name="loop + owner" ;;
	nfq-split) name="loop + owner, split" ;;
	nfq-flow) name="flow loop + owner" ;;
	spackle) name="spackle ($DIVERT_MODE)" ;;
	spackle-alt) name="other build ($DIVERT_MODE)" ;;
	spackle-nostore) name="spackle, store off" ;;
	spackle-flow) name="spackle (flow)" ;;
	spackle-tun) name="spackle (tun)" ;;
	opensnitch) name="opensnitchd $(dpkg-query -W -f '${Version}' opensnitch 2>/dev/null | cut -d- -f1)" ;;
	*)
		echo "bench/divert: unknown column \"$c\" (none conntrack nfq nfq-owner nfq-split nfq-flow spackle spackle-alt spackle-nostore spackle-flow spackle-tun opensnitch)" >&2
		exit 2
		;;
	esac
	col=$((col + 1))
	[ "$c" = none ] && BASE=$col
	[ "$c" = spackle ] && COL_PACKET=$col
	[ "$c" = spackle-alt ] && COL_ALT=$col
	[ "$c" = nfq ] && COL_LOOP=$col
	[ "$c" = nfq-owner ] && COL_OWNER=$col
	[ "$c" = nfq-split ] && COL_SPLIT=$col
	[ "$c" = nfq-flow ] && COL_FLOWLOOP=$col
	[ "$c" = spackle-flow ] && COL_FLOW=$col
	[ "$c" = conntrack ] && COL_CT=$col
	[ "$c" = spackle-tun ] && COL_TUN=$col
	NAMES+=("$name")
	COLS+=("$c")
done

# note_once TEXT: a note, once however many rounds say it.
note_once() {
	local n

	for n in "${NOTES[@]}"; do
		[ "$n" = "$1" ] && return 0
	done
	NOTES+=("$1")
}

# measure_column COL C: column COL (filter C) through every row, its
# values in V[COL,ROW].
measure_column() {
	local col=$1 c=$2 name=${NAMES[$1 - 1]} t0 t1 SPACKLE=$SPACKLE

	# The other build stands in for spackle through the whole column.
	[ "$c" = spackle-alt ] && SPACKLE=$SPACKLE_ALT

	if [ "$ROUNDS" -gt 1 ]; then
		echo "# $name (round $round of $ROUNDS) ..." >&2
	else
		echo "# $name ..." >&2
	fi
	if ! ns_up "$col"; then
		echo "bench/divert: could not set up the namespaces" >&2
		exit 2
	fi
	start_filter "$c"
	if [ -n "$NA" ]; then
		for r in bulk bulkin udp rate p50 p99 bp50 bp99 cpu queued drops unqueued; do
			V[$col,$r]="n/a"
		done
		note_once "$name: n/a ($NA)"
		ns_down
		return 0
	fi
	t0=0
	[ -n "$FILTER_PID" ] && t0=$(cpu_ticks "$FILTER_PID")
	V[$col,bulk]="-" V[$col,bulkin]="-" V[$col,udp]="-" V[$col,rate]="-" V[$col,p50]="-" V[$col,p99]="-"
	V[$col,bp50]="-" V[$col,bp99]="-"
	burst_mark "$c"
	want_row bulk && V[$col,bulk]=$(row_tcp_bulk "$col") &&
		burst_row "$c" "$col" bulk
	want_row bulkin && V[$col,bulkin]=$(row_tcp_bulk "$col" -R) &&
		burst_row "$c" "$col" bulkin
	want_row udp && V[$col,udp]=$(row_udp "$col") &&
		burst_row "$c" "$col" udp
	want_row rate && V[$col,rate]=$(row_rate) && burst_row "$c" "$col" rate
	want_row latency &&
		read -r "V[$col,p50]" "V[$col,p99]" <<<"$(row_latency)" &&
		burst_row "$c" "$col" latency
	want_row busy &&
		read -r "V[$col,bp50]" "V[$col,bp99]" <<<"$(row_busy)" &&
		burst_row "$c" "$col" busy
	if [ -n "$BENCH_STATUS" ] && [[ $c == spackle* ]]; then
		in_a "$SPACKLE" status -c "$TMP/spackle.conf" --json \
			>"$BENCH_STATUS.$c.json" 2>&1
	fi
	if [ -n "$FILTER_PID" ] && alive "$FILTER_PID"; then
		t1=$(cpu_ticks "$FILTER_PID")
		V[$col,cpu]=$(awk -v d=$((t1 - t0)) -v hz="$HZ" \
			'BEGIN { printf "%.2f\n", d / hz }')
		if [ "$c" = spackle-tun ]; then
			read -r "V[$col,queued]" "V[$col,drops]" \
				"V[$col,unqueued]" <<<"$(tun_stats)"
		else
			read -r "V[$col,queued]" "V[$col,drops]" \
				"V[$col,unqueued]" <<<"$(queue_stats)"
		fi
	elif [ -n "$FILTER_PID" ]; then
		V[$col,cpu]="died"
		V[$col,queued]="n/a"
		V[$col,drops]="n/a"
		V[$col,unqueued]="n/a"
		note_once "$name: the filter process died during the run"
	else
		V[$col,cpu]="-"
		V[$col,queued]="-"
		V[$col,drops]="-"
		V[$col,unqueued]="-"
	fi
	check_moved "$col" "$name"
	ns_down
	if [[ $c == nfq-* ]]; then
		NOTES+=("$name${ROUND_TAG}: $(grep -o 'lookups=.*' "$TMP/nfq.out"), $(sed -n 's/^attribution=//p' "$TMP/nfq.out")")
	fi
}

# The columns alternate within a round, so a row of every column meets the
# machine in much the same state; with ROUNDS > 1 each value is kept per
# round (RV) and the table shows their median.
ROW_KEYS="bulk bulkin udp rate p50 p99 bp50 bp99 cpu queued drops unqueued"
ROW_KEYS+=" burst_bulk burst_bulkin burst_udp burst_rate burst_latency burst_busy"
declare -A RV
ROUND_TAG=
for ((round = 1; round <= ROUNDS; round++)); do
	[ "$ROUNDS" -gt 1 ] && ROUND_TAG=" (round $round)"
	for ((i = 1; i <= col; i++)); do
		measure_column "$i" "${COLS[$i - 1]}"
		for k in $ROW_KEYS; do
			RV[$i,$k,$round]=${V[$i,$k]:-}
		done
	done
done

# combine COL KEY: the rounds' values of one cell: their median, or their
# sum for the counts and the CPU; the first that is not a number when one
# is not (a filter that died says so).
combine() {
	local r v vals=()

	for ((r = 1; r <= ROUNDS; r++)); do
		v=${RV[$1,$2,$r]}
		if ! [[ $v =~ ^[0-9.]+$ ]]; then
			echo "$v"
			return
		fi
		vals+=("$v")
	done
	case $2 in
	cpu | queued | drops | unqueued) printf '%s\n' "${vals[@]}" |
		awk '{ s += $1; d = index($1, ".") ? length($1) - index($1, ".") : 0 }
			END { printf "%.*f\n", d, s }' ;;
	*) printf '%s\n' "${vals[@]}" | median ;;
	esac
}

# median: of the numbers on stdin, one a line, printed with as many
# decimals as the most precise of them has.
median() {
	sort -g | awk '
		{
			v[NR] = $1
			k = index($1, ".") ? length($1) - index($1, ".") : 0
			if (k > d) d = k
		}
		END {
			if (NR % 2) m = v[(NR + 1) / 2]
			else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.*f\n", d, m
		}'
}

if [ "$ROUNDS" -gt 1 ]; then
	for ((i = 1; i <= col; i++)); do
		for k in $ROW_KEYS; do
			V[$i,$k]=$(combine "$i" "$k")
		done
	done
fi

# --- the table -------------------------------------------------------------------

# cell COL ROW: the value, and its ratio to "no filter" when both are numbers.
cell() {
	local v=${V[$1,$2]} b=${V[$BASE,$2]:-}

	if [ "$1" -eq "$BASE" ] || [ "$3" = noratio ] ||
		! [[ $v =~ ^[0-9.]+$ ]] || ! [[ $b =~ ^[0-9.]+$ ]]; then
		echo "$v"
	else
		awk -v v="$v" -v b="$b" 'BEGIN {
			if (b + 0 == 0) print v; else printf "%s (%.2f)\n", v, v / b }'
	fi
}

W=24
printf '\nbench/divert: %s s rows, %s sequential connects, %s connect threads; ' \
	"$SECONDS_ROW" "$CONNECTS" "$THREADS"
printf '%s CPUs, kernel %s\n' "$(nproc)" "$(uname -r)"
if [ "$ROUNDS" -gt 1 ]; then
	printf '%s rounds, the columns in turn in each; a value is the median of its rounds (counts and CPU: their sum)\n' "$ROUNDS"
fi
printf '(value, and its ratio to "no filter" in parentheses)\n\n'
printf '%-30s' "row"
for n in "${NAMES[@]}"; do
	printf "%-${W}s" "$n"
done
printf '\n'
for r in "bulk|TCP bulk, Gbit/s|" "bulkin|TCP bulk B to A, Gbit/s|" \
	"udp|UDP 64 B delivered, kpkt/s|" \
	"rate|new TCP connections/s|" "p50|connect() p50, us|" \
	"p99|connect() p99, us|" \
	"bp50|connect() p50, $HELD held, us|" \
	"bp99|connect() p99, $HELD held, us|" \
	"cpu|filter CPU, s|noratio" \
	"queued|packets queued|noratio" "drops|queue drops|noratio" \
	"unqueued|passed unqueued (fail-open)|noratio"; do
	IFS='|' read -r key label opt <<<"$r"
	printf '%-30s' "$label"
	for ((i = 1; i <= col; i++)); do
		printf "%-${W}s" "$(cell "$i" "$key" "${opt:-ratio}")"
	done
	printf '\n'
done
for n in "${NOTES[@]}"; do
	echo "note: $n"
done
echo "filter CPU: utime+stime of the filter process over all rows." \
	"queued, drops: /proc/net/netfilter/nfnetlink_queue of A; unqueued:" \
	"NFQUEUE rule hits less queued and dropped."
if [ "$COL_TUN" -gt 0 ]; then
	echo "spackle (tun): queued, drops: tx_packets, tx_dropped of A's" \
		"$TUN_DEV (sent into the tunnel, lost to its full queue); no" \
		"fail-open path to count."
fi

# What one read of a queue brought, on average, per row: the batch the
# daemon classified and answered at once.
printf '\n%-30s' "packets per queue read"
for n in "${NAMES[@]}"; do
	printf "%-${W}s" "$n"
done
printf '\n'
for r in "bulk|TCP bulk" "bulkin|TCP bulk B to A" "udp|UDP 64 B" \
	"rate|new TCP connections" \
	"latency|sequential connects" "busy|connects, $HELD held"; do
	IFS='|' read -r key label <<<"$r"
	want_row "$key" || continue
	printf '%-30s' "$label"
	for ((i = 1; i <= col; i++)); do
		printf "%-${W}s" "${V[$i,burst_$key]:--}"
	done
	printf '\n'
done
echo "packets per queue read: received / bursts from the daemon's" \
	"status --json before and after the row (a read: one recvmmsg of up" \
	"to 16 messages for NFQUEUE, up to 64 packets from the tun)."

# ratio A B ROW [ROUND]: column A's value over column B's (in ROUND, from
# RV, when given), "-" when either is not a number.
ratio() {
	local v=${V[$1,$3]} b=${V[$2,$3]}

	if [ -n "${4:-}" ]; then
		v=${RV[$1,$3,$4]} b=${RV[$2,$3,$4]}
	fi
	if [[ $v =~ ^[0-9.]+$ ]] && [[ $b =~ ^[0-9.]+$ ]]; then
		awk -v v="$v" -v b="$b" 'BEGIN {
			if (b + 0 == 0) print "-"; else printf "%.2f\n", v / b }'
	else
		echo "-"
	fi
}

# ratio_rounds A B ROW: the median of the rounds' own ratios, the lowest
# and the highest in parentheses; the ratio itself for one round.
ratio_rounds() {
	local r x all=()

	if [ "$ROUNDS" -eq 1 ]; then
		ratio "$1" "$2" "$3"
		return
	fi
	for ((r = 1; r <= ROUNDS; r++)); do
		x=$(ratio "$1" "$2" "$3" "$r")
		[ "$x" = - ] || all+=("$x")
	done
	if [ "${#all[@]}" -eq 0 ]; then
		echo "-"
		return
	fi
	printf '%s (%s to %s)\n' \
		"$(printf '%s\n' "${all[@]}" | median)" \
		"$(printf '%s\n' "${all[@]}" | sort -g | head -1)" \
		"$(printf '%s\n' "${all[@]}" | sort -g | tail -1)"
}

# ratios A B WHAT: the table of column A over column B (same run).
ratios() {
	if [ "$ROUNDS" -gt 1 ]; then
		printf '\n%s / %s (the median of %s rounds, lowest to highest; > 1: %s)\n' \
			"${NAMES[$1 - 1]}" "${NAMES[$2 - 1]}" "$ROUNDS" "$3"
	else
		printf '\n%s / %s (same run; > 1: %s)\n' "${NAMES[$1 - 1]}" \
			"${NAMES[$2 - 1]}" "$3"
	fi
	for r in "bulk|TCP bulk, Gbit/s" "bulkin|TCP bulk B to A, Gbit/s" \
		"udp|UDP 64 B delivered, kpkt/s" "rate|new TCP connections/s" "p50|connect() p50, us" \
		"p99|connect() p99, us" "bp50|connect() p50, $HELD held, us" \
		"bp99|connect() p99, $HELD held, us" "cpu|filter CPU, s"; do
		IFS='|' read -r key label <<<"$r"
		printf '%-30s%s\n' "$label" "$(ratio_rounds "$1" "$2" "$key")"
	done
}

# Packet mode against the loops (issue 15's targets are ratios to the bare
# loop; the loop that finds owners is the floor a per-application firewall
# cannot go below, and the same loop over spackle's split of the queues is
# that floor for a firewall that spreads connections over its CPUs), and
# the tunnel backend against packet mode: the same daemon and config but for
# `backend`.
[ "$COL_PACKET" -gt 0 ] && [ "$COL_LOOP" -gt 0 ] &&
	ratios "$COL_PACKET" "$COL_LOOP" "spackle is higher"
[ "$COL_PACKET" -gt 0 ] && [ "$COL_OWNER" -gt 0 ] &&
	ratios "$COL_PACKET" "$COL_OWNER" "spackle is higher"
[ "$COL_PACKET" -gt 0 ] && [ "$COL_SPLIT" -gt 0 ] &&
	ratios "$COL_PACKET" "$COL_SPLIT" "spackle is higher"
[ "$COL_SPLIT" -gt 0 ] && [ "$COL_OWNER" -gt 0 ] &&
	ratios "$COL_SPLIT" "$COL_OWNER" "the split is dearer"
[ "$COL_OWNER" -gt 0 ] && [ "$COL_LOOP" -gt 0 ] &&
	ratios "$COL_OWNER" "$COL_LOOP" "finding owners is dearer"
# Flow mode against its floor: the loop under flow mode's rules, answering
# a connection's first packet with its owner found and the accept mark
# (issue 15's flow targets are ratios to conntrack alone; this loop is the
# least a flow-mode firewall pays over it).
[ "$COL_FLOW" -gt 0 ] && [ "$COL_FLOWLOOP" -gt 0 ] &&
	ratios "$COL_FLOW" "$COL_FLOWLOOP" "spackle is higher"
[ "$COL_FLOWLOOP" -gt 0 ] && [ "$COL_CT" -gt 0 ] &&
	ratios "$COL_FLOWLOOP" "$COL_CT" "the loop is higher"
[ "$COL_TUN" -gt 0 ] && [ "$COL_PACKET" -gt 0 ] &&
	ratios "$COL_TUN" "$COL_PACKET" "the tunnel is higher"
[ "$COL_PACKET" -gt 0 ] && [ "$COL_ALT" -gt 0 ] &&
	ratios "$COL_PACKET" "$COL_ALT" "this build is higher"
exit "$MOVED_NOTHING"
