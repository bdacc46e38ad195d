# timeout-heatmap.gp -- false elections per hour of the timeout-sweep
# scenario over (minimum election timeout) x (a clock, pause or network
# parameter), mean over seeds per cell, with the field report's bound
# MIN = 2*RTT_max + 2*eps_clock drawn as a solid line (cells right of it
# satisfy the bound) and, when the runs pause, the same bound with the pause
# counted as clock error as a dashed line. Cells in which most runs never
# established a leader are grey ("no leader": the timeout is too short to
# finish an election at all).
#
# Fed by `deja plot timeout-heatmap --db FILE -o OUT.png [--x KEY] [--y KEY]`,
# which runs
#   gnuplot -e "datafile='DATA'; outfile='OUT'; nx=..; ny=..; xtl='..'; ytl='..';
#               xkey='..'; ykey='..'; haspause=0|1" plots/timeout-heatmap.gp
# DATA block 0: x_index y_index mean runs led_fraction (one line per cell);
# block 1: the bound line (x position on the index scale, y position);
# block 2: the bound with pauses counted; block 3: the measured boundary
# (per row, the left edge of the smallest MIN from which on no cell has a
# false election; at the right edge when even the largest has some).

if (!exists("datafile")) datafile = 'timeout-heatmap.dat'
if (!exists("outfile")) outfile = 'timeout-heatmap.png'
if (!exists("nx")) nx = 1
if (!exists("ny")) ny = 1
if (!exists("xtl")) xtl = ''
if (!exists("ytl")) ytl = ''
if (!exists("xkey")) xkey = 'raft.election_ms'
if (!exists("ykey")) ykey = 'y'
if (!exists("haspause")) haspause = 0

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1100,700 enhanced font "sans,11"
} else {
    set terminal png size 1100,700
}
set output outfile

set title "timeout-sweep: false elections per hour (mean over seeds) and the bound MIN > 2·RTT_{max} + 2·ε_{clock}"
set xlabel xkey . " (MIN, ms)" noenhanced
set ylabel ykey noenhanced
set xrange [-0.5:nx - 0.5]
set yrange [-0.5:ny - 0.5]
set xtics () scale 0
set ytics () scale 0
do for [i = 1:nx] { set xtics add (word(xtl, i) i - 1) }
do for [j = 1:ny] { set ytics add (word(ytl, j) j - 1) }
set tics nomirror
set cblabel "false elections per hour (color: log scale)"
set cbrange [0:4]
set cbtics ("0" 0, "1" log10(2), "10" log10(11), "100" log10(101), "1000" log10(1001), "10000" 4)
set palette defined (0 "#ffffff", 0.5 "#fff3b0", 1.5 "#fdae61", 2.5 "#d7301f", 4 "#67000d")
set key outside bottom center horizontal box opaque
unset grid

led(f) = f >= 0.5
label_of(v, f) = f < 0.5 ? "no leader" : (v >= 100 ? sprintf("%.0f", v) : sprintf("%.1f", v))
color_of(v) = log10(1 + v) > 4 ? 4 : log10(1 + v)

plot datafile index 0 using 1:2:(0.5):(0.5):(led($5) ? color_of($3) : NaN) \
         with boxxyerror fillstyle solid 1.0 noborder fillcolor palette notitle, \
     datafile index 0 using ($5 < 0.5 ? $1 : NaN):2:(0.5):(0.5) \
         with boxxyerror fillstyle solid 1.0 noborder fillcolor rgb "#bdbdbd" notitle, \
     datafile index 0 using 1:2:(label_of($3, $5)) with labels font ",9" notitle, \
     datafile index 1 using 1:2 with lines linewidth 3 linecolor rgb "#08306b" \
         title "digest's bound: MIN = 2·RTT_{max} + 2·(ρ·window + δ)", \
     datafile index 2 using 1:(haspause ? $2 : NaN) with lines linewidth 3 dashtype 2 linecolor rgb "#2171b5" \
         title "the same with the pause counted in δ", \
     datafile index 3 using 1:2 with lines linewidth 3 linecolor rgb "#00a651" \
         title "measured: smallest MIN with no false election"
