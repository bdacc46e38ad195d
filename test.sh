#!/bin/sh
# test.sh -- the second command: installs what is missing, builds deja and
# runs the whole test suite (cmocka tests under ctest, the seam lint, and
# the replay of every seed in seeds/). BUILD_DIR and extra CMake flags
# (CMAKE_FLAGS) select other builds, as .ci/run does.
set -eu
cd "$(dirname "$0")"
scripts/setup-deps.sh
dir=${BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$dir" ${CMAKE_FLAGS:-} >/dev/null
cmake --build "$dir" -j"$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
