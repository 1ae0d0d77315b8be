#!/usr/bin/env bash
# make demo: start the fake provider and the gateway, send a few calls
# through it (plain, streamed, refused), and print the usage events.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=./bin/tollgate
MOCK=127.0.0.1:19090
GW=127.0.0.1:18080
ADMIN=127.0.0.1:18081
DATA=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"' EXIT

$BIN mock --listen $MOCK >/dev/null &
cat >"$DATA/tollgate.yaml" <<YAML
listen: $GW
admin_listen: $ADMIN
data_dir: $DATA
log: {level: warn}
providers:
  openai: {base_url: http://$MOCK/v1, api_key_env: DEMO_OPENAI_KEY}
pipeline:
  - {name: validate, kind: builtin, config: {models: ["gpt-4o*"]}}
  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: $DATA/usage.jsonl}]}}
YAML
DEMO_OPENAI_KEY=sk-demo $BIN serve --config "$DATA/tollgate.yaml" &
for _ in $(seq 50); do curl -fs "http://$ADMIN/healthz" >/dev/null && break; sleep 0.1; done

call() { echo; echo "\$ $1"; eval "$1"; echo; }
call "curl -s http://$GW/v1/chat/completions -H 'X-Tollgate-Customer: acme' -d '{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello, gateway\"}]}'"
call "curl -sN http://$GW/v1/chat/completions -H 'X-Tollgate-Customer: acme' -H 'X-Tollgate-Meta-Feature: chat' -d '{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Stream to me\"}]}'"
call "curl -s http://$GW/v1/chat/completions -H 'X-Tollgate-Customer: globex' -d '{\"model\":\"o3-pro\",\"messages\":[{\"role\":\"user\",\"content\":\"Not allowed\"}]}'"

kill -TERM %2; wait %2 2>/dev/null || true
echo; echo "== usage events ($DATA/usage.jsonl) =="
cat "$DATA/usage.jsonl"
