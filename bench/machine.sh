#!/usr/bin/env bash
# bench/machine.sh — the header of a benchmark run: when, which commit, which machine, which
# tmux and rustc, and the load before it starts.

set -euo pipefail
cd "$(dirname "$0")/.."
echo "## run of $(date -Iseconds)"
echo
echo '```'
echo "git: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (src modified)')"
echo "nproc: $(nproc)"
echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "kernel: $(uname -r)"
echo "$(tmux -V)"
echo "$(rustc -V)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo '```'
echo
