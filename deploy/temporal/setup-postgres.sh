#!/bin/sh
# One-shot, in temporalio/admin-tools: create Temporal's two PostgreSQL databases and bring their
# schemas to the version this admin-tools image ships (keep its tag equal to the server's).
#
# Safe to run on every `docker compose up`: `create` ignores a database that exists, `setup-schema -v 0.0`
# leaves a newer schema version alone, and `update-schema` applies only the migrations still missing --
# which is also how a Temporal upgrade migrates the schema (bump both image tags together).
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS (PostgreSQL host) is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD (read by temporal-sql-tool) is required}"
PORT="${DB_PORT:-5432}"
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

sqltool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$PORT" "$@"
}

# database:schema-directory (Temporal's defaults: DBNAME=temporal, VISIBILITY_DBNAME=temporal_visibility)
for pair in temporal:temporal temporal_visibility:visibility; do
  db=${pair%%:*}
  dir=${pair#*:}
  echo "temporal schema: database '$db'"
  sqltool --db "$db" create
  sqltool --db "$db" setup-schema -v 0.0
  sqltool --db "$db" update-schema -d "$SCHEMA_ROOT/$dir/versioned"
done
echo "temporal schema: up to date"
