#!/usr/bin/env bash
# build-postgres-image.sh - build the PostgreSQL image docker-compose.yml uses
# (postgres:15) from Debian's postgresql-15 package, for machines that cannot
# pull the official one. See docker/postgres/Dockerfile for how it matches.
#
#   docker/build-postgres-image.sh            build it unless the tag exists
#   docker/build-postgres-image.sh --force    rebuild even when it exists
#
# Environment: MILLRACE_POSTGRES_IMAGE (default postgres:15: the name the
# compose file uses unless MILLRACE_POSTGRES_IMAGE is set there too),
# MILLRACE_BASE_IMAGE (default debian:bookworm-slim; made by
# docker/build-base-image.sh when it cannot be pulled).
set -euo pipefail
cd "$(dirname "$0")"

tag="${MILLRACE_POSTGRES_IMAGE:-postgres:15}"
base="${MILLRACE_BASE_IMAGE:-debian:bookworm-slim}"
log() { printf 'build-postgres-image: %s\n' "$*" >&2; }

if [ "${1:-}" != "--force" ] && docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag already exists (--force rebuilds it)"
  exit 0
fi
if ! docker image inspect "$base" >/dev/null 2>&1; then
  log "base image $base is missing: run docker/build-base-image.sh first"
  exit 1
fi
log "building $tag from $base"
docker build -q --build-arg BASE_IMAGE="$base" -t "$tag" postgres >/dev/null
log "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
