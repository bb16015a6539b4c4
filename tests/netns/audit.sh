#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `spackle audit` (issue 6): namespace A runs `spackle run` (hooks out and in,
# exempt lo and icmp) with ordinary traffic to servers in namespace B. First
# the audit must say "clean" (no false alarm from loopback, neighbour
# discovery or its own tap). Then three holes are made on purpose:
#
#   1. an ACCEPT for uid 4242 placed above spackle's jump in OUTPUT, as a
#      vendor's exemption list would, and a TCP stream from that uid;
#   2. an AF_PACKET sender (nettool packet-send): UDP frames that no
#      netfilter hook sees, as a DHCP client sends them;
#   3. pings, which the declared ICMP exemption lets past the divert;
#
# and the audit must name the first two as hidden, each with its cause and
# process, list the third as exempt with its counters, show the foreign
# rule above spackle's in the steering report, exit 1 and say "holes"; the
# daemon must have recorded a tamper event. Then, with steering_repair the
# daemon puts its jump back first within seconds; the daemon counts what a
# full queue let past as audit does; and short-lived senders let past by
# an ACCEPT above spackle's while tcpdump (an AF_PACKET reader) is open on
# the same interface are put on that rule, and on the sender or on no
# process, never on tcpdump (issue 17, item 5).
#
# Usage: audit.sh SPACKLE NETTOOL [--demo]
#   --demo: print `spackle conns` and `spackle audit` for a person (make
#           demo) instead of PASS/FAIL lines.
#   SPACKLE_NETNS_KEEP  1: keep the temporary directory
#
# Every networking command runs under `ip netns exec`; the machine's own
# namespace is never changed. Waits are bounded; the EXIT trap cleans up.
# Exit 0 pass, 1 fail, 2 set-up failed, 77 skipped (not root).
set -u

if [ $# -lt 2 ]; then
	echo "usage: $0 SPACKLE NETTOOL [--demo]" >&2
	exit 2
fi
SPACKLE=$(readlink -f "$1")
NETTOOL=$(readlink -f "$2")
DEMO=0
[ "${3:-}" = --demo ] && DEMO=1

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
NSA=spackle-au-a-$ID
NSB=spackle-au-b-$ID
VA=spaa$ID
VB=spab$ID
A4=192.0.2.1
B4=192.0.2.2
A6=2001:db8::1
B6=2001:db8::2
P_TCP=7201
P_UDP=7202
P_RAW=7203
P_SL=7204
HOLE_UID=4242
SL_UID=4243
WATCH=3
METRICS=127.0.0.1:9478

TMP=$(mktemp -d /tmp/spackle-au.XXXXXX) || exit 2
TMP=$(readlink -f "$TMP")
CONF=$TMP/spackle.conf
PIDS=()
DAEMON=
npass=0
nfail=0

# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
daemon_user || { echo "FAIL setup: the user spackle"; exit 2; }

trap cleanup EXIT
trap 'exit 130' INT TERM

say() {
	[ "$DEMO" = 1 ] && printf '\n### %s\n' "$*"
}

setup() {
	ns_pair || return 1
	mkdir -p "$TMP/rules" "$TMP/db"
	echo "allow any" >"$TMP/rules/10-audit.rules"
	write_conf no
	bg_b tcp-server "$NETTOOL" tcp-server -a "$B4" -p "$P_TCP" -t 300
	bg_b tcp6-server "$NETTOOL" tcp-server -a "$B6" -p "$P_TCP" -t 300
	bg_b udp-server "$NETTOOL" udp-server -a "$B4" -p "$P_UDP" -t 300
	bg_b udp-sink "$NETTOOL" udp-sink -a "$B4" -p "$P_RAW" -t 300 -i 300000
	bg_b sl-sink "$NETTOOL" udp-sink -a "$B4" -p "$P_SL" -t 300 -i 300000
	# A local server for loopback traffic (exempt lo).
	bg_a lo-server "$NETTOOL" tcp-server -a 127.0.0.1 -p "$P_TCP" -t 300
	wait_for 50 grep -qs '^ready' "$TMP/tcp-server.out" &&
		wait_for 50 grep -qs '^ready' "$TMP/tcp6-server.out" &&
		wait_for 50 grep -qs '^ready' "$TMP/udp-server.out" &&
		wait_for 50 grep -qs '^ready' "$TMP/lo-server.out"
}

write_conf() {
	cat >"$CONF" <<EOF
mode = enforce
default = allow
failure = open
hooks = out, in
exempt = lo, icmp
rules = $TMP/rules
db = $TMP/db
control = $TMP/spackle.sock
steering_repair = $1
metrics = $METRICS
EOF
}

daemon_stop() {
	kill -TERM "$DAEMON" 2>/dev/null
	wait_for 50 eval "! alive $DAEMON"
	wait "$DAEMON" 2>/dev/null
}

# Ordinary traffic for S seconds: a TCP stream (IPv4 and IPv6), UDP echoes,
# and loopback connections.
ordinary() {
	local s=$1 i

	bg_a stream4 "$NETTOOL" tcp-stream -a "$B4" -p "$P_TCP" -d "$s" -i 100
	bg_a stream6 "$NETTOOL" tcp-stream -a "$B6" -p "$P_TCP" -d "$s" -i 100
	bg_a stream-lo "$NETTOOL" tcp-stream -a 127.0.0.1 -p "$P_TCP" -d "$s" -i 200
	(
		for ((i = 0; i < s * 2; i++)); do
			ip netns exec "$NSA" "$NETTOOL" udp-send -a "$B4" \
				-p "$P_UDP" -n 1 -w 300 >/dev/null 2>&1
			sleep 0.5
		done
	) &
	PIDS+=("$!")
}

audit_json() {
	spk audit -c "$CONF" --watch "$WATCH" --json >"$TMP/audit-$1.json" \
		2>"$TMP/audit-$1.err"
	echo $? >"$TMP/audit-$1.rc"
}

# jq_ok FILTER FILE [jq options]: FILE holds JSON and FILTER is true of it
# (jq -e alone passes on an empty file).
jq_ok() {
	local filter=$1 file=$2

	shift 2
	[ -s "$file" ] && jq -e "$@" "$filter" "$file" >/dev/null 2>&1
}

if ! setup; then
	echo "FAIL setup: namespaces or servers"
	exit 2
fi

# --- 1: ordinary traffic alone is clean --------------------------------------

say "spackle run in namespace $NSA: ordinary traffic only"
if ! daemon_start clean; then
	echo "FAIL setup: the daemon did not start: $(tail -n 3 "$TMP/daemon-clean.err")"
	exit 2
fi
# Ready means steered: the first answer already says every hook is in place.
st=$(spk status -c "$CONF" --json)
if printf '%s' "$st" | jqe '.state == "running" and .steering.in_place == true
	and .steering.hooks > 0 and .steering.hooks_in_place == .steering.hooks' >/dev/null; then
	pass ready "status: $(printf '%s' "$st" | jq -c '{state, steering}')"
else
	fail ready "want state running and the steering in place: $(printf '%s' "$st" | jq -c '{state, steering}' 2>/dev/null)"
fi
ordinary $((WATCH + 4))
sleep 1
if [ "$DEMO" = 1 ]; then
	say "spackle audit --watch $WATCH (expect: clean)"
	spk audit -c "$CONF" --watch "$WATCH"
else
	audit_json clean
	rc=$(cat "$TMP/audit-clean.rc")
	j=$TMP/audit-clean.json
	if [ "$rc" = 0 ] && jq_ok '.verdict == "clean" and (.hidden | length) == 0
		and .counters.adds_up and .steering.ok' "$j"; then
		pass clean "exit 0, verdict clean, nothing hidden over $WATCH s ($(jq -c '{wire: .counters.wire.packets, sent: .counters.sent_to_queues, received: .counters.received, exempt: (.exempt | length)}' "$j"))"
	else
		fail clean "want exit 0 and clean; exit $rc: $(jq -c '{verdict, hidden, steering: .steering.ok, adds_up: .counters.adds_up, notes}' "$j" 2>/dev/null || head -c 600 "$j" "$TMP/audit-clean.err")"
	fi
fi

# While no rule changes, the daemon's second reads the queue rules'
# counters from nf_tables (iptables-nft): iptables-save runs again only
# when the ruleset's generation moves (section 3 moves it).
steer_reads() {
	spk status -c "$CONF" --json |
		jq -c '[.counters.steering_saves, .counters.steering_counter_reads, .steering.read]'
}
if [ "$DEMO" = 0 ] && ip netns exec "$NSA" iptables -V | grep -q nf_tables; then
	r0=$(steer_reads)
	steer_counted() {
		steer_reads | jqe --argjson r "$r0" '.[1] >= $r[1] + 3' >/dev/null
	}
	if wait_for 100 steer_counted; then
		r1=$(steer_reads)
		if printf '%s' "$r1" | jqe --argjson r "$r0" '.[0] == $r[0] and .[2] == "nf_tables"' >/dev/null; then
			pass steering-read "[iptables-save runs, counter reads, how]: $r0, then $r1"
		else
			fail steering-read "want no iptables-save while nothing changed: $r0, then $r1"
		fi
	else
		fail steering-read "the counters were not read each second: $r0, then $(steer_reads)"
	fi
fi

# --- 2: three holes -------------------------------------------------------------

say "making three holes: an ACCEPT for uid $HOLE_UID above spackle's rules, an AF_PACKET sender, pings (exempt icmp)"
ip netns exec "$NSA" iptables -I OUTPUT 1 -m owner --uid-owner "$HOLE_UID" \
	-j ACCEPT || fail setup "iptables -I OUTPUT 1 (in the namespace)"
ordinary $((WATCH + 6))
bg_a hole-uid "$NETTOOL" tcp-stream -a "$B4" -p "$P_TCP" -d $((WATCH + 6)) \
	-i 100 -u "$HOLE_UID"
bg_a hole-raw "$NETTOOL" packet-send -I "$VA" -a "$B4" -p "$P_RAW" \
	-d $((WATCH + 6)) -i 100
bg_a hole-ping "$NETTOOL" ping -a "$B4" -n $(((WATCH + 6) * 5)) -i 200
sleep 1.5
if [ "$DEMO" = 1 ]; then
	say "spackle conns (what crossed the divert)"
	spk conns -c "$CONF"
	say "spackle audit --watch $WATCH (expect: holes)"
	spk audit -c "$CONF" --watch "$WATCH"
	say "spackle log --events (the daemon saw its steering changed)"
	spk log -c "$CONF" --events | grep -E "tamper|start" | head -n 5
	exit 0
fi
audit_json holes
rc=$(cat "$TMP/audit-holes.rc")
j=$TMP/audit-holes.json
hidden=$(jq -c '.hidden' "$j" 2>/dev/null)
if [ "$rc" = 1 ] && jq_ok '.verdict == "holes"' "$j"; then
	pass holes/verdict "exit 1, verdict holes, $(jq '.hidden | length' "$j") hidden"
else
	fail holes/verdict "want exit 1 and holes; exit $rc: $(head -c 400 "$j" "$TMP/audit-holes.err")"
fi
if jq_ok 'any(.hidden[];
	.proto == "tcp" and .dir == "out" and (.dport | tostring) == $p
	and .cause == "rule above" and .uid == $u
	and (.rule | test("uid-owner")) and (.exe | test("nettool")))' "$j" \
	--arg p "$P_TCP" --argjson u "$HOLE_UID"; then
	pass holes/rule-above "$(jq -c --arg p "$P_TCP" '[.hidden[] | select(.cause == "rule above")][0] | {src, sport, dst, dport, packets, pid, uid, exe, rule}' "$j")"
else
	fail holes/rule-above "want tcp to port $P_TCP, cause rule above, uid $HOLE_UID, exe nettool: $hidden"
fi
if jq_ok 'any(.hidden[]; .proto == "udp" and
	(.dport | tostring) == $p and .cause == "packet socket"
	and (.pid | type) == "number" and (.exe | test("nettool")))' "$j" \
	--arg p "$P_RAW"; then
	pass holes/packet-socket "$(jq -c --arg p "$P_RAW" '[.hidden[] | select(.cause == "packet socket")][0] | {src, dst, dport, packets, pid, exe}' "$j")"
else
	fail holes/packet-socket "want udp to port $P_RAW, cause packet socket, exe nettool: $hidden"
fi
if jq_ok 'any(.exempt[]; .proto == "icmp" and .exemption == "icmp")
	and .counters.exempt.icmp > 0' "$j"; then
	pass holes/icmp-exempt "$(jq -c '{flows: [.exempt[] | select(.exemption == "icmp") | {dir, packets}], counter: .counters.exempt.icmp}' "$j")"
else
	fail holes/icmp-exempt "want icmp flows listed as exempt with counters: $(jq -c '{exempt, c: .counters.exempt}' "$j" 2>/dev/null)"
fi
if jq_ok '.hidden | all(.cause != "unknown" and .proto != "icmp")' "$j"; then
	pass holes/no-other "every hidden flow has a known cause"
else
	fail holes/no-other "unexplained hidden flows: $hidden"
fi
if jq_ok 'any(.steering.hooks[]; .family == "ipv4" and .hook == "OUTPUT"
	and .ok == false and .position == 2
	and any(.above[]; (.rule | test("uid-owner")) and .packets > 0))' "$j"; then
	pass holes/steering "$(jq -c '[.steering.hooks[] | select(.ok == false)][0] | {hook, position, above}' "$j")"
else
	fail holes/steering "want the uid rule above spackle's jump in ipv4 OUTPUT: $(jq -c .steering "$j" 2>/dev/null)"
fi
if wait_for 30 eval "spk log -c '$CONF' --events --json | jqe 'any(.[]; .type == \"tamper\")' >/dev/null 2>&1"; then
	pass holes/tamper-event "the daemon recorded the change: $(spk log -c "$CONF" --events --json | jq -c '[.[] | select(.type == "tamper")][0].detail.hooks[0] | {hook, position}')"
else
	fail holes/tamper-event "no tamper event in spackle log --events"
fi
# status says so too: the steering is not in place in one hook, and the
# text puts it under attention.
if wait_for 30 eval "spk status -c '$CONF' --json | jqe '.steering.in_place == false and .steering.hooks_in_place < .steering.hooks and .steering.read != \"nf_tables\"' >/dev/null 2>&1" &&
	spk status -c "$CONF" | grep -Eq "^  steering +1  hooks without spackle's jump first"; then
	pass holes/status-steering "$(spk status -c "$CONF" --json | jq -c .steering); $(spk status -c "$CONF" | grep -E '^state ')"
else
	fail holes/status-steering "want steering.in_place false and an attention line: $(spk status -c "$CONF" --json | jq -c .steering 2>/dev/null)"
fi
# The daemon was told: its metrics and status carry the audit's findings,
# and the store keeps them as an audit event.
nh=$(jq '.hidden | length' "$j" 2>/dev/null)
mh=$(ip netns exec "$NSA" curl -s -m 5 "http://$METRICS/metrics" |
	awk '$1 == "spackle_audit_hidden_flows" { print $2 }')
if [ -n "$nh" ] && [ "$nh" -ge 2 ] && [ "$mh" = "$nh" ] &&
	spk status -c "$CONF" --json | jqe --argjson n "$nh" '.audit.hidden == $n and .audit.holes' >/dev/null &&
	spk log -c "$CONF" --events --json | jqe --argjson n "$nh" 'any(.[]; .type == "audit" and .detail.hidden == $n)' >/dev/null; then
	pass holes/metrics "spackle_audit_hidden_flows $mh, as the audit found; status and an audit event agree"
else
	fail holes/metrics "audit found ${nh:-?} hidden, metrics say '${mh}'"
fi
# Each hidden flow is a record of the store, marked hidden, so the history
# shows what passed unseen beside what crossed (and suggest leaves it out).
hidden_rec() {
	spk log -c "$CONF" --json | jq -se --arg p "$P_TCP" --argjson u "$HOLE_UID" \
		'any(.[]; .hidden and (.dport | tostring) == $p and .uid == $u
		and .verdict == "none" and .rule == "hidden: rule above"
		and .packets_out > 0)'
}
if wait_for 30 eval "hidden_rec >/dev/null 2>&1"; then
	pass holes/hidden-in-store "$(spk log -c "$CONF" --json | jq -sc --arg p "$P_TCP" '[.[] | select(.hidden and (.dport | tostring) == $p)][0] | {src, dst, dport, uid, exe, rule, packets_out}')"
else
	fail holes/hidden-in-store "no hidden record for port $P_TCP in spackle log: $(spk log -c "$CONF" --json | jq -sc '[.[] | select(.hidden)]' 2>&1 | head -c 400)"
fi
daemon_stop

# --- 3: steering_repair puts spackle first again -------------------------------

ip netns exec "$NSA" iptables -D OUTPUT -m owner --uid-owner "$HOLE_UID" \
	-j ACCEPT 2>/dev/null
write_conf yes
if daemon_start repair; then
	ip netns exec "$NSA" iptables -I OUTPUT 1 -m owner \
		--uid-owner "$HOLE_UID" -j ACCEPT
	if wait_for 50 eval "ip netns exec $NSA iptables -S OUTPUT | sed -n 2p | grep -q -- '-j SPACKLE-OUT'"; then
		pass repair "spackle's jump is rule 1 of OUTPUT again: $(ip netns exec "$NSA" iptables -S OUTPUT | sed -n '2,3p' | tr '\n' ';')"
		if wait_for 30 eval "spk status -c '$CONF' --json | jqe '.steering.in_place == true and .steering.read == \"nf_tables\"' >/dev/null 2>&1"; then
			pass repair/status "status says the steering is in place again: $(spk status -c "$CONF" --json | jq -c .steering)"
		else
			fail repair/status "$(spk status -c "$CONF" --json | jq -c .steering 2>/dev/null)"
		fi
	else
		fail repair "OUTPUT after 5 s: $(ip netns exec "$NSA" iptables -S OUTPUT | tr '\n' ';')"
	fi
	daemon_stop
else
	fail repair "the daemon did not start: $(tail -n 3 "$TMP/daemon-repair.err")"
fi

# --- 4: what a full queue let past, counted by the daemon ---------------------
# With failure = open, a full queue accepts what it cannot hold, and the
# kernel counts that nowhere the daemon reads: the daemon reads its queue
# rules' counters each second and reports the difference, the figure audit
# gives. The daemon is stopped (SIGSTOP) while 20,000 new flows come in
# from B (a sender in A would wait on its own socket's buffer, which the
# queued packets hold), so its queues fill for certain.

unseen_agree() {
	local st au

	st=$(spk status -c "$CONF" --json | jq -r '.counters.passed_unseen // -1')
	au=$(spk audit -c "$CONF" --json 2>/dev/null | jq -r '.counters.passed_unseen // -2')
	echo "status=$st audit=$au" >"$TMP/unseen.last"
	[ "$st" -gt 1000 ] && [ "$st" = "$au" ]
}

write_conf no
if daemon_start overflow; then
	kill -STOP "$DAEMON"
	ip netns exec "$NSB" timeout 30 "$NETTOOL" udp-spray -a "$A4" \
		-p "$P_RAW" -s "$B4" -n 20000 -d 10 -w 100 >"$TMP/spray.out" 2>&1
	kill -CONT "$DAEMON"
	if wait_for 100 unseen_agree; then
		pass unseen-status "a full queue's fail-open, as status and audit count it: $(cat "$TMP/unseen.last")"
	else
		fail unseen-status "want status's passed_unseen over 1000 and equal to audit's: $(cat "$TMP/unseen.last" 2>/dev/null)"
	fi
	if grep -q '"passed_unseen":[1-9]' "$TMP/daemon-overflow.err"; then
		pass unseen-log "the daemon's log: $(grep -o 'lost in the last second: .*' "$TMP/daemon-overflow.err" | head -n 1)"
	else
		fail unseen-log "no warning with passed_unseen in the daemon's log: $(tail -n 3 "$TMP/daemon-overflow.err")"
	fi
	if ip netns exec "$NSA" curl -s -m 5 "http://$METRICS/metrics" |
		grep -Eq '^spackle_packets_passed_unseen_total [1-9]'; then
		pass unseen-metric "spackle_packets_passed_unseen_total in /metrics"
	else
		fail unseen-metric "no spackle_packets_passed_unseen_total above 0 in /metrics"
	fi
	daemon_stop
else
	fail unseen-status "the daemon did not start: $(tail -n 3 "$TMP/daemon-overflow.err")"
fi

# --- 5: short-lived senders let past by a rule above, tcpdump on the link -----
# Issue 17, item 5: programs of uid SL_UID that send UDP to P_SL and exit
# (sl-udp at once, nettool udp-send after waiting 300 ms for an answer) while
# an ACCEPT for that uid sits above spackle's jump, and tcpdump, which only
# reads, holds an AF_PACKET socket on the same interface. Their sockets are
# gone when the watch ends and no IP socket holds the flows: the audit used
# to put them on tcpdump with cause "packet socket". The rule's counters
# grew by their packets over the watch, so the cause is that rule; the
# process is the sender when a lookup while the tap ran tied it (the
# socket, or its user's one exit), else unknown; tcpdump never. Frames that
# nettool packet-send writes meanwhile (past netfilter) have cause "packet
# socket", and no process: two hold packet sockets there, and the audit
# cannot tell which wrote them; so do those of a sender that exits before
# the watch ends, tcpdump then the only holder left.

packet_sockets() {
	ip netns exec "$NSA" awk 'NR > 1' /proc/net/packet | wc -l
}

SL_UDP=$(dirname "$NETTOOL")/sl-udp
ip netns exec "$NSA" iptables -D OUTPUT -m owner --uid-owner "$HOLE_UID" \
	-j ACCEPT 2>/dev/null
write_conf no
if ! command -v tcpdump >/dev/null 2>&1 || ! command -v setpriv >/dev/null 2>&1 ||
	[ ! -x "$SL_UDP" ]; then
	echo "SKIP sniffed: tcpdump, setpriv or $SL_UDP missing"
elif ! daemon_start sniffed; then
	fail sniffed "the daemon did not start: $(tail -n 3 "$TMP/daemon-sniffed.err")"
else
	np0=$(packet_sockets)
	bg_a sniffer tcpdump -i "$VA" -n -U -w /dev/null
	SNIFFER=${PIDS[-1]}
	wait_for 50 grep -qs 'listening on' "$TMP/sniffer.out" ||
		fail sniffed "tcpdump did not start: $(head -c 300 "$TMP/sniffer.out")"
	np1=$(packet_sockets)
	ip netns exec "$NSA" iptables -I OUTPUT 1 -m owner \
		--uid-owner "$SL_UID" -j ACCEPT
	audit_json sniffed &
	apid=$!
	PIDS+=("$apid")
	# The audit's taps (lo and the veth) are open: the watch has begun.
	wait_for 50 eval '[ "$(packet_sockets)" -ge $((np1 + 2)) ]'
	bg_a sniffed-raw "$NETTOOL" packet-send -I "$VA" -a "$B4" -p "$P_RAW" \
		-d $((WATCH + 3)) -i 100
	for ((i = 0; i < 8; i++)); do
		[ -s "$TMP/audit-sniffed.rc" ] && break
		ip netns exec "$NSA" setpriv --reuid "$SL_UID" \
			--regid "$SL_UID" --clear-groups \
			"$SL_UDP" "$B4" "$P_SL" "sl $i"
		ip netns exec "$NSA" "$NETTOOL" udp-send -a "$B4" -p "$P_SL" \
			-n 1 -w 300 -u "$SL_UID" >/dev/null 2>&1
	done
	wait "$apid"
	rc=$(cat "$TMP/audit-sniffed.rc")
	j=$TMP/audit-sniffed.json
	sl='[.hidden[] | select((.dport | tostring) == $p)]'
	if [ "$rc" = 1 ] && jq_ok "$sl | length >= 4" "$j" --arg p "$P_SL"; then
		pass sniffed/hidden "exit 1, $(jq --arg p "$P_SL" "$sl | length" "$j") flows to port $P_SL hidden (packet sockets: $np0 before tcpdump, $np1 with it)"
	else
		fail sniffed/hidden "want exit 1 and the flows to port $P_SL hidden; exit $rc: $(jq -c '.hidden' "$j" 2>/dev/null | head -c 600)"
	fi
	if jq_ok "$sl | length > 0 and all(.[]; .cause == \"rule above\"
		and (.rule | test(\"--uid-owner \" + \$u + \" \"))
		and .rule_at == \"ipv4 filter OUTPUT rule 1\"
		and .rule_delta >= 1)" "$j" --arg p "$P_SL" --arg u "$SL_UID"; then
		pass sniffed/cause "$(jq -c --arg p "$P_SL" "${sl}[0] | {cause, rule_at, rule, rule_delta, why}" "$j")"
	else
		fail sniffed/cause "want every flow to port $P_SL put on the uid $SL_UID rule above: $(jq -c --arg p "$P_SL" "$sl | map({sport, cause, rule, rule_delta, pid, exe})" "$j" 2>/dev/null | head -c 800)"
	fi
	if jq_ok "$sl | length > 0 and all(.[];
		(.pid == null and .exe == null)
		or ((.exe | test(\"/(sl-udp|nettool)\$\")) and .uid == (\$u | tonumber)
		and .process_evidence != null))" "$j" --arg p "$P_SL" --arg u "$SL_UID"; then
		pass sniffed/process "$(jq -c --arg p "$P_SL" "$sl | group_by(.exe) | map({exe: .[0].exe, flows: length, evidence: (map(.process_evidence) | unique)})" "$j")"
	else
		fail sniffed/process "want the sender or unknown: $(jq -c --arg p "$P_SL" "$sl | map({sport, pid, exe, uid, process_evidence})" "$j" 2>/dev/null | head -c 800)"
	fi
	# A sender that waits 300 ms is still there when the tap sees its
	# first datagram: its socket ties it.
	if jq_ok "any(${sl}[]; (.exe | test(\"/nettool\$\"))
		and (.cmdline | test(\"udp-send\")) and .exited)" "$j" --arg p "$P_SL"; then
		pass sniffed/tied "$(jq -c --arg p "$P_SL" "[${sl}[] | select(.cmdline // \"\" | test(\"udp-send\"))][0] | {pid, exe, uid, exited, process_evidence}" "$j")"
	else
		fail sniffed/tied "no flow to port $P_SL tied to nettool udp-send: $(jq -c --arg p "$P_SL" "$sl | map({sport, pid, exe, cmdline, exited, process_evidence})" "$j" 2>/dev/null | head -c 800)"
	fi
	if [ -s "$j" ] && jq_ok 'all(.hidden[]; (.exe // "" | test("tcpdump") | not)
		and .pid != $s)' "$j" --argjson s "$SNIFFER" &&
		jq_ok "$sl | all(.[]; .cause != \"packet socket\")" "$j" --arg p "$P_SL"; then
		pass sniffed/not-tcpdump "no hidden flow is put on tcpdump (pid $SNIFFER), none to port $P_SL on a packet socket"
	else
		fail sniffed/not-tcpdump "$(jq -c '[.hidden[] | select(.cause == "packet socket" or (.exe // "" | test("tcpdump")))]' "$j" 2>/dev/null | head -c 600)"
	fi
	if jq_ok 'any(.hidden[]; (.dport | tostring) == $p
		and .cause == "packet socket" and .pid == null
		and .packet_sockets >= 2)' "$j" --arg p "$P_RAW"; then
		pass sniffed/raw-unknown "$(jq -c --arg p "$P_RAW" '[.hidden[] | select((.dport | tostring) == $p)][0] | {dport, packets, cause, pid, packet_sockets}' "$j")"
	else
		fail sniffed/raw-unknown "want the frames to port $P_RAW with cause packet socket and no process: $(jq -c --arg p "$P_RAW" '[.hidden[] | select((.dport | tostring) == $p)]' "$j" 2>/dev/null | head -c 600)"
	fi
	# A raw sender that comes and goes during the watch, tcpdump the
	# only packet socket left at its end: still no process named.
	wait_for 100 eval '[ "$(packet_sockets)" -le "$np1" ]'
	audit_json sniffed2 &
	apid=$!
	PIDS+=("$apid")
	wait_for 50 eval '[ "$(packet_sockets)" -ge $((np1 + 2)) ]'
	ip netns exec "$NSA" "$NETTOOL" packet-send -I "$VA" -a "$B4" \
		-p "$P_RAW" -d 1 -i 100 >/dev/null 2>&1
	wait "$apid"
	j=$TMP/audit-sniffed2.json
	if jq_ok 'any(.hidden[]; (.dport | tostring) == $p
		and .cause == "packet socket" and .pid == null
		and .packet_sockets >= 2)' "$j" --arg p "$P_RAW" &&
		jq_ok 'all(.hidden[]; .pid != $s)' "$j" --argjson s "$SNIFFER"; then
		pass sniffed/raw-gone "$(jq -c --arg p "$P_RAW" '[.hidden[] | select((.dport | tostring) == $p)][0] | {dport, packets, cause, pid, packet_sockets}' "$j")"
	else
		fail sniffed/raw-gone "want the frames of a sender gone by the end with no process (tcpdump stayed): $(jq -c --arg p "$P_RAW" '[.hidden[] | select((.dport | tostring) == $p)]' "$j" 2>/dev/null | head -c 600)"
	fi
	daemon_stop
fi

echo "# $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
