#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: `.ci/postgres.sh start DIR` / `.ci/postgres.sh stop DIR`.
#
# start: installs PostgreSQL from the package manager when no initdb is found (apt-get, as root),
# creates a cluster in DIR/data owned by an unprivileged user (PostgreSQL refuses to run as root),
# starts it listening only on a Unix socket in DIR, and prints the SQLAlchemy URL of its server,
# which the tests take from DAFSERVER_TEST_DATABASE_URL.
# stop: stops that server and removes DIR.
set -euo pipefail

command=${1:?usage: postgres.sh start|stop DIR}
dir=${2:?usage: postgres.sh start|stop DIR}

find_bin() {
    local found
    found=$(command -v initdb 2>/dev/null || true)
    if [[ -z $found ]]; then
        found=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    fi
    [[ -n $found ]] && dirname "$(readlink -f "$found")"
}

# Run a command as the cluster's owner: the current user, or `postgres` when running as root.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case $command in
start)
    bin=$(find_bin || true)
    if [[ -z $bin ]]; then
        if [[ $(id -u) -ne 0 ]]; then
            echo "PostgreSQL is not installed and this user cannot install it" >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        bin=$(find_bin)
    fi
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home postgres
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
    as_owner "$bin/initdb" --pgdata "$dir/data" --username postgres --auth trust \
        --encoding UTF8 --locale C.UTF-8 --no-sync >/dev/null
    # Durability is not needed for a throwaway server; enough connections for xdist workers
    # that each run several deployments with their pools.
    as_owner "$bin/pg_ctl" --pgdata "$dir/data" --log "$dir/server.log" --wait \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
        start >/dev/null
    echo "postgresql+psycopg://postgres@/postgres?host=$dir"
    ;;
stop)
    bin=$(find_bin)
    if [[ -d $dir/data ]]; then
        as_owner "$bin/pg_ctl" --pgdata "$dir/data" --mode immediate --wait stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: postgres.sh start|stop DIR" >&2
    exit 2
    ;;
esac
