#!/usr/bin/env bash
# Installs the Debian packages that tripl's build, tests, demo and benchmark
# need, when they are missing.  Safe to run again: it installs nothing when
# everything is there.
set -eu

packages=(
	make gcc
	postgresql-15 postgresql-server-dev-15 postgresql-15-cron
	libcurl4-openssl-dev
	liblz4-dev libzstd-dev libkrb5-dev   # to build Citus for test/t/090_citus.pl (test/lib/citus.sh)
	libipc-run-perl
	python3
	openssl                            # a throwaway certificate for the SMTP tests (test/t/022_email.pl)
	chromium
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "tripl needs these Debian packages: ${missing[*]}" >&2
	echo "install them (as root: apt-get install ${missing[*]}) and run again" >&2
	exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
