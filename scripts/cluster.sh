#!/usr/bin/env bash
# `make cluster`: a whole wsring cluster on loopback, in the foreground —
# redis-server (one, or --shards N), N ws-server nodes (default 3) with
# --redis, and nginx in front (deploy/nginx.conf, or --ip-hash) — then prints
# the URLs and waits. Ctrl-C or SIGTERM stops everything it started, by PID.
# All state (configs, logs, Redis files, nginx prefix) lives in one temporary
# directory removed at the end; no system service or system config is used.
# Not for production: it is how to see the pieces together (docs/cluster.md).
#   scripts/cluster.sh [--nodes N] [--shards N] [--port PORT] [--ip-hash]
#                      [--api-key KEY] [--build DIR] [-- ws-server options...]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

nodes=3 shards=1 port=9001 template=deploy/nginx.conf api_key=cluster-key
build=${WSRING_BUILD:-build/release}
extra=()
while (($#)); do
  case $1 in
    --nodes) nodes=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --ip-hash) template=deploy/nginx-ip-hash.conf; shift ;;
    --api-key) api_key=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
server=$build/ws-server
[[ -x $server ]] || { echo "cluster: no $server (make release, or --build DIR)" >&2; exit 1; }
for tool in redis-server redis-cli nginx python3; do
  command -v "$tool" >/dev/null || { echo "cluster: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/wsring-cluster.XXXXXX)
chmod 755 "$tmp"  # nginx's workers run as nobody when we are root
redis_pids=() node_pids=() nginx_pid=""

stop_all() {  # reverse order: the front door first, Redis last
  trap - INT TERM EXIT
  echo; echo "cluster: stopping"
  [[ -n $nginx_pid ]] && kill -QUIT "$nginx_pid" 2>/dev/null
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in $nginx_pid "${node_pids[@]}"; do wait "$pid" 2>/dev/null; done
  for pid in "${redis_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${redis_pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {  # one the kernel picks; racy only against someone binding at the same moment
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {  # wait_for WHAT COMMAND...: up to 10 s for COMMAND to succeed
  local what=$1; shift
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "cluster: $what did not come up; files in $tmp:" >&2
  tail -n 5 "$tmp"/*.log "$tmp"/*.err 2>/dev/null >&2 || true
  exit 1
}

# 1. Redis: no snapshots, no append-only file (a test bed; see docs/cluster.md
#    for what persistence changes), each shard in its own directory.
redis_urls=()
for ((i = 0; i < shards; i++)); do
  p=$(free_port)
  mkdir -p "$tmp/redis-$i"
  redis-server --port "$p" --bind 127.0.0.1 --dir "$tmp/redis-$i" --save '' --appendonly no \
    --daemonize no --logfile "$tmp/redis-$i.log" &
  redis_pids+=($!)
  wait_for "redis-server on $p" redis-cli -p "$p" ping
  redis_urls+=("redis://127.0.0.1:$p")
done

# 2. The nodes: --port 0, each prints the port it got.
redis_args=()
for u in "${redis_urls[@]}"; do redis_args+=(--redis "$u"); done
node_ports=()
for ((i = 0; i < nodes; i++)); do
  "$server" --mode pubsub --host 127.0.0.1 --port 0 --threads 1 --api-key "$api_key" \
    "${redis_args[@]}" "${extra[@]}" >"$tmp/node-$i.out" 2>"$tmp/node-$i.err" &
  node_pids+=($!)
  wait_for "node $i" grep -q "listening on" "$tmp/node-$i.out"
  node_ports+=("$(sed -n 's/.*listening on [^ ]*:\([0-9]*\).*/\1/p' "$tmp/node-$i.out" | head -n 1)")
done

# 3. nginx from the template: the listen line and one server line per node.
mkdir -p "$tmp/nginx"
servers=""
for p in "${node_ports[@]}"; do
  servers+="        server 127.0.0.1:$p max_fails=1 fail_timeout=5s;\\n"
done
sed -e "s|^\\(\\s*listen \\)@LISTEN@|\\1127.0.0.1:$port|" \
    -e "s|^@UPSTREAM_SERVERS@\$|${servers%\\n}|" "$repo/$template" >"$tmp/nginx/nginx.conf"
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" \
  -g "daemon off; pid $tmp/nginx/nginx.pid; error_log $tmp/nginx/error.log warn;" &
nginx_pid=$!
wait_for "nginx on $port" python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)"

cat <<EOF

wsring cluster: $nodes node(s), $shards Redis shard(s), nginx ($(basename "$template"))
  clients        ws://127.0.0.1:$port/<topic>          (through nginx)
EOF
for ((i = 0; i < nodes; i++)); do
  echo "  node $i         ws://127.0.0.1:${node_ports[$i]}/<topic>   pid ${node_pids[$i]}, log $tmp/node-$i.err"
done
for ((i = 0; i < shards; i++)); do
  echo "  redis $i        ${redis_urls[$i]}   pid ${redis_pids[$i]}"
done
cat <<EOF
  publish        curl -H 'Authorization: apikey $api_key' -H 'Content-Type: text/plain' \\
                   --data hello http://127.0.0.1:$port/publish/chat/room42
  files          $tmp (removed at the end)
Ctrl-C stops everything.
EOF

# Foreground until a signal, or until one of ours exits by itself.
set +e
wait -n "${redis_pids[@]}" "${node_pids[@]}" "$nginx_pid"
echo "cluster: a process exited on its own (status $?); see $tmp" >&2
tail -n 5 "$tmp"/node-*.err "$tmp"/redis-*.log "$tmp/nginx/error.log" 2>/dev/null >&2
exit 1
