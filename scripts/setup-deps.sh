#!/bin/sh
# setup-deps.sh -- installs what deja needs on Debian/Ubuntu, only if missing:
# a C compiler, CMake, pkg-config, SQLite, xxHash, libsodium (the datagram
# MACs of the production backend), cmocka, gnuplot and gdb
# (clang too when DEJA_WITH_CLANG=1, for the cross-compiler checks; Slurm,
# munge, GNU parallel and the sqlite3 shell when DEJA_WITH_CLUSTER=1, for the
# tests of sweeps on a cluster: docs/cluster.md, and libfaketime, for
# `deja cluster --faketime`; chromium when
# DEJA_WITH_CHROMIUM=1, for the HTML timeline's test).
set -eu
pkgs="gcc make cmake pkg-config libsqlite3-dev libxxhash-dev libsodium-dev libcmocka-dev gnuplot-nox gdb"
[ "${DEJA_WITH_CLANG:-0}" = 1 ] && pkgs="$pkgs clang"
[ "${DEJA_WITH_CLUSTER:-0}" = 1 ] && pkgs="$pkgs slurm-wlm munge parallel sqlite3 faketime"
[ "${DEJA_WITH_CHROMIUM:-0}" = 1 ] && pkgs="$pkgs chromium"
missing=""
for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deja: installing$missing" >&2
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
