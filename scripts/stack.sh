#!/usr/bin/env bash
# Local stack of REAL servers for bitsync tests and demos:
#   - Redis       (redis-server, 127.0.0.1, dynamic port)
#   - MariaDB     (mariadbd, 127.0.0.1, dynamic port, db/user/password "bitsync")
#   - Kafka proto (librdkafka's mock cluster, 3 brokers, hosted by a kcat process)
#   - Redis Cluster (3 redis-server masters, each with one replica, 127.0.0.1, dynamic ports)
#
# Usage: bash scripts/stack.sh up|down|env|status
#   up      install missing packages (apt-get), start what isn't running, wait until ready.
#           Progress goes to stderr; nothing is printed on stdout.
#   env     print `export VAR='value'` lines for REDIS_URL, MYSQL_URL, KAFKA_BROKERS and
#           BITSYNC_STACK_CLUSTER_NODES:
#             eval "$(bash scripts/stack.sh env)"
#   down    stop the processes this script started (data is kept).
#   status  one line per service: running / stopped / external.
#
# A service whose variable (REDIS_URL, MYSQL_URL, KAFKA_BROKERS, BITSYNC_STACK_CLUSTER_NODES) is
# already set, non-empty and not a value this stack handed out itself, is "external": nothing
# is started (or stopped) for it and `env` passes the value through. (Our own values - e.g.
# after an earlier `eval "$(stack.sh env)"`, even stale ones - still count as ours, so the
# shell you eval'd in can keep using up/down/env.)
#
# All state and logs live in one folder: $BITSYNC_STACK_DIR, default <repo>/.stack/. Ports
# are chosen dynamically and remembered there, so several clones can run their own stacks.
# The Kafka mock's ports change on every (re)start of that process: re-run the eval then.
# The Redis Cluster keeps its ports too, but not its data: every start of it creates a new,
# empty cluster (no persistence, like the single Redis).
#
# Knobs: BITSYNC_STACK_TIMEOUT (readiness wait per server, default 60 s),
#        BITSYNC_STACK_KAFKA_DEBUG=1 (start kcat with `-d mock`: logs every request).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${BITSYNC_STACK_DIR:-$REPO_ROOT/.stack}
TIMEOUT=${BITSYNC_STACK_TIMEOUT:-60}   # seconds to wait for each server to get ready
# mariadbd and mariadb-install-db live in sbin, not always on a non-root user's PATH.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# helpers

# Single-quote a value so the output of `env` is safe for eval in any POSIX shell.
shquote() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

# kill -0 also succeeds on zombies, and whatever reaps orphans (PID 1) may do so late.
alive() { kill -0 "$1" 2>/dev/null && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"; }

# Is PID alive and does its command line contain every given pattern? PIDs get reused, so
# a bare `kill -0` could make us adopt (or kill!) an unrelated process.
pid_matches() {
  local pid=$1 cmdline pat; shift
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  for pat in "$@"; do [[ $cmdline == *"$pat"* ]] || return 1; done
}

# Print the PID recorded in pidfile $1 if that process is alive and matches the patterns;
# otherwise remove the stale pidfile and fail.
live_pid() {
  local pidfile=$1 pid; shift
  [[ -s $pidfile ]] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  if pid_matches "$pid" "$@"; then echo "$pid"; return 0; fi
  rm -f "$pidfile"
  return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ask the kernel for a free port (bind to port 0). Racy by nature, but the window is tiny.
pick_free_port() {
  if command -v node >/dev/null; then
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  elif command -v python3 >/dev/null; then
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
  else
    local p; for _ in $(seq 200); do p=$((20000 + RANDOM % 40000)); port_in_use "$p" || { echo "$p"; return; }; done
    die "could not find a free port"
  fi
}

# Port remembered in $1 (so URLs stay stable across restarts), or a new free one if none
# was recorded yet or someone else took it meanwhile.
choose_port() {
  local file=$1 port=""
  [[ -s $file ]] && port=$(tr -dc '0-9' <"$file")
  if [[ -n $port ]] && port_in_use "$port"; then
    log "port $port (from $file) is taken by another process; picking a new one"
    port=""
  fi
  [[ -n $port ]] || port=$(pick_free_port)
  echo "$port" >"$file"
  echo "$port"
}

# Close every fd above 2 that we inherited (our lock on fd 9, and whatever a CI runner or
# terminal passed down). A daemon holding such an fd would keep the caller's pipe open
# (`stack.sh up | cat` in CI would hang) or keep our lock held forever.
close_inherited_fds() {
  local fd
  for fd in "/proc/$BASHPID/fd/"*; do
    fd=${fd##*/}
    if ((fd > 2)); then exec {fd}>&-; fi
  done
}

# Start a long-running program fully detached in the background: own session (setsid),
# stdin from /dev/null, stdout/stderr to its log, no other inherited fd. Sets SPAWNED_PID.
# The subshell execs setsid, which execs the program (a background job is never a
# process-group leader, so setsid doesn't fork): $! is the daemon's own PID.
spawn() {
  local logfile=$1; shift
  ( close_inherited_fds; exec setsid "$@" </dev/null >>"$logfile" 2>&1 ) &
  SPAWNED_PID=$!
}

# Poll `$@` until it succeeds; fail after $TIMEOUT s, or early if process $pid died.
wait_until() {
  local what=$1 pid=$2 logfile=$3; shift 3
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if [[ -n $pid ]] && ! alive "$pid"; then
      die "$what exited during startup; see $logfile"
    fi
    ((SECONDS < deadline)) || die "$what not ready after ${TIMEOUT}s; see $logfile"
    sleep 0.25
  done
}

# TERM, wait up to ~15 s, then KILL.
stop_pid() {
  local name=$1 pid=$2
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 60); do alive "$pid" || return 0; sleep 0.25; done
  log "$name did not exit after 15s; sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 20); do alive "$pid" || return 0; sleep 0.25; done
}

# ---------------------------------------------------------------------------------------
# per-service knowledge: state files, "our" URL, how to recognise our process

REDIS_DIR=$STATE/redis
REDIS_PIDFILE=$STATE/redis.pid
REDIS_PORTFILE=$STATE/redis.port
REDIS_LOG=$STATE/redis.log

MARIADB_DIR=$STATE/mariadb
MARIADB_DATA=$MARIADB_DIR/data
MARIADB_PIDFILE=$STATE/mariadb.pid
MARIADB_PORTFILE=$STATE/mariadb.port
MARIADB_LOG=$STATE/mariadb.log
MARIADB_SOCK=$STATE/mariadb.sock
# A unix socket path is limited to ~107 bytes; fall back to /tmp for deeply nested clones.
if ((${#MARIADB_SOCK} > 100)); then
  MARIADB_SOCK=/tmp/bitsync-mariadb-$(printf %s "$STATE" | md5sum | cut -c1-12).sock
fi

KAFKA_PIDFILE=$STATE/kafka.pid
KAFKA_BROKERSFILE=$STATE/kafka.brokers
KAFKA_LOG=$STATE/kafka.log

# Redis Cluster: nodes 1..3, each with a client port and a cluster bus port. The bus port is
# chosen like the others and passed with --cluster-port: the default (client port + 10000)
# may be taken, or over 65535 for a high dynamic port. Node N keeps its ports in
# redis-cluster-N.port/.busport, its PID in redis-cluster-N.pid, its log in redis-cluster-N.log.
CLUSTER_DIR=$STATE/redis-cluster
CLUSTER_LOG=$STATE/redis-cluster.log   # redis-cli --cluster create
CLUSTER_NODES=(1 2 3 4 5 6)   # redis-cli --cluster create makes 1-3 masters, 4-6 their replicas
cluster_file() { echo "$STATE/redis-cluster-$1.$2"; }   # node, suffix

redis_our_url()   { [[ -s $REDIS_PORTFILE ]] && echo "redis://127.0.0.1:$(<"$REDIS_PORTFILE")"; }
mariadb_our_url() { [[ -s $MARIADB_PORTFILE ]] && echo "mysql://bitsync:bitsync@127.0.0.1:$(<"$MARIADB_PORTFILE")/bitsync"; }
kafka_our_url()   { [[ -s $KAFKA_BROKERSFILE ]] && cat "$KAFKA_BROKERSFILE"; }

# The client ports of the cluster nodes, one per line, if all are recorded.
cluster_ports() {
  local i f
  for i in "${CLUSTER_NODES[@]}"; do
    f=$(cluster_file "$i" port); [[ -s $f ]] || return 1; tr -dc '0-9' <"$f"; echo
  done
}
redis_cluster_our_url() {
  local ports p nodes=()
  ports=$(cluster_ports) || return 1
  for p in $ports; do nodes+=("127.0.0.1:$p"); done
  local IFS=,; echo "${nodes[*]}"
}

# redis-server rewrites its process title to "redis-server 127.0.0.1:PORT".
redis_pid()   { [[ -s $REDIS_PORTFILE ]] && live_pid "$REDIS_PIDFILE" redis-server ":$(<"$REDIS_PORTFILE")"; }
mariadb_pid() { live_pid "$MARIADB_PIDFILE" mariadbd "--datadir=$MARIADB_DATA"; }
kafka_pid()   { live_pid "$KAFKA_PIDFILE" kcat test.mock.num.brokers bitsync-probe; }

# PID of cluster node $1 if alive. Once started its title is "redis-server 127.0.0.1:PORT
# [cluster]"; until then (a node hung early in startup) its command line is still our argv.
cluster_node_pid() {
  local pidfile port pid
  pidfile=$(cluster_file "$1" pid)
  [[ -s $pidfile && -s $(cluster_file "$1" port) ]] || return 1
  port=$(tr -dc '0-9' <"$(cluster_file "$1" port)")
  pid=$(tr -dc '0-9' <"$pidfile")
  if pid_matches "$pid" redis-server "127.0.0.1:$port [cluster]" \
    || pid_matches "$pid" redis-server "--port $port " "--cluster-enabled yes"; then
    echo "$pid"; return 0
  fi
  rm -f "$pidfile"
  return 1
}
# The PIDs of all cluster nodes (space-separated); fails unless every node is alive.
redis_cluster_pid() {
  local i pid pids=()
  for i in "${CLUSTER_NODES[@]}"; do pid=$(cluster_node_pid "$i") || return 1; pids+=("$pid"); done
  echo "${pids[*]}"
}

# Service names map to their variable: redis->REDIS_URL, mariadb->MYSQL_URL,
# kafka->KAFKA_BROKERS, redis_cluster->BITSYNC_STACK_CLUSTER_NODES.
var_of() {
  case $1 in
    redis) echo REDIS_URL ;; mariadb) echo MYSQL_URL ;; kafka) echo KAFKA_BROKERS ;;
    redis_cluster) echo BITSYNC_STACK_CLUSTER_NODES ;;
  esac
}

# Every value `env` could ever have printed for this stack is remembered in $ISSUED, one
# "VAR=value" per line. A preset variable is "external" only if it is non-empty and NOT one
# of those: after `eval "$(stack.sh env)"`, up/down/env must still manage our own services,
# even once a value went stale (the kafka mock gets new ports on every restart).
ISSUED=$STATE/issued
remember_value() {
  local line
  line="$(var_of "$1")=$2"
  grep -qxF -e "$line" "$ISSUED" 2>/dev/null || echo "$line" >>"$ISSUED"
}
is_external() {
  local var value
  var=$(var_of "$1"); value=${!var:-}
  [[ -n $value ]] || return 1
  ! grep -qxF -e "$var=$value" "$ISSUED" 2>/dev/null
}

SERVICES=(redis mariadb kafka redis_cluster)

# ---------------------------------------------------------------------------------------
# installation

ensure_packages() {
  local -a pkgs=()
  { is_external redis && is_external redis_cluster; } \
    || { command -v redis-server && command -v redis-cli; } >/dev/null || pkgs+=(redis-server)
  is_external mariadb || { command -v mariadbd && command -v mariadb-install-db && command -v mariadb; } >/dev/null || pkgs+=(mariadb-server)
  is_external kafka   || command -v kcat >/dev/null || pkgs+=(kcat)
  ((${#pkgs[@]})) || return 0

  local -a sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "need to install ${pkgs[*]} but not root and no sudo"
    sudo=(sudo)
  fi
  # Debian's postinst scripts would start the distro instances (via invoke-rc.d). We run our
  # own instances, so forbid that with policy-rc.d (exit 101 = "action not allowed"). Only
  # remove the file afterwards if we created it (Docker images often ship one already).
  local policy=/usr/sbin/policy-rc.d created_policy=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, from bitsync scripts/stack.sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    created_policy=1
    # Expanded now on purpose: remove it even if apt-get fails and we exit early.
    # shellcheck disable=SC2064
    trap "${sudo[*]} rm -f '$policy'" EXIT
  fi
  log "installing ${pkgs[*]} (apt-get; output in $STATE/apt.log)"
  # `env VAR=...` rather than a VAR=... prefix: sudo would drop the latter. The lock timeout
  # lets two clones installing at the same moment wait for each other instead of failing.
  local -a apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
  if ! { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "${pkgs[@]}"; } \
      </dev/null >"$STATE/apt.log" 2>&1; then
    die "apt-get failed; see $STATE/apt.log"
  fi
  if [[ -n $created_policy ]]; then "${sudo[@]}" rm -f "$policy"; trap - EXIT; fi
}

ensure_gitignore() {
  # Only meaningful for the default in-repo state dir.
  [[ $STATE == "$REPO_ROOT/.stack" ]] || return 0
  local gi=$REPO_ROOT/.gitignore
  if [[ -f $gi ]] && grep -qxF -e '.stack/' -e '.stack' -e '/.stack/' -e '/.stack' "$gi"; then return 0; fi
  # Append (never overwrite: someone else may maintain this file), adding a newline first if
  # the file lacks a trailing one.
  if [[ -s $gi && -n $(tail -c1 "$gi") ]]; then echo >>"$gi"; fi
  echo '.stack/' >>"$gi"
}

# ---------------------------------------------------------------------------------------
# up

redis_up() {
  local pid port
  if pid=$(redis_pid); then log "redis already running (pid $pid, $(redis_our_url))"; return; fi
  port=$(choose_port "$REDIS_PORTFILE")
  mkdir -p "$REDIS_DIR"
  log "starting redis on 127.0.0.1:$port"
  # --daemonize: redis forks, detaches and writes the pidfile itself. No persistence needed.
  # Pre-daemonize errors (bad option, port taken) go to stderr, so send that to the log too.
  # shellcheck disable=SC2094
  ( close_inherited_fds
    exec setsid redis-server --bind 127.0.0.1 --port "$port" --daemonize yes \
      --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" --dir "$REDIS_DIR" \
      --save '' --appendonly no </dev/null >>"$REDIS_LOG" 2>&1
  ) || die "redis-server failed to start; see $REDIS_LOG"
  wait_until "redis" "" "$REDIS_LOG" redis-cli -h 127.0.0.1 -p "$port" ping
  wait_until "redis pidfile" "" "$REDIS_LOG" redis_pid
  log "redis ready"
}

mariadb_sql_root() {
  # Over the unix socket, the OS user (root) authenticates via unix_socket auth.
  mariadb --no-defaults --protocol=socket --socket="$MARIADB_SOCK" -u "$(id -un)" "$@"
}

mariadb_up() {
  local pid port user
  port=""
  if [[ -s $MARIADB_PORTFILE ]]; then port=$(<"$MARIADB_PORTFILE"); fi
  if pid=$(mariadb_pid); then
    log "mariadb already running (pid $pid, port $port)"
  else
    port=$(choose_port "$MARIADB_PORTFILE")
    user=$(id -un)   # mariadbd refuses to run as root unless told --user=root
    mkdir -p "$MARIADB_DIR"
    if [[ ! -d $MARIADB_DATA/mysql ]]; then
      log "initialising mariadb datadir $MARIADB_DATA"
      rm -rf "$MARIADB_DATA"
      # --no-defaults: ignore /etc/mysql/*.cnf (distro socket/datadir paths).
      mariadb-install-db --no-defaults --user="$user" --datadir="$MARIADB_DATA" \
        --auth-root-authentication-method=socket --skip-test-db \
        </dev/null >>"$MARIADB_LOG" 2>&1 \
        || die "mariadb-install-db failed; see $MARIADB_LOG"
    fi
    log "starting mariadb on 127.0.0.1:$port"
    rm -f "$MARIADB_SOCK"
    spawn "$MARIADB_LOG" mariadbd --no-defaults --user="$user" --datadir="$MARIADB_DATA" \
      --bind-address=127.0.0.1 --port="$port" --socket="$MARIADB_SOCK" \
      --pid-file="$MARIADB_PIDFILE" --log-error="$MARIADB_LOG" \
      --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
      --max-allowed-packet=1G --innodb-log-file-size=512M --innodb-buffer-pool-size=1G
    pid=$SPAWNED_PID
    # max-allowed-packet: a whole audience bitmap travels as one BLOB (tens of MB); the log
    # file size keeps InnoDB from refusing rows that large; the buffer pool holds the bench's
    # copies of a 25 MB audience in memory, as a warehouse would (the default 128M evicts them,
    # and the bench then times the disk).
    # Record the PID now (mariadbd rewrites the same value later) so `down` works even if
    # startup hangs.
    echo "$pid" >"$MARIADB_PIDFILE"
    wait_until "mariadb" "$pid" "$MARIADB_LOG" mariadb_sql_root -e 'select 1'
  fi
  # Idempotent, so run it on every `up` (cheap, and repairs a half-initialised datadir).
  # Databases bitsync_% are allowed too, so tests can create isolated databases.
  mariadb_sql_root --batch <<'SQL' || die "mariadb user/database setup failed; see $MARIADB_LOG"
CREATE DATABASE IF NOT EXISTS bitsync;
CREATE USER IF NOT EXISTS 'bitsync'@'127.0.0.1' IDENTIFIED BY 'bitsync';
CREATE USER IF NOT EXISTS 'bitsync'@'localhost' IDENTIFIED BY 'bitsync';
GRANT ALL PRIVILEGES ON `bitsync`.* TO 'bitsync'@'127.0.0.1', 'bitsync'@'localhost';
GRANT ALL PRIVILEGES ON `bitsync\_%`.* TO 'bitsync'@'127.0.0.1', 'bitsync'@'localhost';
SQL
  wait_until "mariadb (as bitsync over TCP)" "" "$MARIADB_LOG" \
    mariadb --no-defaults -h 127.0.0.1 -P "$port" -u bitsync -pbitsync bitsync -e 'select 1'
  log "mariadb ready"
}

kafka_brokers_reachable() {
  local b brokers
  brokers=$(kafka_our_url) || return 1
  [[ -n $brokers ]] || return 1
  IFS=, read -ra b <<<"$brokers"
  for b in "${b[@]}"; do
    (exec 3<>"/dev/tcp/${b%:*}/${b##*:}") 2>/dev/null || return 1
  done
}

# First "HOST:PORT,HOST:PORT,..." list librdkafka logged for the mock cluster, if any yet.
kafka_parse_bootstrap() {
  sed -nE 's/.*(replaced with |bootstrap\.servers=)([0-9.]+:[0-9]+(,[0-9.]+:[0-9]+)*).*/\2/p' "$KAFKA_LOG" \
    | sed -n 1p
}

kafka_up() {
  local pid deadline brokers
  if pid=$(kafka_pid) && kafka_brokers_reachable; then
    log "kafka mock cluster already running (pid $pid, $(kafka_our_url))"
    return
  fi
  [[ -n ${pid:-} ]] && { log "kafka mock (pid $pid) has unreachable brokers; restarting"; stop_pid kafka "$pid"; }
  rm -f "$KAFKA_PIDFILE" "$KAFKA_BROKERSFILE"
  log "starting kafka mock cluster (kcat + librdkafka test.mock.num.brokers=3)"
  # With test.mock.num.brokers set, librdkafka ignores bootstrap.servers (x:1) and starts an
  # in-process 3-broker cluster on random 127.0.0.1 ports; it lives as long as this kcat
  # consumer runs. librdkafka logs the real bootstrap list at NOTICE level ("...replaced with
  # HOST:PORT,..."), which we parse. We don't pass `-d mock` by default: it logs every
  # request (~1.3 KB/s while idle), so the log would grow without bound.
  # BITSYNC_STACK_KAFKA_DEBUG=1 turns it on (it then also logs "bootstrap.servers=...").
  local -a debug=()
  [[ ${BITSYNC_STACK_KAFKA_DEBUG:-} == 1 ]] && debug=(-d mock)
  : >"$KAFKA_LOG"   # fresh log, so we never parse a previous run's ports
  spawn "$KAFKA_LOG" kcat -b x:1 -C -t bitsync-probe -X test.mock.num.brokers=3 "${debug[@]}"
  pid=$SPAWNED_PID
  echo "$pid" >"$KAFKA_PIDFILE"
  deadline=$((SECONDS + TIMEOUT))
  until brokers=$(kafka_parse_bootstrap) && [[ -n $brokers ]]; do
    alive "$pid" || die "kcat exited during startup; see $KAFKA_LOG"
    ((SECONDS < deadline)) || die "no mock bootstrap servers in $KAFKA_LOG after ${TIMEOUT}s"
    sleep 0.25
  done
  echo "$brokers" >"$KAFKA_BROKERSFILE"
  wait_until "kafka mock brokers" "$pid" "$KAFKA_LOG" kafka_brokers_reachable
  log "kafka ready ($brokers)"
  if [[ -n ${KAFKA_BROKERS:-} && $KAFKA_BROKERS != "$brokers" ]]; then
    log "note: the mock cluster got new ports; re-run eval \"\$(bash ${BASH_SOURCE[0]} env)\""
  fi
}

# Does every node given by client port report cluster_state:ok?
# Every node says cluster_state:ok, and every replica's link to its master is up (synced).
cluster_ok() {
  local port info
  for port in "$@"; do
    redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    info=$(redis-cli -h 127.0.0.1 -p "$port" info replication 2>/dev/null) || return 1
    if grep -q '^role:slave' <<<"$info"; then grep -q '^master_link_status:up' <<<"$info" || return 1; fi
  done
}

# Stop whichever cluster nodes of ours are alive; fails if none was.
cluster_stop() {
  local i pid stopped=1
  for i in "${CLUSTER_NODES[@]}"; do
    if pid=$(cluster_node_pid "$i"); then stop_pid "redis cluster node $i" "$pid"; stopped=0; fi
    rm -f "$(cluster_file "$i" pid)"
  done
  return $stopped
}

redis_cluster_up() {
  local i port pids f
  local -a ports=() taken=() nodes=()
  if pids=$(redis_cluster_pid) && mapfile -t ports < <(cluster_ports) && cluster_ok "${ports[@]}"; then
    log "redis cluster already running (pids $pids, $(redis_cluster_our_url))"
    return
  fi
  # Nothing is persisted, so a cluster that is partly down is simply made anew.
  if cluster_stop; then log "stopped the nodes of an incomplete or unhealthy redis cluster"; fi
  mkdir -p "$CLUSTER_DIR"
  rm -f "$CLUSTER_DIR"/nodes-*.conf   # stale node IDs and slots would keep the nodes apart
  # Every port first (client and bus, per node), distinct from each other (none is bound yet when the next is picked).
  for i in "${CLUSTER_NODES[@]}"; do
    for f in port busport; do
      f=$(cluster_file "$i" "$f")
      port=$(choose_port "$f")
      while [[ " ${taken[*]} " == *" $port "* ]]; do rm -f "$f"; port=$(choose_port "$f"); done
      taken+=("$port")
    done
  done
  ports=()
  for i in "${CLUSTER_NODES[@]}"; do
    port=$(<"$(cluster_file "$i" port)")
    log "starting redis cluster node $i on 127.0.0.1:$port (bus port $(<"$(cluster_file "$i" busport)"))"
    spawn "$(cluster_file "$i" log)" redis-server --bind 127.0.0.1 --port "$port" \
      --cluster-enabled yes --cluster-port "$(<"$(cluster_file "$i" busport)")" \
      --cluster-config-file "$CLUSTER_DIR/nodes-$port.conf" --dir "$CLUSTER_DIR" \
      --save '' --appendonly no
    echo "$SPAWNED_PID" >"$(cluster_file "$i" pid)"
    ports+=("$port"); nodes+=("127.0.0.1:$port")
  done
  for i in "${CLUSTER_NODES[@]}"; do
    wait_until "redis cluster node $i" "$(<"$(cluster_file "$i" pid)")" "$(cluster_file "$i" log)" \
      redis-cli -h 127.0.0.1 -p "${ports[i - 1]}" ping
  done
  log "creating the redis cluster (3 masters, 3 replicas; output in $CLUSTER_LOG)"
  timeout "$TIMEOUT" redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes \
    </dev/null >>"$CLUSTER_LOG" 2>&1 || die "redis-cli --cluster create failed; see $CLUSTER_LOG"
  wait_until "redis cluster (cluster_state:ok on every node)" "" "$CLUSTER_LOG" cluster_ok "${ports[@]}"
  log "redis cluster ready ($(redis_cluster_our_url))"
}

cmd_up() {
  mkdir -p "$STATE"
  # Serialise concurrent `up`/`down` on the same state dir. fd 9 is closed in every daemon.
  exec 9>"$STATE/lock"
  flock -w 600 9 || die "timed out waiting for lock $STATE/lock"
  ensure_gitignore
  ensure_packages
  local s
  for s in "${SERVICES[@]}"; do
    if is_external "$s"; then
      local var; var=$(var_of "$s")
      log "$s: using external $var=${!var}"
    else
      "${s}_up"
      remember_value "$s" "$("${s}_our_url")"
    fi
  done
  log "stack is up; use: eval \"\$(bash ${BASH_SOURCE[0]} env)\""
}

# ---------------------------------------------------------------------------------------
# env / status / down

cmd_env() {
  local s var value missing=()
  local -a lines=()
  for s in "${SERVICES[@]}"; do
    var=$(var_of "$s")
    if is_external "$s"; then
      value=${!var}
    elif "${s}_pid" >/dev/null 2>&1; then
      value=$("${s}_our_url")
    else
      missing+=("$s"); continue
    fi
    lines+=("export $var=$(shquote "$value")")
  done
  if ((${#missing[@]})); then
    die "not running: ${missing[*]}; run: bash ${BASH_SOURCE[0]} up"
  fi
  printf '%s\n' "${lines[@]}"
}

cluster_status() {
  local i pid pids=() ports=()
  for i in "${CLUSTER_NODES[@]}"; do
    if pid=$(cluster_node_pid "$i" 2>/dev/null); then pids+=("$pid"); fi
  done
  if ((${#pids[@]} == ${#CLUSTER_NODES[@]})); then
    mapfile -t ports < <(cluster_ports)
    if cluster_ok "${ports[@]}"; then
      echo "redis_cluster: running (pids ${pids[*]}, $(redis_cluster_our_url))"
    else
      echo "redis_cluster: running (pids ${pids[*]}, $(redis_cluster_our_url); cluster_state not ok: run up)"
    fi
  elif ((${#pids[@]})); then
    echo "redis_cluster: stopped (${#pids[@]} of ${#CLUSTER_NODES[@]} nodes alive, pids ${pids[*]}: up remakes it, down stops them)"
  else
    echo "redis_cluster: stopped"
  fi
}

cmd_status() {
  local s var pid
  for s in "${SERVICES[@]}"; do
    var=$(var_of "$s")
    if is_external "$s"; then
      echo "$s: external ($var=${!var})"
    elif [[ $s == redis_cluster ]]; then
      cluster_status
    elif pid=$("${s}_pid" 2>/dev/null); then
      echo "$s: running (pid $pid, $("${s}_our_url"))"
    else
      echo "$s: stopped"
    fi
  done
}

cmd_down() {
  [[ -d $STATE ]] || { log "nothing to stop ($STATE does not exist)"; return 0; }
  exec 9>"$STATE/lock"
  flock -w 600 9 || die "timed out waiting for lock $STATE/lock"
  # Only PIDs we recorded, and only if the cmdline still matches (see pid_matches). An
  # external service (given via env var) never has a pidfile here, so it is never touched.
  local s pid pidfile
  for s in "${SERVICES[@]}"; do
    if [[ $s == redis_cluster ]]; then
      cluster_stop || log "$s: not running"
      continue
    fi
    case $s in redis) pidfile=$REDIS_PIDFILE ;; mariadb) pidfile=$MARIADB_PIDFILE ;; kafka) pidfile=$KAFKA_PIDFILE ;; esac
    if pid=$("${s}_pid"); then
      stop_pid "$s" "$pid"
    else
      log "$s: not running"
    fi
    rm -f "$pidfile"
  done
  rm -f "$MARIADB_SOCK"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *) echo "usage: bash $0 up|down|env|status" >&2; exit 2 ;;
esac
