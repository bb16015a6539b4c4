#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Golden tests of the rule language, as pfctl's regress tests do them.
#
# Usage: run-rules.sh SPACKLE_BINARY GOLDEN_DIR
#
#   NN.in      `spackle rules print NN.in` must print NN.ok, and printing
#              NN.ok again must give NN.ok (round trip); nothing on stderr.
#   failNN.in  `spackle rules check failNN.in` must exit 1 with exactly
#              failNN.err on stderr.
#   warnNN.in  `spackle rules check warnNN.in` must exit 0 with exactly
#              warnNN.err on stderr.
#
# Commands run inside GOLDEN_DIR with relative names, so messages are stable.
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

# same NAME WANT GOT: diff them, counting a mismatch once.
same() {
	if ! diff -u "$2" "$3"; then
		bad "$1" "$4"
		return 1
	fi
	return 0
}

for in in [0-9][0-9].in; do
	[ -e "$in" ] || continue
	base=${in%.in}
	cases=$((cases + 1))
	"$bin" rules print "$in" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$tmp/err" ]; then
		cat "$tmp/err"
		bad "$in" "rules print exited $rc or wrote to stderr"
		continue
	fi
	same "$in" "$base.ok" "$tmp/out" "printed form differs from $base.ok" ||
		continue
	"$bin" rules print "$base.ok" >"$tmp/out2" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$tmp/err" ]; then
		cat "$tmp/err"
		bad "$base.ok" "rules print exited $rc or wrote to stderr"
		continue
	fi
	same "$base.ok" "$base.ok" "$tmp/out2" "printing it again changed it"
done

# check KIND FILE WANT_RC
check() {
	base=${2%.in}
	cases=$((cases + 1))
	"$bin" rules check "$2" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne "$3" ]; then
		cat "$tmp/err"
		bad "$2" "rules check exited $rc, want $3"
		return
	fi
	same "$2" "$base.err" "$tmp/err" "messages differ from $base.err"
}

for in in fail[0-9][0-9].in; do
	[ -e "$in" ] && check fail "$in" 1
done
for in in warn[0-9][0-9].in; do
	[ -e "$in" ] && check warn "$in" 0
done

echo "golden/rules: $cases cases, $failed failed"
[ $cases -gt 0 ] && [ $failed -eq 0 ]
