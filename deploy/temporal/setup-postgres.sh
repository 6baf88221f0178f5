#!/bin/sh
# Create Temporal's two databases on PostgreSQL and bring their schemas to this server release's
# version. Safe to run again: `create` of an existing database fails and is skipped, setup-schema
# only writes the version table, and update-schema applies what is missing.
set -eu
sql() { temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432 -u temporal "$@"; }
schemas=/etc/temporal/schema/postgresql/v12

for db in temporal temporal_visibility; do
  case $db in temporal) dir=temporal ;; *) dir=visibility ;; esac
  sql --db "$db" create || echo "database $db exists"
  sql --db "$db" setup-schema -v 0.0 || echo "database $db has its version table"
  sql --db "$db" update-schema -d "$schemas/$dir/versioned"
done
echo "Temporal schemas are up to date"
