#!/usr/bin/env bash
# bench/hosts.sh — pools on other hosts over ssh: the supervisor's poll of two hosts against the
# bare ssh calls it is built on, in one run. Two private sshd on loopback (ports from the
# kernel, keys made for this run, their own sshd_config as tests/common/sshd.rs writes it), a
# tmux server per "host" (-L unique, -f /dev/null) with 20 sessions each (wa-0..19 on a,
# wb-0..19 on b), a config with both hosts (pools `a` and `b`, restart: never: nothing is
# created), and this machine's own server with one session that is no slot.
#
# Phase 1, the daemon alone:
#   (a) the supervisor's poll of both hosts, measured in the daemon: `tmux-supervisor daemon`
#       at poll_interval 200ms with `metrics:`, its `tmux_supervisor_poll_seconds` histogram
#       scraped with curl once between every two polls (in the middle of the gap, timed from
#       `tmux_supervisor_last_poll_age_seconds`), so each _sum delta over a _count delta of 1 is
#       one poll; and the mean of the whole window from _sum/_count, with its buckets. A poll
#       is from the tick to the result folded in: both hosts' ssh calls in parallel, this
#       machine's list-panes meanwhile, parsing, observing.
# Phase 2, ROUNDS rounds of these, one after the other, so that all see the same load:
#   (a2) one poll of the same daemon: it is stopped (SIGSTOP) between rounds, continued just
#       after a tick of its 200 ms grid is missed, polls at once, is scraped, and is stopped
#       again before its next tick (its ssh masters are processes of their own and stay up);
#   (b) the bare call: `ssh <the supervisor's own argv for the poll, ControlMaster=auto and its
#       ControlPath> -- tmux -u -L X list-panes -a -F FORMAT` over the established master, one
#       host, and both hosts in parallel (`& … wait`); and (b3) the three processes a poll runs
#       at once: both ssh calls and this machine's own list-panes, and (b4) those again after
#       200 ms asleep, as the daemon's polls come in phase 1;
#   (c) a new connection per poll instead: the same with `-o ControlMaster=no -o
#       ControlPath=none` first, one host and both in parallel;
#   (d) for scale: `tmux -u -L X list-panes -a -F FORMAT` on host a's server directly;
#   (e) `ssh -V` (starting ssh) and (f) `ssh -O check` with the poll's options (starting ssh and
#       one round trip to the master): where the bare call's time goes.
#
# The argv of (b) is built here and checked against the one the supervisor runs: a
# `check --json` with a logging `ssh` wrapper first on PATH (a separate state dir, its
# connections closed again) records it, and the script stops if the two differ in more than
# the nonce. Wall clock from bash (EPOCHREALTIME) around each call, as in check.sh.
# Everything started here (sshd and their sessions, tmux servers, the daemon, ssh masters)
# is stopped on exit, also on an error or Ctrl-C.
#
# Usage: bench/hosts.sh           (ROUNDS=31; SSHD=/usr/sbin/sshd)
# Needs target/release/tmux-supervisor, openssh-server, openssh-client, curl, python3 (for a
# free port from the kernel).

unset TMUX_TMPDIR SSH_AUTH_SOCK SSH_AGENT_PID
source "$(dirname "$0")/lib.sh"
bench_init

ROUNDS=${ROUNDS:-31}
SSHD=${SSHD:-/usr/sbin/sshd}
REAL_SSH=$(command -v ssh)
for tool in "$SSHD" "$REAL_SSH" ssh-keygen curl python3; do
    command -v "$tool" >/dev/null || {
        echo "hosts.sh needs $tool" >&2
        exit 2
    }
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# The format of one poll (src/tmux/snapshot.rs `snapshot_format`), with a fixed nonce.
N=TSUPbench00000000000000000000000000000000
TAB=$'\t'
FORMAT="$N<#{pid}${TAB}#{session_id}${TAB}#{session_name}${TAB}#{session_created}${TAB}#{session_activity}${TAB}#{session_attached}${TAB}#{window_activity}${TAB}#{pane_id}${TAB}#{pane_pid}${TAB}#{pane_dead}${TAB}#{pane_dead_status}${TAB}#{pane_dead_signal}${TAB}#{version}$N|#{pane_current_command}$N|#{pane_title}$N|#{pane_current_path}$N|#{pane-died[42]}$N>"

# --- cleanup: the daemon first (it would connect again), then the ssh masters, then every
# sshd with what it runs, then lib.sh's tmux servers and temp dir.
SSHD_PIDS=()
MASTER_PIDS=()
CONTROL_DIRS=()
DAEMON=
children_of() { # every descendant of $1, deepest last
    local c
    for c in $(pgrep -P "$1" 2>/dev/null || true); do
        echo "$c"
        children_of "$c"
    done
}
hosts_cleanup() {
    local pid p s dir
    trap - INT TERM
    if [[ -n $DAEMON ]]; then
        kill -TERM "$DAEMON" 2>/dev/null || true
        kill -CONT "$DAEMON" 2>/dev/null || true # it may be stopped (phase 2)
        wait "$DAEMON" 2>/dev/null || true
    fi
    for dir in "${CONTROL_DIRS[@]}"; do
        for s in "$dir"/ssh-*; do
            [[ -S $s ]] || continue
            "$REAL_SSH" -F /dev/null -o ControlPath="$s" -O exit placeholder >/dev/null 2>&1 || true
        done
    done
    for pid in "${MASTER_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${SSHD_PIDS[@]}"; do
        for p in $(children_of "$pid"); do
            kill -KILL "$p" 2>/dev/null || true
        done
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    bench_cleanup
}
trap hosts_cleanup EXIT

# --- two "hosts": an sshd each, as tests/common/sshd.rs starts them
USER_NAME=$(id -un)
if [[ $(id -u) == 0 && ! -d /run/sshd ]]; then
    mkdir -p -m 0755 /run/sshd # sshd's privilege separation dir, missing in some containers
fi
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# greets PORT: whether a connection to it gets an SSH banner.
greets() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        banner=
        read -r -t 2 -N 4 banner <&3 || true
        [[ $banner == SSH- ]]
    ) 2>/dev/null
}
declare -A PORT KEY KNOWN SOCK
declare -a want=() got=() ARGV_a=() ARGV_b=()
start_sshd() {
    local h=$1 d="$BENCH_TMP/sshd-$1" try port pid ok
    mkdir -p "$d"
    ssh-keygen -q -t ed25519 -N '' -C "host-$h" -f "$d/host_ed25519"
    ssh-keygen -q -t ed25519 -N '' -C "client-$h" -f "$d/client_ed25519"
    cp "$d/client_ed25519.pub" "$d/authorized_keys"
    for try in 1 2 3 4 5; do
        port=$(free_port)
        ((port != 22)) || continue
        {
            echo "# sshd for bench host $h"
            echo "ListenAddress 127.0.0.1"
            echo "Port $port"
            echo "HostKey $d/host_ed25519"
            echo "AuthorizedKeysFile $d/authorized_keys"
            echo "PidFile $d/sshd.pid"
            echo "PubkeyAuthentication yes"
            echo "PasswordAuthentication no"
            echo "KbdInteractiveAuthentication no"
            echo "UsePAM no"
            echo "StrictModes no"
            [[ $(id -u) == 0 ]] && echo "PermitRootLogin prohibit-password"
            echo "LogLevel ERROR"
            echo "UseDNS no"
            echo "PrintMotd no"
            echo "PrintLastLog no"
            echo "X11Forwarding no"
            echo "# No AcceptEnv: the client's environment stays on the client."
            echo "# bash sources ~/.bashrc for a command from sshd when SHLVL < 2: not here."
            echo "SetEnv SHLVL=1"
        } >"$d/sshd_config"
        echo "[127.0.0.1]:$port $(cut -d' ' -f1-2 "$d/host_ed25519.pub")" >"$d/known_hosts"
        "$SSHD" -t -f "$d/sshd_config"
        env -u TMUX -u TMUX_PANE "$SSHD" -D -e -f "$d/sshd_config" </dev/null >/dev/null 2>"$d/sshd.log" &
        pid=$!
        SSHD_PIDS+=("$pid")
        ok=
        for _ in $(seq 1 200); do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if greets "$port"; then
                ok=1
                break
            fi
            sleep 0.05
        done
        if [[ -n $ok ]]; then
            PORT[$h]=$port
            KEY[$h]=$d/client_ed25519
            KNOWN[$h]=$d/known_hosts
            return 0
        fi
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        grep -q "Address already in use" "$d/sshd.log" || {
            echo "sshd for host $h did not start:" >&2
            cat "$d/sshd.log" >&2
            exit 1
        }
    done
    echo "sshd for host $h: no free port after 5 tries" >&2
    exit 1
}
start_sshd a
start_sshd b

# --- a tmux server per host (this machine's, reached over ssh), and this machine's own
new_socket SOCK[a]
new_socket SOCK[b]
new_socket HERE
names_a=() names_b=()
for i in $(seq 0 19); do
    names_a+=("wa-$i")
    names_b+=("wb-$i")
done
create_sessions "${SOCK[a]}" "${names_a[@]}"
create_sessions "${SOCK[b]}" "${names_b[@]}"
create_sessions "$HERE" keep
(($(session_count "${SOCK[a]}") == 20 && $(session_count "${SOCK[b]}") == 20)) ||
    { echo "expected 20 sessions on each host" >&2; exit 1; }

# --- the config: both hosts, as tests/hosts.rs writes them
STATE=$BENCH_TMP/st
PROBE_STATE=$BENCH_TMP/sp
mkdir -p "$STATE" "$PROBE_STATE"
CONTROL_DIRS=("$STATE" "$PROBE_STATE")
# ssh binds the ControlPath plus 17 characters: the state dir may have 69 bytes (src/tmux/ssh.rs).
((${#STATE} <= 69)) || { echo "state dir $STATE too long for a ControlPath" >&2; exit 2; }
MPORT=$(free_port)
operator_opts() { # the hosts' ssh_options: never the user's ssh config, keys or known_hosts
    printf '%s\n' -F /dev/null -o "UserKnownHostsFile=${KNOWN[$1]}" -o StrictHostKeyChecking=yes \
        -o IdentitiesOnly=yes -o GlobalKnownHostsFile=/dev/null
}
write_config() { # write_config FILE STATE_DIR [metrics]
    local h o
    {
        echo "poll_interval: 200ms"
        echo "state_dir: \"$2\""
        [[ ${3:-} == metrics ]] && echo "metrics: 127.0.0.1:$MPORT"
        echo "hosts:"
        for h in a b; do
            echo "  $h:"
            echo "    ssh: \"$USER_NAME@127.0.0.1\""
            echo "    port: ${PORT[$h]}"
            echo "    identity_file: \"${KEY[$h]}\""
            echo "    ssh_options:"
            while read -r o; do echo "      - \"$o\""; done < <(operator_opts "$h")
            echo "    tmux: {socket_name: \"${SOCK[$h]}\"}"
        done
        echo "pools:"
        echo '  - {name: a, prefix: "wa-", max: 20, restart: never, host: a}'
        echo '  - {name: b, prefix: "wb-", max: 20, restart: never, host: b}'
    } >"$1"
}
CFG=$BENCH_TMP/hosts.yaml
PROBE_CFG=$BENCH_TMP/probe.yaml
write_config "$CFG" "$STATE" metrics
write_config "$PROBE_CFG" "$PROBE_STATE"
"$BIN" -c "$CFG" config --check >/dev/null

# the poll's ssh argv (src/tmux/ssh.rs), after `ssh`: the operator's options, ControlMaster,
# the supervisor's own options, port, identity, `--`, destination, the remote line (each word
# of `tmux -u -L X list-panes -a -F FORMAT` single-quoted unless plain).
poll_argv() { # poll_argv VAR HOST CONTROL_PATH
    local -n out=$1
    mapfile -t out < <(operator_opts "$2")
    out=(-T "${out[@]}" -o ControlMaster=auto -o BatchMode=yes -o ConnectTimeout=5
        -o ControlPersist=300 -o "ControlPath=$3" -o ServerAliveInterval=5 -o ServerAliveCountMax=2
        -p "${PORT[$2]}" -i "${KEY[$2]}" -- "$USER_NAME@127.0.0.1"
        "tmux -u -L ${SOCK[$2]} list-panes -a -F '$FORMAT'")
}

# --- the probe: the argv the supervisor runs, from `check --json` with a logging ssh wrapper
wrap=$BENCH_TMP/wrap
mkdir -p "$wrap/calls"
cat >"$wrap/ssh" <<WRAP
#!/bin/sh
f=\$(mktemp "$wrap/calls/call.XXXXXX")
printf '%s\0' "\$@" >"\$f"
exec "$REAL_SSH" "\$@"
WRAP
chmod +x "$wrap/ssh"
probe_status=0
HOME="$BENCH_TMP/home" XDG_STATE_HOME="$BENCH_TMP/probe-xdg" XDG_CONFIG_HOME="$BENCH_TMP/probe-xdg" \
    PATH="$wrap:$PATH" "$BIN" -L "$HERE" -c "$PROBE_CFG" check --json >"$BENCH_TMP/probe.json" 2>&1 ||
    probe_status=$?
declare -A HEX
probe_calls=0
for f in "$wrap"/calls/call.*; do
    mapfile -d '' -t got <"$f"
    last=${got[${#got[@]} - 1]}
    [[ $last == *" list-panes -a -F "* ]] || continue
    probe_calls=$((probe_calls + 1))
    for h in a b; do
        [[ $last == "tmux -u -L ${SOCK[$h]} "* ]] || continue
        for w in "${got[@]}"; do
            [[ $w == ControlPath=* ]] && HEX[$h]=${w##*/ssh-}
        done
        [[ $last =~ TSUP[0-9a-f]{32} ]] && got[${#got[@]} - 1]=${last//${BASH_REMATCH[0]}/$N}
        poll_argv want "$h" "$PROBE_STATE/ssh-${HEX[$h]}"
        if [[ "$(printf '%q ' "${got[@]}")" != "$(printf '%q ' "${want[@]}")" ]]; then
            echo "the supervisor's poll argv for host $h is not the one this script builds:" >&2
            diff <(printf '%q\n' "${want[@]}") <(printf '%q\n' "${got[@]}") >&2 || true
            exit 1
        fi
    done
done
for h in a b; do
    [[ -n ${HEX[$h]:-} ]] || {
        echo "check --json (exit $probe_status) ran no list-panes on host $h:" >&2
        cat "$BENCH_TMP/probe.json" >&2
        exit 1
    }
done
for s in "$PROBE_STATE"/ssh-*; do # the probe's masters go again
    [[ -S $s ]] && "$REAL_SSH" -F /dev/null -o ControlPath="$s" -O exit placeholder >/dev/null 2>&1
done

# --- (a) the daemon, scraped between polls
scrape() { curl -s --max-time 2 "http://127.0.0.1:$MPORT/metrics"; }
declare -A BUCKET
read_metrics() { # sets P_SUM P_COUNT P_AGE P_CALLS BUCKET[le] SLOTS_UP[pool]
    local text k v
    text=$(scrape) || return 1
    P_SUM= P_COUNT= P_AGE= P_CALLS=
    BUCKET=()
    declare -gA SLOTS_UP=([a]=0 [b]=0)
    while read -r k v; do
        case $k in
        tmux_supervisor_poll_seconds_sum) P_SUM=$v ;;
        tmux_supervisor_poll_seconds_count) P_COUNT=$v ;;
        tmux_supervisor_last_poll_age_seconds) P_AGE=$v ;;
        tmux_supervisor_tmux_calls_total) P_CALLS=$v ;;
        tmux_supervisor_poll_seconds_bucket*) k=${k#*le=\"}; BUCKET[${k%%\"*}]=$v ;;
        tmux_supervisor_slots*state=\"idle\"* | tmux_supervisor_slots*state=\"working\"*)
            [[ $k =~ pool=\"([ab])\" ]] && SLOTS_UP[${BASH_REMATCH[1]}]=$((SLOTS_UP[${BASH_REMATCH[1]}] + v)) ;;
        esac
    done <<<"$text"
    [[ -n $P_COUNT ]]
}
start_daemon DAEMON "$HERE" "$CFG"
deadline=$(($(now_ms) + 15000))
until read_metrics 2>/dev/null && ((P_COUNT >= 1)); do
    (($(now_ms) < deadline)) || { echo "the daemon did not poll within 15 s" >&2; cat "$BENCH_TMP/daemon-$HERE"/{stderr,daemon.log} >&2; exit 1; }
    sleep 0.02
done
first_count=$P_COUNT first_sum=$P_SUM # the first poll opens both masters
sleep 1 # a few polls more
read_metrics
((SLOTS_UP[a] == 20 && SLOTS_UP[b] == 20)) ||
    { echo "the daemon does not see 20 + 20 slots up (a ${SLOTS_UP[a]}, b ${SLOTS_UP[b]})" >&2; exit 1; }
declare -A CTL
for h in a b; do
    CTL[$h]=$STATE/ssh-${HEX[$h]}
    [[ -S ${CTL[$h]} ]] || { echo "no control socket ${CTL[$h]} after the daemon's first poll" >&2; ls -la "$STATE" >&2; exit 1; }
done
sockets_found=$(find "$STATE" -maxdepth 1 -name 'ssh-*' -type s | wc -l)
master_pid() { "$REAL_SSH" -F /dev/null -o ControlPath="$1" -O check placeholder 2>&1 | sed -n 's/.*pid=\([0-9]*\).*/\1/p'; }
declare -A MPID
for h in a b; do
    MPID[$h]=$(master_pid "${CTL[$h]}")
    [[ -n ${MPID[$h]} ]] || { echo "no master behind ${CTL[$h]}" >&2; exit 1; }
    MASTER_PIDS+=("${MPID[$h]}")
done

w_sum0=$P_SUM w_count0=$P_COUNT w_calls0=$P_CALLS
declare -A w_bucket0
for k in "${!BUCKET[@]}"; do w_bucket0[$k]=${BUCKET[$k]}; done
d_cpu0=$(cpu_ticks "$DAEMON")
d_child0=$(cpu_ticks "$DAEMON" children)
m_cpu0=$(($(cpu_ticks "${MPID[a]}") + $(cpu_ticks "${MPID[b]}")))
w_t0=$(now_ms)
a=() missed=0
prev_sum=$P_SUM prev_count=$P_COUNT
while ((${#a[@]} < ROUNDS)); do
    # to the middle of the gap after the next poll: it ends about 200 ms after the last one
    printf -v age '%.6f' "${P_AGE:-0}"
    wait_us=$((300000 - (${age%.*} * 1000000 + 10#${age#*.})))
    ((wait_us < 20000)) && wait_us=20000
    ((wait_us > 300000)) && wait_us=300000
    printf -v secs '0.%06d' "$wait_us"
    sleep "$secs"
    read_metrics
    t_scraped=${EPOCHREALTIME/./}
    if ((P_COUNT == prev_count + 1)); then
        a+=("$(awk -v s="$P_SUM" -v p="$prev_sum" 'BEGIN { printf "%d", (s - p) * 1e6 + 0.5 }')")
        # when that poll started: the scrape, less its age (since it ended), less its duration
        printf -v age '%.6f' "$P_AGE"
        tick_at=$((t_scraped - (${age%.*} * 1000000 + 10#${age#*.}) - a[${#a[@]} - 1]))
    elif ((P_COUNT != prev_count)); then
        missed=$((missed + 1))
    fi
    prev_sum=$P_SUM prev_count=$P_COUNT
    ((missed < ROUNDS)) || { echo "could not scrape between polls" >&2; exit 1; }
done
w_t1=$(now_ms)
w_sum1=$P_SUM w_count1=$P_COUNT w_calls1=$P_CALLS
d_cpu1=$(cpu_ticks "$DAEMON")
d_child1=$(cpu_ticks "$DAEMON" children)
m_cpu1=$(($(cpu_ticks "${MPID[a]}") + $(cpu_ticks "${MPID[b]}")))
buckets=$(for k in "${!BUCKET[@]}"; do echo "$k $((BUCKET[$k] - ${w_bucket0[$k]:-0}))"; done |
    sort -g | awk 'BEGIN { prev = 0 } { n = $2 - prev; prev = $2; if (n > 0) { if ($1 ~ /Inf/) printf "%smore: %d", (out++ ? ", " : ""), n; else printf "%s≤%g ms: %d", (out++ ? ", " : ""), $1 * 1000, n } } END { print "" }')
kill -STOP "$DAEMON"

# --- phase 2: ROUNDS rounds of (a2) one poll of the daemon, (b), (c), (d), one after the other.
# Between its polls the daemon is stopped (SIGSTOP; its masters are processes of their own and
# stay up). Its ticks stay on their 200 ms grid (tokio, MissedTickBehavior::Skip), and a missed
# one fires at once: so it is continued 5 ms after a tick of the grid, polls at once, is scraped
# 120 ms later (again every 10 ms until the poll is in) and stopped again before the next tick.
# A poll counts only if it is the only one and ran within that window (none began before the
# stop).
PERIOD=200000
# poll2: one round of (a2); appends to a2 or counts a miss
poll2() {
    local now wait_us t_cont t_seen
    now=${EPOCHREALTIME/./}
    wait_us=$(((tick_at - now) % PERIOD))
    ((wait_us < 0)) && wait_us=$((wait_us + PERIOD))
    wait_us=$((wait_us + 5000))
    printf -v secs '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000))
    sleep "$secs"
    t_cont=${EPOCHREALTIME/./}
    kill -CONT "$DAEMON"
    sleep 0.12
    while :; do
        read_metrics
        t_seen=${EPOCHREALTIME/./}
        ((P_COUNT != prev_count || t_seen - t_cont > 180000)) && break
        sleep 0.01
    done
    kill -STOP "$DAEMON"
    local took
    took=$(awk -v s="$P_SUM" -v p="$prev_sum" 'BEGIN { printf "%d", (s - p) * 1e6 + 0.5 }')
    if ((P_COUNT == prev_count + 1 && took <= t_seen - t_cont)); then
        a2+=("$took")
    else
        missed2=$((missed2 + 1))
    fi
    prev_sum=$P_SUM prev_count=$P_COUNT
}
poll_argv ARGV_a a "${CTL[a]}"
poll_argv ARGV_b b "${CTL[b]}"
# the calls, each a command line in an array: over the supervisor's master with its own argv;
# a new connection, the same with no master first (ssh keeps the first value of an option);
# tmux here, on host a's server and on the daemon's own (1 session, no slot)
OVER_A=("$REAL_SSH" "${ARGV_a[@]}")
OVER_B=("$REAL_SSH" "${ARGV_b[@]}")
NEW_A=("$REAL_SSH" -o ControlMaster=no -o ControlPath=none "${ARGV_a[@]}")
NEW_B=("$REAL_SSH" -o ControlMaster=no -o ControlPath=none "${ARGV_b[@]}")
LOCAL_A=("$REAL_TMUX" -u -L "${SOCK[a]}" list-panes -a -F "$FORMAT")
SSH_V=("$REAL_SSH" -V)
CHECK_A=("$REAL_SSH" -O check "${ARGV_a[@]:0:${#ARGV_a[@]}-1}")
LOCAL_HERE=("$REAL_TMUX" -u -L "$HERE" list-panes -a -F "$FORMAT")
# run NAME: the command in array NAME, its stdout to ours (one fork and exec, as in check.sh)
run() {
    local -n cmd=$1
    HOME="$BENCH_TMP/home" "${cmd[@]}" </dev/null
}
# parallel NAME...: all of them at once, as a poll starts them, then wait for those
parallel() {
    local name pids=()
    for name in "$@"; do
        local -n cmd=$name
        HOME="$BENCH_TMP/home" "${cmd[@]}" </dev/null >/dev/null 2>&1 &
        pids+=("$!")
        unset -n cmd
    done
    wait "${pids[@]}"
}

# each call answers 20 records of its host, over the master and without
for f in OVER_A OVER_B NEW_A NEW_B LOCAL_A; do
    out=$(run "$f") || { echo "$f failed" >&2; exit 1; }
    n=$(grep -c "^$N<" <<<"$out")
    ((n == 20)) || { echo "$f: $n records, not 20" >&2; exit 1; }
done
[[ $(run LOCAL_HERE | grep -c "^$N<") == 1 ]] || { echo "LOCAL_HERE: not 1 record" >&2; exit 1; }
run CHECK_A 2>&1 | grep -q "^Master running" || { echo "CHECK_A: no master" >&2; exit 1; }
remote_tmux=$(HOME="$BENCH_TMP/home" "$REAL_SSH" "${ARGV_a[@]:0:${#ARGV_a[@]}-1}" 'command -v tmux; tmux -V' </dev/null | tr '\n' ' ')

us() {
    local t0=${EPOCHREALTIME/./} t1
    "$@" >/dev/null 2>&1 || true
    t1=${EPOCHREALTIME/./}
    echo $((t1 - t0))
}
b1=() b2=() b3=() b4=() c1=() c2=() d=() e=() f=() a2=() missed2=0
poll2 # the poll that may have been in flight at the stop, and the first after it
a2=() missed2=0
for _ in $(seq 1 "$ROUNDS"); do
    poll2
    b1+=("$(us run OVER_A)")
    b2+=("$(us parallel OVER_A OVER_B)")
    b3+=("$(us parallel OVER_A OVER_B LOCAL_HERE)")
    sleep 0.2
    b4+=("$(us parallel OVER_A OVER_B LOCAL_HERE)")
    c1+=("$(us run NEW_A)")
    c2+=("$(us parallel NEW_A NEW_B)")
    d+=("$(us run LOCAL_A)")
    e+=("$(us run SSH_V)")
    f+=("$(us run CHECK_A)")
done
kill -CONT "$DAEMON"
stop_daemon "$DAEMON"
DAEMON=
same_masters=yes
for h in a b; do
    [[ $(master_pid "${CTL[$h]}") == "${MPID[$h]}" ]] || same_masters=no
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report
ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'; }
med() { printf '%s\n' "$@" | median; }
p90() { printf '%s\n' "$@" | percentile 90; }
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { print s / NR }'; }
range() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f..%.2f", lo / 1000, hi / 1000 }'; }
row() { # row LABEL VALUES...
    local label=$1
    shift
    echo "| $label | $# | $(ms "$(med "$@")") | $(ms "$(p90 "$@")") | $(ms "$(mean "$@")") | $(range "$@") |"
}
w_polls=$((w_count1 - w_count0))
w_mean_us=$(awk -v s1="$w_sum1" -v s0="$w_sum0" -v n="$w_polls" 'BEGIN { printf "%d", (s1 - s0) / n * 1e6 + 0.5 }')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "hosts.sh: 2 hosts on loopback (OpenSSH sshd, ed25519 keys), 20 sessions each; $(nproc) cores"
echo "load before: $LOAD_BEFORE; after: $LOAD_AFTER"
echo "$("$REAL_SSH" -V 2>&1); remote tmux: $remote_tmux"
echo "phase 1: tmux-supervisor daemon alone, polling every 200 ms; its tmux_supervisor_poll_seconds scraped between polls"
echo "  (a) one poll of both hosts, in the daemon: $w_polls polls in $((w_t1 - w_t0)) ms, ${#a[@]} alone between two scrapes ($missed scrape(s) saw 2+)"
echo "phase 2: $ROUNDS rounds, each (a2) (b1) (b2) (b3) (b4) (c1) (c2) (d) (e) (f) one after the other"
echo "  (a2) one poll of the daemon, continued for it (SIGCONT) and stopped again after it: ${#a2[@]} polls ($missed2 discarded)"
echo "  (b) ssh <the supervisor's poll argv, the same as the $probe_calls check --json ran> over its master"
echo "  (b3) (b2) and, at the same time, the list-panes of the daemon's own server (1 session): a poll's 3 processes"
echo "  (b4) (b3) again after 200 ms asleep, as the daemon's polls come in phase 1"
echo "  (c) the same ssh with -o ControlMaster=no -o ControlPath=none first: a new connection"
echo "  (d) tmux -u -L X list-panes -a -F <format> on host a's server, no ssh"
echo "  (e) ssh -V: the ssh program starting, nothing else"
echo "  (f) ssh -O check <the poll's options>: ssh starting and one round trip to host a's master"
echo
echo "| call | n | median ms | p90 ms | mean ms | min..max ms |"
echo "|---|---:|---:|---:|---:|---:|"
row "(a) supervisor poll, both hosts, in the daemon (phase 1)" "${a[@]}"
echo "| (a) _sum/_count of the phase 1 window | $w_polls | | | $(ms "$w_mean_us") | |"
row "(a2) supervisor poll, both hosts, in the daemon (phase 2)" "${a2[@]}"
row "(b1) ssh over the master, host a" "${b1[@]}"
row "(b2) ssh over the masters, a & b in parallel" "${b2[@]}"
row "(b3) (b2) & this machine's list-panes" "${b3[@]}"
row "(b4) (b3) after 200 ms asleep" "${b4[@]}"
row "(c1) ssh, new connection, host a" "${c1[@]}"
row "(c2) ssh, new connections, a & b in parallel" "${c2[@]}"
row "(d) local list-panes, host a's server" "${d[@]}"
row "(e) ssh -V" "${e[@]}"
row "(f) ssh -O check over host a's master" "${f[@]}"
echo
ma=$(med "${a[@]}") ma2=$(med "${a2[@]}") mb1=$(med "${b1[@]}") mb2=$(med "${b2[@]}") mb3=$(med "${b3[@]}") mb4=$(med "${b4[@]}")
mc1=$(med "${c1[@]}") mc2=$(med "${c2[@]}") md=$(med "${d[@]}") me=$(med "${e[@]}") mf=$(med "${f[@]}")
echo "| ratio (of medians, phase 2 unless said) | |"
echo "|---|---:|"
echo "| (a2) supervisor poll / (b2) bare parallel ssh over the masters | $(ratio "$ma2" "$mb2") |"
echo "| (a2) supervisor poll / (b3) the same 3 processes, bare | $(ratio "$ma2" "$mb3") |"
echo "| (a) supervisor poll, phase 1 / (b2) | $(ratio "$ma" "$mb2") |"
echo "| (a) _sum/_count of phase 1 / mean of (b2) | $(ratio "$w_mean_us" "$(mean "${b2[@]}")") |"
echo "| (a) supervisor poll, phase 1 / (b4) the same 3 processes after 200 ms asleep | $(ratio "$ma" "$mb4") |"
echo "| (b4) after 200 ms asleep / (b3) right after other calls | $(ratio "$mb4" "$mb3") |"
echo "| (c1) new connection / (b1) over the master, one host | $(ratio "$mc1" "$mb1") |"
echo "| (c2) new connections / (b2) over the masters, both hosts | $(ratio "$mc2" "$mb2") |"
echo "| (b1) ssh over the master / (d) local list-panes | $(ratio "$mb1" "$md") |"
echo
echo "where (b1) goes (medians, ms): ssh starting (e) $(ms "$me"); and its round trip to the master (f) − (e) $(ms $((mf - me))); the remote command's session and tmux, (b1) − (f) $(ms $((mb1 - mf))), of which tmux itself here (d) $(ms "$md")"
echo
echo "(a) phase 1 histogram (polls per bucket): $buckets"
if ((first_count == 1)); then
    echo "(a) the first poll, which opened both masters: $(awk -v s="$first_sum" 'BEGIN { printf "%.2f", s * 1000 }') ms"
else
    echo "(a) the first $first_count polls (the first opened both masters; the first scrape saw them together): $(awk -v s="$first_sum" 'BEGIN { printf "%.2f", s * 1000 }') ms in all"
fi
echo "(a) CPU per poll in phase 1 (clock ticks of 1/$CLK_TCK s): daemon $(ratio "$(((d_cpu1 - d_cpu0) * 1000000 / CLK_TCK))" "$((w_polls * 1000))") ms, the ssh and tmux clients it ran $(ratio "$(((d_child1 - d_child0) * 1000000 / CLK_TCK))" "$((w_polls * 1000))") ms, the two masters $(ratio "$(((m_cpu1 - m_cpu0) * 1000000 / CLK_TCK))" "$((w_polls * 1000))") ms; tmux_supervisor_tmux_calls_total per poll: $(ratio "$((w_calls1 - w_calls0))" "$w_polls")"
echo "control sockets in the state dir: $sockets_found; the same two masters all through phase 2: $same_masters; check --json exit $probe_status"
