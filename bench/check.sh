#!/usr/bin/env bash
# bench/check.sh — the whole `tmux-supervisor check --json` process against the bare tmux call
# it is built on, side by side in one run: the production layout's 20 sessions (ccl-0..9,
# ccl-auto-11..20) on a private server; each round times, one after the other, (a) `check
# --json` (the embedded default config, a private state dir), (b) the bare
# `tmux list-panes -a -F <the snapshot format>`, (c) `tmux -V`; and where check's own time goes:
# (d) `/bin/true` (what starting any process costs), (e) `tmux-supervisor --help` (starting
# this binary, parsing its arguments), (f) `tmux-supervisor config --check` (and loading the
# config). Wall clock from bash (EPOCHREALTIME) around each process, so each includes the same
# fork and exec by bash.
#
# Usage: bench/check.sh           (ROUNDS=31)
# Needs target/release/tmux-supervisor.

source "$(dirname "$0")/lib.sh"
bench_init

ROUNDS=${ROUNDS:-31}

# The format of one poll (src/tmux/snapshot.rs `snapshot_format`), with a fixed nonce.
N=TSUPbench00000000000000000000000000000000
TAB=$'\t'
FORMAT="$N<#{pid}${TAB}#{session_id}${TAB}#{session_name}${TAB}#{session_created}${TAB}#{session_activity}${TAB}#{session_attached}${TAB}#{window_activity}${TAB}#{pane_id}${TAB}#{pane_pid}${TAB}#{pane_dead}${TAB}#{pane_dead_status}${TAB}#{pane_dead_signal}${TAB}#{version}$N|#{pane_current_command}$N|#{pane_title}$N|#{pane_current_path}$N|#{pane-died[42]}$N>"

new_socket SOCK
names=()
for i in $(seq 0 9); do names+=("ccl-$i"); done
for i in $(seq 11 20); do names+=("ccl-auto-$i"); done
create_sessions "$SOCK" "${names[@]}"
(($(session_count "$SOCK") == 20)) || { echo "expected 20 sessions" >&2; exit 1; }
sleep 2
home="$BENCH_TMP/check-home"
mkdir -p "$home/state" "$home/config"

# us COMMAND...: microseconds the command took (its output thrown away).
us() {
    local t0=${EPOCHREALTIME/./} t1
    "$@" >/dev/null 2>&1 || true
    t1=${EPOCHREALTIME/./}
    echo $((t1 - t0))
}

# Both run directly (TMUX is unset for the whole script): no `env` in front of either.
check_json() {
    HOME="$home" XDG_STATE_HOME="$home/state" XDG_CONFIG_HOME="$home/config" \
        "$BIN" -L "$SOCK" check --json
}
bare() { "$REAL_TMUX" -L "$SOCK" -f /dev/null list-panes -a -F "$FORMAT"; }
version() { "$REAL_TMUX" -V; }
start() { /bin/true; }
help() { "$BIN" --help; }
config() {
    HOME="$home" XDG_STATE_HOME="$home/state" XDG_CONFIG_HOME="$home/config" \
        "$BIN" -L "$SOCK" config --check
}

# The check's exit status and how many tmux processes it runs (a logging wrapper on PATH).
wrap="$BENCH_TMP/wrap"
mkdir -p "$wrap"
cat >"$wrap/tmux" <<WRAP
#!/bin/sh
printf '%s\n' "\$*" >>"$wrap/calls.log"
exec "$REAL_TMUX" "\$@"
WRAP
chmod +x "$wrap/tmux"
: >"$wrap/calls.log"
status=0
PATH="$wrap:$PATH" check_json >/dev/null || status=$?
calls=$(wc -l <"$wrap/calls.log")

a=() b=() c=() d=() e=() f=()
check_json >/dev/null || true # warm the page cache
for _ in $(seq 1 "$ROUNDS"); do
    a+=("$(us check_json)")
    b+=("$(us bare)")
    c+=("$(us version)")
    d+=("$(us start)")
    e+=("$(us help)")
    f+=("$(us config)")
done
ms() { awk '{ printf "%.2f", $1 / 1000 }'; }
ma=$(printf '%s\n' "${a[@]}" | median)
mb=$(printf '%s\n' "${b[@]}" | median)
mc=$(printf '%s\n' "${c[@]}" | median)
range() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f..%.2f", lo / 1000, hi / 1000 }'; }

echo
echo "check.sh: medians of $ROUNDS rounds at 20 sessions (production layout); min..max in brackets"
echo "(a) tmux-supervisor check --json: exit $status, $calls tmux process(es)"
echo "(b) bare tmux list-panes -a -F <snapshot format>"
echo "(c) tmux -V"
echo
echo "| (a) check --json ms | (b) list-panes ms | a/b | (c) tmux -V ms | (a + c)/b: with the tmux -V check ran before |"
echo "|---:|---:|---:|---:|---:|"
echo "| $(echo "$ma" | ms) [$(range "${a[@]}")] | $(echo "$mb" | ms) [$(range "${b[@]}")] | $(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", a / b }') | $(echo "$mc" | ms) [$(range "${c[@]}")] | $(awk -v a="$ma" -v b="$mb" -v c="$mc" 'BEGIN { printf "%.2f", (a + c) / b }') |"
echo
echo "where check's own time goes (medians, ms):"
echo
echo "| (d) /bin/true | (e) tmux-supervisor --help | (f) config --check | (f) − (d): start + config | (a) − (b) |"
echo "|---:|---:|---:|---:|---:|"
md=$(printf '%s\n' "${d[@]}" | median)
me=$(printf '%s\n' "${e[@]}" | median)
mf=$(printf '%s\n' "${f[@]}" | median)
echo "| $(echo "$md" | ms) | $(echo "$me" | ms) | $(echo "$mf" | ms) | $(awk -v f="$mf" -v d="$md" 'BEGIN { printf "%.2f", (f - d) / 1000 }') | $(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", (a - b) / 1000 }') |"
