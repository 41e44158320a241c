#!/usr/bin/env bash
# Throwaway PostgreSQL servers for tests, the demo and the benchmark.
#
#   source test/lib/cluster.sh
#   cluster_start DIR PORT [extra postgresql.conf lines...]
#   cluster_psql DIR PORT [psql args...]
#   cluster_stop DIR
#
# initdb refuses to run as root, so when we are root the server runs as the
# unprivileged "postgres" OS user.  That user may not be able to enter the
# checkout (a clone in root's 0700 home directory, a mktemp -d directory), so
# it works only in DIR (which it must be able to reach, e.g. under /tmp) and
# from the working directory /.  The client, psql, runs as the caller, so it
# reads SQL files and writes output wherever the caller can.  The server listens only on a private Unix socket directory
# (DIR/sock) and on 127.0.0.1:PORT.
set -u

PG_BIN=${PG_BIN:-$(pg_config --bindir)}

# Run a command as the unprivileged database OS user, from the directory /
# (runuser keeps the working directory, which that user may not enter).
# Paths given to it must be absolute.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# DIR made absolute (as_pg runs from /)
cluster_dir() {
	case "$1" in
		/*) printf '%s\n' "$1" ;;
		*) printf '%s\n' "$PWD/$1" ;;
	esac
}

cluster_start() {
	local dir port=$2
	dir=$(cluster_dir "$1")
	shift 2
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$dir"
		if ! as_pg test -w "$dir" -a -x "$dir"; then
			echo "the postgres OS user cannot reach $dir (a parent directory is closed to it):" \
				"choose a directory it can enter, e.g. under /tmp" >&2
			return 1
		fi
	fi
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

# psql runs as the caller (root included): it connects over the socket as
# the database user postgres and reads -f files with the caller's rights.
cluster_psql() {
	local dir port=$2
	dir=$(cluster_dir "$1")
	shift 2
	"$PG_BIN/psql" -X -h "$dir/sock" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"
}

cluster_stop() {
	local dir
	dir=$(cluster_dir "$1")
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
	fi
	rm -rf "$dir"
}
