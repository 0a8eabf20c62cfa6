#!/usr/bin/env bash
# Run the quickstart against two real OpenTelemetry backends, offline on loopback, and
# check through each backend's own API what it shows (see check.py for the list):
# Arize Phoenix (`phoenix serve`) and MLflow's tracing server (`mlflow server`, SQLite).
# Each backend gets four runs: both convention profiles (v1.41 default and
# OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental), capture on and off. Each run
# makes two traces, checked alike: the quickstart's session, and a session with one tool
# step and no LLM call (QUICKSTART_STEPS_SESSION), which must still be grouped as a session.
#
#   scripts/backends/run.sh [phoenix|mlflow|all]     (default all)
#
# The backends come from PyPI into virtual environments under target/ (made on first use;
# BACKENDS_PIP_ARGS adds pip arguments). Nothing leaves the machine: MLflow's price
# catalog download is off (MLFLOW_MODEL_CATALOG_URI=""), Phoenix's telemetry too.
set -euo pipefail

which=${1:-all}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${BACKENDS_WORK:-$root/target/backends}
rm -rf "$work" && mkdir -p "$work"
pids=()
cleanup() {
  [ ${#pids[@]} -eq 0 ] && return
  # Each backend runs in a process group of its own (setsid): stop that group.
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

venv() { # venv NAME PACKAGE: the venv's directory, made and filled if missing
  local dir=$root/target/venv-$1
  if [ ! -x "$dir/bin/$3" ]; then
    python3 -m venv "$dir" >&2
    "$dir/bin/pip" install -q ${BACKENDS_PIP_ARGS:-} "$2" >&2
  fi
  echo "$dir"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # wait_for URL LOG: until URL answers (up to 180 s)
  for _ in $(seq 360); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  echo "backend did not come up at $1; its log:" >&2
  tail -40 "$2" >&2
  return 1
}

echo "== building the quickstart"
(cd "$root" && cargo build -q --all-features --example quickstart)
quickstart=$root/target/debug/examples/quickstart

failed=0
run_quickstart() { # run_quickstart LABEL PROFILE CAPTURE ENV...: runs it, sets $tree, $key
  # and $steps_tree, $steps_key (its second trace: a session with a tool step, no LLM call)
  local label=$1 profile=$2 capture=$3
  shift 3
  tree=$work/$label.json
  key=qs-$label-$$
  steps_tree=$work/$label-steps.json
  steps_key=$key-steps
  local opt_in=""
  [ "$profile" = v0.1 ] && opt_in=gen_ai_latest_experimental
  echo "-- $label: profile $profile, capture $capture"
  if ! env "$@" OTEL_SEMCONV_STABILITY_OPT_IN="$opt_in" HUMANLOOP_CAPTURE_CONTENT="$capture" \
    QUICKSTART_SESSION="$key" QUICKSTART_TREE_JSON="$tree" QUICKSTART_OTLP_DEADLINE_SECS=60 \
    QUICKSTART_STEPS_SESSION="$steps_key" QUICKSTART_STEPS_TREE_JSON="$steps_tree" \
    "$quickstart" >"$work/$label.out" 2>&1; then
    echo "  FAIL the quickstart exited non-zero:"; tail -20 "$work/$label.out"; failed=1; return 1
  fi
  sed -n '/── span tree/,/^$/p' "$work/$label.out" | sed 's/^/  | /'
  if grep -q "OTLP: .*delivery incomplete" "$work/$label.out"; then
    echo "  FAIL an export failed:"; grep "OTLP:" "$work/$label.out"; failed=1; return 1
  fi
}

profiles=(v1.41 v0.1)
captures=(true false)

if [ "$which" = all ] || [ "$which" = phoenix ]; then
  echo "== Arize Phoenix"
  pv=$(venv phoenix arize-phoenix phoenix)
  echo "   $("$pv/bin/python" -c 'import importlib.metadata as m; print("arize-phoenix", m.version("arize-phoenix"))')"
  port=$(free_port); grpc=$(free_port)
  PHOENIX_WORKING_DIR=$work/phoenix PHOENIX_HOST=127.0.0.1 PHOENIX_PORT=$port \
    PHOENIX_GRPC_PORT=$grpc PHOENIX_TELEMETRY_ENABLED=false \
    setsid "$pv/bin/phoenix" serve >"$work/phoenix.log" 2>&1 &
  pids+=($!)
  url=http://127.0.0.1:$port
  wait_for "$url/healthz" "$work/phoenix.log"
  for profile in "${profiles[@]}"; do
    for capture in "${captures[@]}"; do
      label=phoenix-$profile-capture-$capture
      project=qs-${profile//./}-$capture
      run_quickstart "$label" "$profile" "$capture" \
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="$url/v1/traces" \
        OTEL_RESOURCE_ATTRIBUTES="openinference.project.name=$project" || continue
      c=off; [ "$capture" = true ] && c=on
      "$pv/bin/python" "$root/scripts/backends/check.py" phoenix "$url" "$tree" "$key" "$c" "$project" || failed=1
      echo "   the steps-only trace:"
      "$pv/bin/python" "$root/scripts/backends/check.py" phoenix "$url" "$steps_tree" "$steps_key" "$c" "$project" || failed=1
    done
  done
fi

if [ "$which" = all ] || [ "$which" = mlflow ]; then
  echo "== MLflow tracing server"
  mv=$(venv mlflow mlflow mlflow)
  echo "   $("$mv/bin/python" -c 'import importlib.metadata as m; print("mlflow", m.version("mlflow"))')"
  port=$(free_port)
  mkdir -p "$work/mlflow"
  MLFLOW_MODEL_CATALOG_URI="" setsid "$mv/bin/mlflow" server --host 127.0.0.1 --port "$port" \
    --backend-store-uri "sqlite:///$work/mlflow/mlflow.db" \
    --default-artifact-root "$work/mlflow/artifacts" >"$work/mlflow.log" 2>&1 &
  pids+=($!)
  url=http://127.0.0.1:$port
  wait_for "$url/health" "$work/mlflow.log"
  for profile in "${profiles[@]}"; do
    for capture in "${captures[@]}"; do
      label=mlflow-$profile-capture-$capture
      experiment=$("$mv/bin/python" "$root/scripts/backends/check.py" mlflow-experiment "$url" "$label")
      run_quickstart "$label" "$profile" "$capture" \
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="$url/v1/traces" \
        OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-mlflow-experiment-id=$experiment" || continue
      c=off; [ "$capture" = true ] && c=on
      MLFLOW_MODEL_CATALOG_URI="" "$mv/bin/python" "$root/scripts/backends/check.py" \
        mlflow "$url" "$tree" "$key" "$c" "$experiment" || failed=1
      echo "   the steps-only trace:"
      MLFLOW_MODEL_CATALOG_URI="" "$mv/bin/python" "$root/scripts/backends/check.py" \
        mlflow "$url" "$steps_tree" "$steps_key" "$c" "$experiment" || failed=1
    done
  done
fi

if [ "$failed" = 0 ]; then echo "== backends: every check passed"; else echo "== backends: FAILED"; fi
exit "$failed"
