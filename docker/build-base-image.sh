#!/usr/bin/env bash
# build-base-image.sh - make the Debian base image the Dockerfile starts FROM
# without a container registry: debootstrap Debian bookworm (minbase) from
# Debian's package archive and `docker import` it as debian:bookworm-slim.
#
#   docker/build-base-image.sh            build it unless the tag already exists
#   docker/build-base-image.sh --force    rebuild even when it exists
#
# Environment: MILLRACE_BASE_IMAGE (default debian:bookworm-slim), DEBIAN_MIRROR
# (default http://deb.debian.org/debian), DEBIAN_SECURITY_MIRROR.
#
# On a machine that can pull from Docker Hub this script is not needed: the
# Dockerfile then uses the official image unchanged. The imported image is
# shaped like the official slim one: the same apt sources (bookworm,
# bookworm-updates, bookworm-security), documentation and locales excluded
# from future package installs, no apt caches, `bash` as the default command.
# Needs root (debootstrap creates device nodes and changes ownership).
set -euo pipefail

tag="${MILLRACE_BASE_IMAGE:-debian:bookworm-slim}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
log() { printf 'build-base-image: %s\n' "$*" >&2; }

if [ "${1:-}" != "--force" ] && docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag already exists (--force rebuilds it)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  log "debootstrap needs root: run it with sudo"
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null \
    || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
fi

root="$(mktemp -d "${TMPDIR:-/tmp}/millrace-rootfs.XXXXXX")"
cleanup() {
  # debootstrap may leave /proc or /sys mounted when it fails half way
  for m in proc sys dev/pts; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
  done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

log "debootstrap bookworm (minbase) from $mirror into $root"
debootstrap --variant=minbase --merged-usr bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -n 30 "$root.log" >&2
  rm -f "$root.log"
  log "debootstrap failed"
  exit 1
}
rm -f "$root.log"

# The official image's apt sources, in the same deb822 form.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# Keep later layers small the way the slim image does: no docs, man pages or
# translations from packages installed on top, and no apt caches.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
cat >"$root/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF
find "$root/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
  "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/*.log \
  "$root"/var/cache/debconf/*-old "$root"/tmp/* "$root"/root/.bash_history
# The host's name and resolver must not leak into the image: Docker supplies them.
: >"$root/etc/hostname"
rm -f "$root/etc/resolv.conf"

log "importing as $tag"
tar --numeric-owner --xattrs -C "$root" -c . \
  | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' \
      --message "debootstrap bookworm minbase (docker/build-base-image.sh)" \
      - "$tag" >/dev/null
log "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
