#!/usr/bin/env bash
# Builds the preflight binary that ships: static, stripped, musl when the
# musl target is installed, else glibc (also static), and says which.
#
#   scripts/release.sh            # prints the path of the binary it built
#
# The binary is copied to target/preflight (docker/build.sh, CI and the
# benches take it from there); the path is the last line on stdout.
#
# musl is the shipped build (README "Performance": smaller, starts faster,
# needs no CPUID traps at start). It needs `rustup target add
# x86_64-unknown-linux-musl` and a C compiler for musl (Debian: musl-tools,
# for ring). Without them this falls back to glibc and says so on stderr;
# `PREFLIGHT_LIBC=gnu` or `=musl` chooses (musl then fails if it cannot).
set -euo pipefail
cd "$(dirname "$0")/.."

musl=x86_64-unknown-linux-musl
gnu=x86_64-unknown-linux-gnu
target_dir=${CARGO_TARGET_DIR:-target}

musl_ready() {
  local why=""
  if command -v rustup >/dev/null 2>&1; then
    rustup target list --installed 2>/dev/null | grep -qx "$musl" || why="the Rust target $musl is not installed (rustup target add $musl)"
  else
    [ -d "$(rustc --print sysroot)/lib/rustlib/$musl" ] || why="the Rust target $musl is not installed"
  fi
  if [ -z "$why" ] && ! command -v "${CC_x86_64_unknown_linux_musl:-musl-gcc}" >/dev/null 2>&1; then
    why="no C compiler for musl (${CC_x86_64_unknown_linux_musl:-musl-gcc}; Debian: apt-get install musl-tools)"
  fi
  [ -z "$why" ] || { echo "$why" >&2; return 1; }
}

case ${PREFLIGHT_LIBC:-auto} in
  musl) musl_ready || { echo "release.sh: PREFLIGHT_LIBC=musl but the musl build is not possible here" >&2; exit 2; }
        target=$musl ;;
  gnu) target=$gnu ;;
  auto) if musl_ready 2>/tmp/preflight-musl-why.$$; then target=$musl; else
          echo "release.sh: building with glibc instead of musl: $(cat /tmp/preflight-musl-why.$$)" >&2
          target=$gnu
        fi
        rm -f /tmp/preflight-musl-why.$$ ;;
  *) echo "release.sh: PREFLIGHT_LIBC=${PREFLIGHT_LIBC}: expected musl, gnu or auto" >&2; exit 2 ;;
esac

cargo build --release --locked --target "$target" --bin preflight >&2
# A new file, not written over: a running copy (a bench, a test) keeps its own.
cp "$target_dir/$target/release/preflight" "$target_dir/preflight.new"
mv -f "$target_dir/preflight.new" "$target_dir/preflight"
size=$(stat -c %s "$target_dir/preflight")
echo "release.sh: $target_dir/preflight ($target, $size bytes)" >&2
echo "$target_dir/preflight"
