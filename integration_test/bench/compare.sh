#!/usr/bin/env bash
# compare.sh: benchmark the Go chat node (cmd/sioserver) against the
# Node.js reference (integration_test/js/refserver.js, socket.io 4 +
# @socket.io/redis-adapter 8) with cmd/siobench, on loopback, and print a
# table of the results and their ratios.
#
# Usage: integration_test/bench/compare.sh            (full run, ~3 min; ROUNDS=3 ~10 min)
#        QUICK=1 integration_test/bench/compare.sh    (smoke run, ~1 min)
#
# Cases (CASES, space-separated, default all):
#   fanout3  3 nodes + Redis, RECEIVERS3 receivers spread over the nodes,
#            FANOUT3_MESSAGES broadcasts, WINDOW in flight
#            goal: Go >= 3x the reference's delivered messages/s
#   fanout1  1 node (in-memory adapter), room of ROOM1 receivers,
#            FANOUT1_MESSAGES broadcasts, WINDOW in flight
#            goal: Go >= 3x delivered messages/s, and Go p99 <= 3x p50
#   rate3    3 nodes + Redis, RATE broadcasts/s to RECEIVERS3 receivers for
#            RATE_DURATION; Redis PUBLISHes per broadcast counted with
#            MONITOR (filtered by the case's unique prefix)
#            goal: Go cross-node p99 <= 10 ms; exactly 1 PUBLISH per broadcast
#   echo3    3 nodes + Redis, ECHO_CLIENTS clients doing echo-with-ack in a
#            closed loop for ECHO_DURATION
#            goal: Go >= 2x the reference's round trips/s
#   On Linux, rate3 and echo3 run a third target: three floorservers
#   (integration_test/bench/floorserver, a minimal epoll server that does
#   one read and one write per echo round trip, one write per delivery
#   and one PUBLISH per room message, and nothing else), the best any
#   server can do on this machine with the generator on the same cores.
#   FLOOR=0 skips it.
#   idle     1 node, IDLE_CONNS idle WebSocket connections, default
#            heartbeats (25s/20s), IDLE_WINDOW measurement window
#            goal: Go RSS per connection <= 8 KB; node CPU reported
#
# Every case starts fresh nodes for each target (so RSS baselines and
# warm-up are the same for both), runs a short warm-up fan-out, then
# measures; targets alternate ref, go, ref, go ... for ROUNDS rounds and
# the table shows the median per target.
#
# Environment (defaults in brackets as full|quick; QUICK=1 divides the
# connection counts by 10 and keeps enough messages for a stable rate):
#   QUICK [0]  ROUNDS [1]  CASES [fanout3 fanout1 rate3 echo3 idle]
#   REDIS_URL [redis://127.0.0.1:6379]  BASE_PORT [4700]  OUT [mktemp -d]
#   RECEIVERS3 [1000|100]  FANOUT3_MESSAGES [1000|2000]  WINDOW [100]
#   ROOM1 [10000|1000]  FANOUT1_MESSAGES [200|300]
#   RATE [50]  RATE_DURATION [20s|5s]
#   ECHO_CLIENTS [50]  ECHO_DURATION [10s|3s]
#   IDLE_CONNS [10000|1000]  IDLE_WINDOW [30s|10s]
#   RUN_TIMEOUT [5m|2m]: siobench -timeout for each run
#   GO_PROCS [auto]: GOMAXPROCS of each Go node. auto gives each of the N
#            nodes of a case its share of the C cores, max(1, C/N): three
#            nodes on two cores run with 1, one node with 2 (the Node
#            reference is one thread per process). default leaves Go's
#            default (every node sees all the cores; in a container Go
#            follows the CPU limit but never goes below 2); a number sets
#            it for every node.
#
# Output: progress on stderr, the table on stdout, every siobench JSON
# line (with "case" and "round" added) in $OUT/results.jsonl, node and
# siobench logs in $OUT/logs/. Needs go, node (integration_test/
# node_modules, installed with npm ci when missing), jq, curl, redis-cli.
# All processes started here are stopped on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
itest="$root/integration_test"

QUICK=${QUICK:-0}
q() { if [[ $QUICK == 1 ]]; then echo "$2"; else echo "$1"; fi; }
ROUNDS=${ROUNDS:-1}
CASES=${CASES:-fanout3 fanout1 rate3 echo3 idle}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
BASE_PORT=${BASE_PORT:-4700}
RECEIVERS3=${RECEIVERS3:-$(q 1000 100)}
FANOUT3_MESSAGES=${FANOUT3_MESSAGES:-$(q 1000 2000)}
WINDOW=${WINDOW:-100}
ROOM1=${ROOM1:-$(q 10000 1000)}
FANOUT1_MESSAGES=${FANOUT1_MESSAGES:-$(q 200 300)}
RATE=${RATE:-50}
RATE_DURATION=${RATE_DURATION:-$(q 20s 5s)}
ECHO_CLIENTS=${ECHO_CLIENTS:-50}
ECHO_DURATION=${ECHO_DURATION:-$(q 10s 3s)}
IDLE_CONNS=${IDLE_CONNS:-$(q 10000 1000)}
IDLE_WINDOW=${IDLE_WINDOW:-$(q 30s 10s)}
RUN_TIMEOUT=${RUN_TIMEOUT:-$(q 5m 2m)}
GO_PROCS=${GO_PROCS:-auto}
FLOOR=${FLOOR:-$([[ $(uname -s) == Linux ]] && echo 1 || echo 0)}

log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in go node jq curl redis-cli; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "ROUNDS must be 1..99"
[[ $GO_PROCS == auto || $GO_PROCS == default || $GO_PROCS =~ ^[1-9][0-9]*$ ]] ||
  die "GO_PROCS must be auto, default or a positive number"

redis_hostport=${REDIS_URL#*://}
redis_hostport=${redis_hostport##*@}
redis_hostport=${redis_hostport%%/*}
redis_host=${redis_hostport%:*}
redis_port=${redis_hostport##*:}
[[ $redis_port =~ ^[0-9]+$ ]] || redis_port=6379
case "$redis_host" in
  127.*|localhost|::1|'[::1]') ;;
  *) die "REDIS_URL must be on loopback (got $redis_host)" ;;
esac
redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null 2>&1 || die "no Redis at $redis_host:$redis_port"

OUT=${OUT:-$(mktemp -d /tmp/sio-compare.XXXXXX)}
mkdir -p "$OUT/logs" "$OUT/bin"
results="$OUT/results.jsonl"
: >"$results"

# Raise the file limit for the nodes and the generator (10k+ sockets).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(( $(ulimit -n) >= IDLE_CONNS + 512 && $(ulimit -n) >= ROOM1 + 512 )) ||
  log "warning: open file limit $(ulimit -n) may be too low"

# ---- process bookkeeping -------------------------------------------------
pids=()   # every background process this script started
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop_pids PID...: TERM, wait up to STOP_WAIT (5s), then KILL; forget them.
STOP_WAIT=${STOP_WAIT:-5}
stop_pids() {
  local p keep=()
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq $((STOP_WAIT * 10))); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do [[ " $* " == *" $p "* ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port=$BASE_PORT
# alloc_port sets port to the next free port from BASE_PORT on (no
# subshell, so that next_port advances).
alloc_port() {
  local tries=0
  while ! port_free "$next_port"; do
    next_port=$((next_port + 1))
    (( next_port < BASE_PORT + 500 )) || next_port=$BASE_PORT
    (( ++tries < 500 )) || die "no free port in $BASE_PORT..$((BASE_PORT + 499))"
  done
  port=$next_port
  next_port=$((next_port + 1))
  (( next_port < BASE_PORT + 500 )) || next_port=$BASE_PORT
}

# ---- build ---------------------------------------------------------------
log "building sioserver and siobench into $OUT/bin"
(cd "$root" && go build -o "$OUT/bin/sioserver" ./cmd/sioserver) || die "go build ./cmd/sioserver failed"
(cd "$root" && go build -o "$OUT/bin/siobench" ./cmd/siobench) || die "go build ./cmd/siobench failed"
if [[ $FLOOR == 1 ]]; then
  (cd "$root" && go build -o "$OUT/bin/floorserver" ./integration_test/bench/floorserver) ||
    die "go build ./integration_test/bench/floorserver failed"
fi
if [[ ! -d $itest/node_modules/socket.io || ! -d $itest/node_modules/@socket.io/redis-adapter ]]; then
  log "installing Node.js dependencies (npm ci)"
  (cd "$itest" && npm ci --no-audit --no-fund >"$OUT/logs/npm.log" 2>&1) || die "npm ci failed (see $OUT/logs/npm.log)"
fi

# ---- nodes ---------------------------------------------------------------
node_urls=""  # comma-separated base URLs of the running nodes
node_pids=""  # comma-separated pids, same order
run_pids=()   # pids of the running nodes

# start_nodes TARGET COUNT PREFIX(empty = no Redis) TAG
start_nodes() {
  local target=$1 count=$2 prefix=$3 tag=$4 i logf p
  node_urls="" node_pids="" run_pids=()
  for i in $(seq "$count"); do
    alloc_port
    logf="$OUT/logs/$tag-$target-node$i.log"
    if [[ $target == floor ]]; then
      local fargs=(-addr "127.0.0.1:$port" -node-id "$target$i")
      [[ -n $prefix ]] && fargs+=(-redis "$redis_host:$redis_port" -channel "$prefix")
      "$OUT/bin/floorserver" "${fargs[@]}" >"$logf" 2>&1 &
    elif [[ $target == go ]]; then
      local args=(-addr "127.0.0.1:$port" -node-id "$target$i" -log-level warn)
      [[ -n $prefix ]] && args+=(-redis "$REDIS_URL" -redis-prefix "$prefix")
      case $GO_PROCS in
        default) "$OUT/bin/sioserver" "${args[@]}" >"$logf" 2>&1 & ;;
        auto) GOMAXPROCS=$(( $(nproc) / count > 1 ? $(nproc) / count : 1 )) \
                "$OUT/bin/sioserver" "${args[@]}" >"$logf" 2>&1 & ;;
        *) GOMAXPROCS=$GO_PROCS "$OUT/bin/sioserver" "${args[@]}" >"$logf" 2>&1 & ;;
      esac
    else
      SIO_ADDR="127.0.0.1:$port" SIO_NODE_ID="$target$i" SIO_REDIS_URL="${prefix:+$REDIS_URL}" \
        SIO_REDIS_PREFIX="${prefix:-socket.io}" node "$itest/js/refserver.js" >"$logf" 2>&1 &
    fi
    p=$!
    pids+=("$p") run_pids+=("$p")
    node_urls+="${node_urls:+,}http://127.0.0.1:$port"
    node_pids+="${node_pids:+,}$p"
  done
  local u
  IFS=, read -ra urls <<<"$node_urls"
  for u in "${urls[@]}"; do
    for i in $(seq 150); do
      curl -sf -o /dev/null --max-time 1 "$u/readyz" && break
      (( i < 150 )) || die "$target node $u not ready after 15s (logs: $OUT/logs/$tag-$target-*.log)"
      sleep 0.1
    done
  done
}

# bench CASE TARGET ROUND ARGS...: one siobench run; its JSON line (with
# case and round added) goes to results.jsonl and is echoed on stdout.
bench() {
  local c=$1 target=$2 round=$3; shift 3
  local logf="$OUT/logs/$c-$target-r$round.log" line rc=0
  line=$("$OUT/bin/siobench" -urls "$node_urls" -pid "$node_pids" -label "$target" \
    -timeout "$RUN_TIMEOUT" "$@" 2>"$logf") || rc=$?
  if [[ -z $line ]]; then
    tail -n 20 "$logf" >&2
    die "siobench $c/$target produced no result (exit $rc)"
  fi
  line=$(jq -c --arg c "$c" --argjson r "$round" '. + {case: $c, round: $r}' <<<"$line")
  echo "$line" >>"$results"
  local err
  err=$(jq -r '.error // empty' <<<"$line")
  [[ -z $err ]] || log "  $c/$target: siobench reported: $err (log: $logf)"
  echo "$line"
}

warmup() {
  local out
  out=$("$OUT/bin/siobench" -urls "$node_urls" -scenario fanout -clients 30 -messages 200 \
    -room warmup -progress 0 -timeout 1m 2>"$OUT/logs/warmup.log") || true
  [[ $(jq -r '.metrics.lost // "?"' <<<"$out") == 0 ]] ||
    log "  warm-up lost messages or failed: $(jq -c '.metrics | {received, lost, first_error}' <<<"$out" 2>/dev/null)"
}

# ---- cases ---------------------------------------------------------------
run_case() {
  local c=$1 target=$2 round=$3 prefix="sio-bench-$$-$c-$target-r$round" line
  case $c in
    fanout3)
      start_nodes "$target" 3 "$prefix" "$c"
      warmup
      bench "$c" "$target" "$round" -scenario fanout -clients "$RECEIVERS3" \
        -messages "$FANOUT3_MESSAGES" -window "$WINDOW" >/dev/null ;;
    fanout1)
      start_nodes "$target" 1 "" "$c"
      warmup
      bench "$c" "$target" "$round" -scenario fanout -clients "$ROOM1" \
        -messages "$FANOUT1_MESSAGES" -window "$WINDOW" -ramp 64 >/dev/null ;;
    rate3)
      start_nodes "$target" 3 "$prefix" "$c"
      warmup
      local monfile="$OUT/logs/$c-$target-r$round.publish" monpid
      # Count the PUBLISHes of this case's unique prefix with MONITOR.
      timeout 600 redis-cli -h "$redis_host" -p "$redis_port" monitor 2>/dev/null >"$monfile.raw" &
      monpid=$!
      pids+=("$monpid")
      sleep 0.3
      line=$(bench "$c" "$target" "$round" -scenario rate -clients "$RECEIVERS3" \
        -rate "$RATE" -duration "$RATE_DURATION" -window "$WINDOW" -room "rate-room")
      sleep 0.3
      stop_pids "$monpid"
      local pubs sent
      pubs=$(grep -ciF "\"publish\" \"$prefix" "$monfile.raw" || true)
      grep -iF "\"publish\" \"$prefix" "$monfile.raw" | head -n 20 >"$monfile" || true
      rm -f "$monfile.raw"
      sent=$(jq -r '.metrics.sent // 0' <<<"$line")
      jq -c --argjson p "$pubs" --arg c "$c" --arg t "$target" --argjson r "$round" \
        '{case: $c, label: $t, round: $r, scenario: "publishes", metrics: {publishes: $p, sent: '"$sent"'}}' \
        <<<"{}" >>"$results" ;;
    echo3)
      if [[ $target == floor ]]; then
        start_nodes floor 3 "" "$c" # no rooms, so no warm-up fan-out
      else
        start_nodes "$target" 3 "$prefix" "$c"
        warmup
      fi
      bench "$c" "$target" "$round" -scenario echo -clients "$ECHO_CLIENTS" \
        -duration "$ECHO_DURATION" >/dev/null ;;
    idle)
      start_nodes "$target" 1 "" "$c"
      # No warm-up: the baseline must be the fresh process.
      sleep 1
      bench "$c" "$target" "$round" -scenario idle -clients "$IDLE_CONNS" \
        -duration "$IDLE_WINDOW" -settle 3s -ramp 64 >/dev/null ;;
    *) die "unknown case $c" ;;
  esac
  stop_pids "${run_pids[@]}"
}

log "results in $OUT (QUICK=$QUICK ROUNDS=$ROUNDS CASES=\"$CASES\")"
for c in $CASES; do
  for round in $(seq "$ROUNDS"); do
    targets="ref go"
    [[ ($c == echo3 || $c == rate3) && $FLOOR == 1 ]] && targets+=" floor"
    for target in $targets; do
      log "$c: $target (round $round)"
      run_case "$c" "$target" "$round"
    done
  done
done

# ---- table ---------------------------------------------------------------
# med CASE LABEL JQPATH: median over the rounds (empty when missing).
med() {
  jq -rs --arg c "$1" --arg l "$2" "
    [ .[] | select(.case == \$c and .label == \$l) | ($3) | select(. != null) ] | sort |
    if length == 0 then empty else .[(length / 2 | floor)] end" "$results"
}
fmt() { if [[ -z $1 ]]; then echo "-"; else printf "%.${2:-1}f" "$1"; fi; }
ratio() { if [[ -z $1 || -z $2 ]] || [[ $(jq -n "$1 == 0") == true ]]; then echo "-"; else jq -rn "($2 / $1 * 100 | round) / 100 | tostring + \"x\""; fi; }
check() { if [[ -z $1 ]]; then echo "n/a"; elif [[ $(jq -n "$1") == true ]]; then echo "PASS"; else echo "FAIL"; fi; }
row() { printf "%-44s %14s %14s %9s   %s\n" "$@"; }

print_table() {
  local r g cpu
  echo
  cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
  echo "sio vs Node.js reference (socket.io 4.8 + redis-adapter 8): QUICK=$QUICK ROUNDS=$ROUNDS GO_PROCS=$GO_PROCS, $(nproc) cores${cpu:+ ($cpu)}, loopback, generator on the same cores"
  row "metric" "ref" "go" "go/ref" "goal"
  row "------" "---" "--" "------" "----"
  for c in $CASES; do
    case $c in
      fanout3)
        r=$(med fanout3 ref .metrics.delivered_per_s) g=$(med fanout3 go .metrics.delivered_per_s)
        row "fanout 3 nodes, $RECEIVERS3 rcv, msg/s" "$(fmt "$r" 0)" "$(fmt "$g" 0)" "$(ratio "$r" "$g")" \
          ">= 3x: $(check "${r:+${g:+$g >= 3 * $r}}")"
        row "  lost deliveries" "$(fmt "$(med fanout3 ref .metrics.lost)" 0)" "$(fmt "$(med fanout3 go .metrics.lost)" 0)" "" ""
        row "  latency p50 ms" "$(fmt "$(med fanout3 ref .metrics.latency.p50_ms)" 2)" "$(fmt "$(med fanout3 go .metrics.latency.p50_ms)" 2)" "" ""
        row "  latency p99 ms" "$(fmt "$(med fanout3 ref .metrics.latency.p99_ms)" 2)" "$(fmt "$(med fanout3 go .metrics.latency.p99_ms)" 2)" "" ""
        row "  generator CPU %" "$(fmt "$(med fanout3 ref .metrics.gen_cpu_pct)" 0)" "$(fmt "$(med fanout3 go .metrics.gen_cpu_pct)" 0)" "" ""
        ;;
      fanout1)
        r=$(med fanout1 ref .metrics.delivered_per_s) g=$(med fanout1 go .metrics.delivered_per_s)
        row "fanout 1 node, room $ROOM1, msg/s" "$(fmt "$r" 0)" "$(fmt "$g" 0)" "$(ratio "$r" "$g")" \
          ">= 3x: $(check "${r:+${g:+$g >= 3 * $r}}")"
        local r50 r99 g50 g99
        r50=$(med fanout1 ref .metrics.latency.p50_ms) r99=$(med fanout1 ref .metrics.latency.p99_ms)
        g50=$(med fanout1 go .metrics.latency.p50_ms) g99=$(med fanout1 go .metrics.latency.p99_ms)
        row "  latency p50 ms" "$(fmt "$r50" 2)" "$(fmt "$g50" 2)" "" ""
        row "  latency p99 ms" "$(fmt "$r99" 2)" "$(fmt "$g99" 2)" "" ""
        local rq="" gq=""
        [[ -n $r50 && -n $r99 ]] && rq=$(jq -n "if $r50 > 0 then $r99 / $r50 else null end" | sed 's/^null$//')
        [[ -n $g50 && -n $g99 ]] && gq=$(jq -n "if $g50 > 0 then $g99 / $g50 else null end" | sed 's/^null$//')
        row "  p99 / p50" "$(fmt "$rq" 2)" "$(fmt "$gq" 2)" "" "go <= 3: $(check "${gq:+$gq <= 3}")"
        row "  lost deliveries" "$(fmt "$(med fanout1 ref .metrics.lost)" 0)" "$(fmt "$(med fanout1 go .metrics.lost)" 0)" "" ""
        row "  generator CPU %" "$(fmt "$(med fanout1 ref .metrics.gen_cpu_pct)" 0)" "$(fmt "$(med fanout1 go .metrics.gen_cpu_pct)" 0)" "" ""
        ;;
      rate3)
        r=$(med rate3 ref .metrics.latency_cross_node.p99_ms) g=$(med rate3 go .metrics.latency_cross_node.p99_ms)
        row "rate $RATE/s, 3 nodes, cross-node p99 ms" "$(fmt "$r" 2)" "$(fmt "$g" 2)" "" "go <= 10ms: $(check "${g:+$g <= 10}")"
        row "  cross-node p50 ms" "$(fmt "$(med rate3 ref .metrics.latency_cross_node.p50_ms)" 2)" "$(fmt "$(med rate3 go .metrics.latency_cross_node.p50_ms)" 2)" "" ""
        row "  same-node p99 ms" "$(fmt "$(med rate3 ref .metrics.latency_same_node.p99_ms)" 2)" "$(fmt "$(med rate3 go .metrics.latency_same_node.p99_ms)" 2)" "" ""
        local rp gp
        rp=$(med rate3 ref 'select(.scenario == "publishes") | .metrics | if .sent > 0 then .publishes / .sent else null end')
        gp=$(med rate3 go 'select(.scenario == "publishes") | .metrics | if .sent > 0 then .publishes / .sent else null end')
        row "  Redis PUBLISH per broadcast" "$(fmt "$rp" 2)" "$(fmt "$gp" 2)" "" "go == 1: $(check "${gp:+$gp == 1}")"
        row "  lost deliveries" "$(fmt "$(med rate3 ref .metrics.lost)" 0)" "$(fmt "$(med rate3 go .metrics.lost)" 0)" "" ""
        if [[ $FLOOR == 1 ]]; then
          local f fp
          f=$(med rate3 floor .metrics.latency_cross_node.p99_ms)
          fp=$(med rate3 floor 'select(.scenario == "publishes") | .metrics | if .sent > 0 then .publishes / .sent else null end')
          row "  floorserver cross-node p99 ms (go column)" "" "$(fmt "$f" 2)" "" "floor of go here"
          row "  floorserver cross-node p50 ms / PUBLISH" "" "$(fmt "$(med rate3 floor .metrics.latency_cross_node.p50_ms)" 2) / $(fmt "$fp" 2)" "" ""
          row "  go / floorserver p99" "" "" "$(ratio "$f" "$g")" ""
        fi
        ;;
      echo3)
        r=$(med echo3 ref .metrics.round_trips_per_s) g=$(med echo3 go .metrics.round_trips_per_s)
        row "echo+ack, $ECHO_CLIENTS clients, 3 nodes, rt/s" "$(fmt "$r" 0)" "$(fmt "$g" 0)" "$(ratio "$r" "$g")" \
          ">= 2x: $(check "${r:+${g:+$g >= 2 * $r}}")"
        row "  latency p50 ms" "$(fmt "$(med echo3 ref .metrics.latency.p50_ms)" 3)" "$(fmt "$(med echo3 go .metrics.latency.p50_ms)" 3)" "" ""
        row "  latency p99 ms" "$(fmt "$(med echo3 ref .metrics.latency.p99_ms)" 3)" "$(fmt "$(med echo3 go .metrics.latency.p99_ms)" 3)" "" ""
        row "  generator CPU %" "$(fmt "$(med echo3 ref .metrics.gen_cpu_pct)" 0)" "$(fmt "$(med echo3 go .metrics.gen_cpu_pct)" 0)" "" ""
        local per_rt='.metrics | if (.round_trips_per_s // 0) > 0 and (.node_cpu_pct | length) > 0 then (.node_cpu_pct | add) * 1e4 / .round_trips_per_s else null end'
        local gen_rt='.metrics | if (.round_trips_per_s // 0) > 0 and .gen_cpu_pct != null then .gen_cpu_pct * 1e4 / .round_trips_per_s else null end'
        local rc gc
        rc=$(med echo3 ref "$per_rt") gc=$(med echo3 go "$per_rt")
        # The nodes' own cost, without the generator's share of the cores:
        # how much less CPU a round trip takes (ref/go), not a goal.
        row "  nodes' CPU per round trip, us" "$(fmt "$rc" 2)" "$(fmt "$gc" 2)" "$(ratio "$rc" "$gc")" "ref/go: $(ratio "$gc" "$rc")"
        row "  generator CPU per round trip, us" "$(fmt "$(med echo3 ref "$gen_rt")" 2)" "$(fmt "$(med echo3 go "$gen_rt")" 2)" "" ""
        if [[ $FLOOR == 1 ]]; then
          local f
          f=$(med echo3 floor .metrics.round_trips_per_s)
          row "  floorserver rt/s (in the go column)" "$(fmt "$r" 0)" "$(fmt "$f" 0)" "$(ratio "$r" "$f")" "ceiling of go/ref here"
          row "  go / floorserver" "" "" "$(ratio "$f" "$g")" ""
          row "  floorserver nodes' CPU per round trip, us" "" "$(fmt "$(med echo3 floor "$per_rt")" 2)" "" ""
        fi
        ;;
      idle)
        r=$(med idle ref .metrics.rss_per_conn_bytes) g=$(med idle go .metrics.rss_per_conn_bytes)
        row "idle $IDLE_CONNS conns, RSS bytes/conn" "$(fmt "$r" 0)" "$(fmt "$g" 0)" "$(ratio "$r" "$g")" \
          "go <= 8KB: $(check "${g:+$g <= 8192}")"
        row "  RSS MiB before / end (ref)" "$(fmt "$(med idle ref .metrics.rss_base_mb)" 1)" "$(fmt "$(med idle ref .metrics.rss_end_mb)" 1)" "" ""
        row "  RSS MiB before / end (go)" "$(fmt "$(med idle go .metrics.rss_base_mb)" 1)" "$(fmt "$(med idle go .metrics.rss_end_mb)" 1)" "" ""
        row "  node CPU % over $IDLE_WINDOW" "$(fmt "$(med idle ref '.metrics.node_cpu_pct[0]')" 2)" "$(fmt "$(med idle go '.metrics.node_cpu_pct[0]')" 2)" "" ""
        row "  pings answered in window" "$(fmt "$(med idle ref .metrics.pings_in_window)" 0)" "$(fmt "$(med idle go .metrics.pings_in_window)" 0)" "" ""
        ;;
    esac
  done
  echo
  echo "raw results: $results"
}
print_table
