#!/bin/sh
# demo.sh -- the first command: installs what is missing, builds deja, sweeps
# clock offset x slot length over a few seeds of the drift-fork scenario,
# and draws forks per 100 blocks against clock offset (out/drift-fork.png).
set -eu
cd "$(dirname "$0")"
scripts/setup-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
mkdir -p out
build/deja sweep drift-fork \
    --grid clock.offset_ms=0,250,500,750,1000,1500,2000,3000,4000 \
    --grid aura.slot_ms=1000,2000,4000 \
    --set sim.duration_s=600 --seeds 16 --db out/demo.db
build/deja plot drift-fork --db out/demo.db -o out/drift-fork.png
echo "deja: the plot is at $(pwd)/out/drift-fork.png; the runs are in out/demo.db"
