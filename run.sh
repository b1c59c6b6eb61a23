#!/usr/bin/env bash
# Kongchuo set-up script. Needs only Python 3.11 and Debian packages.
#   ./run.sh demo [--port 8000]   create .venv, install, init the embedded SQLite DB, load the demo county, serve
#   ./run.sh test [pytest args]   run the whole suite on SQLite, then again on PostgreSQL when one is reachable
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
PG_URL=${KONGCHUO_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_install() {
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv && "$PY" -m venv "$VENV"; }
  fi
  local stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "安装依赖（installing dependencies）…"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[test]"
    rm -f "$VENV"/.installed-* && touch "$stamp"
  fi
}

ensure_chromium() {
  # Browser tests drive Debian's chromium; CJK fonts so Chinese renders in screenshots.
  if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    echo "安装 chromium 与中文字体（installing chromium, fonts-noto-cjk）…"
    apt_install chromium fonts-noto-cjk || echo "warning: could not install chromium; browser tests will be skipped" >&2
  fi
}

ensure_java() {
  # The Spark test runs the matching model on pyspark local mode, which needs a JVM.
  if ! command -v java >/dev/null; then
    echo "安装 Java（installing openjdk-17-jre-headless for the Spark test）…"
    apt_install openjdk-17-jre-headless || echo "warning: could not install Java; the Spark test will fail" >&2
  fi
}

pg_reachable() {
  "$VENV/bin/python" - "$PG_URL" <<'PY' 2>/dev/null
import sys, psycopg
psycopg.connect(sys.argv[1].replace("postgres://", "postgresql://"), connect_timeout=3).close()
PY
}

case "${1:-}" in
  demo)
    shift
    ensure_venv
    exec "$VENV/bin/kongchuo" demo --serve "$@"
    ;;
  test)
    shift
    ensure_venv
    ensure_chromium
    ensure_java
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "== tests on SQLite =="
    env -u DATABASE_URL KONGCHUO_DATA_DIR="$tmp/sqlite" "$VENV/bin/pytest" "$@"
    if pg_reachable; then
      echo "== tests on PostgreSQL ($PG_URL) =="
      DATABASE_URL="$PG_URL" KONGCHUO_DATA_DIR="$tmp/pg" "$VENV/bin/pytest" "$@"
    else
      echo "PostgreSQL not reachable at $PG_URL: skipped the PostgreSQL run"
    fi
    ;;
  *)
    echo "usage: ./run.sh demo [--port N] | ./run.sh test [pytest args]" >&2
    exit 2
    ;;
esac
