#!/usr/bin/env bash
# Creates one database and one login role per service on the first start of the postgres
# container (mounted into /docker-entrypoint-initdb.d/; runs only while the data volume is
# empty). Each service owns its database and nobody else may connect to it:
#   projects   -> database projects,   role projects,   password $PROJECTS_DB_PASSWORD
#   indicators -> database indicators, role indicators, password $INDICATORS_DB_PASSWORD
#   gateway    -> database gateway,    role gateway,    password $GATEWAY_DB_PASSWORD
# The passwords come from .env (docker-compose.yml); none is written here.
set -euo pipefail

create_service_database() {
  local name=$1 password=$2
  if [ -z "$password" ]; then
    echo "init.sh: no password for the $name role (set ${name^^}_DB_PASSWORD in .env)" >&2
    exit 1
  fi
  # psql variables (:"name", :'password') quote identifiers and literals safely
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
}

# PORTFOLIO_DATABASES only exists so tests/deploy can run this script on a scratch server
for name in ${PORTFOLIO_DATABASES:-projects indicators gateway}; do
  password_variable="${name^^}_DB_PASSWORD"
  create_service_database "$name" "${!password_variable:-}"
done
