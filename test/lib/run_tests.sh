#!/usr/bin/env bash
# Runs every test suite of tripl and ends with one line "N passed, M failed".
#
#   unit       test/unit/bin/*_test       (pure C cores; TAP output), and
#              test/lib/layers.py         (no include/call circle in src/)
#   regress    sql/*.sql vs expected/     (pg_regress, own throwaway server)
#   isolation  test/isolation/specs       (pg_isolation_regress, own server)
#   tap        test/t/*.pl                (PostgreSQL::Test::Cluster servers)
#   demo       test/demo/demo.sh          (make demo, checked, from a 0700 copy)
#
# Servers run as the unprivileged "postgres" OS user on private ports and
# socket directories, under a temporary directory that is removed at the
# end (KEEP=1 keeps it).  Set SUITES="unit regress" to run a subset, and
# TAP_TESTS="test/t/010_x.pl" to run some TAP files only (REGRESS_TESTS="setup
# collect" some pg_regress files).  VALGRIND=1 runs the servers under valgrind.
set -u

REPO=$(cd "$(dirname "$0")/../.." && pwd)
SUITES=${SUITES:-"unit regress isolation tap demo"}
PG_BIN=$(pg_config --bindir)
# .../lib/pgxs/src: holds test/regress/pg_regress, test/isolation, test/perl
PGXS_SRC=$(cd "$(dirname "$(pg_config --pgxs)")/.." && pwd)

WORK=$(mktemp -d /tmp/tripl-test.XXXXXX)
chmod 755 "$WORK"
if [ "$(id -u)" = 0 ]; then chown postgres: "$WORK"; fi
cleanup() {
	if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

# Run a command as the postgres OS user from the working directory DIR
# (runuser keeps the working directory, and that user may not be able to
# enter the checkout: a clone in root's 0700 home, a mktemp -d directory).
as_pg_in() {
	local dir=$1
	shift
	if [ "$(id -u)" = 0 ]; then (cd "$dir" && runuser -u postgres -- "$@"); else (cd "$dir" && "$@"); fi
}
as_pg() { as_pg_in / "$@"; }

# VALGRIND=1 (make valgrind): the servers of the regress, isolation and TAP
# suites run under valgrind's memcheck.  A directory of stand-ins for the
# PostgreSQL binaries goes first: "postgres" is a script running the real
# server under valgrind (but not for -V, -C, --boot or --single, which
# initdb and pg_ctl use), pg_ctl is a copy (it runs the "postgres" next to
# itself), everything else links to the real thing (initdb resolves the
# link and bootstraps with the real server).  Each process writes its own
# log under $WORK/valgrind; the run fails when any reports an invalid read
# or write (or dies of a signal).  VALGRIND_OPTS adds valgrind options.
VALGRIND=${VALGRIND:-0}
setup_valgrind() {
	local real=$PG_BIN vgbin="$WORK/vgbin" f
	command -v valgrind >/dev/null || { echo "VALGRIND=1 needs valgrind"; exit 2; }
	VG_LOGS="$WORK/valgrind"
	as_pg mkdir -p "$vgbin" "$VG_LOGS"
	for f in "$real"/*; do as_pg ln -s "$f" "$vgbin/$(basename "$f")"; done
	as_pg rm -f "$vgbin/postgres" "$vgbin/postmaster" "$vgbin/pg_ctl"
	as_pg cp "$real/pg_ctl" "$vgbin/pg_ctl"
	as_pg cp "$REPO/test/lib/valgrind.supp" "$WORK/valgrind.supp"
	as_pg tee "$vgbin/postgres" >/dev/null <<-SCRIPT
		#!/bin/sh
		case "\$1" in
		-V|--version|-C|--describe-config|--boot|--single|--check) exec "$real/postgres" "\$@" ;;
		esac
		exec valgrind --quiet --tool=memcheck --trace-children=yes --leak-check=no \\
			--read-var-info=no --num-callers=30 --error-limit=no \\
			--suppressions="$WORK/valgrind.supp" ${VALGRIND_OPTS:-} \\
			--log-file="$VG_LOGS/%p.log" "$real/postgres" "\$@"
	SCRIPT
	as_pg chmod 755 "$vgbin/postgres"
	as_pg ln -s "$vgbin/postgres" "$vgbin/postmaster"
	PG_BIN=$vgbin
	# a server under valgrind takes a while to start and stop
	export PGCTLTIMEOUT=${PGCTLTIMEOUT:-600}
	TAP_TIMEOUT=${TAP_TIMEOUT:-900}
	echo "== servers run under valgrind (logs in $VG_LOGS)"
}

# After the suites: any invalid read or write, or a server process killed
# by a signal, in the valgrind logs fails the run.
check_valgrind() {
	local logs bad nlogs other
	echo "== valgrind"
	nlogs=$(ls "$VG_LOGS"/*.log 2>/dev/null | wc -l)
	bad=$(grep -lE 'Invalid (read|write|free)|Process terminating with default action of signal' "$VG_LOGS"/*.log 2>/dev/null || true)
	other=$(grep -hE '^==[0-9]+== [A-Z][a-z]' "$VG_LOGS"/*.log 2>/dev/null | grep -vE 'Invalid (read|write|free)|Process terminating|Address 0x|at 0x|by 0x' |
		sed 's/^==[0-9]*== //' | sort | uniq -c | sort -rn | head -5)
	echo "   $nlogs server processes logged; $(echo "$bad" | grep -c . || true) with invalid accesses"
	[ -z "$other" ] || { echo "   other reports (not failing the run):"; echo "$other" | sed 's/^/     /'; }
	if [ -n "$bad" ]; then
		failed=$((failed + 1))
		failures+=("valgrind: invalid memory accesses in $(echo "$bad" | wc -l) server processes")
		for logs in $(echo "$bad" | head -3); do
			echo "   --- $logs"
			grep -A25 -m1 -E 'Invalid (read|write|free)|Process terminating' "$logs" | sed 's/^/   | /'
		done
	else
		passed=$((passed + 1))
		echo "   ok   no invalid read or write in the server logs"
	fi
}

# A copy of the test inputs the postgres user can read wherever the clone is.
as_pg mkdir -p "$WORK/src"
tar -C "$REPO" -cf - sql expected test doc | as_pg tar -C "$WORK/src" -xf -

passed=0
failed=0
failures=()

# Count TAP lines ("ok N", "not ok N") in a file.
count_tap() {
	local file=$1 label=$2 ok notok
	ok=$(grep -cE '^ *ok [0-9]+' "$file" || true)
	notok=$(grep -cE '^ *not ok [0-9]+' "$file" || true)
	passed=$((passed + ok))
	failed=$((failed + notok))
	if [ "$notok" -gt 0 ]; then
		failures+=("$label: $notok failed")
		grep -E '^ *not ok [0-9]+' "$file" | sed "s|^|  $label: |"
	fi
}

run_unit() {
	echo "== unit tests"
	local t name out
	for t in "$REPO"/test/unit/bin/*_test; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		out="$WORK/unit-$name.out"
		if ! "$t" >"$out" 2>&1; then
			if ! grep -qE '^ *not ok' "$out"; then
				failed=$((failed + 1))
				failures+=("unit $name: crashed")
				tail -5 "$out"
			fi
		fi
		count_tap "$out" "unit $name"
		printf '   %-28s %s\n' "$name" "$(grep -cE '^ok' "$out") ok"
	done
	# the documents' relative links and anchors resolve
	if out=$(python3 "$REPO/test/lib/check_links.py" "$REPO" 2>&1); then
		passed=$((passed + 1))
		printf '   %-28s %s\n' "doc links" "ok ($(echo "$out" | tail -n 1))"
	else
		failed=$((failed + 1))
		failures+=("doc links: broken")
		echo "$out" | sed 's/^/   doc links: /'
	fi
	# the layers of src/: no include/call circle, src/core/ fenced off
	out="$WORK/unit-layers.out"
	if python3 "$REPO/test/lib/layers.py" >"$out" 2>&1; then
		echo "ok 1 - src/ layers (test/lib/layers.py)" >>"$out"
	else
		sed 's/^/   /' "$out"
		echo "not ok 1 - src/ layers (test/lib/layers.py)" >>"$out"
	fi
	count_tap "$out" "unit layers"
	printf '   %-28s %s\n' "layers" "$(grep -cE '^ok' "$out") ok"
}

# run_regress LABEL CONFIG-LINE TESTS...: one pg_regress run on its own server
run_regress_with() {
	local label=$1 setting=$2 tests out status dir
	shift 2
	tests="$*"
	dir="$WORK/regress-$label"
	out="$dir.out"
	as_pg mkdir -p "$dir"
	as_pg cp "$WORK/src/test/regress.conf" "$dir.conf"
	[ -z "$setting" ] || echo "$setting" | as_pg tee -a "$dir.conf" >/dev/null
	as_pg "$PGXS_SRC/test/regress/pg_regress" \
		--temp-instance="$dir/instance" \
		--temp-config="$dir.conf" \
		--bindir="$PG_BIN" \
		--inputdir="$WORK/src" \
		--outputdir="$dir" \
		--port=$((50000 + RANDOM % 10000)) \
		$tests >"$out" 2>&1
	status=$?
	sed -n '/^test \|^     \|^ok \|^not ok /p' "$out" | sed 's/^/   /'
	local ok fail
	ok=$(grep -cE '^(test |     )?[a-z_0-9]+ +\.\.\. ok' "$out" || true)
	# every test that did not report ok failed (a crash or a missing file too)
	fail=$(($(echo $tests | wc -w) - ok))
	passed=$((passed + ok))
	failed=$((failed + fail))
	if [ "$fail" -gt 0 ] || [ "$status" != 0 ]; then
		[ "$fail" -gt 0 ] || { failed=$((failed + 1)); fail=1; }
		failures+=("pg_regress ($label): $fail failed")
		tail -20 "$out"
		[ -f "$dir/regression.diffs" ] && head -150 "$dir/regression.diffs"
	fi
}

run_regress() {
	echo "== pg_regress (tripl.engine = c, the default)"
	run_regress_with c "" ${REGRESS_TESTS:-$(make -s -C "$REPO" print-regress 2>/dev/null)}
	# the suites again on the reference path (engine compares both itself):
	# the same expected output (stored values against hand-written SQL)
	echo "== pg_regress (tripl.engine = sql): the reference path"
	run_regress_with sql "tripl.engine = sql" $(echo " ${REGRESS_TESTS:-$(make -s -C "$REPO" print-regress 2>/dev/null)}" | sed 's/ engine\b//')
}

run_isolation() {
	echo "== isolation"
	local specs out status
	specs=$(cd "$REPO/test/isolation/specs" 2>/dev/null && ls *.spec 2>/dev/null | sed 's/\.spec$//')
	[ -n "$specs" ] || { echo "   (none)"; return; }
	out="$WORK/isolation.out"
	as_pg mkdir -p "$WORK/isolation"
	as_pg "$PGXS_SRC/test/isolation/pg_isolation_regress" \
		--temp-instance="$WORK/isolation/instance" \
		--temp-config="$WORK/src/test/regress.conf" \
		--bindir="$PG_BIN" \
		--inputdir="$WORK/src/test/isolation" \
		--outputdir="$WORK/isolation" \
		--port=$((50000 + RANDOM % 10000)) \
		$specs >"$out" 2>&1
	status=$?
	sed -n '/^test \|^     \|^ok \|^not ok /p' "$out" | sed 's/^/   /'
	local ok fail
	ok=$(grep -cE '\.\.\. ok' "$out" || true)
	fail=$(($(echo $specs | wc -w) - ok))
	passed=$((passed + ok))
	failed=$((failed + fail))
	if [ "$fail" -gt 0 ] || [ "$status" != 0 ]; then
		[ "$fail" -gt 0 ] || { failed=$((failed + 1)); fail=1; }
		failures+=("isolation: $fail failed")
		tail -20 "$out"
		[ -f "$WORK/isolation/regression.diffs" ] && head -150 "$WORK/isolation/regression.diffs"
	fi
}

run_tap() {
	echo "== TAP"
	local t name out files
	files=${TAP_TESTS:-$(cd "$REPO" && ls test/t/*.pl 2>/dev/null)}
	# they run from the copy in $WORK/src: paths into the checkout become relative
	files=$(for t in $files; do echo "${t#"$REPO"/}"; done)
	[ -n "$files" ] || { echo "   (none)"; return; }
	as_pg mkdir -p "$WORK/tap"
	for t in $files; do
		name=$(basename "$t" .pl)
		# the Citus test needs Citus in pg_config's server: built from the
		# tarball beside the checkout once per machine (test/lib/citus.sh);
		# no tarball is a failure that says where to get it, not a skip
		case "$name" in *citus*)
			if ! bash "$REPO/test/lib/citus.sh" >"$WORK/citus-build.out" 2>&1; then
				failed=$((failed + 1))
				failures+=("tap $name: Citus is not available (test/lib/citus.sh)")
				sed 's/^/   | /' "$WORK/citus-build.out"
				continue
			fi
			sed 's/^/   /' "$WORK/citus-build.out"
		esac
		out="$WORK/tap-$name.out"
		as_pg mkdir -p "$WORK/tap/$name"
		as_pg_in "$WORK/src" env \
			PATH="$PG_BIN:$PATH" \
			PERL5LIB="$PGXS_SRC/test/perl:$WORK/src/test/lib" \
			TESTDIR="$WORK/tap/$name" \
			PG_REGRESS="$PGXS_SRC/test/regress/pg_regress" \
			TRIPL_SRC="$WORK/src" \
			TRIPL_VALGRIND="$VALGRIND" \
			PG_TEST_TIMEOUT_DEFAULT=${TAP_TIMEOUT:-120} \
			perl "$t" >"$out" 2>&1
		local status=$?
		count_tap "$out" "tap $name"
		if [ "$status" != 0 ] && ! grep -qE '^ *not ok' "$out"; then
			failed=$((failed + 1))
			failures+=("tap $name: exited $status")
			tail -25 "$out" | sed 's/^/   | /'
			ls "$WORK/tap/$name"/tmp_check/log/*.log 2>/dev/null | head -3 | while read -r l; do
				echo "   --- $l"; tail -15 "$l" | sed 's/^/   | /'; done
		fi
		printf '   %-34s %s ok, %s not ok\n' "$name" "$(grep -cE '^ *ok [0-9]' "$out")" "$(grep -cE '^ *not ok [0-9]' "$out")"
	done
}

# make demo, checked: it exits 0, prints its three sections, and writes plots.
# It runs from a copy of the checkout in a 0700 directory, as after a clone
# into root's home directory: the postgres OS user cannot enter it, so the
# demo must not need that user to read the checkout or to start there.
run_demo() {
	echo "== demo"
	local out="$WORK/demo.out" status n closed="$WORK/closed"
	mkdir -m 700 "$closed" && mkdir "$closed/tripl" &&
		tar -C "$REPO" --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude=./test/unit/bin -cf - . |
		tar -C "$closed/tripl" -xf -
	(cd "$closed/tripl" && DEMO_DIR="$WORK/demo" DEMO_PORT=$((50000 + RANDOM % 10000)) DEMO_PLOTS="$WORK/demo-plots" \
		bash test/demo/demo.sh) >"$out" 2>&1
	status=$?
	demo_check() {
		if eval "$2"; then
			passed=$((passed + 1)); echo "   ok   $1"
		else
			failed=$((failed + 1)); failures+=("demo: $1"); echo "   FAIL $1"
		fi
	}
	demo_check "make demo exits 0, from a checkout in a 0700 directory" '[ "$status" = 0 ]'
	demo_check "no permission errors" '! grep -qiE "permission denied|could not change directory" "$out"'
	demo_check "it prints the catalog with sparklines" 'grep -q "The catalog" "$out" && grep -q "[▁▂▃▄▅▆▇█]\{12,\}" "$out"'
	demo_check "it prints the anomalies found" 'grep -q "The anomalies found" "$out" && grep -q "completed_orders .* drop" "$out"'
	demo_check "the webhook receiver got a notification" 'grep -q -- "--- POST /hook" "$out"'
	n=$(ls "$WORK/demo-plots"/*.svg 2>/dev/null | wc -l)
	demo_check "it wrote SVG plots ($n)" '[ "$n" -ge 1 ] && grep -q "<svg" "$WORK/demo-plots"/completed_orders.svg'
	[ "$status" = 0 ] || tail -30 "$out" | sed 's/^/   | /'
}

[ "$VALGRIND" != 1 ] || setup_valgrind

for s in $SUITES; do
	case "$s" in
		unit) run_unit ;;
		regress) run_regress ;;
		isolation) run_isolation ;;
		tap) run_tap ;;
		demo) run_demo ;;
		*) echo "unknown suite $s"; exit 2 ;;
	esac
done

[ "$VALGRIND" != 1 ] || check_valgrind

if [ ${#failures[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
