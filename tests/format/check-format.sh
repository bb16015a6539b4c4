#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The tree stays formatted: every tracked C file as .clang-format wants it
# (make format mends it). Skipped (77) outside a git checkout.
#
#   check-format.sh SOURCE_DIR
set -eu
cd "$1"
command -v clang-format >/dev/null 2>&1 || { echo "clang-format not found"; exit 77; }
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "not a git checkout"; exit 77; }
# shellcheck disable=SC2046
if ! clang-format --dry-run --Werror $(git ls-files '*.c' '*.h') 2>"${TMPDIR:-/tmp}/spackle-format.$$"; then
	grep -E '^[^ ].*: (warning|error):' "${TMPDIR:-/tmp}/spackle-format.$$" |
		cut -d: -f1 | sort -u | sed 's/^/not formatted: /'
	rm -f "${TMPDIR:-/tmp}/spackle-format.$$"
	echo "run: make format"
	exit 1
fi
rm -f "${TMPDIR:-/tmp}/spackle-format.$$"
echo "every tracked C file is formatted"
