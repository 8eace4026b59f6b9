"""`vigie serve` under load: searches beside an answer, concurrent clients, the queue.

The bench makes its own home (`vigie init`, `vigie ingest DOCUMENTS`), an API token of
its administrator, and starts `vigie serve` on a free loopback port with
`api_queue_size = --queue`. Then, over plain HTTP (httpx), all in one run:

1. search alone: `--searches` searches one after the other (the baseline);
2. search beside an answer: the same searches while the model writes a streamed answer
   (the queue lets searches through: the ratio to 1 says what the answer costs them);
3. concurrent clients: `--clients` clients each run `--searches` searches at once;
   searches/s against one client's (the baseline of 1);
4. the queue: while the model writes one answer, `--queue + 1` more questions arrive:
   `--queue` wait and are answered after it, the last gets 503 with Retry-After at
   once; their times.
5. a client that leaves: a streamed answer closed after its quotes; the time until the
   next question is taken (the model stopped, its place given back).

The machine's load average is printed before and after. Run it:

    .venv/bin/python bench/api.py                       # samples/, 20 searches, 4 clients
    .venv/bin/python bench/api.py --documents ../shared/corpus/documents/fr-born-digital
    .venv/bin/python bench/api.py --json > api-bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from signin import REPO, signed_in  # noqa: E402

QUESTION = "Quel croiseur attendait le Président du Conseil à Dunkerque ?"
QUERIES = ["croiseur Colbert", "redevances annuelles", "procès-verbal de la séance",
           "journal 1914", "multi-column layout", "Président du Conseil"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def median_ms(values: list[float]) -> float:
    return round(1000 * statistics.median(values), 1) if values else 0.0


def searches(url: str, headers: dict, count: int) -> list[float]:
    times = []
    with httpx.Client(headers=headers, timeout=600) as client:
        for n in range(count):
            started = time.perf_counter()
            response = client.post(f"{url}/v1/search", json={"query": QUERIES[n % len(QUERIES)]})
            response.raise_for_status()
            times.append(time.perf_counter() - started)
    return times


def ask(url: str, headers: dict, question: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = httpx.post(f"{url}/v1/ask", json={"question": question}, headers=headers,
                          timeout=900)  # fmt: skip
    return response.status_code, time.perf_counter() - started


def streamed_answer(url: str, headers: dict, started: threading.Event, question: str) -> None:
    body = {"question": question, "stream": True}
    with httpx.stream("POST", f"{url}/v1/ask", json=body, headers=headers, timeout=900) as r:
        for line in r.iter_lines():
            if line.startswith("event: token"):
                started.set()  # the model is writing
    started.set()


def start_server(env: dict[str, str], queue: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "--port", str(port)],
        cwd=REPO, env={**env, "VIGIE_API_QUEUE_SIZE": str(queue)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            said = server.stdout.read() if server.stdout else ""
            raise SystemExit(f"vigie serve stopped: {said[-800:]}")
        try:
            if httpx.get(f"{url}/v1/health").status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit("vigie serve did not answer within 300 s")


def run(args: argparse.Namespace) -> dict:
    question = args.question
    home = Path(tempfile.mkdtemp(prefix="vigie-api-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    env.update(VIGIE_HOME=str(home / "home"), PYTHONPATH=str(REPO),
               VIGIE_NETWORK_LOG=str(home / "network-attempts.log"))  # fmt: skip
    env["VIGIE_MODELS_DIR"] = os.environ.get("VIGIE_MODELS_DIR", str(REPO / ".vigie" / "models"))
    env = signed_in(env)
    cli = [sys.executable, "-m", "ui.cli"]
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    say(f"ingesting {args.documents}")
    fed = subprocess.run([*cli, "ingest", str(args.documents), "--level", "NON PROTÉGÉ"],
                         cwd=REPO, env=env, capture_output=True, text=True)  # fmt: skip
    if fed.returncode != 0:
        raise SystemExit(f"vigie ingest failed: {fed.stderr[-800:]}")
    made = subprocess.run([*cli, "tokens", "create", "bench"], cwd=REPO, env=env,
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        raise SystemExit(f"vigie tokens create failed: {made.stderr[-800:]}")
    headers = {"Authorization": f"Bearer {made.stdout.strip()}"}
    load_before = os.getloadavg()
    say("starting vigie serve")
    server, url = start_server(env, args.queue)
    try:
        searches(url, headers, 2)  # warm
        say("searches alone")
        alone = searches(url, headers, args.searches)

        say("searches beside a streamed answer")
        writing = threading.Event()
        answer = threading.Thread(target=streamed_answer, args=(url, headers, writing, question))
        answer.start()
        writing.wait(600)
        beside = searches(url, headers, args.searches)
        answer.join()

        say(f"one client, then {args.clients} concurrent clients")
        one_started = time.perf_counter()
        searches(url, headers, args.searches)
        one_rate = args.searches / (time.perf_counter() - one_started)
        results: list[list[float]] = []
        threads = [
            threading.Thread(target=lambda: results.append(searches(url, headers, args.searches)))
            for _ in range(args.clients)
        ]
        many_started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        many_rate = args.clients * args.searches / (time.perf_counter() - many_started)

        sent = args.queue + 2
        say(f"{sent} questions at once (queue {args.queue})")
        outcomes: list[tuple[int, float]] = []
        writing = threading.Event()
        first = threading.Thread(target=streamed_answer, args=(url, headers, writing, question))
        first.start()
        writing.wait(600)  # the model writes the first answer: the others arrive now
        askers = [threading.Thread(target=lambda: outcomes.append(ask(url, headers, question)))
                  for _ in range(sent - 1)]  # fmt: skip
        for asker in askers:
            asker.start()
        for asker in [first, *askers]:
            asker.join()
        answered = [t for status, t in outcomes if status == 200]
        refused = [t for status, t in outcomes if status == 503]

        say("a client that leaves after the quotes")
        body = {"question": question, "stream": True}
        with httpx.stream("POST", f"{url}/v1/ask", json=body, headers=headers,
                          timeout=600) as r:  # fmt: skip
            next(line for line in r.iter_lines() if line.startswith("event: quotes"))
        left = time.perf_counter()
        status, _ = ask(url, headers, question)
        while status == 503 and time.perf_counter() - left < 300:
            time.sleep(0.2)
            status, _ = ask(url, headers, question)
        freed = time.perf_counter() - left
    finally:
        server.terminate()
        server.wait(timeout=60)
    attempts = home / "network-attempts.log"
    blocked = attempts.read_text().splitlines() if attempts.exists() else []
    shutil.rmtree(home, ignore_errors=True)
    return {
        "documents": str(args.documents),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "search_alone_ms_median": median_ms(alone),
        "search_beside_answer_ms_median": median_ms(beside),
        "ratio_beside_over_alone": round(statistics.median(beside) / statistics.median(alone), 2),
        "searches_per_s_one_client": round(one_rate, 2),
        f"searches_per_s_{args.clients}_clients": round(many_rate, 2),
        "ratio_concurrent_over_one": round(many_rate / one_rate, 2),
        "question": question,
        "questions_sent": sent,
        "answered": len(answered) + 1,
        "refused_503": len(refused),
        "answered_s": [round(t, 2) for t in sorted(answered)],
        "refused_ms_median": median_ms(refused),
        "seconds_until_a_left_answer_freed_the_model": round(freed, 2),
        "network_attempts": blocked,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=Path, default=REPO / "samples")
    parser.add_argument("--searches", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--queue", type=int, default=2)
    parser.add_argument("--question", default=QUESTION, help="one the documents answer")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    width = max(len(key) for key in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
