#!/usr/bin/python3
"""An example fila producer: enqueues `sleep` tasks over HTTP and over AMQP.

    examples/python/gen.sh build/examples/python        # protoc -> fila/v1/*_pb2.py
    PYTHONPATH=build/examples/python /usr/bin/python3 examples/python/producer.py \
        --api http://127.0.0.1:8080 --token "$TOKEN" --amqp "$FILA_AMQP_URL" --wait

Over HTTP it sends one JSON request and one protobuf request (POST /v1/tasks).
Over AMQP it publishes a fila.v1.EnqueueRequest to the `fila.ingest` queue and
waits for the fila.v1.EnqueueResponse on its own reply queue. With --wait it
polls GET /v1/tasks/{id} until every task has finished. Exits 1 on any error.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid

import pika
from google.protobuf import json_format

from fila.v1 import api_pb2, payloads_pb2, task_pb2

TERMINAL = {"succeeded", "failed", "dead", "cancelled"}


class Failure(Exception):
    pass


def http(args, method, path, body=None, content_type="application/json"):
    """One API call; returns (content type, body bytes) or raises Failure."""
    headers = {"Authorization": "Bearer " + args.token, "Accept": content_type}
    if body is not None:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(args.api.rstrip("/") + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=args.timeout) as resp:
            return resp.read()
    except urllib.error.HTTPError as e:
        detail = e.read()
        try:  # errors are a fila.v1.ErrorResponse, in the format we asked for
            err = api_pb2.ErrorResponse()
            if content_type == "application/json":
                json_format.Parse(detail, err)
            else:
                err.ParseFromString(detail)
            detail = f"{err.code}: {err.message}" + (f" (field {err.field})" if err.field else "")
        except Exception:
            detail = detail[:200]
        raise Failure(f"{method} {path}: HTTP {e.code}: {detail}") from None
    except urllib.error.URLError as e:
        raise Failure(f"{method} {path}: cannot reach {args.api}: {e.reason}") from None


def enqueue_json(args):
    body = {
        "type": "sleep",
        "args": {"ms": 20},
        "priority": 5,
        "idempotency_key": f"example-json-{uuid.uuid4()}",
    }
    task = json.loads(http(args, "POST", "/v1/tasks", json.dumps(body).encode()))
    print(f"http/json:     task {task['id']} {task['state']}")
    return task["id"]


def enqueue_protobuf(args):
    req = task_pb2.EnqueueRequest(
        type="sleep",
        priority=5,
        idempotency_key=f"example-proto-{uuid.uuid4()}",
        payload=payloads_pb2.SleepPayload(ms=20).SerializeToString(),
    )
    task = api_pb2.Task()
    task.ParseFromString(http(args, "POST", "/v1/tasks", req.SerializeToString(), "application/x-protobuf"))
    print(f"http/protobuf: task {task.id} {task.state}")
    return task.id


def enqueue_amqp(args):
    req = task_pb2.EnqueueRequest(
        type="sleep",
        priority=5,
        tenant=args.tenant,
        idempotency_key=f"example-amqp-{uuid.uuid4()}",
        payload=payloads_pb2.SleepPayload(ms=20).SerializeToString(),
    )
    params = pika.URLParameters(args.amqp)
    params.socket_timeout = args.timeout
    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as e:
        raise Failure(f"amqp: cannot connect to {args.amqp}: {e!r}") from None
    try:
        channel = connection.channel()
        channel.confirm_delivery()  # basic_publish raises unless the broker took the message
        reply_to = channel.queue_declare(queue="", exclusive=True, auto_delete=True).method.queue
        correlation_id = str(uuid.uuid4())
        try:
            channel.basic_publish(
                exchange="",
                routing_key="fila.ingest",
                body=req.SerializeToString(),
                properties=pika.BasicProperties(
                    content_type="application/x-protobuf",
                    reply_to=reply_to,
                    correlation_id=correlation_id,
                    delivery_mode=2,  # persistent
                ),
                mandatory=True,
            )
        except pika.exceptions.UnroutableError:
            raise Failure("amqp: no queue fila.ingest on the broker: is fila-scheduler running?") from None

        deadline = time.monotonic() + args.timeout
        for _method, props, body in channel.consume(reply_to, auto_ack=True, inactivity_timeout=0.5):
            if props is not None and props.correlation_id == correlation_id:
                break
            if time.monotonic() > deadline:
                raise Failure(f"amqp: no reply on {reply_to} within {args.timeout:g} s")
        else:
            raise Failure("amqp: the broker closed the reply queue")
        channel.cancel()
    finally:
        connection.close()

    resp = task_pb2.EnqueueResponse()
    resp.ParseFromString(body)
    if resp.error_code:
        field = f" (field {resp.error_field})" if resp.error_field else ""
        raise Failure(f"amqp: enqueue rejected: {resp.error_code}: {resp.error_message}{field}")
    state = task_pb2.TaskState.Name(resp.state)
    print(f"amqp:          task {resp.id} {state} created={resp.created}")
    return resp.id


def wait(args, ids):
    """Polls every task until it is terminal; returns {id: state}."""
    states = {}
    deadline = time.monotonic() + args.wait_timeout
    while True:
        for task_id in ids:
            if states.get(task_id) not in TERMINAL:
                states[task_id] = json.loads(http(args, "GET", "/v1/tasks/" + task_id))["state"]
        if all(s in TERMINAL for s in states.values()):
            return states
        if time.monotonic() > deadline:
            raise Failure(f"tasks not finished after {args.wait_timeout:g} s: {states}")
        time.sleep(0.2)


def main():
    p = argparse.ArgumentParser(description="Enqueue example tasks into fila over HTTP and AMQP.")
    p.add_argument("--api", help="fila HTTP API, e.g. http://127.0.0.1:8080")
    p.add_argument("--token", help="producer token (fila tokens create --tenant T --role producer)")
    p.add_argument("--amqp", help="RabbitMQ URL, e.g. amqp://guest:guest@127.0.0.1:5672/")
    p.add_argument("--tenant", default="example", help="tenant of the AMQP task (default: example)")
    p.add_argument("--wait", action="store_true", help="poll the API until the tasks have finished")
    p.add_argument("--timeout", type=float, default=10, help="seconds per request or reply")
    p.add_argument("--wait-timeout", type=float, default=60, help="seconds --wait may take")
    args = p.parse_args()
    if not args.api and not args.amqp:
        p.error("give --api (with --token), --amqp, or both")
    if (args.api or args.wait) and not (args.api and args.token):
        p.error("--api and --wait need --api and --token")

    try:
        ids = []
        if args.api:
            ids += [enqueue_json(args), enqueue_protobuf(args)]
        if args.amqp:
            ids.append(enqueue_amqp(args))
        if args.wait:
            states = wait(args, ids)
            for task_id in ids:
                print(f"task {task_id}: {states[task_id]}")
            if any(s != "succeeded" for s in states.values()):
                raise Failure("some tasks did not succeed")
    except Failure as e:
        print(f"producer.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
