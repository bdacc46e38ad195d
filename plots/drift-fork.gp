# drift-fork.gp -- forks per 100 blocks against clock offset (or another
# clock parameter), one line per AuRa slot length or per time-sync setting,
# with error bars (mean +- standard deviation over seeds).
#
# Fed by `deja plot drift-fork --db FILE -o OUT.png`, which aggregates the
# sweep database and runs
#   gnuplot -e "datafile='DATA'; outfile='OUT.png'; xlabeltext='clock offset (ms)';
#               xwhat='clock offset'; keytitle='slot length'; slabel1='1000 ms'; ..." plots/drift-fork.gp
# DATA holds one block per line (blocks separated by two blank lines),
# columns: series x mean_forks_per_100_blocks stddev runs. slabelN names
# the Nth block in the key; without it the block is named by its first
# column as a slot length ("1000 ms").

if (!exists("datafile")) datafile = 'drift-fork.dat'
if (!exists("outfile")) outfile = 'drift-fork.png'
if (!exists("xlabeltext")) xlabeltext = 'clock offset (ms)'
if (!exists("xwhat")) xwhat = 'clock offset'
if (!exists("keytitle")) keytitle = 'slot length'

# pngcairo draws anti-aliased lines; plain png (libgd) is the fallback.
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1000,640 enhanced font "sans,11"
} else {
    set terminal png size 1000,640
}
set output outfile

stats datafile using 2 nooutput
nblocks = STATS_blocks
# lines are shifted apart by a little (dodge) so their error bars do not hide
# each other; the x axis still reads the true values
dodge = (STATS_max > STATS_min ? STATS_max - STATS_min : 1) * 0.006
array label[nblocks]
do for [i = 1:nblocks] {
    if (exists(sprintf("slabel%d", i))) {
        label[i] = value(sprintf("slabel%d", i))
    } else {
        stats datafile index (i - 1) using 1 nooutput
        label[i] = sprintf("%g ms", STATS_min)
    }
}

set title sprintf("drift-fork: forks per 100 blocks vs %s (mean ± stddev over seeds)", xwhat)
set xlabel xlabeltext noenhanced
set ylabel "forks per 100 blocks"
set key top left box opaque width 2 samplen 3 title keytitle noenhanced
set grid
set yrange [0:*]
set offsets graph 0.03, graph 0.03, graph 0.05, 0
set pointsize 1.2

plot for [i = 0:nblocks - 1] datafile index i using ($2 + (i - (nblocks - 1) / 2.0) * dodge):3:4 \
     with yerrorlines linewidth 2 pointtype 7 title label[i + 1] noenhanced
