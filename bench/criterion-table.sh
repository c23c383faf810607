#!/usr/bin/env bash
# bench/criterion-table.sh — turns criterion's text output (`cargo bench --bench pure`) into a
# markdown table: benchmark, then criterion's [low estimate, median estimate, high estimate].
# Usage: bench/criterion-table.sh FILE   (or on stdin)

set -euo pipefail
awk '
    # criterion prints "NAME  time: [a u b u c u]" or NAME alone, then "time:" on the next
    # line; a "change:" block (against the previous run) repeats "time:" with percentages.
    /time:/ && !/%/ {
        line = $0
        name = ""
        if (match(line, /^[^ \t]+/) && substr(line, 1, RLENGTH) != "time:") {
            name = substr(line, 1, RLENGTH)
        } else {
            name = pending
        }
        sub(/.*time: *\[/, "", line)
        sub(/\].*/, "", line)
        split(line, v, " ")
        printf "| %s | %s %s | %s %s | %s %s |\n", name, v[1], v[2], v[3], v[4], v[5], v[6]
        pending = ""
        next
    }
    /^[^ \t]/ { pending = $1 }
    BEGIN {
        print "| benchmark | low | estimate | high |"
        print "|---|---:|---:|---:|"
    }
' "${1:-/dev/stdin}"
