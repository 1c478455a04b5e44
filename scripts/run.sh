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
mkdir -p "$ORA_HOME/relay"
relay_bind=127.0.0.1
home_address=""
if [ -z "${ORA_RELAY_URL:-}" ] && [ "${ORA_HOME_NETWORK:-}" != 0 ]; then
  # Home-network mode, unless you chose a Relay (ORA_RELAY_URL or relay_url in config.toml):
  # the Relay listens on this PC's home-network address so a phone on the same network can
  # pair from the QR code (app/home_network.py).
  home_address="$(python -m app.home_network 2>/dev/null || true)"
fi
if [ -n "$home_address" ]; then
  relay_bind="${ORA_RELAY_BIND:-0.0.0.0}"
  export ORA_RELAY_URL="http://${home_address}:${ORA_RELAY_PORT}"
  export ORA_HOME_NETWORK=1
else
  export ORA_RELAY_URL="${ORA_RELAY_URL:-http://127.0.0.1:${ORA_RELAY_PORT}}"
fi

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
  if [ -n "$home_address" ]; then
    echo "run: home-network mode: the Relay is reachable on your network at ${ORA_RELAY_URL}"
    echo "run:   phones on this network can pair from the QR code; the connection is plain http"
    echo "run:   (not encrypted), your messages are end-to-end encrypted. Set ORA_RELAY_URL or"
    echo "run:   relay_url in config.toml to use your own Relay instead (README: Remote access)."
  else
    echo "run: starting the Relay on ${ORA_RELAY_URL} (state in $ORA_HOME/relay)"
  fi
  ora-relay --host "$relay_bind" --port "$ORA_RELAY_PORT" --data-dir "$ORA_HOME/relay" \
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
