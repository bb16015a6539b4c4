#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `cmake --install` into a DESTDIR (issue 8): every file in its place, the
# unit valid and hardened, each man page rendering from where it was put,
# and a second install that leaves the user's configuration and rules as
# they were edited.
# Usage: check-install.sh BUILD_DIR
set -u

BUILD=$(readlink -f "$1")
DEST=$(mktemp -d /tmp/spackle-install.XXXXXX) || exit 2
trap 'rm -rf "$DEST"' EXIT
npass=0
nfail=0

pass() {
	echo "PASS $1: $2"
	npass=$((npass + 1))
}

fail() {
	echo "FAIL $1: $2"
	nfail=$((nfail + 1))
}

PREFIX=/usr/local
if ! DESTDIR=$DEST cmake --install "$BUILD" --prefix "$PREFIX" >"$DEST.log" 2>&1; then
	echo "FAIL install: $(tail -n 5 "$DEST.log")"
	rm -f "$DEST.log"
	exit 1
fi

missing=
for f in "$PREFIX/sbin/spackle" "$PREFIX/lib/systemd/system/spackle.service" \
	"$PREFIX/lib/sysusers.d/spackle.conf" "$PREFIX/lib/tmpfiles.d/spackle.conf" \
	"$PREFIX/share/man/man8/spackle.8" "$PREFIX/share/man/man5/spackle.conf.5" \
	"$PREFIX/share/man/man5/spackle.rules.5" \
	"$PREFIX/share/bash-completion/completions/spackle" \
	/etc/spackle/spackle.conf /etc/spackle/rules.d/00-essential.rules \
	/etc/logrotate.d/spackle; do
	[ -f "$DEST$f" ] || missing="$missing $f"
done
for d in /etc/spackle/rules.d /var/lib/spackle /var/log/spackle; do
	[ -d "$DEST$d" ] || missing="$missing $d/"
done
if [ -z "$missing" ] && [ -x "$DEST$PREFIX/sbin/spackle" ]; then
	pass files "binary in sbin, unit, sysusers, tmpfiles, man pages, completion, config, rules, store and log directories"
else
	fail files "missing:$missing"
fi

if "$DEST$PREFIX/sbin/spackle" rules check "$DEST/etc/spackle/rules.d" >/dev/null 2>&1 &&
	"$DEST$PREFIX/sbin/spackle" replay --help >/dev/null 2>&1 &&
	grep -q '^control = /run/spackle/spackle.sock' "$DEST/etc/spackle/spackle.conf" &&
	grep -q '^user = spackle' "$DEST/etc/spackle/spackle.conf"; then
	pass config "the installed rules check clean; the config runs as spackle with its socket under /run/spackle"
else
	fail config "installed rules or config not as shipped"
fi

unit=$DEST$PREFIX/lib/systemd/system/spackle.service
want="ExecStart=$PREFIX/sbin/spackle run -c /etc/spackle/spackle.conf
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
Restart=on-failure
Type=notify
WatchdogSec=15s
RuntimeDirectory=spackle
ReadWritePaths=/var/lib/spackle /var/log/spackle -/run/xtables.lock
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_SYS_NICE CAP_DAC_OVERRIDE CAP_CHOWN CAP_SETUID CAP_SETGID CAP_SETPCAP"
absent=
while IFS= read -r line; do
	grep -qxF "$line" "$unit" || absent="$absent [$line]"
done <<<"$want"
verify=ok
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants ExecStart's binary: point it at the staged one.
	sed "s|^ExecStart=$PREFIX|ExecStart=$DEST$PREFIX|" "$unit" >"$DEST/spackle.service"
	verify=$(systemd-analyze verify --man=no "$DEST/spackle.service" 2>&1) && verify=ok
fi
if [ -z "$absent" ] && [ "$verify" = ok ]; then
	pass unit "hardened as documented; systemd-analyze verify is silent"
else
	fail unit "lines missing:$absent; verify: $verify"
fi

bad=
for page in man8/spackle.8 man5/spackle.conf.5 man5/spackle.rules.5; do
	out=$(MANWIDTH=80 man -l "$DEST$PREFIX/share/man/$page" 2>&1 | head -n 4)
	echo "$out" | grep -q '^NAME' || bad="$bad $page"
done
if [ -z "$bad" ]; then
	pass man "man -l renders each installed page"
else
	fail man "did not render:$bad"
fi

# A second install keeps what the user changed, and puts back what is gone.
echo "mode = monitor" >>"$DEST/etc/spackle/spackle.conf"
echo "deny out to 198.51.100.7" >"$DEST/etc/spackle/rules.d/00-essential.rules"
rm -f "$DEST/etc/logrotate.d/spackle"
if DESTDIR=$DEST cmake --install "$BUILD" --prefix "$PREFIX" >"$DEST.log" 2>&1 &&
	tail -n 1 "$DEST/etc/spackle/spackle.conf" | grep -qx "mode = monitor" &&
	grep -qx "deny out to 198.51.100.7" "$DEST/etc/spackle/rules.d/00-essential.rules" &&
	grep -q "Kept (yours): $DEST/etc/spackle/spackle.conf" "$DEST.log" &&
	[ -f "$DEST/etc/logrotate.d/spackle" ]; then
	pass reinstall "the edited config and rule file kept, said so; a removed file put back"
else
	fail reinstall "$(tail -n 5 "$DEST.log")"
fi
rm -f "$DEST.log"

echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
