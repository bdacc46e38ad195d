#!/bin/sh
# plot_drift_fork.sh -- `deja plot drift-fork` draws one line per time-sync
# setting when a sweep varied time sync (ntp.servers, chain.time_tolerance_ms)
# and one slot length, with the NTP step on the x axis: the raw clock's line
# forks under steps, the calibrated clock's does not. One line per slot
# length stays the default; --series and --x choose by hand. The lines' names
# reach gnuplot (a stand-in script prints them), and the real script draws
# a PNG where gnuplot is installed. Usage: plot_drift_fork.sh DEJA SOURCE_DIR
set -eu
deja=$1
src=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/deja-plot-drift-fork-XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "plot_drift_fork: $*" >&2; exit 1; }

"$deja" sweep drift-fork --grid ntp.servers=0,4 --grid clock.step_ms=0,800 --set clock.step_every_s=60 \
    --set chain.time_tolerance_ms=500 --set sim.duration_s=180 --seeds 3 --db "$dir/ts.db" --quiet >/dev/null 2>&1 || true
"$deja" plot drift-fork --db "$dir/ts.db" --csv "$dir/ts.csv" >/dev/null
[ "$(head -1 "$dir/ts.csv")" = "timesync,clock.step_ms,forks_per_100_blocks_mean,forks_per_100_blocks_stddev,runs" ] ||
    fail "time-sync sweep: header '$(head -1 "$dir/ts.csv")'"
[ "$(cut -d, -f1 "$dir/ts.csv" | sed 1d | sort -u | tr '\n' ' ')" = "off on:4:500 " ] ||
    fail "time-sync sweep: lines $(cut -d, -f1 "$dir/ts.csv" | sed 1d | sort -u | tr '\n' ' ')"
off=$(sed -n 's/^off,800,\([^,]*\),.*/\1/p' "$dir/ts.csv")
on=$(sed -n 's/^on:4:500,800,\([^,]*\),.*/\1/p' "$dir/ts.csv")
python3 -c 'import sys; off, on = map(float, sys.argv[1:]); assert off > 5 and on < 1, (off, on)' "$off" "$on" ||
    fail "800 ms steps: raw clock $off forks per 100 blocks, calibrated $on"

# by hand: one line per slot length (one value here), x the offset
"$deja" plot drift-fork --db "$dir/ts.db" --series aura.slot_ms --x clock.offset_ms --csv "$dir/slot.csv" >/dev/null
[ "$(head -1 "$dir/slot.csv")" = "aura.slot_ms,clock.offset_ms,forks_per_100_blocks_mean,forks_per_100_blocks_stddev,runs" ] ||
    fail "--series aura.slot_ms --x clock.offset_ms: header '$(head -1 "$dir/slot.csv")'"
set +e
"$deja" plot drift-fork --db "$dir/ts.db" --series no.such --csv "$dir/bad.csv" 2>"$dir/err" >/dev/null
rc=$?
set -e
[ "$rc" = 2 ] && grep -q 'no.such' "$dir/err" || fail "--series no.such: exit $rc, $(cat "$dir/err")"
[ ! -e "$dir/bad.csv" ] || fail "--series no.such wrote a CSV"
set +e
"$deja" plot memory --series x --timeline "$dir/none.csv" -o "$dir/m.png" 2>/dev/null
rc=$?
set -e
[ "$rc" = 2 ] || fail "--series on plot memory: exit $rc, not 2"

# a sweep of offset x slot length keeps one line per slot length
"$deja" sweep drift-fork --grid clock.offset_ms=0,2000 --grid aura.slot_ms=1000,2000 --set sim.duration_s=30 \
    --seeds 2 --db "$dir/slot.db" --quiet >/dev/null 2>&1 || true
"$deja" plot drift-fork --db "$dir/slot.db" --csv "$dir/s2.csv" >/dev/null
[ "$(head -1 "$dir/s2.csv" | cut -d, -f1,2)" = "aura.slot_ms,clock.offset_ms" ] ||
    fail "offset x slot sweep: header '$(head -1 "$dir/s2.csv")'"

# the names of the lines reach gnuplot
command -v gnuplot >/dev/null 2>&1 || { echo "plot_drift_fork: ok (gnuplot absent: no PNG)"; exit 0; }
mkdir "$dir/stub"
cat >"$dir/stub/drift-fork.gp" <<'GP'
set print outfile
print keytitle
print xlabeltext
print slabel1
print slabel2
print exists("slabel3")
GP
DEJA_PLOTS_DIR="$dir/stub" "$deja" plot drift-fork --db "$dir/ts.db" -o "$dir/names.txt" >"$dir/out"
grep -q '^plot: wrote .*names.txt (4 groups from 12 runs; lines by timesync, x clock.step_ms)$' "$dir/out" ||
    fail "plot output: $(cat "$dir/out")"
printf '%s\n' "time sync" "NTP step of the wall clock (ms)" "off: raw wall clock" \
    "on: calibrated clock (4 servers, 500 ms tolerance)" 0 >"$dir/want.txt"
cmp -s "$dir/names.txt" "$dir/want.txt" || fail "gnuplot got $(cat "$dir/names.txt")"
DEJA_PLOTS_DIR="$dir/stub" "$deja" plot drift-fork --db "$dir/slot.db" -o "$dir/slots.txt" >/dev/null
[ "$(sed -n '1p;3p;4p' "$dir/slots.txt" | tr '\n' '|')" = "slot length|1000 ms|2000 ms|" ] ||
    fail "slot lines: gnuplot got $(cat "$dir/slots.txt")"
DEJA_PLOTS_DIR="$src/plots" "$deja" plot drift-fork --db "$dir/ts.db" -o "$dir/ts.png" >/dev/null
[ "$(head -c 4 "$dir/ts.png" | od -An -c | tr -d ' ')" = "211PNG" ] || fail "no PNG written"
echo "plot_drift_fork: ok"
