#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The layers point one way (docs/layout.md). Read from the built static
# libraries' symbols (nm), which library needs which: an undefined symbol
# of one that another defines is an arrow. Fails on any arrow that is not
# in the allowed list below, and on any cycle; prints the graph. Then the
# same inside each library, file by file (each archive member): no two
# files of one folder need each other, directly or round a circle.
#
#   check-layers.sh BUILD_DIR
set -eu
build=$1
libs="base divert pfconf daemon cmd"
# What each layer may need: only the layers below it.
allowed="divert>base pfconf>base daemon>base daemon>divert daemon>pfconf
cmd>base cmd>divert cmd>pfconf cmd>daemon"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for l in $libs; do
	a=$build/libspackle_$l.a
	[ -f "$a" ] || { echo "check-layers: $a missing" >&2; exit 2; }
	nm --defined-only -g "$a" 2>/dev/null |
		awk 'NF == 3 && $2 ~ /[TDBRVWC]/ { print $3 }' |
		sort -u >"$tmp/$l.def"
	nm -u "$a" 2>/dev/null | awk '{ print $NF }' | sort -u >"$tmp/$l.und"
done

fail=0
: >"$tmp/edges"
for from in $libs; do
	for to in $libs; do
		[ "$from" = "$to" ] && continue
		syms=$(comm -12 "$tmp/$from.und" "$tmp/$to.def" | head -5 |
			tr '\n' ' ')
		[ -z "$syms" ] && continue
		echo "$from>$to" >>"$tmp/edges"
		printf 'spackle_%s -> spackle_%s  (%s...)\n' "$from" "$to" \
			"$syms"
		case " $(echo $allowed) " in
		*" $from>$to "*) ;;
		*)
			echo "check-layers: spackle_$from needs spackle_$to," \
				"a layer above or beside it" >&2
			fail=1
			;;
		esac
	done
done
# A cycle through any number of libraries: tsort says so.
if ! tr '>' ' ' <"$tmp/edges" | tsort >/dev/null 2>"$tmp/tsort"; then
	echo "check-layers: the libraries need each other in a cycle:" >&2
	cat "$tmp/tsort" >&2
	fail=1
fi

# Inside each library: member -> member when one uses what the other
# defines.
for l in $libs; do
	a=$build/libspackle_$l.a
	nm -A --defined-only -g "$a" 2>/dev/null |
		awk 'NF == 3 && $2 ~ /[TDBRVWC]/ {
			split($1, p, ":"); print $3, p[2] }' |
		sort -u >"$tmp/$l.fdef"
	nm -A -u "$a" 2>/dev/null |
		awk '{ split($1, p, ":"); print $NF, p[2] }' |
		sort -u >"$tmp/$l.fund"
	join "$tmp/$l.fund" "$tmp/$l.fdef" |
		awk '$2 != $3 { print $2, $3 }' | sort -u >"$tmp/$l.fedges"
	if ! tsort "$tmp/$l.fedges" >/dev/null 2>"$tmp/tsort"; then
		echo "check-layers: files of spackle_$l need each other" \
			"in a cycle:" >&2
		grep -v 'input contains a loop' "$tmp/tsort" | sort -u >&2
		fail=1
	fi
done
[ "$fail" -eq 0 ] && echo "check-layers: no arrow upwards, no cycle"
exit "$fail"
