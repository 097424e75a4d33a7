#!/usr/bin/env bash
# Builds the images the container tests run, on a machine with no image
# registry: Debian root filesystems made with debootstrap (minbase, no docs)
# and imported with `docker import`, and busybox in an empty image.
#
#   tests/containers/images.sh APP_DIR     # prints NAME=TAG lines
#
# Each tag carries a hash of this recipe (and of the app's requirements), so a
# second run finds the images and builds nothing. Work files go to
# $PREFLIGHT_TEST_DOCKER_CACHE (default /var/tmp/preflight-test-images).
set -euo pipefail

app=${1:?usage: images.sh APP_DIR}
cache=${PREFLIGHT_TEST_DOCKER_CACHE:-/var/tmp/preflight-test-images}
mkdir -p "$cache"
recipe=$(sha256sum "$0" | cut -c1-12)
log() { echo "images.sh: $*" >&2; }
have() { docker image inspect "$1" >/dev/null 2>&1; }

# A Debian root filesystem without docs, man pages, locales or apt lists.
slim() {
  local dir=$1
  rm -rf "$dir"/usr/share/{doc,man,info,locale,lintian,linda} "$dir"/var/cache/apt/*.bin \
    "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log \
    "$dir"/var/log/apt/* "$dir"/usr/share/i18n "$dir"/tmp/*
  find "$dir"/usr/lib -name '__pycache__' -prune -exec rm -rf {} + 2>/dev/null || true
}

# debootstrap's minbase, kept as a directory to copy (bump the number when
# this part of the recipe changes).
base=$cache/base-bookworm-minbase-1
if [ ! -e "$base/.done" ]; then
  log "debootstrap --variant=minbase bookworm (about 1.5 min)"
  rm -rf "$base"
  debootstrap --variant=minbase bookworm "$base" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  # No service starts inside the chroot; no docs from later packages.
  printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
  chmod +x "$base/usr/sbin/policy-rc.d"
  cat >"$base/etc/dpkg/dpkg.cfg.d/01-nodoc" <<'NODOC'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
NODOC
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$base/etc/apt/apt.conf.d/01-norecommends"
  slim "$base"
  touch "$base/.done"
fi

# IMAGE TAG PACKAGES... [-- SETUP-COMMAND] [--change DOCKERFILE-LINE]...:
# a copy of the base with the packages installed, imported as TAG.
debian_image() {
  local tag=$1; shift
  have "$tag" && return 0
  local pkgs=() setup="" copy="" changes=()
  while [ $# -gt 0 ]; do
    case $1 in
      --setup) setup=$2; shift 2 ;;
      --copy) copy=$2; shift 2 ;;
      --change) changes+=(--change "$2"); shift 2 ;;
      *) pkgs+=("$1"); shift ;;
    esac
  done
  local dir
  dir=$(mktemp -d "$cache/rootfs.XXXXXX")
  log "building $tag: ${pkgs[*]}"
  cp -a "$base/." "$dir/"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  mount -t proc proc "$dir/proc"
  chroot "$dir" apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -qq "${pkgs[@]}" >/dev/null
  [ -z "$setup" ] || chroot "$dir" sh -c "$setup"
  umount "$dir/proc"
  [ -z "$copy" ] || cp -a "${copy%%:*}" "$dir/${copy#*:}"
  rm -f "$dir/.done" "$dir/usr/sbin/policy-rc.d"
  : >"$dir/etc/resolv.conf"
  slim "$dir"
  tar -C "$dir" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
  rm -rf "$dir"
}

# PostgreSQL 15 with its own data directory, every client trusted, listening
# on every address (what the official image does with
# POSTGRES_HOST_AUTH_METHOD=trust); without the JIT (LLVM: 130 MB) and the
# Perl of the cluster-management scripts.
postgres=preflight-test/postgres:$recipe
debian_image "$postgres" postgresql-15 \
  --setup 'rm -rf /var/lib/postgresql/15/main /etc/postgresql/15/main &&
    mkdir -p /var/lib/postgresql/data /run/postgresql && chown postgres: /var/lib/postgresql/data /run/postgresql &&
    su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/initdb -D /var/lib/postgresql/data --auth=trust -U postgres" >/dev/null &&
    echo "host all all all trust" >>/var/lib/postgresql/data/pg_hba.conf &&
    rm -rf /usr/lib/x86_64-linux-gnu/libLLVM* /usr/lib/x86_64-linux-gnu/libz3* /usr/lib/postgresql/15/lib/llvmjit* \
      /usr/lib/postgresql/15/lib/bitcode /usr/share/perl /usr/lib/x86_64-linux-gnu/perl' \
  --change 'USER postgres' \
  --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin' \
  --change 'CMD ["postgres", "-D", "/var/lib/postgresql/data", "-c", "listen_addresses=*", "-c", "jit=off"]'

# Redis, as the official image runs it: every address, no protection.
redis=preflight-test/redis:$recipe
debian_image "$redis" redis-server \
  --change 'CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""]'

# Python with pip, standing in for python:3.12-slim: docker/app.Dockerfile's
# `pip install -r requirements.txt` installs from wheels the host downloaded
# (no network in the build), the app's requirements alone in the key.
req=$(sha256sum "$app/requirements.txt" | cut -c1-12)
python=preflight-test/python:$recipe-$req
if ! have "$python"; then
  wheels=$cache/wheels-$req
  if [ ! -e "$wheels/.done" ]; then
    log "pip download -r $app/requirements.txt"
    rm -rf "$wheels"
    pip download -q --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 \
      --implementation cp -d "$wheels" -r "$app/requirements.txt" >&2
    touch "$wheels/.done"
  fi
  debian_image "$python" python3 python3-pip python-is-python3 \
    --setup "rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED" --copy "$wheels:/wheels" \
    --change 'ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1' \
    --change 'CMD ["python3"]' || exit 1
fi

# busybox alone (a shell and its tools) in an empty image, and tini-static
# for the comparisons.
busybox=preflight-test/busybox:$recipe
if ! have "$busybox"; then
  log "building $busybox"
  dir=$(mktemp -d "$cache/busybox.XXXXXX")
  mkdir -p "$dir/bin" "$dir/tmp" "$dir/usr/local/bin"
  cp /bin/busybox "$dir/bin/busybox"
  cp /usr/bin/tini-static "$dir/usr/local/bin/tini"
  for t in $("$dir/bin/busybox" --list); do [ -e "$dir/bin/$t" ] || ln -s busybox "$dir/bin/$t"; done
  tar -C "$dir" -c . | docker import --change 'ENV PATH=/usr/local/bin:/bin' - "$busybox" >/dev/null
  rm -rf "$dir"
fi

echo "postgres=$postgres"
echo "redis=$redis"
echo "python=$python"
echo "busybox=$busybox"
