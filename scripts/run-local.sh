#!/usr/bin/env bash
# `make run`: a bridge on SQLite and a local agent pushing to it, until Ctrl-C.
# State lives in var/run-local/ (git-ignored); tokens are generated once and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
STATE=var/run-local
BRIDGE_PORT=${BRIDGE_PORT:-8080}
AGENT_PORT=${AGENT_PORT:-9101}
mkdir -p "$STATE/spool" "$STATE/agent-state"
chmod 700 "$STATE"

for role in ingest operator; do
  [ -s "$STATE/$role.token" ] || (umask 077; "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$STATE/$role.token")
done

cat > "$STATE/bridge.yml" <<YAML
listen: 127.0.0.1:$BRIDGE_PORT
database_url: sqlite:///$PWD/$STATE/tocsin.db
public_url: http://127.0.0.1:$BRIDGE_PORT
data_dir: $PWD/$STATE
tokens:
  - {name: local-agent, role: ingest, value_file: $PWD/$STATE/ingest.token}
  - {name: operator, role: operator, value_file: $PWD/$STATE/operator.token}
YAML

cat > "$STATE/agent.yml" <<YAML
interval: 10s
listen: 127.0.0.1:$AGENT_PORT
labels: {env: local}
push:
  url: http://127.0.0.1:$BRIDGE_PORT
  token_file: $PWD/$STATE/ingest.token
  resend: 1m
spool: {dir: $PWD/$STATE/spool, max_bytes: 64MiB}
state_dir: $PWD/$STATE/agent-state
heartbeat: 30s
YAML

"$BIN/tocsin-bridge" check-config "$STATE/bridge.yml" >/dev/null
"$BIN/tocsin-agent" check-config "$STATE/agent.yml" >/dev/null

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

"$BIN/tocsin-bridge" serve --config "$STATE/bridge.yml" > "$STATE/bridge.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  "$BIN/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "http://127.0.0.1:$BRIDGE_PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "the bridge did not start; its log:"; cat "$STATE/bridge.log"; exit 1; }
  sleep 0.2
done
"$BIN/tocsin-agent" run --config "$STATE/agent.yml" > "$STATE/agent.log" 2>&1 &
pids+=($!)

cat <<TEXT

  Tocsin is running.
    web board:      http://127.0.0.1:$BRIDGE_PORT/
    log in with:    the operator token in $STATE/operator.token
    agent metrics:  http://127.0.0.1:$AGENT_PORT/metrics
    logs:           $STATE/bridge.log, $STATE/agent.log
    pages:          the bundled policy pages into the bridge log: grep PAGE $STATE/bridge.log
  Ctrl-C stops both.

TEXT
wait -n "${pids[@]}"
echo "a daemon exited; see the logs in $STATE/"
