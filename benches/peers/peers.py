"""Added time per call of the Python peers, measured like ours.

Drives the OpenAI Python client against a loopback OpenAI-compatible provider (the same
2 KB chat completion our `overhead` bench uses), bare and instrumented by OpenInference
(`openinference-instrumentation-openai`) and OpenLLMetry (`opentelemetry-instrumentation-openai`,
the instrumentation inside `traceloop-sdk`), each with an OpenTelemetry SDK tracer that
exports to an in-memory exporter (the equivalent of our sink exporter). Reports the median
time per call and the added time against bare, measured in the same run.

`benches/peers/run.sh` runs this file's variants against the crate's own loopback server
next to the Rust clients, in one run (`cargo bench --bench peers`); that is the table the
README gives. Standalone (its own Python server; not run in CI):

    python3 -m venv /tmp/peers && . /tmp/peers/bin/activate
    pip install -r benches/peers/requirements.txt
    python3 benches/peers/peers.py            # --calls 2000

Each instrumentation patches the openai module globally, so each variant runs in its own
subprocess.
"""

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT = "Lisbon in three days: Alfama, Belém, Sintra. " * 38
BODY = json.dumps({
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": CONTENT, "refusal": None},
        "logprobs": None,
        "finish_reason": "stop",
    }],
    "usage": {"prompt_tokens": 19, "completion_tokens": 410, "total_tokens": 429},
}).encode()


class Provider(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server naming)
        length = int(self.headers.get("content-length", 0))
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


def run_variant(variant: str, base_url: str, calls: int, stream: bool = False) -> list:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if variant == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor
        OpenAIInstrumentor().instrument(tracer_provider=provider)
    elif variant == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
        OpenAIInstrumentor().instrument(tracer_provider=provider)

    import openai
    client = openai.OpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    messages = [
        {"role": "system", "content": "You are a travel agent."},
        {"role": "user", "content": "Plan three days in Lisbon."},
    ]
    def one():
        if stream:
            # A stream is read to its end, as an application reads it.
            chunks = client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, temperature=0.7, max_tokens=512,
                stream=True, stream_options={"include_usage": True})
            for _ in chunks:
                pass
        else:
            client.chat.completions.create(model="gpt-4o-mini", messages=messages,
                                           temperature=0.7, max_tokens=512)

    for _ in range(100):  # warm up
        one()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        one()
        times.append(time.perf_counter() - t0)
        exporter.clear()
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--variant")
    parser.add_argument("--base-url")
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()
    if args.variant:
        times = run_variant(args.variant, args.base_url, args.calls, args.stream)
        print(json.dumps({"median": statistics.median(times)}))
        return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    results = {}
    for variant in ["bare", "openinference", "openllmetry"]:
        out = subprocess.run(
            [sys.executable, __file__, "--variant", variant, "--base-url", base_url,
             "--calls", str(args.calls)],
            capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{variant}: failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])["median"]
    bare = results.get("bare")
    print(f"{'variant':<16}{'median µs':>12}{'added µs':>12}{'ratio':>8}")
    for name, median in results.items():
        added = (median - bare) * 1e6 if bare else float("nan")
        ratio = median / bare if bare else float("nan")
        print(f"{name:<16}{median * 1e6:>12.1f}{added:>12.1f}{ratio:>8.2f}")
    server.shutdown()


if __name__ == "__main__":
    main()
