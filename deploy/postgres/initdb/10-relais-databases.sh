#!/usr/bin/env bash
# Run once by the postgres image's entrypoint, on the first start of an empty data volume
# (/docker-entrypoint-initdb.d). Creates, for each Relais service, a login role and a
# database it owns, which no other role (superuser aside) may connect to:
#
#   relais_referral  relais_parcours  relais_notifications  relais_reporting
#
# Passwords come from RELAIS_DB_PASSWORD_<SERVICE> (deploy/env/postgres.env.example).
# Each role owns its database because the service applies its own migrations at start-up
# (runtime tables and service tables, under an advisory lock).
#
# The roles may also CONNECT to the "postgres" maintenance database, which holds no data:
# relais_runtime.migrations.ensure_database connects there at every start-up to check
# that the service's database exists (see docs/runbook.md, "Databases").
set -euo pipefail

services=(referral parcours notifications reporting)

for service in "${services[@]}"; do
    var="RELAIS_DB_PASSWORD_${service^^}"
    password="${!var:-}"
    if [[ -z "$password" ]]; then
        echo "10-relais-databases: $var is not set" >&2
        exit 1
    fi
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
        -v role="relais_${service}" -v db="relais_${service}" -v password="$password" <<'SQL'
CREATE ROLE :"role" WITH LOGIN PASSWORD :'password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 100;
CREATE DATABASE :"db" WITH OWNER :"role" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
    echo "10-relais-databases: role and database relais_${service} created"
done

# parcours's queries run as relais_parcours_app, which row-level security applies to (its
# pool does SET ROLE), and its sweeps across PREs as relais_parcours_sweep; neither logs in.
# The login role relais_parcours (the tables' owner, which runs the migrations) may take
# both. Migration 0020 grants them the tables and creates the policies (ADR 0018).
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE relais_parcours_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE relais_parcours_sweep NOLOGIN NOSUPERUSER NOBYPASSRLS;
GRANT relais_parcours_app, relais_parcours_sweep TO relais_parcours;
SQL

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres <<'SQL'
-- Nobody but the superuser and the four service roles reaches the maintenance databases.
REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;
SQL
echo "10-relais-databases: done"
