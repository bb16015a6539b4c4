#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Smoke-run one libFuzzer harness over its checked-in corpus, briefly.
# Usage: run-fuzzer.sh FUZZER CORPUS_DIR [SECONDS]
set -eu
fuzzer=$1
corpus=$2
secs=${3:-}
[ -n "$secs" ] || secs=${SPACKLE_FUZZ_SECONDS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# New inputs go to a scratch directory; the checked-in corpus is read only.
"$fuzzer" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
	-rss_limit_mb=2048 "$work" "$corpus" 2>"$work.log" || {
	cat "$work.log" >&2
	rm -f "$work.log"
	exit 1
}
grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$work.log" || true
rm -f "$work.log"
