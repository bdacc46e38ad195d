# memory.gp -- one run's resident size against simulated time: resident MiB
# per node (solid), its live tasks on the right axis (dashed), the touched
# pages of its mapped regions (dotted, when any), and the kills the timeline
# shows (red dots: the node's resident size dropped to near zero -- an OOM
# kill or a crash -- before it restarted from nothing).
#
# Fed by `deja plot memory --timeline FILE.csv -o OUT.png`, which reads the
# CSV of `deja run ... --timeline FILE.csv` and runs
#   gnuplot -e "datafile='DATA'; outfile='OUT.png'; nodes='0 1'; nnodes=2; nkills=3; hasmapped=1" plots/memory.gp
# DATA holds one block per node (blocks separated by two blank lines),
# columns: t_s resident_mib tasks mapped_mib; then one block of kills,
# columns: t_s resident_mib node.

if (!exists("datafile")) datafile = 'memory.dat'
if (!exists("outfile")) outfile = 'memory.png'
if (!exists("nnodes")) {
    stats datafile using 1 nooutput
    nnodes = STATS_blocks - 1
}
if (!exists("nodes")) nodes = ''
if (!exists("nkills")) nkills = 0
if (!exists("hasmapped")) hasmapped = 0
nodename(i) = words(nodes) >= i + 1 ? word(nodes, i + 1) : sprintf("%d", i)

# pngcairo draws anti-aliased lines; plain png (libgd) is the fallback.
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1100,640 enhanced font "sans,11"
} else {
    set terminal png size 1100,640
}
set output outfile

set title "resident size and live tasks per node (simulated time)"
set xlabel "simulated time (s)"
set ylabel "resident (MiB)"
set y2label "live tasks"
set ytics nomirror
set y2tics
set yrange [0:*]
# live tasks: from 0, with headroom so a flat count stays off the frame
maxtasks = 1
do for [i = 0:nnodes - 1] {
    stats datafile index i using 3 nooutput
    maxtasks = STATS_max > maxtasks ? STATS_max : maxtasks
}
set y2range [0:maxtasks * 1.15 + 1]
set grid xtics ytics
# the key sits under the x label, in a bottom margin sized for it
set bmargin 8
set key at screen 0.5, 0.015 center bottom horizontal box samplen 3 width 1 maxrows 3
set offsets 0, 0, graph 0.05, 0

plot for [i = 0:nnodes - 1] datafile index i using 1:2 with lines linewidth 2 linecolor i + 1 \
         title sprintf("node %s resident", nodename(i)), \
     for [i = 0:nnodes - 1] datafile index i using 1:3 axes x1y2 with steps linewidth 1 dashtype 2 \
         linecolor i + 1 title sprintf("node %s tasks", nodename(i)), \
     for [i = 0:(hasmapped ? nnodes - 1 : -1)] datafile index i using 1:4 with lines linewidth 1 \
         dashtype 3 linecolor i + 1 title sprintf("node %s mapped", nodename(i)), \
     for [j = 1:(nkills > 0 ? 1 : 0)] datafile index nnodes using 1:2 with points pointtype 7 \
         pointsize 1.3 linecolor rgb "red" title "kill (resident drops to near 0)"
