#!/usr/bin/env bash
# `make run`: a bridge on SQLite and a local agent pushing to it, in the background.
# `make stop` (this script with `stop`): stops exactly the two processes `make run` started.
# State lives in var/run-local/ (git-ignored; RUN_STATE overrides it); tokens are generated once
# and reused. Ports: BRIDGE_PORT (default 8080) and AGENT_PORT (default 10042).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${RUN_BIN:-$PWD/.venv/bin}
STATE=${RUN_STATE:-var/run-local}
BRIDGE_PORT=${BRIDGE_PORT:-8080}
AGENT_PORT=${AGENT_PORT:-10042}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
PIDS="$STATE/run.pids"

running() {
  [ -s "$PIDS" ] || return 1
  local pid
  while read -r pid _; do kill -0 "$pid" 2>/dev/null && return 0; done < "$PIDS"
  return 1
}

stop() {
  if ! running; then
    rm -f "$PIDS"
    echo "Tocsin is not running (nothing started by make run)."
    return 0
  fi
  local pid name
  while read -r pid name; do
    kill "$pid" 2>/dev/null && echo "stopping $name (pid $pid)"
  done < "$PIDS"
  for _ in $(seq 1 100); do
    running || break
    sleep 0.1
  done
  running && { echo "still running after 10 s; see $PIDS"; return 1; }
  rm -f "$PIDS"
  echo "Tocsin stopped."
}

if [ "${1:-}" = stop ]; then
  stop
  exit
fi

if running; then
  echo "Tocsin is already running (make stop stops it); its details:"
else
  mkdir -p "$STATE/spool" "$STATE/agent-state"
  chmod 700 "$STATE"
  for role in ingest operator; do
    [ -s "$STATE/$role.token" ] || (umask 077; "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$STATE/$role.token")
  done

  cat > "$STATE/bridge.yml" <<YAML
listen: 127.0.0.1:$BRIDGE_PORT
database_url: sqlite:///$STATE/tocsin.db
public_url: http://127.0.0.1:$BRIDGE_PORT
data_dir: $STATE
tokens:
  - {name: local-agent, role: ingest, value_file: $STATE/ingest.token}
  - {name: operator, role: operator, value_file: $STATE/operator.token}
YAML

  cat > "$STATE/agent.yml" <<YAML
interval: 10s
listen: 127.0.0.1:$AGENT_PORT
labels: {env: local}
push:
  url: http://127.0.0.1:$BRIDGE_PORT
  token_file: $STATE/ingest.token
  resend: 1m
spool: {dir: $STATE/spool, max_bytes: 64MiB}
state_dir: $STATE/agent-state
heartbeat: 30s
YAML

  "$BIN/tocsin-bridge" check-config "$STATE/bridge.yml" >/dev/null
  "$BIN/tocsin-agent" check-config "$STATE/agent.yml" >/dev/null

  # Each daemon in its own session: it outlives this script, and make stop ends only these.
  setsid "$BIN/tocsin-bridge" serve --config "$STATE/bridge.yml" >> "$STATE/bridge.log" 2>&1 < /dev/null &
  bridge=$!
  echo "$bridge bridge" > "$PIDS"
  for _ in $(seq 1 150); do
    "$BIN/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
      "http://127.0.0.1:$BRIDGE_PORT/readyz" >/dev/null 2>&1 && break
    if ! kill -0 "$bridge" 2>/dev/null; then
      echo "The bridge did not start. The end of $STATE/bridge.log:"
      tail -n 5 "$STATE/bridge.log"
      echo "If port $BRIDGE_PORT is taken, choose another: make run BRIDGE_PORT=8081"
      rm -f "$PIDS"
      exit 1
    fi
    sleep 0.2
  done
  setsid "$BIN/tocsin-agent" run --config "$STATE/agent.yml" >> "$STATE/agent.log" 2>&1 < /dev/null &
  echo "$! agent" >> "$PIDS"
fi

URL="http://127.0.0.1:$BRIDGE_PORT"
cat <<TEXT

  Tocsin is running in the background.
    web board:       $URL/
    operator token:  $(cat "$STATE/operator.token")   (paste it on the sign-in page; kept in $STATE/operator.token)
    ingest token:    in $STATE/ingest.token (for agents, Prometheus and Alertmanager)
    agent metrics:   http://127.0.0.1:$AGENT_PORT/metrics
    ports:           bridge $BRIDGE_PORT, agent $AGENT_PORT (make run BRIDGE_PORT=8081 AGENT_PORT=10043)
    logs:            $STATE/bridge.log, $STATE/agent.log
    pages:           the bundled policy pages into the bridge log: grep PAGE $STATE/bridge.log

  Fire a test alert (a P1: it appears on the board and pages the on-call in the log):
    curl -sS -H "Authorization: Bearer \$(cat $STATE/ingest.token)" -H 'Content-Type: application/json' \\
      -d '[{"labels": {"alertname": "TocsinTestAlert", "instance": "$(hostname)", "severity": "critical"}, "annotations": {"summary": "A test alert from the quick start"}}]' \\
      $URL/api/v2/alerts

  make stop stops both.

TEXT
