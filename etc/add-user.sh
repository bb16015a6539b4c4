#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Create the daemon's user and group from etc/sysusers.d/spackle.conf when
# they are missing (cmake --install, make run and the namespace tests all
# come here): systemd-sysusers where it exists, else useradd. Root only.
# Usage: add-user.sh [SYSUSERS_FILE]
set -eu
conf=$(readlink -f "${1:-$(dirname "$0")/sysusers.d/spackle.conf}")
user=$(awk '$1 == "u" { print $2; exit }' "$conf")
home=$(awk '$1 == "u" { print $(NF - 1); exit }' "$conf")
id "$user" >/dev/null 2>&1 && exit 0
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers "$conf"
else
	useradd --system --user-group --no-create-home --home-dir "$home" \
		--shell /usr/sbin/nologin "$user"
fi
id "$user" >/dev/null
