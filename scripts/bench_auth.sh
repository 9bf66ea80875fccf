#!/usr/bin/env bash
# `make bench-auth` (about 2 min; --quick < 30 s): what authorization costs
# (issue 15, docs/auth.md "What auth costs"). Every ws-server on CPU 0 (one
# epoll thread each, fresh servers every round), every ws-bench on CPU 1;
# the variants of a point run side by side, at the same time (run_group says
# why), in REPS rounds (6 by default: each order equally often), and each
# figure is the median over the rounds:
#   echo     100 connections x 16 in flight x 16 B, auth off vs on (HS256
#            token in "Authorization: Bearer", --acl allowing the path)
#   pubsub   ws-server --mode pubsub, broadcast to 1,000 receivers x 64 B
#            from one publisher keeping 16 in flight, auth off vs on (every
#            connection carries the token; the ACL lets it subscribe and
#            publish on the topic)
#   connect  connect + upgrade + close, 16 at a time: no auth, HS256, RS256
#            (a 2048-bit key made here with openssl)
# Figures per server-CPU-second come from ws-bench --server-pid; each
# auth-on figure is also given as the median of its per-round ratios to
# the auth-off server that ran beside it (min-max in brackets). The
# target: echo and pubsub within 3 %.
# Tokens are made with /usr/bin/python3's jwt (Debian python3-jwt).
# WSRING_BUILD picks the build directory (default build/release).
set -uo pipefail
cd "$(dirname "$0")/.."

REPS=6; DUR=5; CONNECT_DUR=3; WARM=1; PS_RECV=1000
while (($#)); do
  case $1 in
    --quick) REPS=1; DUR=1; CONNECT_DUR=1; WARM=0.3; PS_RECV=200 ;;
    --reps) REPS=${2:?--reps needs a number}; shift ;;
    *) echo "usage: $0 [--quick] [--reps N]" >&2; exit 2 ;;
  esac
  shift
done
BUILD=${WSRING_BUILD:-build/release}
for b in ws-server ws-bench; do
  [[ -x $BUILD/$b ]] || { echo "bench-auth: no $b in $BUILD (make release first)"; exit 1; }
done
/usr/bin/python3 -c 'import jwt' 2>/dev/null || { echo "bench-auth: /usr/bin/python3 has no jwt module (scripts/setup.sh installs python3-jwt)"; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d /tmp/wsring-bench-auth.XXXXXX)
mkdir -p "$WORK/runs"
declare -A PORT PID
cleanup() {
  for name in "${!PID[@]}"; do kill "${PID[$name]}" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
source scripts/bench_lib.sh
T0=$SECONDS

# ---- keys, tokens, ACL ------------------------------------------------------------
SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rsa.pem" 2>/dev/null &&
  openssl pkey -in "$WORK/rsa.pem" -pubout -out "$WORK/rsa.pub.pem" 2>/dev/null ||
  { echo "bench-auth: openssl could not make an RSA key"; exit 1; }
token() {  # token ALG KEY: a token for role "bench", valid for an hour
  /usr/bin/python3 -c 'import jwt, sys, time
alg, key = sys.argv[1:]
print(jwt.encode({"sub": "bench", "roles": ["bench"], "exp": int(time.time()) + 3600}, key, algorithm=alg))' "$@"
}
HS_TOKEN=$(token HS256 "$SECRET") && RS_TOKEN=$(token RS256 "$(<"$WORK/rsa.pem")") ||
  { echo "bench-auth: could not make the tokens"; exit 1; }
# the topic is the path: "bench"; chat/* only so the ACL has more than one pattern to try
echo '{"roles": {"bench": {"subscribe": ["chat/*", "bench"], "publish": ["chat/*", "bench"]}}}' >"$WORK/acl.json"

# auth_server NAME MODE: a fresh one-thread epoll server; NAME's suffix says its auth
auth_server() {
  local args=(--mode "$2" --host 127.0.0.1 --port 0 --threads 1 --backend epoll --idle-timeout 0 --ping-interval 0)
  case $1 in
    *-hs256) args+=(--jwt-secret "$SECRET" --acl "$WORK/acl.json") ;;
    *-rs256) args+=(--jwt-public-key "$WORK/rsa.pub.pem" --acl "$WORK/acl.json") ;;
  esac
  start_server "$1" 0 "$BUILD/ws-server" "${args[@]}"
}

# run_group TAG REP MODE "NAME..." ARGS...: fresh servers NAME... (all on CPU
# 0) and, at the same time, one ws-bench per server (all on CPU 1), each with
# the token its server's suffix asks for; JSON as runs/TAG@NAME@REP.json.
# Side by side, not one after another: the variants share every second of
# the run, so whatever else the machine does (other tenants, steal, clock
# changes) falls on all of them alike and their ratio keeps what auth
# costs. (One after another, pairs of 4 s runs differed by up to ±15 % on a
# shared two-core machine; side by side, by about 1 %.) Whichever server
# and ws-bench start second come out up to 0.7 % behind even when both run
# without auth (an A/A trial: ratios 0.993-0.998), so the start and launch
# order rotate every round.
run_group() {
  local tag=$1 rep=$2 mode=$3 names=($4); shift 4
  local name hdr pids=() rcs=() i n=${#names[@]}
  for ((i = 0; i < n; i++)); do
    name=${names[(i + rep) % n]}
    if ! auth_server "$name" "$mode"; then
      for name in "${names[@]}"; do stop_server "$name"; done
      return
    fi
  done
  for ((i = 0; i < n; i++)); do
    name=${names[(i + rep) % n]}
    hdr=()
    case $name in
      *-hs256) hdr=(--header "Authorization: Bearer $HS_TOKEN") ;;
      *-rs256) hdr=(--header "Authorization: Bearer $RS_TOKEN") ;;
    esac
    timeout -k 5 120 taskset -c 1 "$BUILD/ws-bench" --url "ws://127.0.0.1:${PORT[$name]}/bench" "${hdr[@]}" \
      --server-pid "${PID[$name]}" --json "$WORK/runs/$tag@$name@$rep.json" --no-progress --quiet "$@" \
      >"$WORK/$name.out" 2>&1 &
    pids[i]=$!
  done
  for ((i = 0; i < n; i++)); do wait "${pids[i]}"; rcs[(i + rep) % n]=$?; done
  for name in "${names[@]}"; do stop_server "$name"; done
  for ((i = 0; i < n; i++)); do
    name=${names[i]}
    /usr/bin/python3 - "$WORK/runs/$tag@$name@$rep.json" "$name" "$tag" "${rcs[i]}" <<'EOF'
import json, sys
path, name, tag, rc = sys.argv[1:]
try:
    d = json.load(open(path))
except Exception:
    print("  %-22s %-11s FAILED (exit %s, no JSON)" % (tag, name, rc)); sys.exit()
s = d.get("server") or {}
print("  %-22s %-11s %10.0f/s  %10.0f per server-CPU-s  server CPU %3.0f%%  errors %d%s" % (
    tag, name, d["msgs_per_sec"], s.get("msgs_per_cpu_sec", 0), s.get("cpu_percent", 0),
    d["errors"]["total"], "" if rc == "0" else "  (exit %s)" % rc))
EOF
    if [[ ${rcs[i]} -ne 0 ]]; then sed 's/^/    /' "$WORK/$name.out" | tail -5; fi
  done
}

echo "wsring bench-auth: build $BUILD, $REPS round(s), variants side by side: servers on CPU 0, ws-bench on CPU 1"
for rep in $(seq "$REPS"); do
  echo "-- round $rep"
  run_group echo-c100-k16-s16 "$rep" echo "echo-off echo-hs256" --mode echo -c 100 -k 16 -s 16 \
    -d "$DUR" --warmup "$WARM" --connect-timeout 30
  run_group "ps-r$PS_RECV-k16-s64" "$rep" pubsub "ps-off ps-hs256" --mode broadcast -c "$PS_RECV" --publishers 1 \
    -k 16 -s 64 -d "$DUR" --warmup "$WARM" --connect-timeout 60
  run_group connect-c16 "$rep" echo "conn-off conn-hs256 conn-rs256" --mode connect -c 16 \
    -d "$CONNECT_DUR" --warmup "$WARM"
done

# ---- the table --------------------------------------------------------------------
/usr/bin/python3 - "$WORK/runs" "$REPS" <<'EOF'
import glob, json, os, statistics, sys
runs, reps = sys.argv[1], int(sys.argv[2])
data = {}  # (tag, name) -> {rep: doc}
for path in glob.glob(os.path.join(runs, "*.json")):
    tag, name, rep = os.path.basename(path)[:-5].split("@")
    try:
        data.setdefault((tag, name), {})[int(rep)] = json.load(open(path))
    except Exception:
        pass
med = lambda xs: statistics.median(xs) if xs else None
fmt = lambda v: "—" if v is None else "{:,.0f}".format(v)
rows = [("echo-c100-k16-s16", "echo, 100 conns × 16 in flight × 16 B (msgs)", ["echo-off", "echo-hs256"]),
        (None, "pub/sub broadcast, 1 publisher × 16 in flight → %s receivers × 64 B (deliveries)", ["ps-off", "ps-hs256"]),
        ("connect-c16", "connect + upgrade + close, 16 at a time (upgrades)", ["conn-off", "conn-hs256", "conn-rs256"])]
label = {"off": "off", "hs256": "HS256 + ACL", "rs256": "RS256 (2048) + ACL"}
print("\n| point | auth | per second | per server-CPU-second | server CPU | / off per CPU-s: median [min–max] of %d rounds | errors |" % reps)
print("|---|---|---:|---:|---:|---:|---:|")
worst = 0
for tag, what, names in rows:
    if tag is None:
        tag = next((t for t, _ in data if t.startswith("ps-r")), "ps-r?")
        what = what % tag.split("-")[1][1:]
    base = data.get((tag, names[0]), {})
    for name in names:
        runs_ = data.get((tag, name), {})
        if not runs_: continue
        srv = lambda d: d.get("server") or {}
        rate = med([d["msgs_per_sec"] for d in runs_.values()])
        per_cpu = med([srv(d).get("msgs_per_cpu_sec", 0) for d in runs_.values()])
        cpu = med([srv(d).get("cpu_percent", 0) for d in runs_.values()])
        errors = sum(d["errors"]["total"] for d in runs_.values())
        ratio = "—"
        if name != names[0]:
            rs = [srv(runs_[r]).get("msgs_per_cpu_sec", 0) / srv(base[r])["msgs_per_cpu_sec"]
                  for r in runs_ if r in base and srv(base[r]).get("msgs_per_cpu_sec")]
            if rs:
                ratio = "%.3f [%.3f–%.3f]" % (med(rs), min(rs), max(rs))
                if not tag.startswith("connect"): worst = max(worst, abs(1 - med(rs)))
        print("| %s | %s | %s | %s | %.0f %% | %s | %d |" % (what, label[name.split("-")[1]], fmt(rate), fmt(per_cpu),
                                                          cpu, ratio, errors))
print("\necho and pub/sub with auth on: %.1f %% from auth off per server-CPU-second (median of paired rounds; target: within 3 %%)"
      % (100 * worst))
EOF
echo "bench-auth: done in $((SECONDS - T0)) s"
