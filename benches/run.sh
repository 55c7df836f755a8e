#!/usr/bin/env bash
# The benchmark suite: builds every benchmark in release once, runs them
# one after another, and prints one table of every figure beside its goal.
# The table, the machine and the load go into a Markdown file.
#
#   benches/run.sh                   # everything
#   benches/run.sh apiserver plan    # a subset, by benchmark name
#   benches/run.sh --list            # the benchmarks it knows
#   benches/run.sh -o FILE ...       # where the Markdown goes
#                                    # (default: target/bench-results.md)
#
# Each benchmark prints, besides its own lines, one line per figure:
#   BENCH <id> <value> <unit> <op> <goal> <description>
# (benches/report.rs writes it). A missed goal is reported, not a failure:
# the script exits non-zero only when a benchmark fails to build or run.
# The containers, node and journey benchmarks run pods in namespaces: run
# as root. The containers benchmark needs Debian's containerd and runc.

set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# name package, in the order they run: the API server, its parts, the
# controllers, the node, then the whole journey.
benches=(
  "apiserver ordinal"
  "hostile ordinal"
  "write_path ordinal-apiserver"
  "track ordinal-apply"
  "smp ordinal-merge"
  "gc ordinal"
  "crds ordinal"
  "plan ordinal-controllers"
  "statefulset ordinal"
  "containers ordinal"
  "node ordinal"
  "streams ordinal"
  "volumes ordinal"
  "beyond ordinal"
  "network ordinal"
  "queries ordinal-dns"
  "image ordinal-image"
  "replication ordinal-kv"
  "journey ordinal"
)

out=target/bench-results.md
selected=()
while (($#)); do
  case "$1" in
    -o | --output) out=$2; shift 2 ;;
    -l | --list) printf '%s\n' "${benches[@]}" | awk '{print $1 " (-p " $2 ")"}'; exit 0 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
    *) selected+=("$1"); shift ;;
  esac
done

run=()
for entry in "${benches[@]}"; do
  name=${entry%% *}
  if ((${#selected[@]} == 0)) || [[ " ${selected[*]} " == *" $name "* ]]; then
    run+=("$entry")
  fi
done
for want in "${selected[@]}"; do
  if ! printf '%s\n' "${benches[@]}" | grep -q "^$want "; then
    echo "no benchmark named $want (try --list)" >&2
    exit 2
  fi
done

logs=target/bench-logs
mkdir -p "$logs" "$(dirname "$out")"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(loadavg)
started_at=$(date -u '+%Y-%m-%d %H:%M UTC')
suite_start=$SECONDS

# Build every selected benchmark once, in one cargo invocation.
build=(cargo bench --no-run)
for entry in "${run[@]}"; do build+=(-p "${entry#* }" --bench "${entry%% *}"); done
echo "==> building ${#run[@]} benchmark(s) in release: ${build[*]}"
t=$SECONDS
"${build[@]}"
echo "==> built in $((SECONDS - t)) s"

failed=()
: >"$logs/figures"
i=0
for entry in "${run[@]}"; do
  i=$((i + 1))
  name=${entry%% *}
  package=${entry#* }
  echo
  echo "==> [$i/${#run[@]}] $name (cargo bench -p $package --bench $name), load $(loadavg)"
  t=$SECONDS
  status=0
  cargo bench -q -p "$package" --bench "$name" 2>&1 | tee "$logs/$name.log" || status=$?
  echo "==> $name: $((SECONDS - t)) s$( ((status == 0)) || echo ", FAILED (exit $status)")"
  if ((status != 0)); then failed+=("$name"); fi
  grep '^BENCH ' "$logs/$name.log" | sed "s/^BENCH /$name /" >>"$logs/figures" || true
done
load_after=$(loadavg)

# The table: benchmark | figure | result | goal | met.
table=$(awk '
  # 11187.3 -> 11,187; 10.23 -> 10.2; 0.431 -> 0.43
  function num(v) {
    if (v + 0 >= 100) return group(sprintf("%.0f", v))
    if (v + 0 >= 10) return sprintf("%.1f", v)
    return sprintf("%.2f", v)
  }
  function group(s,   out) {
    if (s !~ /^[0-9]+$/ || length(s) <= 3) return s
    out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    return s out
  }
  BEGIN {
    print "| benchmark | figure | result | goal | met |"
    print "|---|---|---|---|---|"
  }
  {
    bench = $1; value = $3; unit = $4; op = $5; goal = $6
    desc = $0
    for (f = 1; f <= 6; f++) sub(/^[^ ]+ /, "", desc)
    measured = (value != "nan")
    result = measured ? num(value) " " unit : "not measured"
    if (op == "-") { goal_text = "—"; met = "—" }
    else {
      goal_text = (op == "<=" ? "≤ " : "≥ ") group(goal) " " unit
      if (!measured) met = "**NO**"
      else if (op == "<=") met = (value + 0 <= goal + 0) ? "yes" : "**NO**"
      else met = (value + 0 >= goal + 0) ? "yes" : "**NO**"
    }
    printf "| %s | %s | %s | %s | %s |\n", bench, desc, result, goal_text, met
  }' "$logs/figures")

goals=$(grep -c ' [<>]= ' "$logs/figures" || true)
missed=$(printf '%s\n' "$table" | grep -c '\*\*NO\*\*' || true)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
took=$((SECONDS - suite_start))

{
  echo "## Benchmark suite results"
  echo
  echo "Command: \`benches/run.sh${selected[*]:+ ${selected[*]}}\` (release build), $started_at, $((took / 60)) min $((took % 60)) s."
  echo
  echo "Machine: $cpu, $(nproc) cores, $mem memory, Linux $(uname -r)."
  echo "Load average (1, 5, 15 min): $load_before before, $load_after after."
  echo
  echo "$goals figures with a goal, $missed missed.${failed[*]:+ Failed to run: ${failed[*]}.}"
  echo
  echo "$table"
} >"$out"

echo
cat "$out"
echo
echo "==> written to $out (logs in $logs/)"
if ((${#failed[@]})); then
  echo "==> failed to run: ${failed[*]}" >&2
  exit 1
fi
