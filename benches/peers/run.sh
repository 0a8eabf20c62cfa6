#!/usr/bin/env bash
# The peers side by side in one run: creates target/venv-peers with the Python peers
# (current versions from PyPI), then runs `cargo bench --bench peers`, which starts one
# loopback server and drives the Rust clients and the Python variants against it.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/venv-peers
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
fi
"$venv/bin/pip" install --quiet -r benches/peers/requirements.txt
"$venv/bin/pip" freeze | grep -iE '^(openai|opentelemetry-sdk|openinference-instrumentation-openai|opentelemetry-instrumentation-openai)==' || true
cargo bench --bench peers
