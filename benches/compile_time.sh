#!/usr/bin/env bash
# Compile time of the main job from nothing: `cargo test --test contract --no-run` in a fresh
# target directory, for this working tree and for another commit (default: 420b905, the last
# commit before the self-tests moved to their own package), interleaved in the same run so both
# see the same machine. Dependencies are fetched first, so only compiling is timed.
#
#   benches/compile_time.sh [BASE_COMMIT]        (COMPILE_BENCH_RUNS=N, default 1)
#
# Needs GNU time (`apt-get install time`) and bc (`apt-get install bc`).
set -euo pipefail
for tool in /usr/bin/time bc; do
  if ! command -v "$tool" >/dev/null; then
    echo "compile_time: $tool is missing: apt-get install $(basename "$tool")" >&2
    exit 2
  fi
done
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
base=${1:-420b905}
runs=${COMPILE_BENCH_RUNS:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Fresh means fresh: no shared target directory, no compiler cache.
unset CARGO_TARGET_DIR RUSTC_WRAPPER CARGO_BUILD_RUSTC_WRAPPER CARGO_BUILD_TARGET_DIR

mkdir -p "$work/base" "$work/head"
git -C "$root" archive "$base" | tar -x -C "$work/base"
# This tree as it is, uncommitted changes included, without build output.
tar -C "$root" --exclude=./target --exclude=./.git -cf - . | tar -x -C "$work/head"

for side in base head; do
  (cd "$work/$side" && cargo fetch --quiet)
done

declare -A wall cpu
for run in $(seq 1 "$runs"); do
  for side in base head; do
    rm -rf "$work/$side/target"
    start=$(date +%s.%N)
    if ! /usr/bin/time -f '%U %S' -o "$work/$side.time" \
      cargo test --quiet --test contract --no-run \
      --manifest-path "$work/$side/Cargo.toml" >/dev/null 2>"$work/$side.err"; then
      echo "compile_time: the build of $side failed:" >&2
      cat "$work/$side.err" >&2
      exit 1
    fi
    end=$(date +%s.%N)
    read -r user sys <"$work/$side.time"
    w=$(echo "$end - $start" | bc)
    c=$(echo "$user + $sys" | bc)
    echo "run $run/$runs: $side: wall ${w} s, CPU ${c} s" >&2
    wall[$side]="${wall[$side]:-} $w"
    cpu[$side]="${cpu[$side]:-} $c"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "main job compile time (cargo test --test contract --no-run, fresh target), median of $runs"
echo "machine: $(nproc) cores, $(uname -sr), $(rustc --version), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for side in base head; do
  label=$([ "$side" = base ] && echo "$base" || echo "this tree")
  printf '%-12s wall %7.1f s   CPU %7.1f s\n' "$label" "$(echo "${wall[$side]}" | median)" "$(echo "${cpu[$side]}" | median)"
done
rw=$(echo "$(echo "${wall[head]}" | median) / $(echo "${wall[base]}" | median)" | bc -l)
rc=$(echo "$(echo "${cpu[head]}" | median) / $(echo "${cpu[base]}" | median)" | bc -l)
met() { [ "$(echo "$1 <= 0.70" | bc -l)" = 1 ] && echo met || echo missed; }
printf 'ratio (this tree / %s): wall %.2fx (%s), CPU %.2fx (%s); goal: <= 0.70x\n' \
  "$base" "$rw" "$(met "$rw")" "$rc" "$(met "$rc")"
