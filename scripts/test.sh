#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine with the .NET 10 SDK:
#   installs PostgreSQL and Redis with apt when missing, starts throw-away instances on loopback
#   (unless TEST_DATABASE_URL and TEST_REDIS_URL are given), builds with warnings as errors, checks
#   formatting and pending model changes, runs the unit tests once and the integration tests once per
#   database provider, and stops what it started, even on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/services.sh
PG_PORT="${TEST_PG_PORT:-$(free_port 55432)}"
REDIS_PORT="${TEST_REDIS_PORT:-$(free_port 56379)}"
CONFIGURATION="${CONFIGURATION:-Release}"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

if [ -z "${TEST_DATABASE_URL:-}" ] || [ -z "${TEST_REDIS_URL:-}" ]; then
  install_services
  start_services
fi

step "Restoring tools and packages"
dotnet tool restore >/dev/null
dotnet restore BluesMinds.slnx

step "Building ($CONFIGURATION, warnings as errors)"
dotnet build BluesMinds.slnx -c "$CONFIGURATION" --no-restore -warnaserror

step "Checking formatting"
dotnet format BluesMinds.slnx --verify-no-changes --no-restore

step "Checking for model changes without a migration"
for context in SqliteGatewayDbContext PostgresGatewayDbContext; do
  dotnet ef migrations has-pending-model-changes --no-build --configuration "$CONFIGURATION" \
    --project src/BluesMinds.Gateway.Data --context "$context"
done

step "Unit tests"
dotnet test --project tests/BluesMinds.Gateway.Tests -c "$CONFIGURATION" --no-build

for provider in Sqlite Postgres; do
  step "Integration tests on $provider"
  TEST_DB_PROVIDER=$provider dotnet test --project tests/BluesMinds.Gateway.IntegrationTests -c "$CONFIGURATION" --no-build
done

step "All tests passed"
