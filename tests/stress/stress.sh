#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# make stress (issue 17): spackle under hostile load, in network namespaces
# it creates and deletes. Eight probes, each in both divert modes (packet,
# flow), each against a fresh daemon, store and pair of namespaces:
#
#   syn-flood   300,000 SYNs from 240 spoofed sources of the peer's own
#               range (nettool syn-flood), 20,000 a second, at a listening
#               port of the daemon's host; in flow mode then conntrack's
#               table flushed (events lost, recovered by a dump)
#   syn-max     the same as fast as the sender goes (at most 15 s)
#   fail-open   a UDP flood with a new flow per datagram (nettool
#               udp-spray, 200,000 flows, at most 10 s), failure = open
#   fail-closed the same, failure = closed
#   malformed   23 kinds of frame (tests/stress/abuse.c frames), 50 of each,
#               written to the daemon host's interface from the peer, then
#               all of them again as a burst
#   control     the control socket: 200 peers of random bytes, a 10 MB
#               line, 100 cut JSON requests, 500 idle peers held 5 s
#   reload      200 rule reloads alternating a good and a bad file while a
#               TCP stream runs
#   sigkill     20 SIGKILLs of the daemon under a stream of new connections
#
# Before each probe 20 connections are made and found in `spackle log`
# (the history); during it an ordinary connection (connect and one echo)
# is timed every 200 ms and `spackle status` asked every 500 ms. It prints
# one line per check (PASS, FAIL, or MEASURED for a condition the project
# does not meet yet), then one table, one row per probe and mode, then the
# conditions measured but not yet required.
#
# Usage: stress.sh SPACKLE NETTOOL ABUSE   (as root)
#
#   STRESS_MODES     divert modes (packet flow)
#   STRESS_PROBES    probes (syn-flood syn-max fail-open fail-closed
#                    malformed control reload sigkill)
#   STRESS_SYN_RATE  syn-flood's rate, per second (20000; 0: as fast as it
#                    goes)
#   STRESS_TABLE     also write the table to this file
#   SPACKLE_NETNS_KEEP  1: keep the temporary directory
#
# Addresses: 192.0.2.0/24 and 2001:db8::/64 only, in namespaces joined by
# veth with no route out; the machine's own namespace and firewall are
# never changed. Every loop is bounded in count and time; the EXIT trap
# stops what it started and deletes the namespaces.
# Exit 0 when every required condition held, 1 when one failed, 2 when the
# set-up failed, 77 when not root.
set -u

if [ $# -ne 3 ]; then
	echo "usage: $0 SPACKLE NETTOOL ABUSE" >&2
	exit 2
fi
SPACKLE=$(readlink -f "$1")
NETTOOL=$(readlink -f "$2")
ABUSE=$(readlink -f "$3")

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: not root (network namespaces)"
	exit 77
fi
for tool in ip iptables jq mdb_stat timeout awk conntrack; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL setup: $tool not found (make stress installs it)"
		exit 2
	fi
done

MODES=${STRESS_MODES:-packet flow}
FLOOD_PORT= # the flood's port on A, in the flood rows
PROBES=${STRESS_PROBES:-syn-flood syn-max fail-open fail-closed malformed control reload sigkill}
SYN_RATE=${STRESS_SYN_RATE:-20000}
ID=$$
VA=spsa$ID
VB=spsb$ID
A4=192.0.2.1
B4=192.0.2.2
A6=2001:db8::1
B6=2001:db8::2
SYN_SRC=192.0.2.10 # 240 sources: .10 to .249, held by no host
SPRAY_SRC=192.0.2.16
P_ECHO=7401   # B: echo server (ordinary connections, the stream)
P_HIST=7402   # B: the history's connections
P_LOAD=7403   # B: closes at once (the SIGKILL probe's load)
P_REJECT=7404 # B: a rule rejects it
P_SYN=7405    # A: the SYN flood's listener
P_SPRAY=7406  # A: the UDP flood's sink
HIST=20
MEMORY_MAX=512M # spackle.conf(5)'s default; syn-max runs under 256M

TMP=$(mktemp -d /tmp/spackle-stress.XXXXXX) || exit 2
TMP=$(readlink -f "$TMP")
PIDS=()
NSA=
NSB=
DAEMON=
npass=0
nfail=0
ROWS=()
NOTES=()
NOTYET=()
T_START=$(date +%s)

# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/../netns/lib.sh"
daemon_user || { echo "FAIL setup: the user spackle"; exit 2; }

trap cleanup EXIT
trap 'exit 130' INT TERM

# --- conditions ------------------------------------------------------------------
# req NAME OK DETAIL: a pass condition of the current row (OK: 1 or 0).
# meas NAME OK DETAIL: measured, not yet required: shown, never a failure.

req() {
	if [ "$2" = 1 ]; then
		pass "$ROW/$1" "$3"
	else
		fail "$ROW/$1" "$3"
		ROW_FAILED+=("$1")
	fi
}

meas() {
	if [ "$2" = 1 ]; then
		echo "MEASURED $ROW/$1: met: $3"
	else
		echo "MEASURED $ROW/$1: not met (not yet required): $3"
		NOTYET+=("$ROW/$1: $3")
		ROW_NOTYET=1
	fi
}

# jst FILTER, jau FILTER: a figure of the row's status --json, audit --json.
jst() {
	jq -r "$1" "$TMP/status.json" 2>/dev/null || echo '?'
}

jau() {
	jq -r "$1" "$TMP/audit.json" 2>/dev/null || echo '?'
}

# --- the pair, the servers, the daemon ---------------------------------------------

probe_up() {
	NSA=spackle-st-a-$ID-$1
	NSB=spackle-st-b-$ID-$1
	ns_pair || return 1
	bg_b echo-server "$NETTOOL" tcp-server -a "$B4" -p "$P_ECHO" -t 600
	bg_b hist-server "$NETTOOL" tcp-server -a "$B4" -p "$P_HIST" -t 600 \
		-m close
	bg_b load-server "$NETTOOL" tcp-server -a "$B4" -p "$P_LOAD" -t 600 \
		-m close
	bg_b reject-server "$NETTOOL" tcp-server -a "$B4" -p "$P_REJECT" \
		-t 600 -m close
	bg_a syn-server "$NETTOOL" tcp-server -a "$A4" -p "$P_SYN" -t 600 \
		-m close
	bg_a spray-sink "$NETTOOL" udp-sink -a "$A4" -p "$P_SPRAY" -t 600 \
		-i 600000
	for s in echo-server hist-server load-server reject-server syn-server \
		spray-sink; do
		wait_for 50 grep -qs '^ready' "$TMP/$s.out" || return 1
	done
}

probe_down() {
	stop_pids
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	DAEMON=
}

# write_conf NAME FAILURE DB_MAX_SIZE: the daemon's config for one probe,
# its own store and control socket.
write_conf() {
	CONF=$TMP/$1.conf
	DB=$TMP/db-$1
	mkdir -p "$DB"
	cat >"$CONF" <<EOF
mode = enforce
divert = $MODE
default = allow
failure = $2
rules = $TMP/rules
db = $DB
db_max_size = $3
control = $TMP/$1.sock
queues = 2
hooks = out, in
exempt = lo
store_flush_ms = 100
memory_max = $MEMORY_MAX
EOF
}

good_rules() {
	printf '# stress, good (%s)\nreject out proto tcp to %s port %s\nallow out proto tcp to %s port %s\n' \
		"$1" "$B4" "$P_REJECT" "$B4" "$P_ECHO" >"$TMP/rules/10-stress.rules"
}

bad_rules() {
	good_rules bad
	echo "allow out proto tcp to $B4 port 99999 garbage" >>"$TMP/rules/10-stress.rules"
}

daemon_stop() {
	[ -n "$DAEMON" ] || return 0
	kill -TERM "$DAEMON" 2>/dev/null
	wait_for 300 eval "! alive $DAEMON" || kill -KILL "$DAEMON" 2>/dev/null
	wait "$DAEMON" 2>/dev/null
}

# mem PID: "VmRSS RssAnon" in KiB.
mem() {
	awk '$1 == "VmRSS:" { r = $2 } $1 == "RssAnon:" { a = $2 }
		END { printf "%d %d\n", r, a }' "/proc/$1/status" 2>/dev/null ||
		echo "0 0"
}

status_json() {
	spk status -c "$CONF" --json 2>/dev/null
}

counter() {
	status_json | jq -r ".counters.$1 // 0" 2>/dev/null
}

# The history: HIST connections to B's history port, all in `spackle log`.
hist_count() {
	timeout -k 1 20 "$SPACKLE" log --db "$DB" --csv 2>/dev/null |
		awk -F, -v p="$P_HIST" 'NR > 1 && $8 == p { print $3 }' |
		sort -u | wc -l
}

make_history() {
	local i

	for ((i = 0; i < HIST; i++)); do
		ip netns exec "$NSA" "$NETTOOL" tcp-connect -a "$B4" \
			-p "$P_HIST" -w 2000 >/dev/null 2>&1
	done
	# shellcheck disable=SC2016 # expanded by eval, each try
	wait_for 50 eval '[ "$(hist_count)" -ge $HIST ]'
}

# --- samplers: ordinary connections and status, while a probe runs ------------------

samplers_start() {
	rm -f "$TMP/stop" "$TMP/anon.max"
	: >"$TMP/lat.out"
	: >"$TMP/status.out"
	# Bounded: at most 1500 samples (5 min), until the stop file.
	# shellcheck disable=SC2016 # the inner shell's variables
	ip netns exec "$NSA" bash -c '
		for ((i = 0; i < 1500; i++)); do
			[ -e "$1" ] && break
			"$2" tcp-connect -a "$3" -p "$4" -e -w 3000
			sleep 0.2
		done' _ "$TMP/stop" "$NETTOOL" "$B4" "$P_ECHO" \
		>"$TMP/lat.out" 2>&1 &
	SAMPLER=$!
	PIDS+=("$SAMPLER")
	(
		for ((i = 0; i < 600; i++)); do
			[ -e "$TMP/stop" ] && break
			t0=$(date +%s%N)
			timeout -k 1 15 "$SPACKLE" status -c "$CONF" --json \
				>/dev/null 2>&1
			rc=$?
			echo "$rc $((($(date +%s%N) - t0) / 1000000))"
			sleep 0.5
		done
	) >"$TMP/status.out" 2>&1 &
	POLLER=$!
	PIDS+=("$POLLER")
	# The daemon's anonymous memory every 100 ms (at most 5 min), its
	# most kept: the cap (memory_max) must hold at every sample.
	(
		m=0
		for ((i = 0; i < 3000; i++)); do
			[ -e "$TMP/stop" ] && break
			a=$(awk '$1 == "RssAnon:" { print $2 }' "/proc/$DAEMON/status" 2>/dev/null)
			[ -n "$a" ] && [ "$a" -gt "$m" ] && m=$a && echo "$m" >"$TMP/anon.max"
			sleep 0.1
		done
	) &
	MEMSAMPLER=$!
	PIDS+=("$MEMSAMPLER")
}

samplers_stop() {
	touch "$TMP/stop"
	wait_for 100 eval "! alive $SAMPLER && ! alive $POLLER && ! alive $MEMSAMPLER"
	wait "$SAMPLER" "$POLLER" "$MEMSAMPLER" 2>/dev/null
	read -r LAT_N LAT_FAIL LAT_MAX < <(awk '
		/^result=/ { n++; if ($1 != "result=ok") f++
			for (i = 1; i <= NF; i++) if ($i ~ /^connect_ms=/) {
				v = substr($i, 12) + 0; if (v > m) m = v } }
		END { printf "%d %d %.0f\n", n, f, m }' "$TMP/lat.out")
	read -r ST_N ST_FAIL ST_MAX < <(awk '
		{ n++; if ($1 != 0) f++; if ($2 > m) m = $2 }
		END { printf "%d %d %d\n", n, f, m }' "$TMP/status.out")
}

# --- one row -------------------------------------------------------------------------

# row PROBE FAILURE DB_MAX_SIZE BODY: a fresh pair, daemon and history,
# BODY, then the figures of the table and the conditions every probe
# shares. HISTORY and LATENCY (req or meas) say whether the history must
# survive the probe and ordinary connections stay within 100 ms.
row() {
	local probe=$1 failure=$2 dbsize=$3 body=$4 up=no hist_after
	local rss0 anon0 rss1 anon1 heap
	local qd_d qd_a un_d un_a lost malf result t0
	memcol=n/a

	ROW=$MODE/$probe
	ROW_PROBE=$probe
	ROW_FAILED=()
	ROW_NOTYET=0
	NOTE=
	LAT_N=0 LAT_FAIL=0 LAT_MAX=0 ST_N=0 ST_FAIL=0 ST_MAX=0
	t0=$(date +%s)
	echo "# $ROW"
	if ! probe_up "$probe"; then
		fail "$ROW/setup" "namespaces or servers"
		probe_down
		ROWS+=("$probe|$MODE|-|-|-|-|-|-|-|-|-|-|-|-|FAIL (set-up)")
		return
	fi
	write_conf "$probe-$MODE" "$failure" "$dbsize"
	good_rules start
	if ! daemon_start "$probe-$MODE"; then
		fail "$ROW/start" "the daemon did not start: $(tail -n 2 "$TMP/daemon-$probe-$MODE.err")"
		probe_down
		ROWS+=("$probe|$MODE|no|-|-|-|-|-|-|-|-|-|-|-|FAIL (start)")
		return
	fi
	make_history
	req history-made "$([ "$(hist_count)" -ge "$HIST" ] && echo 1 || echo 0)" \
		"$HIST connections before the probe, $(hist_count) in spackle log"
	read -r rss0 anon0 < <(mem "$DAEMON")

	"$body"

	# The daemon after the probe: alive, answering, its store readable.
	if alive "$DAEMON" && status_json >"$TMP/status.json" &&
		jq -e .counters "$TMP/status.json" >/dev/null 2>&1; then
		up=yes
	fi
	req daemon-up "$([ "$up" = yes ] && echo 1 || echo 0)" \
		"alive and answering status after the probe: $up"
	read -r rss1 anon1 < <(mem "$DAEMON")
	memory_cond
	spk audit -c "$CONF" --json >"$TMP/audit.json" 2>/dev/null
	qd_d=$(jst '.counters.queue_dropped + .counters.user_dropped')
	qd_a=$(jau '.counters.queue_dropped + .counters.socket_dropped')
	un_d=$(jst '.counters.passed_unseen')
	un_a=$(jau '.counters.passed_unseen')
	lost=$(jst '.counters.store_lost')
	req no-store-lost "$([ "$lost" = 0 ] && echo 1 || echo 0)" \
		"store_lost $lost: no record refused by a full queue to the store"
	malf=$(jst '.counters.malformed')
	if mdb_stat -e "$DB" >"$TMP/mdb.out" 2>&1 &&
		timeout -k 1 60 "$SPACKLE" log --db "$DB" --csv >/dev/null 2>"$TMP/log.err"; then
		req store-readable 1 "mdb_stat -e and spackle log read the store"
	else
		req store-readable 0 "$(head -n 2 "$TMP/mdb.out" "$TMP/log.err")"
	fi
	hist_after=$(hist_count)
	history_cond "$hist_after"
	daemon_stop
	flood="-"
	[ -n "$FLOOD_PORT" ] && flood_cond
	probe_down

	if [ "${#ROW_FAILED[@]}" -gt 0 ]; then
		result="FAIL: ${ROW_FAILED[*]}"
	elif [ "$ROW_NOTYET" = 1 ]; then
		result="pass (+not yet)"
	else
		result=pass
	fi
	# After a SIGKILL loop the daemon is another process than before.
	heap=$(((anon1 - anon0) / 1024))
	[ "$probe" = sigkill ] && heap="n/a"
	ROWS+=("$probe|$MODE|$up|$((ST_N - ST_FAIL))/$ST_N ${ST_MAX}ms|$qd_d/$qd_a|$un_d/$un_a|$lost|$malf|$((rss0 / 1024))→$((rss1 / 1024))|$heap|$memcol|$LAT_MAX/$LAT_FAIL|$hist_after/$HIST|$flood|$result")
	[ -n "$NOTE" ] && NOTES+=("$MODE/$NOTE")
	echo "# $ROW: $(($(date +%s) - t0)) s"
}

# history_cond KEPT: whether the history must survive this probe. A flood
# of flows that never complete takes at most a bounded share of the store
# (aggregates, spackle/incomplete.h): the history survives every probe.
history_cond() {
	case $HISTORY in
	req) req history "$([ "$1" -ge "$HIST" ] && echo 1 || echo 0)" \
		"$1 of the $HIST flows recorded before the probe still in spackle log" ;;
	*) meas history "$([ "$1" -ge "$HIST" ] && echo 1 || echo 0)" \
		"$1 of the $HIST flows recorded before the probe still in spackle log" ;;
	esac
}

# flood_cond: after the daemon stopped (its last aggregates written), the
# flood's flows in the store: how many records of their own, and how many
# flows aggregates stand for. Past the budget (256 a minute per worker,
# spackle.conf(5) incomplete_budget) a flood's flows that never complete
# are aggregated: at most budget x workers records of their own a minute.
flood_cond() {
	local rec agg max=$((2 * 256 * 3))

	read -r rec agg < <(timeout -k 1 60 "$SPACKLE" log --db "$DB" --json 2>/dev/null |
		jq -rs --argjson p "$FLOOD_PORT" '[.[] | select(.sport == $p)] |
			"\(map(select(.aggregate | not)) | length) \(map(select(.aggregate) | .flows) | add // 0)"')
	flood="${rec:-?}/${agg:-?}"
	req flood-aggregated "$([ "${agg:-0}" -gt 0 ] && echo 1 || echo 0)" \
		"the flood's incomplete flows past the budget are in aggregates: $agg flows"
	req flood-bounded "$([ -n "$rec" ] && [ "$rec" -le "$max" ] && echo 1 || echo 0)" \
		"the flood's flows with records of their own: $rec (at most $max: 2 minutes x 256 x 3 workers)"
}

# memory_cond: the daemon's anonymous memory stayed under memory_max: the
# most of the samples taken every 100 ms during the probe and of the
# daemon's own (its tick, each second); in MiB in the table. Not in the
# SIGKILL loop, whose daemon changes.
memory_cond() {
	local cap peak s

	[ "$ROW_PROBE" = sigkill ] && return
	cap=$(jst '.memory.max')
	peak=$(jst '.memory.anon_peak')
	s=$(cat "$TMP/anon.max" 2>/dev/null)
	[ -n "$s" ] && [ "$((s * 1024))" -gt "${peak:-0}" ] && peak=$((s * 1024))
	memcol="$((${peak:-0} / 1048576))/$((${cap:-0} / 1048576))"
	req memory-capped "$([ -n "$cap" ] && [ "$cap" != "?" ] && [ "${peak:-0}" -gt 0 ] && [ "$peak" -le "$cap" ] && echo 1 || echo 0)" \
		"anonymous memory at most $((${peak:-0} / 1048576)) MiB against memory_max $((${cap:-0} / 1048576)) MiB ($(jst '.memory.flows_per_worker') flows per worker; $(jst '.memory.trims') trims gave back $(($(jst '.memory.trimmed // 0') / 1048576)) MiB)"
}

# Ordinary connections: the table shows the worst; issue 17 (3) asks for
# 100 ms in both modes.
latency_cond() {
	"$LATENCY" latency-100ms "$([ "$LAT_MAX" -le 100 ] && [ "$LAT_FAIL" = 0 ] && echo 1 || echo 0)" \
		"worst ordinary connect $LAT_MAX ms, $LAT_FAIL of $LAT_N failed"
}

status_cond() {
	req status-answers "$([ "$ST_N" -gt 0 ] && [ "$ST_FAIL" = 0 ] && echo 1 || echo 0)" \
		"$((ST_N - ST_FAIL)) of $ST_N status calls answered, the slowest in $ST_MAX ms"
}

# --- the probes ------------------------------------------------------------------------

# syn RATE: 300,000 SYNs at RATE a second (0: as fast as the sender goes),
# 15 s at most, then 2 s for what the flood queued to drain.
syn() {
	samplers_start
	ip netns exec "$NSB" timeout -k 1 30 "$NETTOOL" syn-flood -a "$A4" \
		-p "$P_SYN" -s "$SYN_SRC" -k 240 -n 300000 -d 15 -r "$1" \
		-w 0 >"$TMP/syn.out" 2>&1
	sleep 2 # what the flood queued drains; the samplers go on
	samplers_stop
	NOTE="$ROW_PROBE: $(grep -o 'sent=[0-9]* .*' "$TMP/syn.out")"
	status_cond
	latency_cond
	# Once a second the daemon counts what stayed unseen over two reads
	# (fw_unseen_update): after the flood it equals the audit's.
	wait_for 50 unseen_agree
	req unseen-agrees "$(unseen_agree && echo 1 || echo 0)" \
		"passed_unseen (what the SYN-ACKs and the flood's overflow let past) as the daemon and the audit count it: $(cat "$TMP/unseen.last")"
	[ "$MODE" = flow ] && ct_recovered
}

# Flow mode: conntrack's flush ends every entry at once, far more destroy
# events than the daemon's socket holds; the ones lost are recovered by
# the next dump (at most 10 s apart, daemon/watch.c): the flood's flows
# leave the daemon's table. What is live after it is what conntrack holds
# again, and 10 for the flows that began between the two reads. Not
# counted: flows begun after the flush. The listener's SYN-ACKs to the
# flood's spoofed sources go on for a minute; one sent after the flush is
# a SYN-ACK conntrack has no entry for (invalid, so no entry is made), and
# a new flow of one packet in the daemon, which the next dump ends and
# the next retransmit makes again: some hundreds live at any time, which
# failed this check about one run in four.
ct_flows_gone() {
	local live ct old=

	live=$(counter flows_live)
	ct=$(ip netns exec "$NSA" conntrack -C 2>/dev/null)
	if [ -n "$live" ] && [ -n "$ct" ] && [ "$live" -gt $((ct + 10)) ] &&
		[ "$live" -le 20000 ]; then
		old=$(spk conns -c "$CONF" --json 2>/dev/null |
			jq --argjson t "$CT_FLUSH_NS" \
				'[.[] | select(.first_ns < $t)] | length')
	fi
	echo "flows_live $live${old:+ ($old begun before the flush)}, conntrack entries ${ct:-?}, ct_events_lost $(counter ct_events_lost)" >"$TMP/ct.last"
	[ -n "$live" ] && [ -n "$ct" ] &&
		{ [ "$live" -le $((ct + 10)) ] ||
			{ [ -n "$old" ] && [ "$old" -le $((ct + 10)) ]; }; }
}

ct_recovered() {
	local before

	before=$(counter flows_live)
	CT_FLUSH_NS=$(date +%s%N)
	ip netns exec "$NSA" conntrack -F >/dev/null 2>&1
	wait_for 300 ct_flows_gone
	req ct-recovered "$(ct_flows_gone && echo 1 || echo 0)" \
		"conntrack flushed with $before flows live in the daemon; then: $(cat "$TMP/ct.last")"
}

# The SYN flood at issue 17's rate: no queue overflows, ordinary
# connections within 100 ms.
probe_syn_flood() {
	syn "$SYN_RATE"
}

# The same, as fast as the sender goes: the queues overflow (fail-open),
# what passed unseen is counted.
probe_syn_max() {
	syn 0
}

# spray FAILURE: 200,000 new UDP flows as fast as the sender goes, 10 s at
# most; what reached the sink.
spray() {
	samplers_start
	ip netns exec "$NSB" timeout -k 1 30 "$NETTOOL" udp-spray -a "$A4" \
		-p "$P_SPRAY" -s "$SPRAY_SRC" -k 32 -n 200000 -d 10 -w 0 \
		>"$TMP/spray.out" 2>&1
	sleep 2
	samplers_stop
	status_cond
	latency_cond
}

# The daemon's count of what passed unseen settles once a second after the
# flood: it must then equal the audit's (issue 17, 2).
unseen_agree() {
	local d a

	d=$(counter passed_unseen)
	a=$(spk audit -c "$CONF" --json 2>/dev/null | jq -r '.counters.passed_unseen // -1')
	echo "daemon $d, audit $a" >"$TMP/unseen.last"
	[ -n "$d" ] && [ "$d" = "$a" ]
}

probe_fail_open() {
	local d

	spray
	wait_for 50 unseen_agree
	d=$(counter passed_unseen)
	req unseen-reported "$(unseen_agree && echo 1 || echo 0)" \
		"passed_unseen as the daemon and the audit count it: $(cat "$TMP/unseen.last")"
	req no-queue-drop "$([ "$(counter queue_dropped)" = 0 ] && echo 1 || echo 0)" \
		"fail-open drops nothing in the queue: queue_dropped $(counter queue_dropped)"
	meas overflowed "$([ "${d:-0}" -gt 0 ] && echo 1 || echo 0)" \
		"the queue overflowed (passed_unseen $d > 0), so the probe tested fail-open"
	NOTE="fail-open: udp-spray $(grep -o 'sent=[0-9]* .*' "$TMP/spray.out")"
}

probe_fail_closed() {
	local dd

	spray
	dd=$(counter queue_dropped)
	wait_for 50 unseen_agree
	req nothing-unseen "$([ "$(counter passed_unseen)" = 0 ] && unseen_agree && echo 1 || echo 0)" \
		"fail-closed lets nothing past unseen: $(cat "$TMP/unseen.last")"
	meas overflowed "$([ "${dd:-0}" -gt 0 ] && echo 1 || echo 0)" \
		"the queue overflowed (queue_dropped $dd > 0), so the probe tested fail-closed"
	NOTE="fail-closed: udp-spray $(grep -o 'sent=[0-9]* .*' "$TMP/spray.out")"
}

probe_malformed() {
	local name fam why r0 m0 r1 m1 dr dm src dst n=50 reached=0 counted=0
	local dropped=() wrong=() kinds=0 why

	while read -r name fam why; do
		kinds=$((kinds + 1))
		if [ "$fam" = 6 ]; then
			src=$B6 dst=$A6
		else
			src=$B4 dst=$A4
		fi
		r0=$(counter received)
		m0=$(counter malformed)
		ip netns exec "$NSB" timeout -k 1 10 "$ABUSE" frames -I "$VB" \
			-s "$src" -a "$dst" -m "$name" -n "$n" >/dev/null 2>&1
		# shellcheck disable=SC2016 # expanded by eval, each try
		wait_for 20 eval '[ "$(counter received)" -ge $((r0 + n)) ]'
		sleep 0.2 # none still on its way
		r1=$(counter received)
		m1=$(counter malformed)
		dr=$((r1 - r0))
		dm=$((m1 - m0))
		echo "# malformed $name: received +$dr, malformed +$dm ($why)" >>"$TMP/malformed.txt"
		if [ "$dr" -lt "$n" ]; then
			dropped+=("$name")
		elif [[ $name == ok-* ]]; then
			reached=$((reached + 1))
			[ "$dm" -lt "$n" ] && counted=$((counted + 1)) ||
				wrong+=("$name:+$dm")
		else
			reached=$((reached + 1))
			[ "$dm" -ge "$n" ] && counted=$((counted + 1)) ||
				wrong+=("$name:+$dm")
		fi
	done < <("$ABUSE" kinds)
	cat "$TMP/malformed.txt"
	req counted "$([ "${#wrong[@]}" = 0 ] && [ "$reached" -gt 2 ] && echo 1 || echo 0)" \
		"$kinds kinds of $n frames: $reached reached the queue and $counted of them were counted right (malformed, or not for ok-udp4/6)${wrong:+; wrong: ${wrong[*]}}"
	# Then every kind again, as one burst, while the samplers run.
	samplers_start
	while read -r name fam why; do
		if [ "$fam" = 6 ]; then
			src=$B6 dst=$A6
		else
			src=$B4 dst=$A4
		fi
		ip netns exec "$NSB" timeout -k 1 10 "$ABUSE" frames -I "$VB" \
			-s "$src" -a "$dst" -m "$name" -n 2000 >/dev/null 2>&1
	done < <("$ABUSE" kinds)
	sleep 2
	samplers_stop
	status_cond
	latency_cond
	why="the kernel holds a first fragment for reassembly before the input hook"
	[ "$MODE" = flow ] &&
		why="$why; conntrack's IPv6 defragmenter drops extension-header chains it cannot walk"
	NOTE="malformed: $reached of $kinds kinds reached the queue; never reached it: ${dropped[*]:-none} ($why)"
}

probe_control() {
	local sock=$TMP/control-$MODE.sock out=$TMP/abuse.out

	samplers_start
	{
		timeout -k 1 60 "$ABUSE" control -a "$sock" -m junk -n 200 \
			-L 4096 -w 3000
		timeout -k 1 60 "$ABUSE" control -a "$sock" -m long -n 1 \
			-L 10485760 -w 10000
		timeout -k 1 60 "$ABUSE" control -a "$sock" -m truncated \
			-n 100 -w 3000
		timeout -k 1 60 "$ABUSE" control -a "$sock" -m idle -n 500 \
			-H 5000
	} >"$out" 2>&1
	samplers_stop
	sed 's/^/# /' "$out"
	status_cond
	latency_cond
	# Every abusive peer answered or closed within its wait; every idle
	# one accepted and held (the daemon closes idle peers after 10 s).
	req peers-handled "$(awk '
		/mode=idle/ { ok = ok && /refused=0 / && /connected=500 /; next }
		/^result=/ { ok = ok && / open=0 / && / refused=0 / }
		BEGIN { ok = 1 } END { print ok && NR == 4 ? 1 : 0 }' "$out")" \
		"$(awk '{ printf "%s; ", $0 }' "$out" | sed 's/result=ok //g')"
}

probe_reload() {
	local i rc ok_good=0 ok_bad=0 checks=0 checks_ok=0 r up after storm_from storm_to

	samplers_start
	bg_a stream "$NETTOOL" tcp-stream -a "$B4" -p "$P_ECHO" -d 300 -i 20 \
		-w 3000
	STREAM=${PIDS[-1]}
	wait_for 50 grep -qs '^connected' "$TMP/stream.out"
	storm_from=$(date +%s%3N)
	for ((i = 1; i <= 200; i++)); do
		if ((i % 2)); then
			good_rules "$i"
			spk rules reload -c "$CONF" >/dev/null 2>"$TMP/reload.err" &&
				ok_good=$((ok_good + 1))
		else
			bad_rules
			spk rules reload -c "$CONF" >/dev/null 2>"$TMP/reload.err"
			rc=$?
			[ "$rc" = 1 ] && grep -q '10-stress.rules:[0-9]*:[0-9]*' "$TMP/reload.err" &&
				ok_bad=$((ok_bad + 1))
		fi
		# Every 20th, after a bad file: the old rules still decide.
		if ((i % 20 == 0)); then
			checks=$((checks + 1))
			r=$(ip netns exec "$NSA" "$NETTOOL" tcp-connect -a "$B4" \
				-p "$P_REJECT" -w 2000 2>/dev/null)
			[[ $r == result=refused* ]] &&
				ip netns exec "$NSA" "$NETTOOL" tcp-connect -a "$B4" \
					-p "$P_ECHO" -w 2000 >/dev/null 2>&1 &&
				checks_ok=$((checks_ok + 1))
		fi
	done
	storm_to=$(date +%s%3N)
	# The stream is whole when it was up before the first reload and
	# still echoes after the last: wait (a bounded time) for that echo.
	wait_for 100 eval "[ \"\$(stream_echoes_after $storm_to)\" -gt 0 ]"
	kill -TERM "$STREAM" 2>/dev/null
	wait_for 50 eval "! alive $STREAM"
	samplers_stop
	status_cond
	latency_cond
	req reloads "$([ "$ok_good" = 100 ] && [ "$ok_bad" = 100 ] && echo 1 || echo 0)" \
		"$ok_good of 100 good files loaded (exit 0), $ok_bad of 100 bad ones refused (exit 1, FILE:LINE:COL)"
	req rules-kept "$([ "$checks_ok" = "$checks" ] && echo 1 || echo 0)" \
		"$checks_ok of $checks checks after a bad file: the reject and the allow still held"
	up=$(awk -F'wall_ms=' '/^connected/ { print $2; exit }' "$TMP/stream.out")
	after=$(stream_echoes_after "$storm_to")
	req stream-whole "$(grep -q '^result=ok' "$TMP/stream.out" && [ "${up:-$storm_from}" -lt "$storm_from" ] && [ "$after" -gt 0 ] && echo 1 || echo 0)" \
		"the stream through the storm ($((storm_to - storm_from)) ms): $(grep '^result=' "$TMP/stream.out"), every echo byte for byte, up $((storm_from - ${up:-$storm_from})) ms before the first reload, $after echoes after the last"
}

# stream_echoes_after MS: the stream's echoes stamped after wall clock MS.
stream_echoes_after() {
	awk -v t="$1" -F'wall_ms=' '/^echo / && $2 + 0 > t { n++ } END { print n + 0 }' \
		"$TMP/stream.out"
}

probe_sigkill() {
	local r kills=0 started=0 store_ok=0 hist_ok=0 jumps_ok=0 h

	# By time: connects while the daemon is down run at no filter's speed.
	bg_a load "$NETTOOL" tcp-latency -a "$B4" -p "$P_LOAD" -n 1000 -d 600 -w 500
	samplers_start
	for ((r = 1; r <= 20; r++)); do
		sleep "0.$((RANDOM % 800 + 200))"
		kill -KILL "$DAEMON"
		wait "$DAEMON" 2>/dev/null
		kills=$((kills + 1))
		if mdb_stat -e "$DB" >/dev/null 2>&1 &&
			timeout -k 1 30 "$SPACKLE" log --db "$DB" --csv >/dev/null 2>&1; then
			store_ok=$((store_ok + 1))
		fi
		h=$(hist_count)
		[ "$h" -ge "$HIST" ] && hist_ok=$((hist_ok + 1))
		daemon_start "$probe-$MODE-$r" && started=$((started + 1))
		# The restart put back exactly one jump per hook and family.
		[ "$(ip netns exec "$NSA" iptables -S | grep -c -- '-j SPACKLE-')" = 2 ] &&
			[ "$(ip netns exec "$NSA" ip6tables -S | grep -c -- '-j SPACKLE-')" = 2 ] &&
			jumps_ok=$((jumps_ok + 1))
	done
	samplers_stop
	latency_cond
	req store-after-kills "$([ "$store_ok" = "$kills" ] && echo 1 || echo 0)" \
		"after $store_ok of $kills kills mdb_stat -e and spackle log read the store"
	req restarts "$([ "$started" = "$kills" ] && [ "$jumps_ok" = "$kills" ] && echo 1 || echo 0)" \
		"$started of $kills restarts answered status; $jumps_ok had one jump per hook and family"
	req history-each-kill "$([ "$hist_ok" = "$kills" ] && echo 1 || echo 0)" \
		"after $hist_ok of $kills kills the $HIST flows recorded first were in spackle log"
	NOTE="sigkill: $kills kills; the status column counts calls made while no daemon ran (not a condition); RSS is the first daemon's before, the last one's after"
}

# --- run -------------------------------------------------------------------------------

mkdir -p "$TMP/rules"
for MODE in $MODES; do
	for p in $PROBES; do
		case $p in
		# The floods against issue 17's 16 MiB store, which they
		# filled in seconds before aggregates: the history must
		# survive. Ordinary connections within 100 ms under the
		# SYN flood at 20,000/s; measured in the overflows.
		syn-flood | syn-max | fail-open | fail-closed)
			failure=open
			[ "$p" = fail-closed ] && failure=closed
			FLOOD_PORT=$P_SPRAY
			lat=meas
			case $p in syn-*) FLOOD_PORT=$P_SYN ;; esac
			[ "$p" = syn-flood ] && lat=req
			MEMORY_MAX=512M
			[ "$p" = syn-max ] && MEMORY_MAX=256M
			HISTORY=req LATENCY=$lat row "$p" "$failure" 16M \
				"probe_${p//-/_}"
			MEMORY_MAX=512M
			FLOOD_PORT=
			;;
		# The others against the default 1 GiB map: the SIGKILL
		# probe's load would otherwise fill a small one and pruning,
		# not the crashes, would take the history.
		malformed | control | reload)
			HISTORY=req LATENCY=req row "$p" open 1G "probe_$p"
			;;
		sigkill) HISTORY=req LATENCY=meas row sigkill open 1G probe_sigkill ;;
		*)
			echo "FAIL setup: unknown probe \"$p\""
			exit 2
			;;
		esac
	done
done

# --- the table ---------------------------------------------------------------------------

{
	echo
	echo "make stress: $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo "?"), $(nproc) cores, $(($(date +%s) - T_START)) s"
	printf '%s\n' "probe|mode|up|status ok, slowest|q.drop d/a|unseen d/a|st.lost|malformed|RSS MiB|heap +MiB|anon peak/cap|conn worst ms/failed|history|flood rec/aggr|result" \
		"${ROWS[@]}" | column -t -s '|'
	echo
	echo "d/a: as the daemon counts it (status --json) / as spackle audit counts it"
	printf '%s\n' "${NOTES[@]}"
	if [ "${#NOTYET[@]}" -gt 0 ]; then
		echo
		echo "measured, not yet required (not met in this run):"
		printf '  %s\n' "${NOTYET[@]}"
	fi
} | tee "${STRESS_TABLE:-/dev/null}"

echo "# $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
