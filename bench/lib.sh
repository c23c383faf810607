# bench/lib.sh — shared helpers of the benchmark scripts: a private tmux server (-L unique,
# -f /dev/null, empty HOME, /bin/sh panes), fast session creation, /proc readers, cleanup.
# Sourced, not run. Every server and daemon started here is stopped by `bench_cleanup`
# (installed as an EXIT trap by `bench_init`).

set -euo pipefail

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$BENCH_ROOT/target/release/tmux-supervisor}
REAL_TMUX=$(command -v tmux)
CLK_TCK=$(getconf CLK_TCK)
BENCH_SOCKETS=()
BENCH_PIDS=()

bench_init() {
    unset TMUX TMUX_PANE TMUX_SUPERVISOR_CONFIG
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tsup-bench.XXXXXX")
    mkdir -p "$BENCH_TMP/home"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    if [[ ! -x $BIN ]]; then
        echo "missing $BIN: run \`cargo build --release\` first" >&2
        exit 2
    fi
}

bench_cleanup() {
    local pid sock
    for pid in "${BENCH_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${BENCH_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    for sock in "${BENCH_SOCKETS[@]}"; do
        "$REAL_TMUX" -L "$sock" -f /dev/null kill-server 2>/dev/null || true
        rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"
    done
    [[ -n ${BENCH_TMP:-} ]] && rm -rf "$BENCH_TMP"
}

# new_socket VAR: a unique -L name, registered for cleanup.
new_socket() {
    local s="tsup-bench-$$-${#BENCH_SOCKETS[@]}-$RANDOM"
    BENCH_SOCKETS+=("$s")
    printf -v "$1" '%s' "$s"
}

# tm SOCKET ARGS...: tmux on a private server, as the tests start it.
tm() {
    local sock=$1
    shift
    env -u TMUX -u TMUX_PANE HOME="$BENCH_TMP/home" SHELL=/bin/sh \
        "$REAL_TMUX" -L "$sock" -f /dev/null "$@"
}

# create_sessions SOCKET NAME...: new-session -d for each, 100 chained with ';' per call.
create_sessions() {
    local sock=$1
    shift
    mkdir -p "$BENCH_TMP/home"
    local args=() n=0 name
    for name in "$@"; do
        ((n > 0)) && args+=(";")
        args+=(new-session -d -s "$name" -x 200 -y 50)
        n=$((n + 1))
        if ((n == 100)); then
            tm "$sock" "${args[@]}"
            args=()
            n=0
        fi
    done
    ((n > 0)) && tm "$sock" "${args[@]}"
    return 0
}

session_count() {
    tm "$1" list-sessions -F '#{session_name}' 2>/dev/null | wc -l
}

# cpu_ticks PID [children]: utime+stime (fields 14, 15) or cutime+cstime (16, 17) of
# /proc/PID/stat, in clock ticks. Fields are counted after the ")" closing the command name.
cpu_ticks() {
    local stat rest
    stat=$(cat "/proc/$1/stat")
    rest=${stat##*) }
    # rest starts at field 3 (state): utime is the 12th word of rest.
    read -r -a f <<<"$rest"
    if [[ ${2:-} == children ]]; then
        echo $((f[13] + f[14]))
    else
        echo $((f[11] + f[12]))
    fi
}

# status_kib PID FIELD: a kB value from /proc/PID/status (VmHWM, VmRSS).
status_kib() {
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

# now_ms: wall clock in milliseconds, without spawning a process.
now_ms() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

# start_daemon VAR SOCKET CONFIG|- [PATH_PREFIX]: runs the daemon in the background against
# SOCKET with a private home/state/log; CONFIG "-" means the embedded default config.
start_daemon() {
    local var=$1 sock=$2 cfg=$3 pathpre=${4:-} home
    home="$BENCH_TMP/daemon-$sock"
    mkdir -p "$home/config" "$home/state"
    local args=(-L "$sock" --log-file "$home/daemon.log")
    [[ $cfg != - ]] && args+=(-c "$cfg")
    env -u TMUX -u TMUX_PANE -u TMUX_SUPERVISOR_CONFIG \
        HOME="$BENCH_TMP/home" XDG_STATE_HOME="$home/state" XDG_CONFIG_HOME="$home/config" \
        SHELL=/bin/sh PATH="${pathpre:+$pathpre:}$PATH" \
        "$BIN" "${args[@]}" daemon </dev/null >"$home/stdout" 2>"$home/stderr" &
    BENCH_PIDS+=("$!")
    printf -v "$var" '%s' "$!"
}

# start_ui VAR SOCK CONFIG [PATH_PREFIX]: the terminal UI in a 120x40 pane of a separate tmux
# server (its own terminal), supervising SOCK; VAR gets the UI's pid.
start_ui() {
    local var=$1 sock=$2 cfg=$3 pathpre=${4:-} home term
    home="$BENCH_TMP/ui-$sock"
    mkdir -p "$home/config" "$home/state"
    new_socket term
    UI_TERM_SOCK=$term
    local cmd="exec env -u TMUX -u TMUX_PANE -u TMUX_SUPERVISOR_CONFIG HOME=$BENCH_TMP/home XDG_STATE_HOME=$home/state XDG_CONFIG_HOME=$home/config PATH=${pathpre:+$pathpre:}$PATH $BIN -L $sock -c $cfg --log-file $home/ui.log"
    tm "$term" new-session -d -s ui -x 120 -y 40 "$cmd"
    sleep 0.5
    printf -v "$var" '%s' "$(tm "$term" display-message -p -t =ui: '#{pane_pid}')"
}

stop_ui() {
    kill -TERM "$1" 2>/dev/null || true
    sleep 0.3
    tm "$UI_TERM_SOCK" kill-server 2>/dev/null || true
}

stop_daemon() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# median of numbers on stdin (one per line)
median() {
    sort -n | awk '{ v[NR] = $1 }
        END {
            if (NR == 0) print "n/a"
            else if (NR % 2) print v[(NR + 1) / 2]
            else print (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}

# percentile P of numbers on stdin (one per line): the nearest-rank value, the smallest value
# with at least P % of the values at or below it
percentile() {
    sort -n | awk -v p="$1" '{ v[NR] = $1 }
        END {
            if (NR == 0) { print "n/a"; exit }
            k = int((p / 100) * NR + 0.999999)
            if (k < 1) k = 1
            if (k > NR) k = NR
            print v[k]
        }'
}
