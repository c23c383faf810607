#!/usr/bin/env bash
# bench/run-all.sh — every benchmark of BENCHMARKS.md in one command: the machine, criterion
# (pure parts and the UI's rows + frame), the end-to-end poll, the idle cost of the daemon and
# of the UI, and the kill → back latency.
# Output goes to the terminal and to target/bench-results/run-DATE.txt.
#
# Usage: bench/run-all.sh         (env: SKIP_CRITERION=1, and those of idle.sh / recovery.sh)

set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/bench-results
out="target/bench-results/run-$(date +%Y%m%dT%H%M%S).txt"
unset TMUX TMUX_PANE

{
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
    cargo build --release --quiet
    cargo bench --no-run --quiet 2>&1 | grep -v '^ *Executable' || true

    if [[ -z ${SKIP_CRITERION:-} ]]; then
        echo "### criterion: cargo bench --bench pure"
        echo
        cargo bench --quiet --bench pure 2>&1 | tee target/bench-results/criterion.txt >/dev/null
        bench/criterion-table.sh target/bench-results/criterion.txt
        echo
        echo "### criterion: cargo bench --bench render"
        echo
        cargo bench --quiet --bench render 2>&1 | tee target/bench-results/render.txt >/dev/null
        bench/criterion-table.sh target/bench-results/render.txt
        echo
    fi

    echo "### end to end: cargo bench --bench poll_e2e"
    cargo bench --quiet --bench poll_e2e 2>&1
    echo

    echo "### idle cost, daemon and UI: bench/idle.sh"
    bench/idle.sh 2>&1
    echo

    echo "### kill → back: bench/recovery.sh"
    bench/recovery.sh 2>&1
    echo
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$out"
echo "saved to $out" >&2
