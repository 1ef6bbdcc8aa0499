#!/usr/bin/env bash
# Soak benchmark for runs of any length: one native config under steady load for N minutes,
# measuring what a checkpoint costs (time, bytes written per 5 s interval) and fpmlab's
# resident memory at minute 1 and at the end, their trend every 5 minutes, the machine's
# load average (a shared machine distorts timings: the trend is what counts), and the size
# of the HTML report.
#   bash scripts/soak.sh --minutes 30 [--rate 50]      (needs a release build and the native stack)
set -euo pipefail

minutes=3
rate=50
while (($#)); do
    case "$1" in
        --minutes) minutes="$2"; shift 2 ;;
        --rate) rate="$2"; shift 2 ;;
        *) echo "usage: $0 [--minutes N] [--rate RPS]" >&2; exit 2 ;;
    esac
done
((minutes >= 2)) || { echo "--minutes must be at least 2" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/target/release/fpmlab"
[[ -x "$bin" ]] || { echo "$bin not found: cargo build --release" >&2; exit 1; }

work="$(mktemp -d)"
# SOAK_KEEP=DIR keeps the run directory (run.json, series files, report) there.
trap '[[ -z "${pid:-}" ]] || kill "$pid" 2>/dev/null || true; [[ -z "${SOAK_KEEP:-}" ]] || cp -a "$work/run" "$SOAK_KEEP"; rm -rf "$work"' EXIT
cat >"$work/soak.toml" <<TOML
name = "soak"
[[config]]
name = "static-4"
pm = "static"
max_children = 4
[[phase]]
name = "steady"
duration = "${minutes}m"
pattern = "constant"
rate = $rate
[[request]]
path = "/cpu.php?units=2"
TOML

sizes() { # samples.jsonl, timeline.jsonl, health.jsonl bytes
    local c="$work/run/static-4" f out=""
    for f in samples timeline health; do out="$out $(stat -c %s "$c/$f.jsonl" 2>/dev/null || echo 0)"; done
    echo "$out"
}
loadavg() { cut -d' ' -f1 /proc/loadavg; }

FPMLAB_CHECKPOINT_LOG="$work/checkpoints.log" "$bin" run "$work/soak.toml" --stack native \
    --quiet --out "$work/run" >"$work/stdout" 2>"$work/stderr" &
pid=$!
start=$(date +%s)
sleep 62
read -r samples1 tl1 health1 <<<"$(sizes)"; t1=$(($(date +%s) - start)); load1=$(loadavg)
sleep $((minutes * 60 - 62 - 3))
read -r samples2 tl2 health2 <<<"$(sizes)"; t2=$(($(date +%s) - start)); load2=$(loadavg)
wait "$pid" || { echo "fpmlab run failed:" >&2; cat "$work/stderr" >&2; exit 1; }
pid=

# Checkpoint lines: seconds_into_load checkpoint_us run_json_bytes timeline_bytes_appended
# rss_kib checkpoint_cpu_us figures_us save_us. Wall time on a shared machine measures the
# neighbours as much as fpmlab; the checkpoint's own CPU time does not.
log="$work/checkpoints.log"
near() { awk -v t="$1" '{d = $1 - t; if (d < 0) d = -d; if (best == "" || d < best) {best = d; line = $0}} END {print line}' "$log"; }
# Medians over the checkpoints of minute 1 and of the last minute: single checkpoints are noisy.
med_col() { awk -v lo="$1" -v hi="$2" -v c="$3" '$1 >= lo && $1 < hi {print $c}' "$log" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
end_t=$(awk 'END {print $1}' "$log")
read -r c1_t c1_us c1_json c1_tl c1_rss _ <<<"$(near 60)"
read -r c2_t c2_us c2_json c2_tl c2_rss _ <<<"$(tail -n1 "$log")"
m1_us=$(med_col 0 60 2); m2_us=$(med_col "$(awk -v e="$end_t" 'BEGIN {print e - 60}')" 1e9 2)
m1_cpu=$(med_col 0 60 6); m2_cpu=$(med_col "$(awk -v e="$end_t" 'BEGIN {print e - 60}')" 1e9 6)
per5() { echo $(( ($2 - $1) * 5 / (t2 - t1) )); } # bytes per 5 s between the two readings
samples5=$(per5 "$samples1" "$samples2"); health5=$(per5 "$health1" "$health2")
report=$(stat -c %s "$work/run/report.html")
echo "soak: $minutes min at $rate req/s, one config (static-4), checkpoint every 5 s"
printf '%-34s %12s %12s\n' "" "minute 1" "end"
printf '%-34s %12s %12s\n' "load time of checkpoint (s)" "$c1_t" "$c2_t"
printf '%-34s %12s %12s\n' "checkpoint time (us)" "$c1_us" "$c2_us"
printf '%-34s %12s %12s\n' "  median over the minute (us)" "$m1_us" "$m2_us"
printf '%-34s %12s %12s\n' "checkpoint CPU, median (us)" "$m1_cpu" "$m2_cpu"
printf '%-34s %12s %12s\n' "run.json rewritten (B)" "$c1_json" "$c2_json"
printf '%-34s %12s %12s\n' "timeline appended (B)" "$c1_tl" "$c2_tl"
printf '%-34s %12s %12s\n' "samples appended (B/5 s, mean)" "$samples5" "$samples5"
printf '%-34s %12s %12s\n' "health appended (B/5 s, mean)" "$health5" "$health5"
printf '%-34s %12s %12s\n' "bytes written per interval (B)" "$((c1_json + c1_tl + samples5 + health5))" "$((c2_json + c2_tl + samples5 + health5))"
printf '%-34s %12s %12s\n' "fpmlab RSS (KiB)" "$c1_rss" "$c2_rss"
printf '%-34s %12s %12s\n' "series files total (B)" "$((samples1 + tl1 + health1))" "$((samples2 + tl2 + health2))"
printf '%-34s %12s %12s\n' "load average (1 min)" "$load1" "$load2"
echo "per 5 minutes of load: median checkpoint time (us), its CPU (us), median run.json (B), max RSS (KiB):"
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
last_b=$(awk 'END {print int($1 / 300)}' "$log")
for ((b = 0; b <= last_b; b++)); do
    rows=$(awk -v b="$b" 'int($1 / 300) == b' "$log")
    [[ -n "$rows" ]] || continue
    printf '  min %3d-%3d: %8s us %8s us CPU %8s B %8s KiB\n' $((b * 5)) $((b * 5 + 5)) \
        "$(awk '{print $2}' <<<"$rows" | median)" "$(awk '{print $6}' <<<"$rows" | median)" \
        "$(awk '{print $3}' <<<"$rows" | median)" \
        "$(awk '{print $5}' <<<"$rows" | sort -n | tail -n1)"
done
minmedmax() { sort -n | awk '{a[NR]=$1} END {print a[1] "/" a[int((NR+1)/2)] "/" a[NR]}'; }
echo "checkpoint time over the run (us): min/median/max $(awk '{print $2}' "$log" | minmedmax)"
echo "checkpoint CPU over the run (us): min/median/max $(awk '{print $6}' "$log" | minmedmax)"
series_per_h=$(( (samples2 + tl2 + health2 - samples1 - tl1 - health1) * 3600 / (t2 - t1) ))
echo "series files grow ${series_per_h} B/h: about $((series_per_h * 24 / 1048576)) MiB in 24 h (appended, never rewritten)"
echo "report.html: $report bytes"
