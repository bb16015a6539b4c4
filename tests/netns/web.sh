#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The web monitor's server (issue 16): namespace A runs `spackle run` with
# `web = 127.0.0.1:3031` as an installed daemon would (user spackle),
# with a TCP server in namespace B.
#
#   * the token file: 0640 root:spackle, 64 hex characters, and
#     `spackle web` prints the URL with it;
#   * without the token (none, a wrong one, a wrong cookie) every path,
#     page and API alike, is 401 with one line that names no token, no
#     path, no flow;
#   * with it: the page (text/html, the cookie set HttpOnly and
#     SameSite=Strict), the script, and JSON from every API; each answer
#     with the CSP, nosniff and no-store;
#   * the live flow of a program shows in /api/conns with its exe;
#   * changes: POST without the header (the cookie alone) 403, GET 405;
#     POST a rule that blocks nettool to B: the next connection fails,
#     /api/blocked and /api/rules show the rule that decided it, and undo
#     lets the next one through; the traffic view has its bytes;
#   * a rule file the checker refuses: POST answers 400 with the
#     checker's FILE:LINE message and the file is left as it was.
#
# Usage: web.sh SPACKLE NETTOOL
# Every networking command runs under `ip netns exec`; the machine's own
# namespace is never changed. Waits are bounded; the EXIT trap cleans up.
# Exit 0 pass, 1 fail, 2 set-up failed, 77 skipped (not root).
set -u

if [ $# -lt 2 ]; then
	echo "usage: $0 SPACKLE NETTOOL" >&2
	exit 2
fi
SPACKLE=$(readlink -f "$1")
NETTOOL=$(readlink -f "$2")

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: not root (network namespaces)"
	exit 77
fi
for tool in ip iptables jq curl timeout md5sum; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "FAIL setup: $tool not found"
		exit 2
	fi
done

ID=$$
NSA=spackle-web-a-$ID
NSB=spackle-web-b-$ID
VA=spwa$ID
VB=spwb$ID
A4=192.0.2.1
B4=192.0.2.2
P_TCP=7311
WEB=127.0.0.1:3031
URL=http://$WEB

TMP=$(mktemp -d /tmp/spackle-web.XXXXXX) || exit 2
TMP=$(readlink -f "$TMP")
CONF=$TMP/spackle.conf
TOKEN_FILE=$TMP/run/web.token
WEB_RULES=$TMP/rules/90-web.rules
PIDS=()
DAEMON=
npass=0
nfail=0

# shellcheck source=tests/netns/lib.sh
. "$(dirname "$0")/lib.sh"
daemon_user || { echo "FAIL setup: the user spackle"; exit 2; }

trap cleanup EXIT
trap 'exit 130' INT TERM

# web_get PATH [curl options]: the answer's body into TMP/body, its
# headers into TMP/head; prints the status code.
web_get() {
	local path=$1

	shift
	ip netns exec "$NSA" curl -s -m 5 -o "$TMP/body" -D "$TMP/head" \
		-w '%{http_code}' "$@" "$URL$path"
}

# api PATH: the JSON of GET PATH with the token in the header.
api() {
	ip netns exec "$NSA" curl -s -m 5 -H "X-Spackle-Token: $TOKEN" "$URL$1"
}

# post PATH BODY [curl options]: as web_get, a POST with the header.
post() {
	local path=$1 body=$2

	shift 2
	web_get "$path" -X POST -H 'Content-Type: application/json' \
		-H "X-Spackle-Token: $TOKEN" --data-binary "$body" "$@"
}

connect() {
	ip netns exec "$NSA" "$NETTOOL" tcp-connect -a "$B4" -p "$P_TCP" -w 1500 >/dev/null 2>&1
}

header() {
	grep -i "^$1:" "$TMP/head" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ //'
}

ns_pair || { echo "FAIL setup: namespaces"; exit 2; }
mkdir -p "$TMP/rules" "$TMP/db"
cat >"$TMP/rules/10-web-test.rules" <<EOF
allow out proto udp to any port 53 note "unused: the test has no DNS"
EOF
cat >"$CONF" <<EOF
mode = enforce
default = allow
hooks = out, in
rules = $TMP/rules
db = $TMP/db
control = $TMP/run/spackle.sock
web = $WEB
web_token = $TOKEN_FILE
EOF
# --- refusals before anything is touched ----------------------------------------

cp "$CONF" "$TMP/good.conf"
echo "web = $A4:3031" >>"$CONF"
out=$(ip netns exec "$NSA" timeout 10 "$SPACKLE" run -c "$CONF" 2>&1)
rc=$?
line=$(grep -c '' "$CONF")
if [ "$rc" -ne 0 ] && echo "$out" | grep -q "spackle.conf:$line: web: $A4:3031 is not a loopback address" &&
	! ip netns exec "$NSA" iptables-save | grep -q SPACKLE; then
	pass refuse/public "exit $rc, the line named, the firewall untouched"
else
	fail refuse/public "exit $rc: $out"
fi
# The page's rule file as a link: the daemon would give its user what it
# points to. Refused, the target still root's.
cp "$TMP/good.conf" "$CONF"
echo '# root'"'"'s, elsewhere' >"$TMP/elsewhere.rules"
ln -s "$TMP/elsewhere.rules" "$WEB_RULES"
out=$(ip netns exec "$NSA" timeout 10 "$SPACKLE" run -c "$CONF" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && echo "$out" | grep -q "web_rules: $WEB_RULES is not a regular file" &&
	[ "$(stat -c %U "$TMP/elsewhere.rules")" = root ] && ! ip netns exec "$NSA" iptables-save | grep -q SPACKLE; then
	pass refuse/link "exit $rc: $(echo "$out" | grep -o 'web_rules: .*')"
else
	fail refuse/link "exit $rc: $out"
fi
rm -f "$WEB_RULES"

bg_b tcp-server "$NETTOOL" tcp-server -a "$B4" -p "$P_TCP" -t 120
wait_for 50 grep -qs '^ready' "$TMP/tcp-server.out" ||
	{ echo "FAIL setup: server"; exit 2; }
if ! daemon_start main; then
	echo "FAIL setup: the daemon did not start: $(tail -n 3 "$TMP/daemon-main.err")"
	exit 2
fi

# --- the token -------------------------------------------------------------------

TOKEN=$(cat "$TOKEN_FILE" 2>/dev/null)
perm=$(stat -c '%a %U %G' "$TOKEN_FILE" 2>&1)
printed=$("$SPACKLE" web -c "$CONF" 2>&1)
if [[ $TOKEN =~ ^[0-9a-f]{64}$ ]] && [ "$perm" = "640 root spackle" ] &&
	[ "$printed" = "$URL/?token=$TOKEN" ]; then
	pass token "64 hex characters in a file 0640 root:spackle; spackle web prints $URL/?token=…"
else
	fail token "token '$TOKEN', file '$perm', spackle web printed '$printed'"
fi
# The daemon's user (group spackle) may read it too, another user not.
# They run a copy in TMP (0755): the checkout may lie under a directory
# only root enters (/root, a mktemp -d folder).
install -m 0755 "$SPACKLE" "$TMP/spackle-bin"
if runuser -u spackle -- "$TMP/spackle-bin" web -c "$CONF" >/dev/null 2>"$TMP/spackle-user.err" &&
	! runuser -u nobody -- "$TMP/spackle-bin" web -c "$CONF" >/dev/null 2>"$TMP/nobody.err" &&
	grep -q 'Permission denied' "$TMP/nobody.err"; then
	pass token/group "the group spackle reads it; nobody gets: $(head -c 120 "$TMP/nobody.err")"
else
	fail token/group "as spackle: $(cat "$TMP/spackle-user.err" 2>/dev/null); as nobody: $(cat "$TMP/nobody.err" 2>/dev/null)"
fi

# --- without the token ------------------------------------------------------------

want401='401: this page needs its token: run spackle web'
bad=
for p in / /index.html /app.js /api/status /api/conns /api/rules \
	"/api/traffic?span=hour" /api/blocked /api/wall /nothing; do
	code=$(web_get "$p")
	body=$(cat "$TMP/body")
	[ "$code" = 401 ] && [ "$body" = "$want401" ] &&
		[ "$(header content-type)" = "text/plain; charset=utf-8" ] &&
		[ -z "$(header set-cookie)" ] || bad="$bad $p($code)"
done
code1=$(web_get "/?token=0$TOKEN")
# The token with its last character changed: as long, one off.
last=${TOKEN: -1}
[ "$last" = 0 ] && other=1 || other=0
code2=$(web_get /api/status -b "spackle_token=${TOKEN%?}$other")
code3=$(web_get /api/status -H "X-Spackle-Token: nope")
code4=$(web_get /api/rule -X POST --data-binary '{"action":"deny","any":true}')
if [ -z "$bad" ] && [ "$code1$code2$code3$code4" = 401401401401 ] &&
	! grep -q "$TOKEN" "$TMP/body"; then
	pass no-token "10 paths, a wrong query, cookie and header, a bare POST: 401 and only '$want401'"
else
	fail no-token "bad:$bad; wrong query $code1, cookie $code2, header $code3, POST $code4"
fi

# --- with it ----------------------------------------------------------------------

code=$(web_get "/?token=$TOKEN")
csp=$(header content-security-policy)
cookie=$(header set-cookie)
if [ "$code" = 200 ] && [ "$(header content-type)" = "text/html; charset=utf-8" ] &&
	grep -qi '<html' "$TMP/body" &&
	[ "$cookie" = "spackle_token=$TOKEN; HttpOnly; SameSite=Strict; Path=/" ] &&
	[[ $csp == "default-src 'none'; script-src 'self';"* ]] &&
	[[ $csp == *"frame-ancestors 'none'" ]] &&
	[ "$(header x-content-type-options)" = nosniff ] &&
	[ "$(header cache-control)" = no-store ] &&
	[ "$(header referrer-policy)" = no-referrer ]; then
	pass page "200 text/html, cookie HttpOnly SameSite=Strict, CSP, nosniff, no-store"
else
	fail page "code $code, cookie '$cookie', csp '$csp': $(head -c 300 "$TMP/head")"
fi
code=$(web_get /app.js -b "spackle_token=$TOKEN")
src_js=$(dirname "$0")/../../web/app.js
# The file of web/ as built: byte for byte, unless it was edited since
# the binary was (then its first line, the licence, at least).
if [ "$src_js" -nt "$SPACKLE" ]; then
	same=$([ "$(head -n 1 "$TMP/body")" = "$(head -n 1 "$src_js")" ] && echo yes)
else
	same=$(cmp -s "$TMP/body" "$src_js" && echo yes)
fi
if [ "$code" = 200 ] && [[ $(header content-type) == text/javascript* ]] && [ "$same" = yes ]; then
	pass asset "/app.js by the cookie: the file of web/, text/javascript"
else
	fail asset "code $code, type '$(header content-type)'"
fi
bad=
for p in status conns rules "traffic?span=day" blocked wall; do
	code=$(web_get "/api/$p" -H "X-Spackle-Token: $TOKEN")
	[ "$code" = 200 ] && [ "$(header content-type)" = application/json ] &&
		jq -e . "$TMP/body" >/dev/null 2>&1 &&
		[ -n "$(header content-security-policy)" ] || bad="$bad $p($code)"
done
st=$(api /api/status)
if [ -z "$bad" ] && echo "$st" | jqe --argjson p "$DAEMON" '.pid == $p and .user == "spackle"' >/dev/null; then
	pass api "status, conns, rules, traffic, blocked, wall: 200 JSON; status is the daemon's (pid $DAEMON)"
else
	fail api "bad:$bad; status $(echo "$st" | head -c 200)"
fi
code=$(web_get "/api/traffic?span=year" -H "X-Spackle-Token: $TOKEN")
code2=$(web_get "/api/blocked?limit=x" -H "X-Spackle-Token: $TOKEN")
code3=$(web_get "/api/nothing" -H "X-Spackle-Token: $TOKEN")
if [ "$code$code2$code3" = 400400404 ]; then
	pass api/bad "span=year 400, limit=x 400, an unknown API 404"
else
	fail api/bad "$code $code2 $code3"
fi

# --- a live flow ------------------------------------------------------------------

ip netns exec "$NSA" "$NETTOOL" tcp-connect -a "$B4" -p "$P_TCP" -w 1500 -H 4000 >"$TMP/held.out" 2>&1 &
PIDS+=("$!")
wait_for 50 eval "api /api/conns | jq -e --argjson p $P_TCP 'any(.[]; .dport == \$p)' >/dev/null 2>&1"
flow=$(api /api/conns | jq -c --argjson p "$P_TCP" '[.[] | select(.dport == $p)] | first')
if echo "$flow" | jqe --arg e "$NETTOOL" '.exe == $e and .verdict == "allow" and (.pid | type) == "number"
	and .uid == 0 and .user == "root"' >/dev/null; then
	pass conns "the held connection, owned: $(echo "$flow" | jq -c '{exe, pid, user, verdict, rule}')"
else
	fail conns "$flow"
fi

# --- changes ----------------------------------------------------------------------

rule="{\"action\":\"deny\",\"process\":\"$NETTOOL\",\"address\":\"$B4\"}"
code=$(web_get /api/rule -X POST -b "spackle_token=$TOKEN" --data-binary "$rule")
code2=$(web_get /api/rule -H "X-Spackle-Token: $TOKEN")
code3=$(web_get /api/undo -b "spackle_token=$TOKEN" -X POST --data-binary '{"id":"00000000"}')
if [ "$code$code2$code3" = 403405403 ] && ! grep -qE 'note "web:[0-9a-f]{8}"' "$WEB_RULES"; then
	pass change/guard "POST by the cookie alone 403 (rule and undo), GET 405, the file untouched"
else
	fail change/guard "POST by cookie $code, GET $code2, undo by cookie $code3"
fi

connect
rc0=$?
code=$(post /api/rule "$rule")
ans=$(cat "$TMP/body")
id=$(echo "$ans" | jq -r .id)
line=$(echo "$ans" | jq -r .line)
connect
rc1=$?
if [ "$rc0" = 0 ] && [ "$code" = 200 ] && [ "$rc1" = 1 ] &&
	echo "$ans" | jqe --arg f "$WEB_RULES" --arg r "deny out process \"$NETTOOL\" to $B4 note \"web:$id\"" \
		'.file == $f and .rule == $r' >/dev/null &&
	[ "$(sed -n "${line}p" "$WEB_RULES")" = "$(echo "$ans" | jq -r .rule)" ]; then
	pass change/block "before: connected; POST 200 ($(echo "$ans" | jq -r .rule) at line $line); after: timed out"
else
	fail change/block "before exit $rc0, POST $code: $ans, after exit $rc1"
fi
where="$WEB_RULES:$line"
rules=$(api /api/rules)
wait_for 30 eval "api '/api/blocked?limit=5' | jq -e --arg w '$where' 'any(.flows[]; .rule == \$w)' >/dev/null 2>&1"
blocked=$(api '/api/blocked?limit=5')
if echo "$rules" | jqe --arg f "$WEB_RULES" --argjson l "$line" \
	--arg id "$id" 'any(.rules[]; .file == $f and .line == $l and .action == "deny" and .decided >= 1
		and .id == $id)' >/dev/null &&
	echo "$blocked" | jqe --arg w "$where" --arg e "$NETTOOL" \
		'.flows[0].rule == $w and .flows[0].exe == $e and .flows[0].verdict == "deny"' >/dev/null; then
	pass change/shown "/api/rules: the rule decided $(echo "$rules" | jq --argjson l "$line" '[.rules[] | select(.line == $l)][0].decided') flow(s); /api/blocked: newest is nettool's, rule $where"
else
	fail change/shown "rules $(echo "$rules" | head -c 300); blocked $(echo "$blocked" | head -c 300)"
fi

code=$(post /api/undo "{\"id\":\"$id\"}")
ans=$(cat "$TMP/body")
connect
rc2=$?
code2=$(post /api/undo "{\"id\":\"$id\"}")
if [ "$code" = 200 ] && [ "$ans" = "{\"removed\":\"$id\"}" ] && [ "$rc2" = 0 ] &&
	! grep -q "web:$id" "$WEB_RULES" && [ "$code2" = 404 ]; then
	pass change/undo "undo 200, the line gone, the next connection passes; undo again 404"
else
	fail change/undo "undo $code ($ans), connect exit $rc2, again $code2"
fi

# A hostile path stays one rule: quotes and backslashes escaped, a
# newline refused.
code=$(post /api/rule '{"action":"allow","process":"/tmp/x\" to any note \"y\\\\","any":true}')
hid=$(jq -r .id "$TMP/body")
code2=$(post /api/rule '{"action":"allow","process":"/tmp/x\nallow out to any","any":true}')
err2=$(jq -r .error "$TMP/body")
n=$(grep -cE 'note "web:[0-9a-f]{8}"' "$WEB_RULES")
printed=$("$SPACKLE" rules print "$WEB_RULES" 2>&1)
if [ "$code" = 200 ] && [ "$code2" = 400 ] && [ "$n" = 1 ] &&
	[ "$(echo "$printed" | wc -l)" = 1 ] && [[ $printed == *"to any note \"web:$hid\"" ]]; then
	pass change/hostile "a quoted path is one rule ($(grep 'web:' "$WEB_RULES")); a newline 400: $err2"
else
	fail change/hostile "quoted $code, newline $code2 ($err2), $n web lines; rules print: $printed"
fi
post /api/undo "{\"id\":\"$hid\"}" >/dev/null

# A rule file the checker refuses (a line typed by hand): the POST is
# refused with its message, the file stays as it was, the rules too.
echo 'deny out to hots typo.example' >>"$WEB_RULES"
badline=$(wc -l <"$WEB_RULES")
sum=$(md5sum <"$WEB_RULES")
loaded=$(api /api/status | jq .rules_loaded)
code=$(post /api/rule "$rule")
err=$(jq -r .error "$TMP/body")
if [ "$code" = 400 ] && [[ $err == "$WEB_RULES:$badline:"* ]] &&
	[ "$(md5sum <"$WEB_RULES")" = "$sum" ] &&
	[ "$(api /api/status | jq .rules_loaded)" = "$loaded" ] && connect; then
	pass change/refused "400: $err; the file and the loaded rules unchanged"
else
	fail change/refused "code $code: $err"
fi
sed -i '$d' "$WEB_RULES"

# The store has the traffic of those connections, by process.
wait_for 50 eval "api '/api/traffic?span=hour' | jq -e --arg e '$NETTOOL' 'any(.processes[]; .exe == \$e and .flows >= 3)' >/dev/null 2>&1"
tr=$(api '/api/traffic?span=hour')
if echo "$tr" | jqe --arg e "$NETTOOL" '(.buckets | length) == 60 and ([.buckets[].flows] | add) >= 3
	and any(.processes[]; .exe == $e and .flows >= 3) and (.hosts | length) >= 1' >/dev/null; then
	pass traffic "60 buckets, $(echo "$tr" | jq '[.buckets[].flows] | add') flows, nettool among the top processes"
else
	fail traffic "$(echo "$tr" | jq -c '{processes, hosts, truncated}' | head -c 400)"
fi

# --- the wall ---------------------------------------------------------------------

wall=$(api /api/wall)
if echo "$wall" | jqe '.steering.ok and .steering.checked and (.steering.hooks | length) == 4
	and all(.steering.hooks[]; .first and .whole) and .counters.adds_up
	and (.counters.lines[0].kernel > 0) and any(.exemptions[]; .name == "lo" and .packets > 0)
	and .tamper == []' >/dev/null; then
	pass wall "steering first and whole in 4 hooks, counters add up ($(echo "$wall" | jq -c '.counters.lines[0] | [.kernel, .daemon]')), lo exempt with $(echo "$wall" | jq '.exemptions[0].packets') packets (these requests)"
else
	fail wall "$(echo "$wall" | head -c 600)"
fi
# Someone puts a rule above spackle's: the wall says so, and keeps the
# tamper event.
ip netns exec "$NSA" iptables -I OUTPUT 1 -p udp --dport 9 -j ACCEPT
wait_for 50 eval "api /api/wall | jq -e '.steering.ok == false and (.tamper | length) >= 1' >/dev/null 2>&1"
wall=$(api /api/wall)
ip netns exec "$NSA" iptables -D OUTPUT 1
if echo "$wall" | jqe '(.steering.ok | not) and any(.steering.problems[]; test("IPv4 OUTPUT: 1 rule above"))
	and any(.steering.hooks[]; .family == "IPv4" and .hook == "OUTPUT" and (.first | not))
	and (.tamper | length) >= 1 and .tamper_events >= 1' >/dev/null; then
	pass wall/tamper "$(echo "$wall" | jq -c '.steering.problems[0]'), $(echo "$wall" | jq '.tamper | length') tamper event(s) kept"
else
	fail wall/tamper "$(echo "$wall" | head -c 600)"
fi

# --- stop -------------------------------------------------------------------------

kill -TERM "$DAEMON"
wait_for 100 eval "! alive $DAEMON"
wait "$DAEMON"
rc=$?
if [ "$rc" = 0 ] && ! ip netns exec "$NSA" iptables-save | grep -q SPACKLE; then
	pass stop "exit 0, steering removed"
else
	fail stop "exit $rc: $(tail -n 3 "$TMP/daemon-main.err")"
fi

echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
