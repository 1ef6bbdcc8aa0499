#!/usr/bin/env bash
# Soak benchmark for runs of any length: one native config under steady load for N minutes,
# measuring what a checkpoint costs (time, bytes written per 5 s interval) and fpmlab's
# resident memory at minute 1 and at the end, and the size of the HTML report.
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
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
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

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
sizes() { # run.json, samples.jsonl, timeline.jsonl bytes
    local d="$work/run" c="$work/run/static-4"
    echo "$(stat -c %s "$d/run.json" 2>/dev/null || echo 0) $(stat -c %s "$c/samples.jsonl" 2>/dev/null || echo 0) $(stat -c %s "$c/timeline.jsonl" 2>/dev/null || echo 0)"
}

FPMLAB_CHECKPOINT_LOG="$work/checkpoints.log" "$bin" run "$work/soak.toml" --stack native \
    --quiet --out "$work/run" >"$work/stdout" 2>"$work/stderr" &
pid=$!
start=$(date +%s)
sleep 62
rss1=$(rss_kib "$pid"); read -r json1 samples1 tl1 <<<"$(sizes)"; t1=$(($(date +%s) - start))
sleep $((minutes * 60 - 62 - 3))
rss2=$(rss_kib "$pid"); read -r json2 samples2 tl2 <<<"$(sizes)"; t2=$(($(date +%s) - start))
wait "$pid" || { echo "fpmlab run failed:" >&2; cat "$work/stderr" >&2; exit 1; }
pid=

# Checkpoint lines: seconds_into_load checkpoint_us run_json_bytes timeline_bytes_appended.
near() { awk -v t="$1" '{d = $1 - t; if (d < 0) d = -d; if (best == "" || d < best) {best = d; line = $0}} END {print line}' "$work/checkpoints.log"; }
read -r c1_t c1_us c1_json c1_tl <<<"$(near 60)"
read -r c2_t c2_us c2_json c2_tl <<<"$(tail -n1 "$work/checkpoints.log")"
samples_per_interval=$(( (samples2 - samples1) * 5 / (t2 - t1) ))
report=$(stat -c %s "$work/run/report.html")
echo "soak: $minutes min at $rate req/s, one config, checkpoint every 5 s"
printf '%-28s %12s %12s\n' "" "minute 1" "end"
printf '%-28s %12s %12s\n' "load time of checkpoint (s)" "$c1_t" "$c2_t"
printf '%-28s %12s %12s\n' "checkpoint time (us)" "$c1_us" "$c2_us"
printf '%-28s %12s %12s\n' "run.json rewritten (B)" "$c1_json" "$c2_json"
printf '%-28s %12s %12s\n' "timeline appended (B)" "$c1_tl" "$c2_tl"
printf '%-28s %12s %12s\n' "samples appended (B/5 s)" "$samples_per_interval" "$samples_per_interval"
printf '%-28s %12s %12s\n' "fpmlab RSS (KiB)" "$rss1" "$rss2"
printf '%-28s %12s %12s\n' "series files total (B)" "$((samples1 + tl1))" "$((samples2 + tl2))"
echo "checkpoint time over the run (us): min/median/max $(awk '{print $2}' "$work/checkpoints.log" | sort -n | awk '{a[NR]=$1} END {print a[1] "/" a[int((NR+1)/2)] "/" a[NR]}')"
echo "report.html: $report bytes"
