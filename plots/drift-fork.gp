# drift-fork.gp -- forks per 100 blocks against clock offset, one line per
# Aura slot length, with error bars (mean +- standard deviation over seeds).
#
# Fed by `deja plot drift-fork --db FILE -o OUT.png`, which aggregates the
# sweep database and runs
#   gnuplot -e "datafile='DATA'; outfile='OUT.png'" plots/drift-fork.gp
# DATA holds one block per slot length (blocks separated by two blank
# lines), columns: slot_ms offset_ms mean_forks_per_100_blocks stddev runs.

if (!exists("datafile")) datafile = 'drift-fork.dat'
if (!exists("outfile")) outfile = 'drift-fork.png'

# pngcairo draws anti-aliased lines; plain png (libgd) is the fallback.
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1000,640 enhanced font "sans,11"
} else {
    set terminal png size 1000,640
}
set output outfile

stats datafile using 1 nooutput
nblocks = STATS_blocks
stats datafile using 2 nooutput
# lines are shifted apart by a little (dodge) so their error bars do not hide
# each other; the x axis still reads the true offsets
dodge = (STATS_max > STATS_min ? STATS_max - STATS_min : 1) * 0.006
array slot[nblocks]
do for [i = 0:nblocks - 1] {
    stats datafile index i using 1 nooutput
    slot[i + 1] = STATS_min
}

set title "drift-fork: forks per 100 blocks vs clock offset (mean ± stddev over seeds)"
set xlabel "clock offset (ms)"
set ylabel "forks per 100 blocks"
set key top left box opaque width 2 samplen 3 title "slot length"
set grid
set yrange [0:*]
set offsets graph 0.03, graph 0.03, graph 0.05, 0
set pointsize 1.2

plot for [i = 0:nblocks - 1] datafile index i using ($2 + (i - (nblocks - 1) / 2.0) * dodge):3:4 \
     with yerrorlines linewidth 2 pointtype 7 title sprintf("%g ms", slot[i + 1])
