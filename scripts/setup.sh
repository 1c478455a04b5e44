#!/usr/bin/env bash
# Installs everything `make run` and `make test` need on a fresh Debian machine: apt packages,
# uv, the locked Python environment, and the local PostgreSQL/Redis services tests talk to.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-test}"

APT_RUN=(xvfb trayer zbar-tools gnome-keyring dbus dbus-x11 libxcb-cursor0 libxkbcommon-x11-0
  libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0
  libxcb-image0 libegl1 libgl1 fonts-dejavu-core fonts-noto-cjk chromium)
APT_TEST=(xdotool imagemagick nodejs binutils caddy prometheus libnss3-tools)
want=("${APT_RUN[@]}")
[ "$mode" = test ] && want+=("${APT_TEST[@]}")
# npm: Debian's package, unless the installed nodejs already brings its own (NodeSource's does,
# and then Debian's npm cannot be installed beside it).
[ "$mode" = test ] && ! command -v npm >/dev/null 2>&1 && want+=(npm)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "setup: installing uv"
  python3 -m pip install -q --disable-pip-version-check uv
fi
export UV_PYTHON_DOWNLOADS=never
uv sync --frozen --quiet

if [ "$mode" = test ] && [ ! -f tests/support/push_service/node_modules/web-push-testing/package.json ]; then
  # A real Web Push service for the Relay's push tests (versions pinned by package-lock.json).
  echo "setup: installing web-push-testing (npm)"
  (cd tests/support/push_service && npm ci --no-audit --no-fund --silent)
fi

if [ "$mode" = test ]; then
  # The tests use the machine's PostgreSQL and Redis; start them if they are down.
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
      echo "setup: starting PostgreSQL"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    fi
  fi
  if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    if command -v redis-server >/dev/null 2>&1; then
      echo "setup: starting Redis"
      redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /tmp --logfile /tmp/redis-ci.log || true
    fi
  fi
fi
