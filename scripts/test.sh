#!/usr/bin/env bash
# Sets up everything the tests need and runs them: bash scripts/test.sh [pytest arguments]
# The store tests run on SQLite and on PostgreSQL. MCC_TEST_POSTGRES names an admin URL; if it
# is unset and no server answers on 127.0.0.1:5432, a private throwaway cluster is started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

pg_reachable() {
  .venv/bin/python - "$1" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1].replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not reachable at {sys.argv[1]}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
}

export MCC_TEST_POSTGRES="${MCC_TEST_POSTGRES:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}"
private_pg=()
if ! pg_reachable "$MCC_TEST_POSTGRES" 2>/dev/null; then
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  dir="$PWD/var/test-pg"
  port=55432
  owner=$(id -un)
  run=()
  if [[ $(id -u) -eq 0 ]]; then owner=postgres; run=(runuser -u postgres --); fi
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    install -d -o "$owner" "$dir"
    "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 >/dev/null
  fi
  if ! "${run[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    private_pg=("${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop)
  fi
  export MCC_TEST_POSTGRES="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  pg_reachable "$MCC_TEST_POSTGRES"
fi
echo "PostgreSQL for the store tests: $MCC_TEST_POSTGRES"

status=0
# Unused imports, undefined names and the like fail the run before any test does.
.venv/bin/python -m pyflakes adapters console tests bench || status=$?
# The architecture's import contracts (.importlinter) and the types (pyproject.toml [tool.mypy]).
.venv/bin/lint-imports --no-cache || status=$?
.venv/bin/mypy || status=$?
.venv/bin/python -m pytest "$@" || status=$?
if ((${#private_pg[@]})); then "${private_pg[@]}" >/dev/null || true; fi  # the cluster this run started
exit $status
