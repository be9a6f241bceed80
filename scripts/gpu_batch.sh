#!/usr/bin/env bash
# On a lent GPU machine (the device tool; see docs/training.md): train the runs listed in a file side by
# side on the JAX backend until a deadline, then put each run's best epoch in $OUT as a float16 .keras
# (about 10 MB, under the 16 MiB a file that comes back may have) and every log, state and report in
# $OUT/reports.tgz. Runs still going at the deadline get Ctrl+C: they keep their best epoch so far.
#
#   bash scripts/gpu_batch.sh RUNS_FILE      # each line: NAME then training.train options
#
# A line `NAME after:PARENT OPTIONS` (below PARENT's line) waits for PARENT's best epoch, prunes it to the
# --width that OPTIONS give (training.prune) and trains from it (--init): the live-size network from a
# width-64 parent in the same call, where the CPU would take hours. It does not start after the deadline.
#
# At most 6 width-64 runs a call: 8 files of at most 16 MiB, 64 MiB in all, come back (a run with --heads 2
# counts as two: its file comes in two parts).
#
# Environment: LIMIT (the call's timeout_s, default 600), DEADLINE (seconds after the start when the runs
# still going are stopped; default LIMIT - 150), PY (default python3), RUNS_DIR (default /tmp/gpu-runs), OUT
# (set by the device tool), EXTRA (options added to every run, for a dry run here).
# A stopped run needs time after the deadline: up to 30 s to stop, then `--finish` reads the data set again
# (six at once) and the copies are made. A call killed at its limit brings back only what is already in
# $OUT, so each run's file goes there as soon as the run ends, and DEADLINE stays well before LIMIT.
# Needs .gpu/ from scripts/gpu_pack.sh (carry it).
set -u
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
runs_file=${1:?usage: gpu_batch.sh RUNS_FILE}
PY=${PY:-python3}
LIMIT=${LIMIT:-600}
DEADLINE=${DEADLINE:-$((LIMIT - 150))}
OUT=${OUT:-/tmp/gpu-out}
RUNS_DIR=${RUNS_DIR:-/tmp/gpu-runs}
mkdir -p "$OUT" "$RUNS_DIR"
if ! $PY -c "import keras" 2>/dev/null; then  # the machine has JAX but not Keras
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false \
    PYTHONUNBUFFERED=1
votes=/tmp/gpu-data/ferplus/labels.csv
mkdir -p "$(dirname $votes)"
gunzip -c .gpu/labels.csv.gz > $votes
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
(while sleep 20; do
   echo "$(elapsed)s $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null)" \
        "load $(cut -d' ' -f1 /proc/loadavg)"
 done) > "$RUNS_DIR/gpu_util.log" 2>&1 &
monitor=$!

declare -A pids
train() {  # NAME OPTIONS...: one run, its checkpoints in $RUNS_DIR/NAME, its best epoch in NAME/final/
  local name=$1; shift
  # shellcheck disable=SC2086 # EXTRA's options are words
  exec $PY -m training.train --data .gpu/fer2013.zip --votes $votes --name "$name" --run-dir "$RUNS_DIR/$name" \
      --output "$RUNS_DIR/$name/final/$name.keras" "$@" ${EXTRA:-}
}
train_after() {  # NAME PARENT OPTIONS...: PARENT's best epoch pruned to OPTIONS' --width, then trained on
  local name=$1 parent=$2; shift 2
  local parent_file=$RUNS_DIR/$parent/final/$parent.keras width
  width=$(sed -n 's/.*--width \([0-9]*\).*/\1/p' <<< "$*")
  [ -n "$width" ] && [ -n "${pids[$parent]:-}" ] || { echo "$name: needs --width and a run named $parent above it"; exit 1; }
  while [ ! -f "$parent_file" ]; do
    kill -0 "${pids[$parent]}" 2>/dev/null || { echo "$name: $parent ended without a file"; exit 1; }
    [ "$(elapsed)" -lt "$DEADLINE" ] || { echo "$name: $parent was not done by the deadline"; exit 1; }
    sleep 5
  done
  echo "$name: pruning $parent to width $width at $(elapsed)s"
  mkdir -p "$RUNS_DIR/$name"
  $PY -m training.prune "$parent_file" --width "$width" --output "$RUNS_DIR/$name/pruned.keras" || exit 1
  [ "$(elapsed)" -lt "$DEADLINE" ] || { echo "$name: pruned after the deadline, not trained"; exit 1; }
  train "$name" --init "$RUNS_DIR/$name/pruned.keras" "$@"
}
while read -r name options; do
  [ -z "$name" ] && continue
  # shellcheck disable=SC2086 # the options are words
  case $options in
    after:*) parent=${options%% *}; (train_after "$name" "${parent#after:}" ${options#* }) > "$RUNS_DIR/$name.log" 2>&1 & ;;
    *) (train "$name" $options) > "$RUNS_DIR/$name.log" 2>&1 & ;;
  esac
  pids[$name]=$!
done < "$runs_file"

running() { for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done; return 1; }
# A finished run's best epoch goes to $OUT as a float16 copy right away (its report goes in the archive).
declare -A copied
# A file over 16 MiB does not come back (a width-64 net with two heads, --heads 2, is 17 MB in float16): it comes
# in 15 MiB parts, NAME.keras.part0, part1, ...; join them with `cat NAME.keras.part* > NAME.keras`.
within_file_limit() {
  local file=$OUT/$1.keras
  [ "$(stat -c %s "$file")" -le 16777216 ] || { split -b 15M -d -a 1 "$file" "$file.part" && rm "$file"; }
}
copy_finished() {
  for name in "${!pids[@]}"; do
    final=$RUNS_DIR/$name/final/$name.keras
    if [ -z "${copied[$name]:-}" ] && ! kill -0 "${pids[$name]}" 2>/dev/null && [ -f "$final" ]; then
      copied[$name]=1
      { $PY -m training.float16_copy "$final" --output "$OUT/$name.keras" > "$RUNS_DIR/$name.float16.log" 2>&1 \
          && mkdir -p "$RUNS_DIR/float16" && mv "$OUT/$name.json" "$RUNS_DIR/float16/" && within_file_limit "$name"; } &
    fi
  done
}
while running && [ "$(elapsed)" -lt "$DEADLINE" ]; do copy_finished; sleep 5; done
if running; then
  echo "deadline at $(elapsed)s: stopping the runs still going (each keeps its best epoch so far)"
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null; done
  for _ in $(seq 30); do running || break; sleep 1; done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
fi
kill $monitor 2>/dev/null
echo "training over at $(elapsed)s"

for name in "${!pids[@]}"; do
  tail -n 3 "$RUNS_DIR/$name.log" | sed "s/^/$name: /"
  final=$RUNS_DIR/$name/final/$name.keras
  [ -f "$final" ] || [ ! -f "$RUNS_DIR/$name/state.json" ] \
    || $PY -m training.train --resume --finish --run-dir "$RUNS_DIR/$name" >> "$RUNS_DIR/$name.log" 2>&1 &
done
wait  # the runs stopped at the deadline export their best epoch, class list, output correction and report
copy_finished
wait
# At most 8 files come back: the copies' reports (NAME.json) went into the archive with everything else.
(cd "$RUNS_DIR" && tar czf "$OUT/reports.tgz" --exclude='*.keras' .)
ls -l "$OUT"
echo "all over at $(elapsed)s"
