#!/usr/bin/env bash
# Builds the preflight image (docker/Dockerfile) from the binary cargo built,
# the same way for users and for the container tests:
#
#   scripts/release.sh && docker/build.sh                # tags `preflight`
#   docker/build.sh [--binary PATH] [--tag NAME] [docker build options...]
#
# Without --binary it takes the shipped build scripts/release.sh made
# (target/preflight: musl's, or glibc's where musl cannot be built), else a
# release build cargo made (musl's first; all static). The binary is stripped into a
# context of its own, with the Dockerfile, and nothing else.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
binary="" tag=preflight
while [ $# -gt 0 ]; do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    *) break ;;
  esac
done
if [ -z "$binary" ]; then
  for b in "$target"/preflight "$target"/x86_64-unknown-linux-musl/release/preflight \
    "$target"/x86_64-unknown-linux-gnu/release/preflight "$target"/release/preflight; do
    [ -x "$b" ] && { binary=$b; break; }
  done
  [ -n "$binary" ] || { echo "build.sh: no release binary under $target: run scripts/release.sh" >&2; exit 2; }
fi
[ -x "$binary" ] || { echo "build.sh: --binary $binary: expected an executable file" >&2; exit 2; }

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
strip -o "$context/preflight" "$binary" 2>/dev/null || cp "$binary" "$context/preflight"
cp "$repo/docker/Dockerfile" "$context/Dockerfile"
docker build -q -t "$tag" "$@" "$context" >/dev/null
echo "$tag"
