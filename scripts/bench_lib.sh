# Helpers shared by scripts/bench.sh and scripts/bench_auth.sh; sourced, not
# run. The caller sets WORK (a scratch folder) and declares the associative
# arrays PORT and PID (declare -A PORT PID), which these fill and empty.

# start_server NAME CPU CMD...: starts CMD pinned to CPU, waits for its
# "listening on HOST:PORT" line; records PORT[NAME] and PID[NAME].
start_server() {
  local name=$1 cpu=$2; shift 2
  local log=$WORK/$name.log port
  # emptied here, not only by the background job's redirection: the loop
  # below could otherwise read a line left by the last server of this name
  : >"$log"
  taskset -c "$cpu" "$@" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    # whole lines only (head -n: those with their newline): a line read
    # while still being written would give no port, or a cut one
    port=$(head -n "$(wc -l <"$log")" "$log" | sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' | head -1)
    if [[ -n $port ]]; then
      PORT[$name]=$port PID[$name]=$pid
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: $name did not start: $(tr '\n' ' ' <"$log" | cut -c1-200)"
  kill "$pid" 2>/dev/null
  return 1
}

stop_server() {
  local name=$1
  [[ -n ${PID[$name]:-} ]] || return 0
  kill "${PID[$name]}" 2>/dev/null
  wait "${PID[$name]}" 2>/dev/null
  unset "PID[$name]" "PORT[$name]"
}
