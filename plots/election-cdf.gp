# election-cdf.gp -- the randomized-timeout experiment (Ongaro's thesis):
# the cumulative fraction of runs in which a new leader was established
# within x ms of the leader's crash, one line per raft.election_ms range.
# Runs with no new leader by the end never arrive, so such a line stays
# below 1 (its title says how many of the runs arrived).
#
# Fed by `deja plot election-cdf --db FILE -o OUT.png`, which reads the
# sweep database and runs
#   gnuplot -e "datafile='DATA'; outfile='OUT.png'; titles='...'; nseries=N; xmax=X" plots/election-cdf.gp
# DATA holds one block per range (blocks separated by two blank lines),
# columns: downtime_ms cumulative_fraction.

if (!exists("datafile")) datafile = 'election-cdf.dat'
if (!exists("outfile")) outfile = 'election-cdf.png'
if (!exists("nseries")) { stats datafile using 1 nooutput; nseries = STATS_blocks }
if (!exists("titles")) titles = ''
if (!exists("xmax")) xmax = 10000

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1000,640 enhanced font "sans,11"
} else {
    set terminal png size 1000,640
}
set output outfile

set title "election: time without a leader after the leader crashes (CDF over seeds)"
set xlabel "time without leader (ms, log scale)"
set ylabel "cumulative fraction of runs"
# ten distinct colours: gnuplot's default cycle repeats after eight
set linetype 9 lc rgb "#8c564b" lw 2
set linetype 10 lc rgb "#7f7f7f" lw 2
set linetype cycle 10
set logscale x
# start a decade below the shortest downtime, so short ranges (12-24) show
stats datafile using 1 nooutput name "D"
xmin = (D_min > 0 && D_min < 100) ? 10 ** floor(log10(D_min)) : 100
set xrange [xmin:(xmax > 1000 ? xmax * 1.2 : 1000)]
set yrange [0:1.02]
set grid xtics mxtics ytics
set key bottom right box opaque title "raft.election\\_ms (arrived/runs)"

# titles holds "RANGE (a/b)" groups separated by single spaces: two words each
plot for [i = 0:nseries - 1] datafile index i using 1:2 with steps linewidth 2 \
     title word(titles, 2 * i + 1) . " " . word(titles, 2 * i + 2)
