#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The manual pages and the bash completion, checked against the program.
#
# Usage: check-docs.sh SPACKLE_BINARY SOURCE_DIR
#
#   1. each man page renders with `groff -man -Tutf8 -ww -z` without a warning;
#   2. `man -l` renders it to a non-empty text that has its NAME line;
#   3. every subcommand `spackle help` lists is in spackle.8 (its synopsis
#      and a subsection of COMMANDS);
#   4. every key the config parser (src/config*.c) knows is an entry of
#      spackle.conf.5;
#   5. the completion (etc/bash-completion/spackle) offers the subcommands,
#      the second words of rules, steering and import, and the values of
#      --verdict, import hosts --action and steering print --firewall.
#
# Prints each failure, then "docs: N checks passed"; exits 1 on any failure.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 SPACKLE_BINARY SOURCE_DIR" >&2
	exit 2
fi
bin=$1
src=$2
man_dir=$src/man
completion=$src/etc/bash-completion/spackle
pages="spackle.8 spackle.conf.5 spackle.rules.5"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0

pass() {
	passed=$((passed + 1))
}

fail() {
	echo "FAIL: $*"
	failed=$((failed + 1))
}

need() {
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "check-docs: $1 is missing (apt-get install $2)" >&2
		exit 2
	fi
}
need groff groff-base
need man man-db
if [ ! -x "$bin" ]; then
	echo "check-docs: $bin is not an executable" >&2
	exit 2
fi

# render PAGE: the page as man(1) shows it, plain text, wide enough that no
# synopsis line or tag is broken.
render() {
	MANWIDTH=200 MAN_KEEP_FORMATTING= MANPAGER=cat PAGER=cat \
		man -l "$man_dir/$1" 2>"$tmp/$1.man.err" >"$tmp/$1.txt" </dev/null
}

# ---- 1, 2: every page renders, without warnings -------------------------

for page in $pages; do
	if [ ! -f "$man_dir/$page" ]; then
		fail "$page: no such file in $man_dir"
		continue
	fi
	if ! groff -man -Tutf8 -ww -z "$man_dir/$page" >"$tmp/groff.out" 2>&1; then
		fail "$page: groff exited $?"
	elif [ -s "$tmp/groff.out" ]; then
		fail "$page: groff -man -Tutf8 -ww -z warns:"
		sed 's/^/    /' "$tmp/groff.out"
	else
		pass
	fi

	name=${page%.*}
	if ! render "$page"; then
		fail "$page: man -l failed:"
		sed 's/^/    /' "$tmp/$page.man.err"
	elif [ -s "$tmp/$page.man.err" ]; then
		fail "$page: man -l wrote to stderr:"
		sed 's/^/    /' "$tmp/$page.man.err"
	elif [ ! -s "$tmp/$page.txt" ]; then
		fail "$page: man -l rendered nothing"
	elif ! awk -v name="$name" '
		prev == "NAME" && index($0, name " - ") > 0 { ok = 1 }
		NF > 0 { prev = $0 }
		END { exit !ok }' "$tmp/$page.txt"; then
		fail "$page: no NAME line \"$name - ...\" under NAME"
	else
		pass
	fi
done

# ---- 3: every subcommand of `spackle help` is in spackle.8 --------------

if ! "$bin" help >"$tmp/help" 2>&1; then
	fail "$bin help exited non-zero"
fi
# The lines under "commands:", each "  NAME  description".
commands=$(awk '/^commands:/ { on = 1; next }
	on && /^  [a-z][a-z0-9-]* / { print $1; next }
	on && NF == 0 { on = 0 }' "$tmp/help")
ncommands=$(printf '%s\n' $commands | grep -c . || true)
if [ "$ncommands" -lt 5 ]; then
	fail "found only $ncommands subcommands in \`spackle help\`:" \
		"has its format changed?"
	sed 's/^/    /' "$tmp/help"
fi

if [ -s "$tmp/spackle.8.txt" ]; then
	# The synopsis, and the subsection headings of COMMANDS.
	sed -n '/^SYNOPSIS$/,/^[A-Z]/p' "$tmp/spackle.8.txt" >"$tmp/synopsis"
	sed -n '/^COMMANDS$/,/^[A-Z][A-Z]/p' "$tmp/spackle.8.txt" |
		grep '^   [^ ]' >"$tmp/sections" || true
	for c in $commands; do
		if ! grep -Eq "^ +spackle $c( |\$)" "$tmp/synopsis"; then
			fail "spackle.8: subcommand \"$c\" is not in SYNOPSIS"
		elif ! grep -Eq "^   spackle $c( |\$)" "$tmp/sections"; then
			fail "spackle.8: subcommand \"$c\" has no subsection in COMMANDS"
		else
			pass
		fi
	done
else
	fail "spackle.8 did not render: subcommands not checked"
fi

# ---- 4: every config key is in spackle.conf.5 ---------------------------

# The parser's files: config.c and the parts it hands keys to
# (config_net.c: metrics and web).
config_c="$src/src/config.c $src/src/config_net.c"
# Keys are the string literals config_set() compares its key with:
# strcmp(key, "name") (also strncmp, streq, and a break after the comma).
# A table of keys ({"name", ...} under a line naming "key") is read too.
# Fewer than 20 keys means the parser changed shape: this must be updated.
keys=$(perl -0777 -ne '
	my %k;
	$k{$1} = 1 while /\b(?:strn?cmp|streq|strcasecmp)\s*\(\s*key\s*,\s*"([a-z][a-z0-9_]*)"/g;
	$k{$1} = 1 while /\b(?:strn?cmp|streq|strcasecmp)\s*\(\s*"([a-z][a-z0-9_]*)"\s*,\s*key\s*\)/g;
	while (/\bkeys?\b[^;{]*=\s*\{(.*?)\};/sg) {
		my $t = $1;
		$k{$1} = 1 while $t =~ /\{\s*"([a-z][a-z0-9_]*)"/g;
	}
	print "$_\n" for sort keys %k;' $config_c)
nkeys=$(printf '%s\n' $keys | grep -c . || true)
if [ "$nkeys" -lt 20 ]; then
	fail "found only $nkeys config keys in $config_c: has the way keys" \
		"are declared changed? Update check-docs.sh (step 4)"
fi
if [ -s "$tmp/spackle.conf.5.txt" ]; then
	for k in $keys; do
		# An entry is a tag at the page's indent: "       key = ...".
		if grep -Eq "^ {7}$k = " "$tmp/spackle.conf.5.txt"; then
			pass
		else
			fail "spackle.conf.5: config key \"$k\" (src/config*.c)" \
				"has no entry"
		fi
	done
else
	fail "spackle.conf.5 did not render: config keys not checked"
fi

# ---- 5: the bash completion ----------------------------------------------

# complete WORD...: what the completion offers for a command line of these
# words, the last one being the word under the cursor; one per line.
complete_line() {
	bash --norc --noprofile -c '
		completion=$1
		shift
		. "$completion" || exit 3
		fn=$(complete -p spackle 2>/dev/null |
			sed -n "s/.* -F \([^ ]*\) .*/\1/p")
		[ -n "$fn" ] || { echo "no complete -F for spackle" >&2; exit 3; }
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		"$fn" spackle "${COMP_WORDS[COMP_CWORD]}" \
			"${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@"
}

# offers "LINE" WANT...: completing LINE offers every word of WANT.
offers() {
	local line=$1 w missing=""
	shift
	# shellcheck disable=SC2086
	if ! complete_line $line "" >"$tmp/comp" 2>"$tmp/comp.err"; then
		fail "completion of \"$line \" failed:" "$(cat "$tmp/comp.err")"
		return
	fi
	for w in "$@"; do
		grep -qxF -- "$w" "$tmp/comp" || missing="$missing $w"
	done
	if [ -n "$missing" ]; then
		fail "completing \"$line \" does not offer:$missing" \
			"(offers: $(tr '\n' ' ' <"$tmp/comp"))"
	else
		pass
	fi
}

if [ ! -f "$completion" ]; then
	fail "no completion file $completion"
else
	if bash -n "$completion" 2>"$tmp/comp.err"; then
		pass
	else
		fail "$completion: syntax error: $(cat "$tmp/comp.err")"
	fi
	# shellcheck disable=SC2086
	offers "spackle" $commands
	offers "spackle rules" check print reload suggest
	offers "spackle import" lsrules opensnitch hosts
	offers "spackle log --verdict" allow deny reject
	offers "spackle import hosts --action" deny reject
	offers "spackle steering" print
	offers "spackle steering print" --firewall --config
	offers "spackle steering print --firewall" pf-macos pf-openbsd iptables nft
fi

# ---- the end --------------------------------------------------------------

if [ "$failed" -gt 0 ]; then
	echo "docs: $failed checks failed, $passed passed"
	exit 1
fi
echo "docs: $passed checks passed"
