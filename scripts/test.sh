#!/usr/bin/env bash
# Every check, in the order a failure is cheapest to read. Runs inside a private D-Bus session
# with an unlocked gnome-keyring so keyring tests talk to a real Secret Service.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ORA_IN_DBUS:-}" ] && command -v dbus-run-session >/dev/null 2>&1; then
  export ORA_IN_DBUS=1
  exec dbus-run-session -- "$0" "$@"
fi
if command -v gnome-keyring-daemon >/dev/null 2>&1 && [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  # A throwaway keyring for this run only; the password never leaves this process tree.
  export XDG_DATA_HOME="$(mktemp -d)"
  printf 'ora-test' | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || true
fi
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy
echo "== import contracts"; lint-imports
export ORA_REQUIRE_KEYRING="${ORA_REQUIRE_KEYRING:-${ORA_IN_DBUS:-}}"
echo "== pytest"; pytest -p no:cacheprovider "$@"
