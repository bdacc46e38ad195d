# metric.gp -- the generic plot: the mean of any per-run metric against a
# parameter, one line per value of a series column, with error bars (mean
# +- standard deviation over seeds). Works for any scenario, the user's own
# included.
#
# Fed by `deja plot metric --db FILE --scenario NAME --x KEY --y METRIC
# [--series KEY] -o OUT.png`, which aggregates the sweep database and runs
#   gnuplot -e "datafile='DATA'; outfile='OUT.png'; xname='KEY'; yname='METRIC';
#               sname='SERIES'; scenario='NAME'; snames='V1 V2 ...'" plots/metric.gp
# DATA holds one block per series value (blocks separated by two blank
# lines), columns: series x mean stddev runs.

if (!exists("datafile")) datafile = 'metric.dat'
if (!exists("outfile")) outfile = 'metric.png'
if (!exists("xname")) xname = 'x'
if (!exists("yname")) yname = 'y'
if (!exists("sname")) sname = ''
if (!exists("scenario")) scenario = ''
if (!exists("snames")) snames = ''

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1000,640 enhanced font "sans,11"
} else {
    set terminal png size 1000,640
}
set output outfile

stats datafile using 2 nooutput
nblocks = STATS_blocks
dodge = (STATS_max > STATS_min ? STATS_max - STATS_min : 1) * 0.006

set title sprintf("%s: %s vs %s (mean ± stddev over seeds)", scenario, yname, xname) noenhanced
set xlabel xname noenhanced
set ylabel yname noenhanced
if (sname ne '') {
    set key top left box opaque width 2 samplen 3 title sname noenhanced
} else {
    unset key
}
set grid
set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05
set pointsize 1.2

plot for [i = 0:nblocks - 1] datafile index i using ($2 + (i - (nblocks - 1) / 2.0) * dodge):3:4 \
     with yerrorlines linewidth 2 pointtype 7 title word(snames, i + 1) noenhanced
