# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers shared by the namespace tests (run.sh, names.sh, shortlived.sh,
# crash.sh, audit.sh, service.sh) and tests/stress/stress.sh: results, the namespace pair, background
# commands and the daemon,
# bounded waits, process checks, clean-up of namespaces and processes.
# The sourcing script sets NSA, NSB, TMP, the PIDS array and the npass and
# nfail counters (and what spk() runs) before it calls them.
# shellcheck shell=bash

pass() {
	echo "PASS $1: $2"
	npass=$((npass + 1))
}

fail() {
	echo "FAIL $1: $2"
	nfail=$((nfail + 1))
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

# shellcheck disable=SC2317 # called through eval
alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# stop_pids: SIGTERM to every process in PIDS, SIGKILL to one still there
# 3 s later; PIDS is emptied.
stop_pids() {
	local p

	for p in "${PIDS[@]}"; do
		alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait_for 30 eval "! alive $p" || kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=()
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	set +e
	trap - EXIT INT TERM
	stop_pids
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	if [ "${SPACKLE_NETNS_KEEP:-0}" = 1 ]; then
		echo "# kept $TMP"
	else
		rm -rf "$TMP"
	fi
}

# ns_pair: namespaces NSA and NSB joined by veth VA <-> VB, lo up in both,
# A4/24 and B4/24 on the pair (and A6/64, B6/64 when A6 is set), both ends
# up, no route out of the pair. 0, or 1 when any step failed.
ns_pair() {
	ip netns add "$NSA" && ip netns add "$NSB" &&
		ip link add "$VA" netns "$NSA" type veth peer name "$VB" \
			netns "$NSB" &&
		ip -n "$NSA" link set lo up && ip -n "$NSB" link set lo up &&
		ip -n "$NSA" addr add "$A4/24" dev "$VA" &&
		ip -n "$NSB" addr add "$B4/24" dev "$VB" || return 1
	if [ -n "${A6:-}" ]; then
		ip -n "$NSA" addr add "$A6/64" dev "$VA" nodad &&
			ip -n "$NSB" addr add "$B6/64" dev "$VB" nodad ||
			return 1
	fi
	ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up ||
		return 1
	wait_for 50 eval "ip -n $NSA link show $VA | grep -q 'state UP'" ||
		return 1
	if ip -n "$NSA" route show default | grep -q . ||
		ip -n "$NSB" route show default | grep -q .; then
		echo "# unexpected default route in a test namespace" >&2
		return 1
	fi
}

# jqe FILTER [jq options]: jq -e on standard input that fails when the
# input is empty (jq 1.6 -e exits 0 then, and a check of nothing passes).
jqe() {
	local in

	in=$(cat)
	[ -n "${in//[[:space:]]/}" ] && printf '%s\n' "$in" | jq -e "$@"
}

spk() {
	timeout -k 1 10 ip netns exec "$NSA" "$SPACKLE" "$@"
}

# daemon_user: the daemon drops to the user `spackle` after set-up (its
# default `user`): create it as an install does, and let it read TMP, where
# the tests keep the rules it reads again on a reload. 0, or 1.
daemon_user() {
	"$(dirname "${BASH_SOURCE[0]}")/../../etc/add-user.sh" >/dev/null &&
		chmod 0755 "$TMP"
}

# bg_a NAME CMD...: CMD in namespace A, in the background, its output in
# TMP/NAME.out, its pid in PIDS (bg_b: namespace B). The file is emptied
# here, before the job starts: the job's own redirect empties it only
# once it runs, and a caller that waits for a line in it could read the
# last job of that name's first (stress's reload probe in flow mode found
# packet mode's stream "connected", then the new one's stamp 1 ms after).
bg_a() {
	local name=$1

	shift
	: >"$TMP/$name.out"
	ip netns exec "$NSA" "$@" >"$TMP/$name.out" 2>&1 &
	PIDS+=("$!")
}

bg_b() {
	local name=$1

	shift
	: >"$TMP/$name.out"
	ip netns exec "$NSB" "$@" >"$TMP/$name.out" 2>&1 &
	PIDS+=("$!")
}

# daemon_start NAME: `spackle run -c CONF` in namespace A (pid in DAEMON,
# output in TMP/daemon-NAME.out and .err); 0 once it answers status.
daemon_start() {
	ip netns exec "$NSA" "$SPACKLE" run -c "$CONF" \
		>"$TMP/daemon-$1.out" 2>"$TMP/daemon-$1.err" &
	DAEMON=$!
	PIDS+=("$DAEMON")
	wait_for 100 eval "spk status -c '$CONF' >/dev/null 2>&1"
}
