# The figure of docs/benchmarks.md, drawn by bench/run:
#   gnuplot -e "datadir='DIR'; out='FILE.svg'; subtitle='…'" bench/plot.gp
# DIR holds bulk.dat, rtt.dat, setup.dat and idle.dat: one row per scenario,
# one column per peer (quoted names in the header row), "-" where a peer does
# not apply.
set terminal svg size 1280,900 dynamic enhanced font "DejaVu Sans,11" background rgb "white"
set output out
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics lc rgb "#dddddd"
set key outside bottom center horizontal maxrows 2 font ",9" samplen 1.5 noenhanced
set xtics nomirror scale 0
set ytics nomirror
set border 3

set multiplot layout 2,2 title "console-gw and its peers, one run on one machine\n{/*0.8 ".subtitle."}"

set title "Bulk throughput (MB/s, higher is better)"
set yrange [0:*]
plot for [i=2:8] datadir."/bulk.dat" using i:xtic(1) title columnhead(i) noenhanced

set title "Round trip of 16-byte messages (µs, lower is better)"
plot for [i=2:8] datadir."/rtt.dat" using i:xtic(1) title columnhead(i) noenhanced

set title "Session setup, 8 at a time (sessions/s, higher is better)"
plot for [i=2:8] datadir."/setup.dat" using i:xtic(1) title columnhead(i) noenhanced

set title "Idle session memory (PSS KiB per session, log scale, lower is better)"
set logscale y
set yrange [1:*]
plot for [i=2:8] datadir."/idle.dat" using i:xtic(1) title columnhead(i) noenhanced
unset logscale y

unset multiplot
