#!/bin/sh
# cli_output.sh -- the output for machines: `deja --version`, `--json` on
# run, replay, scenarios and bench (valid JSON with the same keys, in the
# same order, as the key=value text; bench --quick prints every key its
# --help lists), and `deja plot --csv` writing the
# header its --help documents. Usage: cli_output.sh DEJA
set -eu
deja=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/deja-cli-output-XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "cli_output: $*" >&2; exit 1; }

"$deja" --version | head -1 | grep -Eq '^deja [0-9]+\.[0-9]+\.[0-9]+$' || fail "deja --version: no version line"
"$deja" --version | grep -q '^build: git=.* build=.* compiler=' || fail "deja --version: no build line"

# the JSON of run holds the keys of the text, in order
keys_text() { sed 's/=.*//'; }
keys_json() { python3 -c 'import json,sys; [print(k) for k in json.load(sys.stdin)]'; }
"$deja" run drift-fork --seed 7 --set sim.duration_s=30 --save "$dir/r.seed" 2>/dev/null | keys_text >"$dir/text.keys"
"$deja" run drift-fork --seed 7 --set sim.duration_s=30 --json | keys_json >"$dir/json.keys"
cmp -s "$dir/text.keys" "$dir/json.keys" || fail "run --json keys differ from the key=value keys"
# a failing run: exit 1, still JSON
set +e
"$deja" run drift-fork --seed 7 --set sim.duration_s=30 --set clock.offset_ms=3000 --json >"$dir/fail.json" 2>/dev/null
rc=$?
set -e
[ "$rc" = 1 ] || fail "run --json of a failing run exited $rc, not 1"
python3 -m json.tool "$dir/fail.json" >/dev/null || fail "run --json of a failing run is not JSON"
"$deja" replay "$dir/r.seed" --json >"$dir/replay.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["match"] == "yes" and d["seed"] == "7", d' \
    "$dir/replay.json" || fail "replay --json: no match=yes"
"$deja" scenarios --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert any(s["name"] == "drift-fork" and s["params"] for s in d["scenarios"])' \
    || fail "scenarios --json"
"$deja" bench --help | grep -q -- --json || fail "bench --help does not document --json"
# bench --quick prints every key its --help lists (N: a task count, SCENARIO:
# a scenario), each with a number, and --json the same keys in the same order
# (not in sanitizer builds, where the quick bench takes minutes: the other
# builds run it)
if "$deja" --version | grep -q '^build: .*+asan'; then
    echo "cli_output: bench --quick not run in a sanitizer build"
else
    "$deja" bench --quick >"$dir/bench.txt" 2>/dev/null || fail "bench --quick failed"
    for k in $("$deja" bench --help | sed -n 's/^  \([a-z][a-z0-9_NSCENARIO]*\) .*/\1/p'); do
        k=$(printf '%s' "$k" | sed 's/_N$/_100/; s/_SCENARIO$/_raft/')
        grep -Eq "^$k=[0-9.]+$" "$dir/bench.txt" || fail "bench --quick prints no number for $k, which --help lists"
    done
    "$deja" bench --quick --json | keys_json >"$dir/bench_json.keys"
    keys_text <"$dir/bench.txt" | cmp -s - "$dir/bench_json.keys" || fail "bench --json keys differ from the key=value keys"
fi

# plot --csv writes the header --help documents
"$deja" sweep drift-fork --grid clock.offset_ms=0,1000 --seeds 2 --set sim.duration_s=20 --db "$dir/s.db" \
    --quiet >/dev/null 2>&1
"$deja" plot drift-fork --db "$dir/s.db" --csv "$dir/p.csv" >/dev/null
want=$("$deja" plot --help | sed -n 's/^ *drift-fork: //p')
[ -n "$want" ] || fail "plot --help documents no CSV header for drift-fork"
[ "$(head -1 "$dir/p.csv")" = "$want" ] || fail "plot --csv header '$(head -1 "$dir/p.csv")' is not '$want'"
python3 -c 'import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); m=dict(db.execute("select key, value from meta")); assert m["deja_version"] and "compiler=" in m["deja_build"], m' \
    "$dir/s.db" || fail "the sweep database does not record the deja version"
echo "cli_output: ok"
