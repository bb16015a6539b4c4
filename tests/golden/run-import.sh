#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Golden tests of `spackle import`, in the manner of run-rules.sh.
#
# Usage: run-import.sh SPACKLE_BINARY GOLDEN_DIR
#
#   NN.lsrules  `spackle import lsrules NN.lsrules` must print NN.ok.
#   NN/         `spackle import opensnitch NN` must print NN.ok.
#               For both: with NN.err, it must exit 1 with exactly NN.err on
#               stderr; without, exit 0 with nothing on stderr.
#   NN.hosts    copied into a scratch folder and run there as
#               `spackle import hosts NN.hosts $(cat NN.args)`: the rule it
#               prints, that folder written @DIR@, must be NN.ok, its
#               summary on stderr NN.err, and the list it wrote NN.list.ok.
#               Without NN.list.ok it must exit 1 and leave no file behind.
#
# Every output must pass `spackle rules check` without a word on stderr (a
# hosts rule with its list: as many entries as NN.list.ok holds), and its
# rule lines must be canonical: `spackle rules print` gives them back.
# Commands run inside GOLDEN_DIR with relative names, so messages are stable.
# SPACKLE_UPDATE_GOLDEN=1 rewrites the expected files instead.
set -u
bin=$1
dir=$2
case $bin in
/*) ;;
*) bin=$(pwd)/$bin ;;
esac
cd "$dir" || exit 2
tmp=$(mktemp -d) || exit 2
tmp=$(cd "$tmp" && pwd -P) || exit 2
trap 'rm -rf "$tmp"' EXIT
update=${SPACKLE_UPDATE_GOLDEN:-0}
cases=0
failed=0

bad() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
}

# same NAME WANT GOT WHAT: diff them; with update, copy GOT over WANT.
same() {
	if [ "$update" = 1 ]; then
		cp "$3" "$2"
		return 0
	fi
	if [ ! -e "$2" ]; then
		bad "$1" "$2 is missing"
		return 1
	fi
	if ! diff -u "$2" "$3"; then
		bad "$1" "$4"
		return 1
	fi
	return 0
}

# checked NAME RULES: rules check passes quietly, and the rules are
# canonical. Prints the check's summary line into $tmp/check.
checked() {
	"$bin" rules check "$2" >"$tmp/check" 2>"$tmp/cerr"
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$tmp/cerr" ]; then
		cat "$tmp/cerr"
		bad "$1" "rules check of the output exited $rc or wrote to stderr"
		return 1
	fi
	"$bin" rules print "$2" >"$tmp/printed" 2>"$tmp/cerr"
	grep -v '^#' "$2" >"$tmp/lines"
	if ! diff -u "$tmp/lines" "$tmp/printed"; then
		bad "$1" "rule lines are not in canonical form"
		return 1
	fi
	return 0
}

# json KIND INPUT BASE: an lsrules file or an OpenSnitch folder.
json() {
	cases=$((cases + 1))
	want=0
	[ -e "$3.err" ] && want=1
	"$bin" import "$1" "$2" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$update" = 1 ]; then
		cp "$tmp/out" "$3.ok"
		if [ -s "$tmp/err" ]; then cp "$tmp/err" "$3.err"; else rm -f "$3.err"; fi
		return
	fi
	if [ $rc -ne $want ]; then
		cat "$tmp/err"
		bad "$2" "exited $rc, want $want"
		return
	fi
	same "$2" "$3.ok" "$tmp/out" "output differs from $3.ok" || return
	if [ $want -eq 1 ]; then
		same "$2" "$3.err" "$tmp/err" "messages differ from $3.err" ||
			return
	elif [ -s "$tmp/err" ]; then
		cat "$tmp/err"
		bad "$2" "wrote to stderr"
		return
	fi
	cp "$tmp/out" "$tmp/$3.rules"
	checked "$2" "$tmp/$3.rules"
}

for in in [0-9][0-9].lsrules; do
	[ -e "$in" ] || continue
	json lsrules "$in" "${in%.lsrules}"
done
for in in [0-9][0-9]; do
	[ -d "$in" ] || continue
	json opensnitch "$in" "$in"
done

for in in [0-9][0-9].hosts; do
	[ -e "$in" ] || continue
	base=${in%.hosts}
	cases=$((cases + 1))
	h=$tmp/hosts.$base
	mkdir "$h" && cp "$in" "$h/" || exit 2
	args=
	[ -e "$base.args" ] && args=$(cat "$base.args")
	# shellcheck disable=SC2086 # NN.args holds several words
	(cd "$h" && "$bin" import hosts "$in" $args) >"$tmp/out" 2>"$tmp/err"
	rc=$?
	sed "s|$h|@DIR@|g" "$tmp/out" >"$tmp/out.ok"
	sed "s|$h|@DIR@|g" "$tmp/err" >"$tmp/err.ok"
	list=$(sed -n 's/.* to list "\(.*\)"$/\1/p' "$tmp/out")
	if [ "$update" = 1 ]; then
		cp "$tmp/out.ok" "$base.ok"
		cp "$tmp/err.ok" "$base.err"
		if [ $rc -eq 0 ] && [ -n "$list" ]; then
			cp "$list" "$base.list.ok"
		else
			rm -f "$base.list.ok"
		fi
		continue
	fi
	if [ ! -e "$base.list.ok" ]; then
		if [ $rc -ne 1 ]; then
			cat "$tmp/err"
			bad "$in" "exited $rc, want 1"
			continue
		fi
		same "$in" "$base.ok" "$tmp/out.ok" "output differs" || continue
		same "$in" "$base.err" "$tmp/err.ok" "messages differ" ||
			continue
		if [ "$(ls -A "$h")" != "$in" ]; then
			ls -A "$h"
			bad "$in" "a failed import left files behind"
		fi
		continue
	fi
	if [ $rc -ne 0 ]; then
		cat "$tmp/err"
		bad "$in" "exited $rc, want 0"
		continue
	fi
	same "$in" "$base.ok" "$tmp/out.ok" "printed rule differs" || continue
	same "$in" "$base.err" "$tmp/err.ok" "summary differs" || continue
	if [ -z "$list" ] || [ ! -f "$list" ]; then
		bad "$in" "no list file named by the rule"
		continue
	fi
	same "$in" "$base.list.ok" "$list" "list differs" || continue
	cp "$tmp/out" "$h/$base.rules"
	checked "$in" "$h/$base.rules" || continue
	n=$(grep -cv '^#' "$base.list.ok")
	if ! grep -q " $n list entr" "$tmp/check"; then
		cat "$tmp/check"
		bad "$in" "the list did not load $n entries"
	fi
done

echo "golden/import: $cases cases, $failed failed"
[ $cases -gt 0 ] && [ $failed -eq 0 ]
