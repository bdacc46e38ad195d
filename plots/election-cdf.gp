# election-cdf.gp -- the randomized-timeout experiment drawn as the Raft
# paper's Figure 16 (Ongaro and Ousterhout 2014, extended version): the
# cumulative percent of trials in which a new leader was elected within x ms
# of the leader's crash, one line per raft.election_ms range, in two panels
# on the paper's axes:
#   top:    MIN fixed at 150 ms, the randomness varies (150-150 ... 150-300);
#           time without leader on a log scale, 100 ms to 100 s
#   bottom: MAX = 2*MIN, MIN scales (12-24 ... 150-300); linear, 0 to 600 ms
# A range that fits neither panel is drawn in both. Trials with no new leader
# by the end never arrive, so such a line stays below 100 % (its title says
# how many arrived); a range where none did is a line along 0.
#
# Fed by `deja plot election-cdf --db FILE -o OUT.png`, which reads the
# sweep database and runs
#   gnuplot -e "datafile='DATA'; outfile='OUT.png'; titles='...'; nseries=N; xmax=X;
#               top='I J ...'; bottom='K L ...'" plots/election-cdf.gp
# DATA holds one block per range (blocks separated by two blank lines),
# columns: downtime_ms cumulative_fraction; top and bottom list the blocks of
# each panel (0-based).

if (!exists("datafile")) datafile = 'election-cdf.dat'
if (!exists("outfile")) outfile = 'election-cdf.png'
if (!exists("nseries")) { stats datafile using 1 nooutput; nseries = STATS_blocks }
if (!exists("titles")) titles = ''
if (!exists("xmax")) xmax = 10000
if (!exists("top")) top = ''
if (!exists("bottom")) bottom = ''
# a range in neither panel: draw every block in both
other = ''
do for [i = 0:nseries - 1] {
    mine = 0
    do for [k = 1:words(top)] { if (word(top, k) + 0 == i) { mine = 1 } }
    do for [k = 1:words(bottom)] { if (word(bottom, k) + 0 == i) { mine = 1 } }
    if (!mine) { other = other . sprintf(" %d", i) }
}
top = top . other
bottom = bottom . other

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 900,1000 enhanced font "sans,11"
} else {
    set terminal png size 900,1000
}
set output outfile

# the title of block i: "RANGE (a/b)", two words of titles
btitle(i) = word(titles, 2 * i + 1) . "ms " . word(titles, 2 * i + 2)
# one colour per range, the same in both panels
set linetype 9 lc rgb "#8c564b" lw 2
set linetype 10 lc rgb "#7f7f7f" lw 2
set linetype cycle 10

npanels = (words(top) > 0) + (words(bottom) > 0)
set multiplot layout npanels,1 title "election: time without a leader after the leader crashes (deja, one trial per run)"
set ylabel "cumulative percent"
set yrange [0:102]
set ytics ("0%%" 0, "20%%" 20, "40%%" 40, "60%%" 60, "80%%" 80, "100%%" 100)
set grid xtics mxtics ytics
set key bottom right box opaque

if (words(top) > 0) {
    set logscale x
    set xrange [100:100000]
    set xlabel (words(bottom) > 0 ? "" : "time without leader (ms)")
    set title "randomness varies (MIN = 150 ms)"
    plot for [k = 1:words(top)] datafile index (word(top, k) + 0) using 1:($2 * 100) with steps \
         linetype (word(top, k) + 1) linewidth 2 title btitle(word(top, k) + 0)
}
if (words(bottom) > 0) {
    unset logscale x
    set xrange [0:600]
    set xlabel "time without leader (ms)"
    set title "MIN scales (MAX = 2 MIN)"
    plot for [k = 1:words(bottom)] datafile index (word(bottom, k) + 0) using 1:($2 * 100) with steps \
         linetype (word(bottom, k) + 1) linewidth 2 title btitle(word(bottom, k) + 0)
}
unset multiplot
