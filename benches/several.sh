#!/usr/bin/env bash
# Supervising three programs: preflight (one command and two --also) beside
# supervisord (Debian `supervisor`) and s6-svscan (Debian `s6`), each keeping
# three `sleep 1000` alive. For each: the RSS of the supervisor's own
# processes (s6: s6-svscan plus one s6-supervise per program) 1 s after the
# start, their threads, and their context switches over an idle period
# (every wake-up is one). Plain processes, not PID 1.
#
#   bash benches/several.sh [PREFLIGHT_BINARY] [IDLE_SECONDS]
#
# Defaults: target/x86_64-unknown-linux-gnu/release/preflight, 5 s. A tool
# that is not installed is skipped with a line saying so.
set -euo pipefail
bin=${1:-target/x86_64-unknown-linux-gnu/release/preflight}
idle=${2:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# kB of VmRSS, threads, and context switches of each pid, summed.
measure() {
  local rss=0 thr=0 sw=0 pid
  for pid in "$@"; do
    rss=$((rss + $(awk '/^VmRSS/ {print $2}' /proc/$pid/status)))
    thr=$((thr + $(awk '/^Threads/ {print $2}' /proc/$pid/status)))
    sw=$((sw + $(awk '/ctxt_switches/ {s += $2} END {print s}' /proc/$pid/status)))
  done
  echo "$rss $thr $sw"
}

# run NAME PIDS_FN COMMAND...: start COMMAND, wait 1 s, measure.
run() {
  local name=$1 pids_fn=$2; shift 2
  "$@" >/dev/null 2>&1 &
  local top=$!
  sleep 1
  local pids
  pids=$($pids_fn "$top")
  read -r rss thr sw0 < <(measure $pids)
  sleep "$idle"
  read -r _ _ sw1 < <(measure $pids)
  printf '| %s | %d KiB | %d | %d in %d s |\n' "$name" "$rss" "$thr" "$((sw1 - sw0))" "$idle"
  local all
  all=$(tree "$top")
  kill -TERM "$top" 2>/dev/null || true
  sleep 1
  kill -KILL $all 2>/dev/null || true
  wait "$top" 2>/dev/null || true
}

# $1 and every descendant.
tree() {
  local p
  echo "$1"
  for p in $(pgrep -P "$1"); do tree "$p"; done
}

only_top() { echo "$1"; }
s6_all() { echo "$1 $(pgrep -P "$1" -x s6-supervise | tr '\n' ' ')"; }

echo '| supervisor of 3 × sleep 1000 | RSS | threads | context switches while idle |'
echo '| --- | --- | --- | --- |'
if [ -x "$bin" ]; then
  run "preflight -- sleep, 2 × --also" only_top "$bin" --also 'a: sleep 1000' --also 'b: sleep 1000' -- sleep 1000
else
  echo "skipped preflight: $bin not built (cargo build --release)" >&2
fi
if command -v supervisord >/dev/null; then
  cat > "$dir/supervisord.conf" <<CONF
[supervisord]
nodaemon=true
logfile=$dir/supervisord.log
pidfile=$dir/supervisord.pid
[program:a]
command=sleep 1000
[program:b]
command=sleep 1000
[program:c]
command=sleep 1000
CONF
  run "supervisord" only_top supervisord -c "$dir/supervisord.conf"
else
  echo "skipped supervisord: apt-get install supervisor" >&2
fi
if command -v s6-svscan >/dev/null; then
  for s in a b c; do
    mkdir -p "$dir/scan/$s"
    printf '#!/bin/sh\nexec sleep 1000\n' > "$dir/scan/$s/run"
    chmod +x "$dir/scan/$s/run"
  done
  run "s6-svscan (+ 3 s6-supervise)" s6_all s6-svscan "$dir/scan"
else
  echo "skipped s6-svscan: apt-get install s6" >&2
fi
