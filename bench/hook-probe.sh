#!/usr/bin/env bash
# bench/hook-probe.sh — which tmux hooks set on one session (session, window or pane scope,
# never -g) fire when that session is killed, or when its pane's program is SIGKILLed under
# remain-on-exit, on this machine's tmux; the global ones for comparison. Each hook only runs
# `wait-for -S CHANNEL`; a waiter started before the event says whether it fired (2 s).
# Evidence for DESIGN.md §12: what push can learn from tmux itself.
#
# Usage: bench/hook-probe.sh      (ROUNDS=6 for the SIGKILL case, which tmux 3.3a sometimes
# loses: tmux#311)

source "$(dirname "$0")/lib.sh"
bench_init

ROUNDS=${ROUNDS:-6}

# probe SCOPE HOOK EVENT: "fired" or "no".
probe() {
    local scope=$1 hook=$2 event=$3 sock flags=() ch="probe-$RANDOM"
    new_socket sock
    tm "$sock" new-session -d -s a -x 80 -y 20 "sleep 300"
    tm "$sock" new-session -d -s b "sleep 300"
    tm "$sock" set-option -w -t =a: remain-on-exit on
    case $scope in
        session) flags=(-t =a:) ;;
        window) flags=(-w -t =a:) ;;
        pane) flags=(-p -t =a:) ;;
        global) flags=(-g) ;;
    esac
    tm "$sock" set-hook "${flags[@]}" "$hook[42]" "wait-for -S $ch"
    local out="$BENCH_TMP/fired-$sock"
    (timeout 2 env -u TMUX "$REAL_TMUX" -L "$sock" wait-for "$ch" && echo fired >"$out") &
    local waiter=$!
    sleep 0.3
    case $event in
        kill-session) tm "$sock" kill-session -t =a ;;
        SIGKILL) kill -KILL "$(tm "$sock" display-message -p -t =a: '#{pane_pid}')" ;;
    esac
    wait "$waiter" 2>/dev/null || true
    tm "$sock" kill-server 2>/dev/null || true
    [[ -e $out ]] && echo fired || echo no
}

echo "hook-probe.sh: $(tmux -V); a hook fires if its wait-for -S reaches a waiter within 2 s"
echo
echo "| event | scope | hook | fired |"
echo "|---|---|---|---|"
for hook in session-closed window-unlinked session-window-changed client-session-changed; do
    echo "| kill-session | session | $hook | $(probe session "$hook" kill-session) |"
done
for hook in pane-exited pane-died window-layout-changed window-pane-changed; do
    echo "| kill-session | window | $hook | $(probe window "$hook" kill-session) |"
done
for hook in pane-exited pane-died; do
    echo "| kill-session | pane | $hook | $(probe pane "$hook" kill-session) |"
done
for hook in session-closed window-unlinked; do
    echo "| kill-session | global (-g, for comparison) | $hook | $(probe global "$hook" kill-session) |"
done
fired=0
for _ in $(seq 1 "$ROUNDS"); do
    [[ $(probe pane pane-died SIGKILL) == fired ]] && fired=$((fired + 1))
done
echo "| SIGKILL of the pane's program | pane | pane-died | $fired of $ROUNDS |"
