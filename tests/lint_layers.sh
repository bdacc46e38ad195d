#!/bin/sh
# lint_layers.sh -- each layer calls only downward (docs/architecture.md).
# For every library, lists the symbols it uses (nm -u) that are defined in
# a library of a layer above it, or of a layer it must not see, and fails
# naming the symbol and the library that defines it. Also checks that no
# source file includes a private header of another folder.
# usage: lint_layers.sh BUILD_DIR SOURCE_DIR
set -eu
b=${1:?usage: lint_layers.sh BUILD_DIR SOURCE_DIR}
src=${2:?usage: lint_layers.sh BUILD_DIR SOURCE_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for l in common world check lab cli real models node; do
    [ -f "$b/libdeja_$l.a" ] || { echo "lint_layers: $b/libdeja_$l.a missing" >&2; exit 2; }
    nm -g --defined-only "$b/libdeja_$l.a" | awk 'NF==3 && $2 ~ /[TDBR]/ {print $3}' | sort -u >"$tmp/def.$l"
    nm -u "$b/libdeja_$l.a" | awk 'NF && $NF !~ /:$/ {print $NF}' | sort -u >"$tmp/undef.$l"
done
# lib: the libraries it must never call (layers above it, or the other backend)
rules="common:world,check,lab,cli,real,models,node
world:check,lab,cli,real,models,node
check:lab,cli,real,models,node
lab:cli,real,models,node
real:world,check,lab,cli,models,node
models:lab,cli,real,node
node:world,check,lab,cli,real,models,common"
fail=0
echo "$rules" | while IFS=: read -r lib banned; do
    for other in $(echo "$banned" | tr , ' '); do
        # node may call rt_* implemented by either backend: that is the seam, not a layer call
        comm -12 "$tmp/undef.$lib" "$tmp/def.$other" | grep -v '^rt_' >"$tmp/hit" || true
        if [ -s "$tmp/hit" ]; then
            echo "lint_layers: libdeja_$lib calls up into libdeja_$other:" >&2
            sed 's/^/  /' "$tmp/hit" >&2
            echo x >>"$tmp/failed"
        fi
    done
done
# private headers stay in their folder
for dir in check lab cli real common; do
    hits=$(grep -ln '#include "\(internal\|fiber\|map\|disk\)\.h"' "$src/sim/$dir"/*.c "$src/sim/$dir"/*.h 2>/dev/null || true)
    if [ -n "$hits" ]; then
        echo "lint_layers: files outside sim/world include the world's private headers:" >&2
        echo "$hits" | sed 's/^/  /' >&2
        echo x >>"$tmp/failed"
    fi
done
hits=$(grep -ln '#include "deja/\(world\|deja\|sweep\|oracle\|check\|cli\|models\)\.h"' "$src/node"/*.c "$src/node"/*.h "$src/sim/real"/*.c "$src/sim/real"/*.h 2>/dev/null || true)
if [ -n "$hits" ]; then
    echo "lint_layers: node/ and sim/real/ may include only deja/rt.h (and deja/daemon.h) of deja's headers:" >&2
    echo "$hits" | sed 's/^/  /' >&2
    echo x >>"$tmp/failed"
fi
[ ! -f "$tmp/failed" ] || exit 1
echo "lint_layers: every layer calls only downward"
