# election-real.gp -- the election experiment simulated and on real
# processes: per raft.election_ms range, the cumulative percent of trials in
# which a new leader was elected within x ms of the leader's crash, the
# simulated runs (solid) and the real ones (dashed, same colour).
#
# Fed by `deja plot election-real --db SIM.db --real REAL.csv -o OUT.png`,
# which runs
#   gnuplot -e "datafile='DATA'; outfile='OUT.png'; titles='...'; npairs=N; xmax=X" plots/election-real.gp
# DATA holds two blocks per range (simulated, then real; blocks separated by
# two blank lines), columns: downtime_ms cumulative_fraction. titles has one
# word per block: RANGE:SOURCE(arrived/trials).

if (!exists("datafile")) datafile = 'election-real.dat'
if (!exists("outfile")) outfile = 'election-real.png'
if (!exists("npairs")) npairs = 1
if (!exists("titles")) titles = ''
if (!exists("xmax")) xmax = 1000

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 900,560 enhanced font "sans,11"
} else {
    set terminal png size 900,560
}
set output outfile

set title "election: time without a leader after the leader crashes, simulated and real processes"
set xlabel "time without leader (ms)"
set ylabel "cumulative percent"
set yrange [0:102]
set xrange [0:(xmax > 0 ? xmax * 1.05 : 1000)]
set ytics ("0%%" 0, "20%%" 20, "40%%" 40, "60%%" 60, "80%%" 80, "100%%" 100)
set grid xtics ytics
set key bottom right box opaque noenhanced

btitle(i) = word(titles, i + 1)
dt(i) = i % 2 ? 2 : 1
plot for [i = 0:2 * npairs - 1] datafile index i using 1:($2 * 100) with steps \
     linetype (i / 2 + 1) dashtype dt(i) linewidth 2 title btitle(i)
