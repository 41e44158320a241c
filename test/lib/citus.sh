#!/usr/bin/env bash
# Citus for the tests: builds Citus from its source tarball into the
# PostgreSQL found by pg_config, once per machine.
#
#   bash test/lib/citus.sh            build (or reuse the cached build) and install
#   bash test/lib/citus.sh --check    exit 0 when Citus is installed and current, 1 if not
#
# Nothing of Citus is in this repository.  The tarball is looked up beside
# the checkout, in ../shared/vendor/citus/ (CI copies shared/ next to its
# clean clone), or at $CITUS_TARBALL; the one-line patch for PostgreSQL
# 15.20 is the *.patch files of the same directory.
#
# Cache: $TRIPL_CITUS_CACHE (default /var/cache/tripl-citus, or
# ~/.cache/tripl-citus when that is not writable) holds one directory per
# key = sha256 of the tarball and the patches + `pg_config --version`:
#   <key>/pkglib/     what `make install` put into `pg_config --pkglibdir`
#   <key>/share/      what it put into `pg_config --sharedir` (extension/*)
#   <key>/build.log   the build's output
# A key that is there is never built again; its files are copied into
# pg_config's directories whenever citus.so there is missing or differs
# from the cached one (a fresh server package, another PostgreSQL found by
# pg_config).  The build runs in a temporary directory under the cache
# and is moved into place only when complete; concurrent runs wait on a
# lock.  Build dependencies (Debian): liblz4-dev libzstd-dev libkrb5-dev
# (test/lib/deps.sh installs them).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CITUS_VERSION=13.2.2
VENDOR=$(cd "$REPO/.." && pwd)/shared/vendor/citus
TARBALL=${CITUS_TARBALL:-$VENDOR/citus-$CITUS_VERSION.tar.gz}
PATCH_DIR=$(dirname "$TARBALL")
PG_CONFIG=${PG_CONFIG:-pg_config}

die() { echo "citus.sh: $*" >&2; exit 1; }

if [ ! -f "$TARBALL" ]; then
	cat >&2 <<-EOF
	citus.sh: the Citus $CITUS_VERSION source tarball is not there:
	    $TARBALL
	The Citus tests need it (nothing of Citus is kept in this repository).  Get
	the release source from https://github.com/citusdata/citus/archive/refs/tags/v$CITUS_VERSION.tar.gz
	(tag commit cc91f4c29cc358f66e70eb1ef204a45999933926, sha256 of our copy
	c8fc76dc8294636a52b1a0dd75a20d8b4a36937df6443e30ca84d8d0464a6bb9), save it as
	citus-$CITUS_VERSION.tar.gz in shared/vendor/citus/ beside the checkout, with
	pg15.20-have_createdb_privilege.patch (see shared/vendor/citus/README.md), or
	point CITUS_TARBALL at it.  Or run the other suites only (SUITES=..., TAP_TESTS=...).
	EOF
	exit 1
fi
command -v "$PG_CONFIG" >/dev/null || die "pg_config not found (put the PostgreSQL to build for first in PATH, or set PG_CONFIG)"

PG_VERSION=$("$PG_CONFIG" --version)
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
SHAREDIR=$("$PG_CONFIG" --sharedir)

patches=$(ls "$PATCH_DIR"/*.patch 2>/dev/null | sort || true)
KEY=$({ sha256sum "$TARBALL" | cut -d' ' -f1
	for p in $patches; do sha256sum "$p" | cut -d' ' -f1; done
	echo "$PG_VERSION"; } | sha256sum | cut -c1-16)
KEY="citus-$CITUS_VERSION-$(echo "$PG_VERSION" | sed 's/^PostgreSQL //; s/[^0-9.].*//')-$KEY"

CACHE=${TRIPL_CITUS_CACHE:-/var/cache/tripl-citus}
if ! mkdir -p "$CACHE" 2>/dev/null || [ ! -w "$CACHE" ]; then
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tripl-citus
	mkdir -p "$CACHE"
fi
ENTRY=$CACHE/$KEY

installed() {
	[ -f "$ENTRY/pkglib/citus.so" ] && cmp -s "$ENTRY/pkglib/citus.so" "$PKGLIBDIR/citus.so" &&
		[ -f "$SHAREDIR/extension/citus.control" ]
}

if [ "${1:-}" = --check ]; then
	if installed; then exit 0; else exit 1; fi
fi

build() {
	local tmp src stage t0
	t0=$(date +%s)
	tmp=$(mktemp -d "$CACHE/build.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	echo "citus.sh: building Citus $CITUS_VERSION for $PG_VERSION ($PKGLIBDIR); log in $ENTRY/build.log" >&2
	tar -C "$tmp" -xzf "$TARBALL"
	src=$(echo "$tmp"/citus-*)
	[ -d "$src" ] || die "unexpected tarball layout: no citus-* directory in $TARBALL"
	stage=$tmp/stage
	if ! {
		for p in $patches; do echo "== patch $p"; patch -d "$src" -p1 <"$p" || exit 1; done
		# --without-libcurl: no anonymous statistics collection calling home from test servers
		(cd "$src" && PG_CONFIG=$(command -v "$PG_CONFIG") ./configure --without-libcurl) &&
			make -C "$src" -j"${CITUS_JOBS:-2}" with_llvm=no &&
			make -C "$src" install with_llvm=no DESTDIR="$stage"
	} >"$tmp/build.log" 2>&1; then
		tail -30 "$tmp/build.log" >&2
		grep -q "lz4\|zstd\|gssapi\|krb5" <(tail -30 "$tmp/build.log") &&
			echo "citus.sh: missing build dependencies? apt-get install liblz4-dev libzstd-dev libkrb5-dev" >&2
		die "the Citus build failed (full log: $tmp/build.log, kept)"
	fi
	# keep only what goes into pg_config's library and share directories
	mkdir -p "$tmp/entry/pkglib" "$tmp/entry/share"
	[ -d "$stage$PKGLIBDIR" ] || die "make install put nothing into $PKGLIBDIR"
	cp -a "$stage$PKGLIBDIR/." "$tmp/entry/pkglib/"
	cp -a "$stage$SHAREDIR/." "$tmp/entry/share/"
	rm -rf "$tmp/entry/pkglib/bitcode"
	mv "$tmp/build.log" "$tmp/entry/build.log"
	echo "built in $(($(date +%s) - t0)) s on $(date -u +%FT%TZ)" >>"$tmp/entry/build.log"
	mv "$tmp/entry" "$ENTRY"
	rm -rf "$tmp"
	trap - EXIT
}

# one build at a time per cache (a second run waits, then finds the entry)
exec 9>"$CACHE/.lock"
flock 9
[ -f "$ENTRY/pkglib/citus.so" ] || build
if ! installed; then
	echo "citus.sh: installing Citus $CITUS_VERSION from $ENTRY into $PKGLIBDIR" >&2
	cp -a "$ENTRY/pkglib/." "$PKGLIBDIR/"
	cp -a "$ENTRY/share/." "$SHAREDIR/"
fi
installed || die "Citus is not installed in $PKGLIBDIR after copying from $ENTRY"
echo "citus.sh: Citus $CITUS_VERSION is installed in $PKGLIBDIR (cache $ENTRY)" >&2
