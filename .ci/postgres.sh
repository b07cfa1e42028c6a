# Sourced by .ci/run: start the machine's PostgreSQL cluster (installing it if missing), create a
# role and a database for the tests, and export FF_TEST_PG_DSN. Safe to run again. The role
# ff_hostile has a password with '@', ':', '/' and '?', for the DSN-parsing tests.
pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1; }

if [ -z "$(pg_version)" ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
    || echo "could not install PostgreSQL"
fi
version=$(pg_version)
if [ -n "$version" ] && command -v pg_ctlcluster >/dev/null; then
  if ! pg_ctlcluster "$version" main status >/dev/null 2>&1; then
    pg_ctlcluster "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  (cd / && runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 <<'SQL') || true
SELECT 'CREATE ROLE flowforge LOGIN PASSWORD ''flowforge'' CREATEDB'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'flowforge')\gexec
SELECT 'CREATE DATABASE flowforge_test OWNER flowforge'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'flowforge_test')\gexec
SELECT 'CREATE ROLE ff_hostile LOGIN PASSWORD ''p@ss:w/rd?x'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ff_hostile')\gexec
GRANT CREATE, CONNECT ON DATABASE flowforge_test TO ff_hostile;
SQL
  export FF_TEST_PG_DSN="postgresql+psycopg://flowforge:flowforge@127.0.0.1:5432/flowforge_test"
  echo "PostgreSQL $version ready: FF_TEST_PG_DSN exported"
else
  echo "PostgreSQL is not available on this machine; tests that need it will fail in CI"
fi
