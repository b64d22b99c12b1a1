# Shared by scripts/dev-up, scripts/test and .ci/run: install what is missing, start what is down.

ensure_tools() {
  if ! command -v uv >/dev/null 2>&1; then
    echo "» installing uv" >&2
    python3 -m pip install --quiet uv
    hash -r
  fi
  # promtool checks and unit-tests the alert rules (tests/deploy/test_monitoring.py); jq
  # captures ids in the README and the walkthrough (docs/parcours-walkthrough.sh, which
  # tests/e2e/test_parcours_walkthrough.py runs).
  ensure_debian_packages promtool:prometheus jq:jq
  ensure_print_libraries
}

# Parcours prints the families' letters with WeasyPrint: Pango, and fonts with Latin,
# Turkish and Arabic glyphs (DejaVu). Libraries have no command: dpkg says what is missing.
ensure_print_libraries() {
  local pkg missing=()
  for pkg in libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "» installing ${missing[*]} (Debian packages)" >&2
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
    install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# The longer lane (scripts/test-long): RabbitMQ nodes of its own run as the rabbitmq user;
# images built with podman on a base debootstrap makes when no registry answers.
ensure_long_lane_tools() {
  ensure_debian_packages runuser:util-linux rabbitmq-server:rabbitmq-server \
    podman:podman debootstrap:debootstrap
}

# ensure_debian_packages COMMAND:PACKAGE...: apt-get install the packages whose command is
# missing (as root, or through sudo). Daemons stay stopped: only their tools are wanted.
ensure_debian_packages() {
  local pair missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  ((${#missing[@]})) || return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "» missing: ${missing[*]} (apt-get install ${missing[*]} as root)" >&2
      return 1
    fi
    sudo=(sudo)
  fi
  echo "» installing ${missing[*]} (Debian packages)" >&2
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
    install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  hash -r
}

ensure_services() {
  # Both answering (the usual case): done, without rabbitmqctl, which boots an Erlang VM
  # for each call (three calls: 4.5 s before every test run). A stopped app (stop_app, as
  # tests do) closes 5672 and takes the path below.
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null \
    && (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
    return 0
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "» starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    echo "» starting RabbitMQ" >&2
    rabbitmq-server -detached
  fi
  # start_app is a no-op when the app runs; after a stop_app (tests do that) it restarts it.
  rabbitmqctl -q await_startup >/dev/null 2>&1 || true
  rabbitmqctl -q start_app >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do
    (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break
    sleep 1
  done
}

# The web pages' design system (@gouvfr/dsfr) from npm, as locked in services/web/package-lock.json.
ensure_web_assets() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "» installing Node.js and npm (apt)" >&2
    apt-get install -y -qq nodejs npm >/dev/null
  fi
  local stamp=services/web/node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ services/web/package-lock.json -nt "$stamp" ]; then
    echo "» installing the web assets (npm ci)" >&2
    (cd services/web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  fi
}

# Debian's chromium for the browser tests (Playwright drives it; it never downloads one).
# scripts/test and .ci/run call it: the browser tests are part of the suite.
ensure_browser() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "» installing chromium (apt)" >&2
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  fi
}
