#!/usr/bin/env bash
# HAProxy (Debian's haproxy package) in HTTP mode, standing in for the
# harness's relay or bare proxy, as a C proxy to compare the gateway's hop
# with (docs/benchmarks.md, "A C proxy for reference"). It takes the same
# arguments as loadtest-relay and prints its address on the first line:
#
#	loadtest/haproxy.sh --upstream http://127.0.0.1:PORT
#
# Linked as loadtest-bareproxy in a --bin directory whose other files link
# to bin/, it makes the "bare proxy" row HAProxy's. HAPROXY_THREADS sets
# nbthread (default 2).
set -euo pipefail
if [[ $# -ne 2 || $1 != --upstream || $2 != http://127.0.0.1:* ]]; then
	echo "usage: $0 --upstream http://127.0.0.1:PORT (loopback only)" >&2
	exit 2
fi
haproxy=$(PATH=$PATH:/usr/sbin command -v haproxy) || { echo "$0: haproxy is not installed (apt-get install haproxy)" >&2; exit 1; }
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# In the working directory: the harness runs it in its own, which it removes.
cfg=haproxy-$port.cfg
cat >"$cfg" <<CFG
global
  nbthread ${HAPROXY_THREADS:-2}
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend gateway
  bind 127.0.0.1:$port
  default_backend upstream
backend upstream
  server upstream ${2#http://}
CFG
echo "127.0.0.1:$port"
# exec: the harness's CPU and memory figures are then HAProxy's own.
exec "$haproxy" -f "$cfg" -db
