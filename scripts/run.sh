#!/usr/bin/env bash
# `make run`: a local Relay (SQLite, embedded defaults) and the Node connected to it.
# With a display the tray app starts; without one, `ora --headless` prints the pairing QR here.
# Ctrl+C stops everything this script started and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export LITELLM_LOCAL_MODEL_COST_MAP=True
: "${ORA_HOME:=$PWD/.ora-home}"
: "${ORA_RELAY_PORT:=8470}"
export ORA_HOME
export ORA_RELAY_URL="${ORA_RELAY_URL:-http://127.0.0.1:${ORA_RELAY_PORT}}"
mkdir -p "$ORA_HOME/relay"

# One Node per profile: a second `make run` brings the running ORA forward and stops here.
if ora "$@" show; then
  exit 0
fi

relay_pid=""
node_pid=""
interrupted=""
cleanup() {
  if [ -n "$relay_pid" ]; then
    kill "$relay_pid" 2>/dev/null || true
    wait "$relay_pid" 2>/dev/null || true
  fi
}
stop() {
  interrupted=1
  if [ -n "$node_pid" ]; then kill -TERM "$node_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap stop INT TERM

if [ -f relay_server/__main__.py ]; then
  echo "run: starting the Relay on ${ORA_RELAY_URL} (state in $ORA_HOME/relay)"
  ora-relay --host 127.0.0.1 --port "$ORA_RELAY_PORT" --data-dir "$ORA_HOME/relay" \
    >>"$ORA_HOME/relay/relay.log" 2>&1 &
  relay_pid=$!
  for _ in $(seq 1 50); do
    if python3 -c "import urllib.request; urllib.request.urlopen('${ORA_RELAY_URL}/readyz', timeout=0.5)" 2>/dev/null; then
      break
    fi
    if ! kill -0 "$relay_pid" 2>/dev/null; then
      echo "run: the Relay failed to start; see $ORA_HOME/relay/relay.log" >&2
      tail -20 "$ORA_HOME/relay/relay.log" >&2
      exit 1
    fi
    if [ -n "$interrupted" ]; then exit 0; fi
    sleep 0.2
  done
else
  echo "run: this version has no Relay yet (remote access comes with it); starting the Node alone"
fi

# The Node runs in the background so that a signal reaches this script's trap at once; its
# stdin is the terminal's (a background job would otherwise read /dev/null).
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${ORA_HEADLESS:-}" ]; then
  echo "run: starting the ORA tray app (Ctrl+C to stop)"
  ora "$@" <&0 &
else
  echo "run: no display found: starting ORA headless (Ctrl+C to stop)"
  ora --headless "$@" <&0 &
fi
node_pid=$!
code=0
wait "$node_pid" || code=$?
while kill -0 "$node_pid" 2>/dev/null; do
  wait "$node_pid" || code=$?
done
if [ -n "$interrupted" ]; then
  echo "run: stopped"
  exit 0
fi
exit "$code"
