#!/usr/bin/env bash
# Throwaway PostgreSQL servers for tests, the demo and the benchmark.
#
#   source test/lib/cluster.sh
#   cluster_start DIR PORT [extra postgresql.conf lines...]
#   cluster_psql DIR PORT [psql args...]
#   cluster_stop DIR
#
# initdb refuses to run as root, so when we are root everything runs as the
# unprivileged "postgres" OS user.  The server listens only on a private
# Unix socket directory (DIR/sock) and on 127.0.0.1:PORT.
set -u

PG_BIN=${PG_BIN:-$(pg_config --bindir)}

# Run a command as the unprivileged database OS user.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cluster_start() {
	local dir=$1 port=$2
	shift 2
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
	as_pg mkdir -p "$dir/sock"
	as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --no-sync -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log"; return 1; }
	{
		echo "port = $port"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$dir/sock'"
		echo "fsync = off"
		echo "max_connections = 50"
		echo "timezone = 'UTC'"
		for line in "$@"; do echo "$line"; done
	} | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
	as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
		{ cat "$dir/server.log"; return 1; }
}

cluster_psql() {
	local dir=$1 port=$2
	shift 2
	as_pg "$PG_BIN/psql" -X -h "$dir/sock" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"
}

cluster_stop() {
	local dir=$1
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
	fi
	rm -rf "$dir"
}
