# p99 enqueue -> start against the offered rate: fila and Celery (pg result
# backend). Input: fila-bench --plot-data (rate, fila p99 ms, Celery p99 ms,
# fila accepted/s, Celery sent/s; NaN where there is no figure). Run by scripts/bench-plot:
#   gnuplot -e "datafile='docs/bench-latency.dat'; outfile='docs/bench-latency.svg'" bench/plot-latency.gp
set terminal svg size 800,480 dynamic enhanced font "sans,12" background "white"
set output outfile
set datafile missing "NaN"
set title "p99 enqueue → start against offered load (same machine, same run)"
set xlabel "offered tasks/s (one task per request)"
set ylabel "p99 enqueue → start (ms, log scale)"
set logscale y
set grid
set key top left
set pointsize 1.2
plot datafile using 1:2 with linespoints lw 2 pt 7 title "fila (HTTP POST /v1/tasks)", \
     datafile using 1:3 with linespoints lw 2 pt 5 title "Celery 5.2 (PostgreSQL result backend)"
