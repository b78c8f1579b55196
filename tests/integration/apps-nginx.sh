#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# apps-nginx.sh BUILD_DIR MODE: Debian's nginx, unmodified, run as root from
# a configuration in a temporary directory (one worker, daemon off,
# master_process off), under tools/demirun, against curl and wrk. MODE is
# memif, af_packet or af_xdp (apps-lib.sh; DEMIRUN= for plain Linux).
#   - a small page, compared byte for byte
#   - a 1 MiB random file, sha256 checked, with sendfile off and on
#   - PUT of a 1 MiB random file (WebDAV module), read back, sha256 checked
#   - keep-alive: one curl fetches three URLs over one connection
#   - a missing file is a 404
#   - wrk -t1 -c10 for 3 s: requests done, no socket errors, no non-2xx;
#     wrk -t1 -c1 for 2 s, the same
#   - the server still serves the big file after the load; SIGTERM exits 0
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
mode=${2:-memif}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/report-lib.sh
. "$here/report-lib.sh"
APPS_NAME=nginx
# shellcheck source=tests/integration/apps-lib.sh
. "$here/apps-lib.sh"

apps_need nginx curl wrk
apps_init "$build" "$mode"
tmp=$APPS_TMP
port=$(apps_port)
url=http://$APPS_IP:$port

mkdir -p "$tmp/www/up" "$tmp/nginx"
head -c 1048576 /dev/urandom >"$tmp/www/big.bin"
head -c 1048576 /dev/urandom >"$tmp/put.bin"
{
    echo "<!doctype html><title>libdemi</title>"
    echo "<p>served by nginx under demirun, mode $mode, $(date -u +%s)</p>"
} >"$tmp/www/index.html"

cat >"$tmp/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log stderr notice;
events {
    worker_connections 512;
}
http {
    access_log $tmp/nginx/access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    default_type application/octet-stream;
    types { text/html html; }
    keepalive_requests 100000;
    server {
        listen $APPS_IP:$port;
        root $tmp/www;
        sendfile off;
        location /sf/ {
            alias $tmp/www/;
            sendfile on;
        }
        location /up/ {
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 4m;
        }
    }
}
EOF

apps_server "$tmp/server.log" nginx -c "$tmp/nginx.conf" -e stderr
server=$APPS_SERVER_PID
# "getrlimit" is logged after the listening socket is open.
if ! apps_wait_log "$tmp/server.log" "getrlimit" "$server"; then
    not_ok "nginx: starts and listens on $APPS_IP:$port" "no start-up notice" "$tmp/server.log"
    apps_finish
    exit 1
fi

# fetch NAME URL FILE EXPECTED: curl URL to FILE, compare with EXPECTED by sha256.
fetch() {
    local name=$1 u=$2 out=$3 want=$4 rc
    apps_client curl -sS --max-time 30 -o "$out" -w '%{http_code} %{size_download}' "$u" \
        </dev/null >"$out.status" 2>"$out.err"
    rc=$?
    if [ $rc -eq 0 ] && [ "$(cut -d' ' -f1 "$out.status")" = 200 ] && [ "$(sha "$out")" = "$(sha "$want")" ]; then
        ok "$name"
    else
        not_ok "$name" "$(apps_why curl $rc "$out.err"), HTTP $(cut -d' ' -f1 "$out.status" 2>/dev/null), $(stat -c %s "$out" 2>/dev/null || echo 0) bytes" \
            "$out.err" "$tmp/server.log"
    fi
}

fetch "nginx: curl GET /index.html, the page byte for byte" "$url/index.html" "$tmp/index.out" "$tmp/www/index.html"
fetch "nginx: curl GET 1 MiB random file (sendfile off), sha256 equal" "$url/big.bin" "$tmp/big.out" "$tmp/www/big.bin"
fetch "nginx: curl GET 1 MiB random file (sendfile on), sha256 equal" "$url/sf/big.bin" "$tmp/big-sf.out" "$tmp/www/big.bin"

name="nginx: curl PUT 1 MiB random file (WebDAV), stored and read back, sha256 equal"
apps_client curl -sS --max-time 30 -T "$tmp/put.bin" -o /dev/null -w '%{http_code}' "$url/up/put.bin" \
    </dev/null >"$tmp/put.status" 2>"$tmp/put.err"
rc=$?
code=$(cat "$tmp/put.status")
if [ $rc -eq 0 ] && [ "$code" = 201 ] && [ -f "$tmp/www/up/put.bin" ] &&
    [ "$(sha "$tmp/www/up/put.bin")" = "$(sha "$tmp/put.bin")" ]; then
    fetch "$name" "$url/up/put.bin" "$tmp/put.out" "$tmp/put.bin"
else
    not_ok "$name" "$(apps_why curl $rc "$tmp/put.err"), HTTP $code, stored $(stat -c %s "$tmp/www/up/put.bin" 2>/dev/null || echo 0) bytes" \
        "$tmp/put.err" "$tmp/server.log"
fi

name="nginx: keep-alive, one curl fetches 3 URLs over one connection, each intact"
apps_client curl -sS -v --max-time 30 -o "$tmp/ka1.out" "$url/index.html" -o "$tmp/ka2.out" "$url/big.bin" \
    -o "$tmp/ka3.out" "$url/sf/big.bin" </dev/null >/dev/null 2>"$tmp/ka.err"
rc=$?
reused=$(grep -c 'Re-using existing connection' "$tmp/ka.err")
if [ $rc -eq 0 ] && [ "$reused" -eq 2 ] && cmp -s "$tmp/ka1.out" "$tmp/www/index.html" &&
    cmp -s "$tmp/ka2.out" "$tmp/www/big.bin" && cmp -s "$tmp/ka3.out" "$tmp/www/big.bin"; then
    ok "$name"
else
    not_ok "$name" "$(apps_why curl $rc "$tmp/ka.err"), connection reused $reused times" "$tmp/ka.err" "$tmp/server.log"
fi

name="nginx: a missing file is a 404"
apps_client curl -sS --max-time 30 -o /dev/null -w '%{http_code}' "$url/nosuch.html" </dev/null \
    >"$tmp/404.status" 2>"$tmp/404.err"
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$tmp/404.status")" = 404 ]; then
    ok "$name"
else
    not_ok "$name" "$(apps_why curl $rc "$tmp/404.err"), HTTP $(cat "$tmp/404.status")" "$tmp/404.err" "$tmp/server.log"
fi

name="nginx: wrk -t1 -c10 -d3s GET /index.html: requests done, no socket errors, no non-2xx"
apps_client wrk -t1 -c10 -d3s --timeout 5s --latency "$url/index.html" </dev/null >"$tmp/wrk.out" 2>&1
rc=$?
rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$tmp/wrk.out")
if [ $rc -eq 0 ] && [ -n "$rps" ] && awk -v r="$rps" 'BEGIN { exit !(r > 0) }' &&
    ! grep -Eq 'Socket errors|Non-2xx' "$tmp/wrk.out"; then
    ok "$name ($rps requests/s, p99 $(awk '$1 == "99%" { print $2 }' "$tmp/wrk.out"))"
else
    not_ok "$name" "$(apps_why wrk $rc), $(grep -E 'Requests/sec|Socket errors|Non-2xx' "$tmp/wrk.out" | tr '\n' ' ')" \
        "$tmp/wrk.out" "$tmp/server.log"
fi

# One connection: wrk's event loop (ae) takes only fds below 10 + 3 x
# connections, 13 here, as a process whose first sockets get fds 3, 4, ... has.
name="nginx: wrk -t1 -c1 -d2s GET /index.html: requests done, no socket errors"
apps_client wrk -t1 -c1 -d2s --timeout 5s --latency "$url/index.html" </dev/null >"$tmp/wrk1.out" 2>&1
rc=$?
rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$tmp/wrk1.out")
if [ $rc -eq 0 ] && [ -n "$rps" ] && awk -v r="$rps" 'BEGIN { exit !(r > 0) }' &&
    ! grep -Eq 'Socket errors|Non-2xx' "$tmp/wrk1.out"; then
    ok "$name ($rps requests/s, p99 $(awk '$1 == "99%" { print $2 }' "$tmp/wrk1.out"))"
else
    not_ok "$name" "$(apps_why wrk $rc), $(grep -E 'requests in|Socket errors|Non-2xx' "$tmp/wrk1.out" | tr -s ' ' | tr '\n' ' ')" \
        "$tmp/wrk1.out" "$tmp/server.log"
fi

fetch "nginx: after the load, the 1 MiB file still served intact" "$url/big.bin" "$tmp/big2.out" "$tmp/www/big.bin"

name="nginx: SIGTERM -> nginx exits 0"
if apps_alive "$server"; then
    apps_stop "$server"
    rc=$?
    if [ $rc -eq 0 ]; then ok "$name"; else not_ok "$name" "exit $rc" "$tmp/server.log"; fi
else
    wait "$server"
    not_ok "$name" "the server had already exited ($?)" "$tmp/server.log"
fi

apps_finish
