#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Golden tests of `spackle steering print`: it prints the generators'
# golden texts, and refuses what they refuse, with the same words.
#
# Usage: run-steering.sh SPACKLE_BINARY GOLDEN_DIR   (tests/golden)
#
#   pf/anchor/NAME.conf  `--firewall pf-macos -c NAME.conf` prints
#                        NAME.macos.ok, nothing on stderr, exit 0; or
#                        exits 1 with "spackle steering print: " and
#                        NAME.macos.err on stderr. Likewise pf-openbsd.
#   steer/default.*      `queues = 4` (test_steer's default) prints
#                        default.ip4.ok then default.ip6.ok for iptables,
#                        default.nft.ok for nft.
#   usage                no --firewall, an unknown one, an unknown
#                        subcommand, a config that does not load: exit 2.
set -u
bin=$1
dir=$2
case $bin in
/*) ;;
*) bin=$(pwd)/$bin ;;
esac
cd "$dir" || exit 2
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
cases=0
failed=0

bad() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}

# run NAME WANT_RC WANT_OUT WANT_ERR ARGS...: the command's exit status,
# standard output and standard error, each as wanted.
run() {
	name=$1
	want_rc=$2
	want_out=$3
	want_err=$4
	shift 4
	cases=$((cases + 1))
	"$bin" steering print "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne "$want_rc" ]; then
		cat "$tmp/err"
		bad "$name" "exited $rc, want $want_rc"
		return
	fi
	if ! diff -u "$want_out" "$tmp/out"; then
		bad "$name" "standard output differs"
		return
	fi
	diff -u "$want_err" "$tmp/err" || bad "$name" "standard error differs"
}

: >"$tmp/empty"
for conf in pf/anchor/*.conf; do
	base=${conf%.conf}
	for fl in macos openbsd; do
		if [ -e "$base.$fl.ok" ]; then
			run "$base.$fl" 0 "$base.$fl.ok" "$tmp/empty" \
				--firewall "pf-$fl" -c "$conf"
		elif [ -e "$base.$fl.err" ]; then
			printf 'spackle steering print: %s\n' \
				"$(cat "$base.$fl.err")" >"$tmp/want.err"
			run "$base.$fl" 1 "$tmp/empty" "$tmp/want.err" \
				--firewall "pf-$fl" -c "$conf"
		else
			cases=$((cases + 1))
			bad "$base.$fl" "neither $base.$fl.ok nor .err"
		fi
	done
done

printf 'queues = 4\n' >"$tmp/q4.conf"
cat steer/default.ip4.ok steer/default.ip6.ok >"$tmp/ipt.ok"
run iptables 0 "$tmp/ipt.ok" "$tmp/empty" --firewall iptables -c "$tmp/q4.conf"
run nft 0 steer/default.nft.ok "$tmp/empty" -c "$tmp/q4.conf" --firewall=nft
printf 'queues = 0\n' >"$tmp/q0.conf"

# Usage and configs that do not load: exit 2, a message, no output.
usage() {
	name=$1
	shift
	cases=$((cases + 1))
	"$bin" steering "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 2 ] || [ -s "$tmp/out" ] || [ ! -s "$tmp/err" ]; then
		cat "$tmp/err"
		bad "$name" "exited $rc (want 2) or printed on stdout or not on stderr"
	fi
}
usage no-firewall print -c "$tmp/q4.conf"
usage unknown-firewall print --firewall pf -c "$tmp/q4.conf"
usage unknown-command show --firewall nft
usage no-command
usage extra-argument print --firewall nft -c "$tmp/q4.conf" more
usage bad-config print --firewall nft -c "$tmp/q0.conf"
usage no-config print --firewall nft -c "$tmp/does-not-exist.conf"

echo "golden/steering: $cases cases, $failed failed"
[ $cases -gt 0 ] && [ $failed -eq 0 ]
