#!/usr/bin/python3
"""Celery baseline for fila-bench: the same no-op burn-down through Celery.

Enqueues N no-op tasks (persistent messages, publisher confirms), then starts
a prefork worker with acks_late and times it until every task ran. Prints one
JSON object on stdout: tasks, seconds, tasks_per_s, cpu_s (worker process
tree), peak_rss_kb (largest process of the tree), enqueue_s.

Completion is seen without a result backend too: each pool process appends
one byte per finished task to a file (task_postrun signal), which the driver
watches; that costs a write(2) per task, nothing next to Celery's own work.

Run by bench/fila-bench (scripts/bench); by hand:
  python3 bench/celery/celery_bench.py --broker amqp://guest:guest@127.0.0.1:26672// \
      --tasks 10000 --concurrency 2 [--backend db+postgresql://postgres@127.0.0.1:26432/db]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

QUEUE = "fila_bench_celery"


def make_app(broker, backend):
    from celery import Celery
    from celery.signals import task_postrun, task_prerun

    app = Celery("celery_bench", broker=broker, backend=backend or None)
    app.conf.update(
        task_acks_late=True,             # ack after the task ran, like fila
        task_default_queue=QUEUE,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=4,    # Celery's default
        broker_transport_options={"confirm_publish": True},
        task_ignore_result=not backend,
        worker_hijack_root_logger=False,
    )

    @app.task(name="noop")
    def noop():
        return None

    @app.task(name="stamp")
    def stamp(sent):
        return None

    done_file = os.environ.get("FILA_BENCH_DONE_FILE")
    lat_file = os.environ.get("FILA_BENCH_LAT_FILE")
    state = {}

    @task_prerun.connect(weak=False)
    def started(task=None, args=None, **_):
        if not lat_file or task is None or task.name != "stamp" or not args or args[0] < 0:
            return
        waited = time.time() - args[0]
        fd = state.get("lat")
        if fd is None:
            fd = state["lat"] = os.open(lat_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, b"%.6f\n" % waited)

    @task_postrun.connect(weak=False)  # a local function: keep it alive
    def count(**_):
        if not done_file:
            return
        fd = state.get("fd")
        if fd is None:
            fd = state["fd"] = os.open(done_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, b".")

    return app, noop, stamp


def stop_worker(worker):
    """SIGTERM to the Celery worker; killed if it has not exited in 30 s."""
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()


def tree_stats(root_pid):
    """CPU seconds and the largest peak RSS (kB) of root_pid and its descendants."""
    children = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(pid))
        except OSError:
            continue
    tick = os.sysconf("SC_CLK_TCK")
    cpu, rss, todo = 0.0, 0, [root_pid]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        rss = max(rss, int(line.split()[1]))
        except OSError:
            continue
    return cpu, rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--backend", default="")
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--rate", type=float, default=0, help="steady mode: tasks/s")
    parser.add_argument("--seconds", type=float, default=10, help="steady mode: how long")
    parser.add_argument("--producers", type=int, default=4, help="steady mode: producer processes")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    app, noop, stamp = make_app(args.broker, args.backend)
    if args.worker:  # the child process: a Celery worker
        app.worker_main(["worker", "-P", "prefork", "-c", str(args.concurrency), "-Q", QUEUE,
                         "--without-gossip", "--without-mingle", "--without-heartbeat",
                         "--loglevel", os.environ.get("FILA_BENCH_CELERY_LOG", "WARNING")])
        return 0

    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(queue=QUEUE, durable=True, auto_delete=False)
        conn.default_channel.queue_purge(QUEUE)
    if args.rate > 0:
        return steady(args)

    t0 = time.monotonic()
    with app.producer_pool.acquire(block=True) as producer:
        for _ in range(args.tasks):
            noop.apply_async(producer=producer)
    enqueue_s = time.monotonic() - t0

    with tempfile.TemporaryDirectory() as tmp:
        done_file = os.path.join(tmp, "done")
        open(done_file, "wb").close()
        env = dict(os.environ, FILA_BENCH_DONE_FILE=done_file)
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--broker", args.broker,
               "--concurrency", str(args.concurrency)]
        if args.backend:
            cmd += ["--backend", args.backend]
        t0 = time.monotonic()
        worker = subprocess.Popen(cmd, env=env, cwd=os.path.dirname(os.path.abspath(__file__)))
        stats = (0.0, 0)
        first_done = None
        try:
            while os.path.getsize(done_file) < args.tasks:
                if first_done is None and os.path.getsize(done_file) > 0:
                    first_done = time.monotonic()
                if worker.poll() is not None:
                    raise SystemExit(f"celery worker exited with {worker.returncode}")
                if time.monotonic() - t0 > args.timeout:
                    raise SystemExit(f"timeout: {os.path.getsize(done_file)} of {args.tasks} done")
                # No tree_stats() here: a walk of /proc costs ~10 ms of CPU,
                # a third of a core at this pace, taken from the worker being
                # measured. The pool processes live to the end, so one walk
                # after the last task sees all their CPU time and peak RSS.
                time.sleep(0.02)
            last_done = time.monotonic()
            stats = tree_stats(worker.pid)
        finally:
            stop_worker(worker)
    # From the first finished task to the last: the worker's start-up is not
    # part of the figure (fila-bench measures fila the same way).
    first_done = first_done or t0
    seconds = max(last_done - first_done, 1e-6)
    print(json.dumps({"tasks": args.tasks, "seconds": seconds,
                      "tasks_per_s": (args.tasks - 1) / seconds, "cpu_s": stats[0],
                      "peak_rss_kb": stats[1], "enqueue_s": enqueue_s}))
    return 0


def produce(broker, backend, index, producers, total, rate, t0):
    """Producer process `index`: tasks index, index + producers, ... open loop."""
    app, _, stamp = make_app(broker, backend)
    with app.producer_pool.acquire(block=True) as producer:
        for i in range(index, total, producers):
            delay = t0 + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            stamp.apply_async(args=(time.time(),), producer=producer)


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * (len(sorted_values) - 1) + 0.5))]


def steady(args):
    import multiprocessing

    total = max(1, int(args.rate * args.seconds))
    with tempfile.TemporaryDirectory() as tmp:
        done_file = os.path.join(tmp, "done")
        lat_file = os.path.join(tmp, "latency")
        open(done_file, "wb").close()
        open(lat_file, "wb").close()
        env = dict(os.environ, FILA_BENCH_DONE_FILE=done_file, FILA_BENCH_LAT_FILE=lat_file)
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--broker", args.broker,
               "--concurrency", str(args.concurrency)]
        if args.backend:
            cmd += ["--backend", args.backend]
        worker = subprocess.Popen(cmd, env=env, cwd=os.path.dirname(os.path.abspath(__file__)))
        stats = (0.0, 0)
        try:
            app, _, stamp = make_app(args.broker, args.backend)
            stamp.apply_async(args=(-1,))  # ready once this one ran
            deadline = time.monotonic() + args.timeout

            def await_done(count):
                while os.path.getsize(done_file) < count:
                    if worker.poll() is not None:
                        raise SystemExit(f"celery worker exited with {worker.returncode}")
                    if time.monotonic() > deadline:
                        raise SystemExit(f"timeout: {os.path.getsize(done_file)} of {count} done")
                    time.sleep(0.02)

            await_done(1)
            t0 = time.time() + 0.2
            ctx = multiprocessing.get_context("fork")
            procs = [ctx.Process(target=produce, args=(args.broker, args.backend, p, args.producers,
                                                       total, args.rate, t0))
                     for p in range(args.producers)]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
                if p.exitcode != 0:
                    raise SystemExit(f"a producer exited with {p.exitcode}")
            sent_s = max(time.time() - t0, 1e-6)
            await_done(total + 1)
            stats = tree_stats(worker.pid)
        finally:
            stop_worker(worker)
        with open(lat_file) as f:
            waits = sorted(float(line) * 1000 for line in f if line.strip())
    if len(waits) != total:
        raise SystemExit(f"{len(waits)} start times recorded for {total} tasks")
    print(json.dumps({"tasks": total, "achieved": total / sent_s, "p50_ms": percentile(waits, 50),
                      "p99_ms": percentile(waits, 99), "max_ms": waits[-1], "cpu_s": stats[0],
                      "peak_rss_kb": stats[1]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
