#!/usr/bin/python3
"""
http_sink.py -- a test HTTP receiver for tripl's alert deliveries.

Listens on 127.0.0.1, records every request it receives (method, path, all
headers, body, arrival time) as one JSON object per line in the log file
(flushed after each line), and answers according to a response plan that
tests set over HTTP on the same port.  Python 3 standard library only.

Usage:
    /usr/bin/python3 test/lib/http_sink.py --port N --log FILE [--pidfile FILE]

    --port 0 picks a free port.  The first line on stdout is always
    "PORT <n>" (printed once the socket is listening and the pidfile, if
    any, is written).  SIGTERM or SIGINT stop the server cleanly (exit 0,
    pidfile removed).

Control endpoints (never recorded, never consume the plan):

    POST /_control   {"plan": [step, ...], "default": step}
                     Replaces the plan; "default" (optional) replaces the
                     answer used once the plan is used up.  Steps are used
                     in order, one per recorded request, each "count" times
                     (default 1).  Answers {"ok": true}.
    GET  /_control   The remaining plan and the default.
    GET  /_requests  The recorded requests as a JSON array (?since=SEQ
                     returns only those with a larger "seq").
    POST /_reset     Clears the recorded requests (and truncates the log
                     file), the plan, and restores the default answer
                     {"status": 200, "body": "ok"}.

A step is one of
    {"status": 500}                          answer with that status
    {"status": 429, "retry_after": "2"}      ... plus a Retry-After header
    {"status": 200, "body": "ok"}            body: a string, or any JSON
                                             value (sent as application/json)
    {"status": 200, "headers": {"X-A": "b"}} extra response headers
    {"status": 200, "delay": 0.5}            wait before answering
    {"status": 500, "echo": true}            answer with the request as JSON
                                             (json.dumps: quotes, backslashes
                                             and non-ASCII escaped):
                                             {"method", "path", "headers",
                                             "body", "raw_base64",
                                             "raw_urlencoded"}, the raw_* of
                                             the request line, headers and
                                             body; after "body" if given (a
                                             prefix, e.g. padding)
    {"status": 500, "echo_header": "X-A"}    answer with that request header's
                                             value as it came, after "body"
    {"action": "hang", "seconds": 30}        read the request, wait, then
                                             close without answering
    {"action": "close"}                      close without answering
each optionally with "count": N.

A recorded request looks like
    {"seq": 1, "time": 1767225600.123456, "method": "POST",
     "path": "/hook?x=1", "version": "HTTP/1.1",
     "headers": {"content-type": "application/json", ...},
     "raw_headers": [["Content-Type", "application/json"], ...],
     "body": "...", "body_base64": "...", "body_length": 12,
     "chunked": false, "client_port": 51234,
     "response": {"status": 200}}
"headers" has lower-case names (repeated headers joined with ", ");
"raw_headers" keeps the names, order and repeats as received; "body" is
the body decoded as UTF-8 (invalid bytes replaced), "body_base64" the
exact bytes; "response" is the plan step that answered it.

Self-test (by hand; not part of the test suite):

    python3 test/lib/http_sink.py --port 0 --log /tmp/sink.log \
        --pidfile /tmp/sink.pid > /tmp/sink.out &
    until grep -q '^PORT' /tmp/sink.out; do sleep 0.1; done
    P=$(awk '/^PORT/{print $2}' /tmp/sink.out)
    curl -s -X POST localhost:$P/_control -d '{"plan": [{"status": 500,
        "count": 2}, {"status": 429, "retry_after": "2"},
        {"action": "close"}, {"status": 404}],
        "default": {"status": 200, "body": "ok"}}'
    for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code} ' \
        -X POST -H 'Idempotency-Key: k'$i -d '{"n":'$i'}' \
        localhost:$P/hook; done; echo          # 500 500 429 000 404 200
    curl -si localhost:$P/x | grep -i retry-after   # (nothing: plan used up)
    curl -s -H 'Transfer-Encoding: chunked' -d @/etc/hostname localhost:$P/c
    curl -s localhost:$P/_requests | python3 -m json.tool | head -40
    wc -l /tmp/sink.log
    curl -s -X POST localhost:$P/_reset; curl -s localhost:$P/_requests   # []
    kill -TERM $(cat /tmp/sink.pid); wait; test ! -e /tmp/sink.pid && echo clean
"""

import argparse
import base64
import http
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote_from_bytes, urlsplit

DEFAULT_ANSWER = {"status": 200, "body": "ok"}
CONTROL_PATHS = ("/_control", "/_requests", "/_reset")
MAX_LINE = 65536


class BadRequest(Exception):
    """The request body could not be read (bad chunked encoding etc.)."""


def validate_step(step):
    """Check one plan step; return it normalised or raise ValueError."""
    if not isinstance(step, dict):
        raise ValueError("a plan step must be a JSON object")
    step = dict(step)
    count = step.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError("count must be a positive integer")
    step["count"] = count
    action = step.get("action")
    if action is not None:
        if action not in ("hang", "close"):
            raise ValueError("unknown action %r" % (action,))
        seconds = step.get("seconds", 30)
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError("seconds must be a non-negative number")
        return step
    status = step.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 999:
        raise ValueError("status must be an integer between 100 and 999")
    step["status"] = status
    headers = step.get("headers", {})
    if not isinstance(headers, dict):
        raise ValueError("headers must be a JSON object")
    delay = step.get("delay", 0)
    if not isinstance(delay, (int, float)) or delay < 0:
        raise ValueError("delay must be a non-negative number")
    if (step.get("echo") or step.get("echo_header")) and not isinstance(step.get("body", ""), str):
        raise ValueError("an echo's body (its prefix) must be a string")
    return step


class Sink:
    """Shared state: the recorded requests, the log file and the plan."""

    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.records = []
        self.seq = 0
        self.steps = []          # [[step, remaining], ...]
        self.default = dict(DEFAULT_ANSWER)
        self.log = open(log_path, "w", encoding="utf-8") if log_path else None
        self.stopping = threading.Event()

    def record_and_plan(self, rec):
        """Record a request and take the plan step that answers it."""
        with self.lock:
            if self.steps:
                entry = self.steps[0]
                step = entry[0]
                entry[1] -= 1
                if entry[1] <= 0:
                    self.steps.pop(0)
            else:
                step = self.default
            self.seq += 1
            rec["seq"] = self.seq
            rec["response"] = {k: v for k, v in step.items() if k != "count"}
            self.records.append(rec)
            if self.log is not None:
                self.log.write(json.dumps(rec, ensure_ascii=False) + "\n")
                self.log.flush()
        return step

    def set_plan(self, doc):
        """Apply a /_control document."""
        if not isinstance(doc, dict):
            raise ValueError("the control body must be a JSON object")
        plan = doc.get("plan", [])
        if not isinstance(plan, list):
            raise ValueError("plan must be a JSON array")
        steps = [validate_step(s) for s in plan]
        default = doc.get("default")
        if default is not None:
            default = validate_step(default)
            default.pop("count", None)
        with self.lock:
            self.steps = [[s, s["count"]] for s in steps]
            if default is not None:
                self.default = default

    def describe(self):
        with self.lock:
            return {"plan": [dict(s, count=n) for s, n in self.steps],
                    "default": self.default}

    def requests(self, since=0):
        with self.lock:
            return [r for r in self.records if r["seq"] > since]

    def reset(self):
        with self.lock:
            self.records = []
            self.seq = 0
            self.steps = []
            self.default = dict(DEFAULT_ANSWER)
            if self.log is not None:
                self.log.seek(0)
                self.log.truncate()
                self.log.flush()

    def close(self):
        with self.lock:
            if self.log is not None:
                self.log.close()
                self.log = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tripl-http-sink/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120                # idle keep-alive connections are dropped

    def log_message(self, fmt, *args):  # noqa: D102 - keep stderr quiet
        pass

    # every method goes through the same dispatcher
    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def read_body(self):
        """Read the body: chunked, Content-Length, or none."""
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            parts = []
            while True:
                line = self.rfile.readline(MAX_LINE)
                if not line.endswith(b"\n"):
                    raise BadRequest("truncated chunk size line")
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadRequest("bad chunk size")
                if size < 0:
                    raise BadRequest("bad chunk size")
                if size == 0:
                    while True:                       # trailers
                        t = self.rfile.readline(MAX_LINE)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                data = self.rfile.read(size)
                if len(data) != size:
                    raise BadRequest("truncated chunk")
                parts.append(data)
                if self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n"):
                    raise BadRequest("missing chunk terminator")
            return b"".join(parts), True
        cl = self.headers.get("Content-Length")
        if cl is not None:
            try:
                n = int(cl)
            except ValueError:
                raise BadRequest("bad content-length")
            if n < 0:
                raise BadRequest("bad content-length")
            data = self.rfile.read(n)
            if len(data) != n:
                raise BadRequest("truncated body")
            return data, False
        return b"", False

    def respond(self, status, body=b"", content_type="text/plain; charset=utf-8",
                headers=None):
        """Write a whole response in one go."""
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = ["HTTP/1.1 %d %s" % (status, reason),
                 "Server: " + self.server_version,
                 "Date: " + self.date_time_string()]
        no_body = status < 200 or status in (204, 304)
        if not no_body:
            lines.append("Content-Type: " + content_type)
            lines.append("Content-Length: %d" % len(body))
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        lines.append("Connection: " + ("close" if self.close_connection else "keep-alive"))
        out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        if not no_body and self.command != "HEAD":
            out += body
        self.wfile.write(out)
        self.wfile.flush()

    def respond_json(self, status, doc):
        self.respond(status, json.dumps(doc).encode(), "application/json")

    def drop_connection(self):
        """Close the connection without answering."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def dispatch(self):
        sink = self.server.sink
        arrived = time.time()
        try:
            body, chunked = self.read_body()
        except BadRequest as e:
            self.close_connection = True
            self.respond(400, str(e).encode())
            return
        url = urlsplit(self.path)

        if url.path in CONTROL_PATHS:
            self.control(sink, url, body)
            return

        raw = [[k, v] for k, v in self.headers.items()]
        merged = {}
        for k, v in raw:
            lk = k.lower()
            merged[lk] = merged[lk] + ", " + v if lk in merged else v
        rec = {
            "seq": 0,                       # assigned by record_and_plan
            "time": arrived,
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": merged,
            "raw_headers": raw,
            "body": body.decode("utf-8", "replace"),
            "body_base64": base64.b64encode(body).decode("ascii"),
            "body_length": len(body),
            "chunked": chunked,
            "client_port": self.client_address[1],
        }
        step = sink.record_and_plan(rec)
        self.answer(sink, step, rec, body)

    def echo_body(self, step, rec, body):
        """The body of an echo step: the prefix, then the request."""
        prefix = step.get("body", "")
        if step.get("echo_header"):
            return prefix.encode("utf-8") + self.headers.get(step["echo_header"], "").encode("latin-1", "replace")
        raw = ("%s %s %s\r\n" % (self.command, self.path, self.request_version)).encode("latin-1", "replace")
        raw += b"".join(("%s: %s\r\n" % (k, v)).encode("latin-1", "replace") for k, v in rec["raw_headers"])
        raw += b"\r\n" + body
        doc = {"method": rec["method"], "path": rec["path"], "headers": rec["headers"],
               "body": rec["body"], "raw_base64": base64.b64encode(raw).decode("ascii"),
               "raw_urlencoded": quote_from_bytes(raw, safe="")}
        return prefix.encode("utf-8") + json.dumps(doc).encode("utf-8")

    def answer(self, sink, step, rec=None, body=b""):
        action = step.get("action")
        if action == "close":
            self.drop_connection()
            return
        if action == "hang":
            sink.stopping.wait(float(step.get("seconds", 30)))
            self.drop_connection()
            return
        delay = step.get("delay", 0)
        if delay:
            sink.stopping.wait(float(delay))
        headers = dict(step.get("headers", {}))
        if "retry_after" in step:
            headers["Retry-After"] = str(step["retry_after"])
        if step.get("echo") or step.get("echo_header"):
            self.respond(step.get("status", 200), self.echo_body(step, rec, body), headers=headers)
            return
        body = step.get("body", "")
        if isinstance(body, str):
            self.respond(step.get("status", 200), body.encode("utf-8"), headers=headers)
        else:
            self.respond(step.get("status", 200), json.dumps(body).encode(),
                         "application/json", headers)

    def control(self, sink, url, body):
        if url.path == "/_control" and self.command == "POST":
            try:
                sink.set_plan(json.loads(body.decode("utf-8") or "{}"))
            except (ValueError, UnicodeDecodeError) as e:
                self.respond_json(400, {"ok": False, "error": str(e)})
                return
            self.respond_json(200, {"ok": True})
        elif url.path == "/_control" and self.command == "GET":
            self.respond_json(200, sink.describe())
        elif url.path == "/_requests" and self.command == "GET":
            since = 0
            q = parse_qs(url.query).get("since")
            if q:
                try:
                    since = int(q[0])
                except ValueError:
                    self.respond_json(400, {"ok": False, "error": "bad since"})
                    return
            self.respond_json(200, sink.requests(since))
        elif url.path == "/_reset" and self.command == "POST":
            sink.reset()
            self.respond_json(200, {"ok": True})
        else:
            self.respond_json(405, {"ok": False, "error": "method not allowed"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def main():
    ap = argparse.ArgumentParser(description="tripl test HTTP sink")
    ap.add_argument("--port", type=int, default=0, help="port (0 = pick a free one)")
    ap.add_argument("--log", help="file receiving one JSON line per request")
    ap.add_argument("--pidfile", help="write the process id here")
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.sink = Sink(args.log)

    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())

    def stop(signum, frame):
        server.sink.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    sys.stdout.write("PORT %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        server.sink.close()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    status = main()
    # Everything is closed; don't wait for daemon threads still stuck in a
    # "hang" step or an idle keep-alive connection.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
