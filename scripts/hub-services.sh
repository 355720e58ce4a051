#!/usr/bin/env bash
# hub-services.sh: the throwaway services behind `muse serve`'s scale-out
# tier (muse-hub's `scaleout` module): PostgreSQL (refs, metadata, the pack
# index) and Garage, an S3-compatible object store (packs of blobs and
# records, uploaded MPacks). For development, tests and CI on one machine;
# a production hub points the same environment variables at real services.
#
#   scripts/hub-services.sh start    install what is missing, start both
#                                    (idempotent: already running -> only
#                                    prints the environment), then print
#                                    the `export` lines below as the last
#                                    lines of stdout
#   scripts/hub-services.sh env      print the `export` lines again
#   scripts/hub-services.sh status   say what runs (exit 0 when both run)
#   scripts/hub-services.sh stop     stop both; the state directory is
#                                    KEPT, so the next `start` resumes
#                                    with the same data, ports and keys
#   scripts/hub-services.sh purge    stop both and delete the state dir
#
# Typical use:   eval "$(scripts/hub-services.sh start)"
#                cargo test -p muse-hub --test scaleout_store
#
# The exports:
#   MUSE_HUB_DATABASE_URL   postgres://musehub:<password>@127.0.0.1:<port>/musehub
#   MUSE_HUB_S3_ENDPOINT    http://127.0.0.1:<port>  (Garage's S3 API)
#   MUSE_HUB_S3_BUCKET      muse-hub
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   a Garage key with read+write
#                           on that bucket
#   AWS_REGION              garage (Garage's region name)
# Progress and diagnostics go to stderr, so `eval "$(... start)"` works.
#
# What runs, all bound to 127.0.0.1 only, everything under the state dir
# ${MUSE_HUB_STATE:-/tmp/muse-hub-services}:
#
# * PostgreSQL from Debian's package (`apt-get install -y postgresql` when
#   initdb/pg_ctl are missing; binaries in /usr/lib/postgresql/<ver>/bin).
#   A fresh cluster made by initdb in $STATE/pg/data, run as the
#   unprivileged system user `musehub` (created when missing; PostgreSQL
#   refuses to run as root; when this script is not run as root, the
#   cluster runs as the invoking user instead). Port: $MUSE_HUB_PG_PORT or
#   the first free one from 25432; the Unix socket lives in $STATE/pg/sock.
#   Database `musehub`, role `musehub` with a random password
#   (scram-sha-256 on TCP; trust only on the private Unix socket).
# * Garage, pinned to version $GARAGE_VERSION below, installed with
#   `cargo install garage --locked --version $GARAGE_VERSION` when `garage`
#   is not on PATH (or in ~/.cargo/bin) or reports another version (the
#   build takes 11-35 minutes on 2 cores; an installed binary of the pinned
#   version is reused). A separate process driven by its own CLI, never
#   linked into muse. One node: $STATE/garage/garage.toml with
#   db_engine = "sqlite", replication_factor = 1, a random rpc_secret, RPC /
#   S3 API / admin API on free loopback ports (from 23901 / 23900 / 23903,
#   or $MUSE_HUB_GARAGE_{RPC,S3,ADMIN}_PORT); then `layout assign` +
#   `layout apply`, `bucket create muse-hub`, `key create muse-hub-key`,
#   `bucket allow --read --write`.
#
# Ports, password and keys chosen by the first `start` are kept in the state
# dir and reused by later starts. The default ports sit below Linux's
# ephemeral range (32768-60999), where an outgoing connection's local port
# could make a listener's bind fail. Needs bash, root (or sudo) for the
# installs and the system user, and the Debian archive / crates.io for them.
set -euo pipefail

GARAGE_VERSION="2.5.0"
STATE="${MUSE_HUB_STATE:-/tmp/muse-hub-services}"
BUCKET="muse-hub"
KEY_NAME="muse-hub-key"
REGION="garage"
PG_USER_SYS="musehub"

log() { echo "hub-services: $*" >&2; }
die() { log "error: $*"; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# ---------------------------------------------------------------- helpers

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# First free loopback port at or after $1 (not in the exclusion list $2...).
free_port() {
    local p="$1"; shift
    while :; do
        local taken=0
        for x in "$@"; do [ "$x" = "$p" ] && taken=1; done
        if [ "$taken" = 0 ] && ! port_in_use "$p"; then echo "$p"; return; fi
        p=$((p + 1))
        [ "$p" -lt 65000 ] || die "no free port found"
    done
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

pid_alive() { [ -f "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

# ------------------------------------------------------------- PostgreSQL

pg_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}

ensure_postgres_installed() {
    if ! pg_bindir >/dev/null; then
        log "installing PostgreSQL (apt-get install -y postgresql)"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq >&2
        $SUDO apt-get install -y -qq postgresql >&2
        # Debian's package starts its own cluster on 5432; this script does
        # not use it (it may keep running, it is bound to localhost).
    fi
    PGBIN="$(pg_bindir)" || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin"
}

# The account the cluster runs as: `musehub` under root, else ourselves.
pg_run() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$PG_USER_SYS" -- "$@"
    else
        "$@"
    fi
}

ensure_pg_user() {
    if [ "$(id -u)" = 0 ] && ! id "$PG_USER_SYS" >/dev/null 2>&1; then
        log "creating system user $PG_USER_SYS (PostgreSQL refuses to run as root)"
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER_SYS"
    fi
}

pg_dir() { echo "$STATE/pg"; }

pg_running() { [ -f "$(pg_dir)/data/postmaster.pid" ] && pg_run "$PGBIN/pg_ctl" -D "$(pg_dir)/data" status >/dev/null 2>&1; }

start_postgres() {
    ensure_postgres_installed
    ensure_pg_user
    local dir; dir="$(pg_dir)"
    mkdir -p "$dir"
    chmod 755 "$STATE"
    if [ ! -f "$dir/port" ]; then
        free_port "${MUSE_HUB_PG_PORT:-25432}" >"$dir/port"
    fi
    PG_PORT="$(cat "$dir/port")"
    if [ ! -f "$dir/password" ]; then
        random_hex 16 >"$dir/password"
    fi
    PG_PASSWORD="$(cat "$dir/password")"
    if [ "$(id -u)" = 0 ]; then chown -R "$PG_USER_SYS" "$dir"; fi
    chmod 700 "$dir"
    pg_run test -w "$dir" \
        || die "user $PG_USER_SYS cannot reach $dir: put the state dir (MUSE_HUB_STATE) where every parent directory is traversable (e.g. under /tmp or /var/lib)"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        log "initdb: a new cluster in $dir/data"
        pg_run mkdir -p "$dir/sock"
        pg_run "$PGBIN/initdb" -D "$dir/data" -U musehub --pwfile="$dir/password" \
            --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
        cat >>"$dir/data/postgresql.conf" <<EOF

# hub-services.sh: loopback only, private socket directory
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir/sock'
max_connections = 200
EOF
        # TCP from 127.0.0.1 only, with the password.
        cat >"$dir/data/pg_hba.conf" <<EOF
local   all   all                  trust
host    all   all   127.0.0.1/32   scram-sha-256
EOF
    fi
    if pg_running; then
        log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
    else
        if port_in_use "$PG_PORT"; then die "port $PG_PORT (PostgreSQL) is taken by another process"; fi
        log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
        pg_run "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >&2 9>&- \
            || { tail -n 30 "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
    fi
    if ! pg_run "$PGBIN/psql" -h "$dir/sock" -p "$PG_PORT" -U musehub -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'musehub'" | grep -q 1; then
        pg_run "$PGBIN/createdb" -h "$dir/sock" -p "$PG_PORT" -U musehub musehub
    fi
}

stop_postgres() {
    PGBIN="$(pg_bindir)" || return 0
    local dir; dir="$(pg_dir)"
    [ -f "$dir/data/PG_VERSION" ] || return 0
    if pg_running; then
        log "stopping PostgreSQL"
        pg_run "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    fi
}

# ----------------------------------------------------------------- Garage

find_garage() {
    if command -v garage >/dev/null 2>&1; then command -v garage; return 0; fi
    local c="${CARGO_HOME:-$HOME/.cargo}/bin/garage"
    if [ -x "$c" ]; then echo "$c"; return 0; fi
    return 1
}

# `garage --version` prints "garage v2.5.0 …" (release builds) or
# "garage cargo:2.5.0 …" (cargo install).
garage_version_ok() { "$1" --version 2>/dev/null | grep -Eq "(v|cargo:)${GARAGE_VERSION//./\\.}( |$)"; }

ensure_garage_installed() {
    local g=""
    if g="$(find_garage)" && garage_version_ok "$g"; then
        GARAGE="$g"
        return
    fi
    command -v cargo >/dev/null 2>&1 || die "garage $GARAGE_VERSION is not installed and cargo is not available"
    log "installing garage $GARAGE_VERSION with cargo install (11-35 minutes on 2 cores; log: $STATE/garage-install.log)"
    mkdir -p "$STATE"
    cargo install garage --locked --version "$GARAGE_VERSION" >"$STATE/garage-install.log" 2>&1 \
        || { tail -n 30 "$STATE/garage-install.log" >&2; die "cargo install garage failed"; }
    g="$(find_garage)" || die "garage not found after cargo install"
    garage_version_ok "$g" || die "$g does not report version $GARAGE_VERSION"
    GARAGE="$g"
}

garage_dir() { echo "$STATE/garage"; }
gcli() { "$GARAGE" -c "$(garage_dir)/garage.toml" "$@"; }
garage_running() { pid_alive "$(garage_dir)/garage.pid"; }

start_garage() {
    ensure_garage_installed
    local dir; dir="$(garage_dir)"
    mkdir -p "$dir/meta" "$dir/data"
    chmod 700 "$dir"
    if [ ! -f "$dir/garage.toml" ]; then
        local pg_port; pg_port="$(cat "$(pg_dir)/port" 2>/dev/null || echo 0)"
        local s3 rpc admin
        s3="$(free_port "${MUSE_HUB_GARAGE_S3_PORT:-23900}" "$pg_port")"
        rpc="$(free_port "${MUSE_HUB_GARAGE_RPC_PORT:-23901}" "$pg_port" "$s3")"
        admin="$(free_port "${MUSE_HUB_GARAGE_ADMIN_PORT:-23903}" "$pg_port" "$s3" "$rpc")"
        cat >"$dir/garage.toml" <<EOF
# Written by scripts/hub-services.sh: one throwaway Garage node.
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1

rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(random_hex 32)"

[s3_api]
s3_region = "$REGION"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
admin_token = "$(random_hex 32)"
EOF
        echo "$s3" >"$dir/s3_port"
    fi
    local s3_port; s3_port="$(cat "$dir/s3_port")"
    # Only this start's log lines are inspected below.
    local log_from; log_from=$(( $(stat -c %s "$dir/garage.log" 2>/dev/null || echo 0) + 1 ))
    if garage_running; then
        log "Garage already running (S3 API on 127.0.0.1:$s3_port)"
    else
        if port_in_use "$s3_port"; then die "port $s3_port (Garage S3 API) is taken by another process"; fi
        log "starting Garage $GARAGE_VERSION (S3 API on 127.0.0.1:$s3_port)"
        # 9>&-: the daemon must not inherit (and hold) this script's lock.
        RUST_LOG="${RUST_LOG:-garage=info}" nohup "$GARAGE" -c "$dir/garage.toml" server >>"$dir/garage.log" 2>&1 9>&- &
        echo $! >"$dir/garage.pid"
    fi
    # Wait for the node to answer its CLI and its S3 port.
    local i
    for i in $(seq 1 120); do
        if gcli status >/dev/null 2>&1 && port_in_use "$s3_port"; then break; fi
        garage_running || { tail -n 30 "$dir/garage.log" >&2; die "Garage exited"; }
        if tail -c "+$log_from" "$dir/garage.log" 2>/dev/null | grep -q "S3 API server exited with error"; then
            tail -c "+$log_from" "$dir/garage.log" | grep "S3 API server exited with error" | tail -n 1 >&2
            stop_garage
            die "Garage's S3 API could not start on 127.0.0.1:$s3_port (set MUSE_HUB_GARAGE_S3_PORT, or edit $dir/garage.toml)"
        fi
        sleep 0.5
    done
    gcli status >/dev/null 2>&1 && port_in_use "$s3_port" || { tail -n 30 "$dir/garage.log" >&2; die "Garage does not answer"; }

    # One-time cluster setup (each step checks whether it was done).
    if gcli status 2>/dev/null | grep -q "NO ROLE ASSIGNED"; then
        local node; node="$(gcli node id -q 2>/dev/null | cut -d@ -f1)"
        log "assigning the layout to node ${node:0:16}"
        gcli layout assign -z dc1 -c 10G "$node" >&2
        local ver; ver="$(gcli layout show 2>/dev/null | sed -n 's/.*--version \([0-9]\+\).*/\1/p' | head -n1)"
        gcli layout apply --version "${ver:-1}" >&2
    fi
    for i in $(seq 1 60); do
        if gcli bucket list >/dev/null 2>&1; then break; fi
        sleep 0.5
    done
    if ! gcli bucket info "$BUCKET" >/dev/null 2>&1; then
        log "creating bucket $BUCKET"
        gcli bucket create "$BUCKET" >&2
    fi
    if [ ! -f "$dir/key.env" ]; then
        log "creating key $KEY_NAME"
        local out id secret
        out="$(gcli key create "$KEY_NAME")"
        id="$(printf '%s\n' "$out" | sed -n 's/^Key ID:[[:space:]]*//p' | head -n1)"
        secret="$(printf '%s\n' "$out" | sed -n 's/^Secret key:[[:space:]]*//p' | head -n1)"
        [ -n "$id" ] && [ -n "$secret" ] || { printf '%s\n' "$out" >&2; die "could not read the key from garage key create"; }
        gcli bucket allow --read --write --owner "$BUCKET" --key "$id" >&2
        printf 'GARAGE_KEY_ID=%s\nGARAGE_SECRET=%s\n' "$id" "$secret" >"$dir/key.env"
        chmod 600 "$dir/key.env"
    fi
}

stop_garage() {
    local dir; dir="$(garage_dir)"
    if garage_running; then
        local pid; pid="$(head -n1 "$dir/garage.pid")"
        log "stopping Garage (pid $pid)"
        kill "$pid" 2>/dev/null || true
        local i
        for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/garage.pid"
}

# -------------------------------------------------------------- commands

print_env() {
    local pdir gdir; pdir="$(pg_dir)"; gdir="$(garage_dir)"
    [ -f "$pdir/port" ] && [ -f "$pdir/password" ] && [ -f "$gdir/key.env" ] && [ -f "$gdir/s3_port" ] \
        || die "no services set up in $STATE: run '$0 start'"
    # shellcheck disable=SC1091
    . "$gdir/key.env"
    echo "export MUSE_HUB_DATABASE_URL='postgres://musehub:$(cat "$pdir/password")@127.0.0.1:$(cat "$pdir/port")/musehub'"
    echo "export MUSE_HUB_S3_ENDPOINT='http://127.0.0.1:$(cat "$gdir/s3_port")'"
    echo "export MUSE_HUB_S3_BUCKET='$BUCKET'"
    echo "export AWS_ACCESS_KEY_ID='$GARAGE_KEY_ID'"
    echo "export AWS_SECRET_ACCESS_KEY='$GARAGE_SECRET'"
    echo "export AWS_REGION='$REGION'"
}

status() {
    local ok=0
    PGBIN="$(pg_bindir 2>/dev/null || true)"
    if [ -n "$PGBIN" ] && [ -f "$(pg_dir)/port" ] && pg_running; then
        log "PostgreSQL: running on 127.0.0.1:$(cat "$(pg_dir)/port") (data $(pg_dir)/data)"
    else
        log "PostgreSQL: not running"; ok=1
    fi
    if garage_running; then
        log "Garage: running, pid $(head -n1 "$(garage_dir)/garage.pid"), S3 API on 127.0.0.1:$(cat "$(garage_dir)/s3_port")"
    else
        log "Garage: not running"; ok=1
    fi
    return "$ok"
}

with_lock() {
    mkdir -p "$STATE"
    exec 9>"$STATE/.lock"
    flock 9
}

case "${1:-}" in
    start)
        with_lock
        start_postgres
        start_garage
        log "ready (state in $STATE)"
        print_env
        ;;
    env)
        print_env
        ;;
    status)
        status
        ;;
    stop)
        with_lock
        stop_garage
        stop_postgres
        log "stopped (state kept in $STATE; '$0 purge' deletes it)"
        ;;
    purge)
        with_lock
        stop_garage
        stop_postgres
        rm -rf "$STATE"
        log "stopped and removed $STATE"
        ;;
    *)
        echo "usage: $0 start|stop|env|status|purge" >&2
        exit 2
        ;;
esac
