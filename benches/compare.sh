#!/usr/bin/env bash
# Before and after, side by side in one run: builds the named benchmarks
# at another revision (in a git worktree) and at the working tree, then
# runs them alternately, round after round, so both sides meet the same
# machine load. Prints every figure's median on each side, and each round.
#
#   benches/compare.sh REV statefulset journey       # 3 rounds
#   benches/compare.sh --rounds 5 REV statefulset
#
# The other revision is checked out in target/compare/src and builds in
# target/compare/target (a first build takes as long as a clean one);
# COMPARE_SRC and COMPARE_TARGET_DIR choose other places. Names are those
# of benches/run.sh --list. Run as root for the benchmarks that run pods.

set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

rounds=3
while [[ ${1:-} == -* ]]; do
  case "$1" in
    -r | --rounds) rounds=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
if (($# < 2)); then
  echo "usage: benches/compare.sh [--rounds N] REV BENCH..." >&2
  exit 2
fi
rev=$(git rev-parse --verify "$1^{commit}") || { echo "no revision $1" >&2; exit 2; }
shift
names=("$@")

# The package of each benchmark, from run.sh's list.
package_of() {
  bash benches/run.sh --list | awk -v n="$1" '$1 == n { sub(/\)$/, "", $3); print $3 }'
}
build=(cargo bench --no-run --message-format=json)
for name in "${names[@]}"; do
  package=$(package_of "$name")
  [[ -n $package ]] || { echo "no benchmark named $name (try benches/run.sh --list)" >&2; exit 2; }
  build+=(-p "$package" --bench "$name")
done

base_dir=${COMPARE_SRC:-target/compare/src}
if [[ -e $base_dir/.git ]]; then
  git -C "$base_dir" checkout --quiet --detach "$rev"
else
  mkdir -p target/compare
  git worktree add --quiet --detach "$base_dir" "$rev"
fi

# Prints "name executable" for each benchmark built by `build` in $1.
built() {
  local dir=$1 target=$2
  (cd "$dir" && CARGO_TARGET_DIR=$target "${build[@]}") |
    grep -o '"target":{[^}]*"name":"[^"]*"[^}]*}.*"executable":"[^"]*"' |
    sed -E 's/.*"target":\{[^}]*"name":"([^"]*)".*"executable":"([^"]*)".*/\1 \2/'
}
echo "==> building ${names[*]} at ${rev:0:12}"
before=$(built "$base_dir" "${COMPARE_TARGET_DIR:-$root/target/compare/target}")
echo "==> building ${names[*]} in the working tree"
after=$(built "$root" "${CARGO_TARGET_DIR:-$root/target}")

mkdir -p target/compare
figures=target/compare/figures
: >"$figures"
run_side() {
  local side=$1 list=$2 name=$3 round=$4 exe
  exe=$(awk -v n="$name" '$1 == n { print $2 }' <<<"$list")
  echo "==> round $round, $name, $side (load $(cut -d' ' -f1 /proc/loadavg))"
  (cd "crates/$(package_of "$name")" && "$exe" --bench 2>&1) |
    grep '^BENCH ' | awk -v s="$side" -v r="$round" '{ print s, r, $2, $3, $4 }' >>"$figures" ||
    echo "    $name failed at $side" >&2
}
for ((round = 1; round <= rounds; round++)); do
  for name in "${names[@]}"; do
    # Alternate which side goes first, so neither always runs warm.
    if ((round % 2)); then
      run_side before "$before" "$name" "$round"
      run_side after "$after" "$name" "$round"
    else
      run_side after "$after" "$name" "$round"
      run_side before "$before" "$name" "$round"
    fi
  done
done

echo
echo "| figure | ${rev:0:12} (median) | working tree (median) | rounds, before → after |"
echo "|---|---|---|---|"
awk '
  { key = $3; unit[key] = $5; v[key, $1, $2] = $4; if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
  $2 > rounds { rounds = $2 }
  function median(key, side,   a, i, m, t, j) {
    m = 0
    for (i = 1; i <= rounds; i++) if ((key, side, i) in v && v[key, side, i] != "nan") a[++m] = v[key, side, i] + 0
    for (i = 2; i <= m; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    if (m == 0) return "—"
    return sprintf("%.4g", (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2)
  }
  END {
    for (k = 1; k <= n; k++) {
      key = order[k]; each = ""
      for (i = 1; i <= rounds; i++) each = each sprintf("%s%.4g → %.4g", (i > 1 ? "; " : ""), v[key, "before", i], v[key, "after", i])
      printf "| %s | %s %s | %s %s | %s |\n", key, median(key, "before"), unit[key], median(key, "after"), unit[key], each
    }
  }' "$figures"
