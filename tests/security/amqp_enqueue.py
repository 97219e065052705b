#!/usr/bin/python3
"""Publishes one JSON EnqueueRequest to fila.ingest and prints the answer.

Usage: amqp_enqueue.py AMQP_URL REQUEST_JSON
Prints the EnqueueResponse JSON the scheduler sent back (exit 1 without one
within 20 s). Needs Debian's python3-pika.
"""
import sys
import uuid

import pika


def main():
    url, request = sys.argv[1], sys.argv[2]
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    reply = ch.queue_declare(queue="", exclusive=True, auto_delete=True).method.queue
    cid = str(uuid.uuid4())
    ch.basic_publish("", "fila.ingest", request.encode(),
                     pika.BasicProperties(content_type="application/json", reply_to=reply, correlation_id=cid))
    for method, props, body in ch.consume(reply, inactivity_timeout=20):
        if method is None:
            print("no answer", file=sys.stderr)
            return 1
        if props.correlation_id == cid:
            print(body.decode())
            return 0


if __name__ == "__main__":
    sys.exit(main())
