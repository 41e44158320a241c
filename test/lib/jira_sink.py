#!/usr/bin/python3
"""
jira_sink.py -- a small Jira Cloud REST API (v2 and v3) for tripl's tests.

Listens on 127.0.0.1, keeps issues in memory and answers as Jira does:

    POST /rest/api/{2,3}/issue                 create (201 {"id", "key", "self"})
    POST /rest/api/{2,3}/issue/KEY/comment     comment (201 {"id", ...})
    GET  /rest/api/{2,3}/issue/KEY/comment     the comments ({"comments": [{"id", "body"}], ...})
    GET  /rest/api/{2,3}/issue/KEY/transitions the transitions the issue's status offers
    POST /rest/api/{2,3}/issue/KEY/transitions {"transition": {"id"}}: 204, or 400 if not offered
    GET  /rest/api/3/search/jql?jql=labels = "X"&fields=key&maxResults=1
    GET  /rest/api/2/search?jql=...            search by one label
    GET  /rest/api/{2,3}/project/KEY           the project (404 if unknown)

Workflow: an issue starts "To Do"; "To Do" offers the transitions
"Start progress" (11, to "In Progress") and "Done" (31, to "Done"); "In
Progress" offers "Done" (31); "Done" offers "Reopen" (41, to "To Do").

It checks what Jira checks and answers with Jira's error bodies
({"errorMessages": [...], "errors": {...}}): Basic authentication (401),
the project key and issue type (400), a summary of one line up to 255
characters, labels without blanks, and in v3 a description and comment in
Atlassian Document Format (a "doc" of version 1 with content), in v2 a
string.  Python 3 standard library only.

    python3 test/lib/jira_sink.py --port 0 --auth me@example.com:token \
        --project OPS [--log FILE]

The first line on stdout is "PORT <n>".  Control (never counted):

    POST /_plan   {"rate_limit": 1}       the next request(s) get 429 with
                                          Retry-After: 1
                  {"create_then_hang": 1} the next create(s) make the issue,
                                          then never answer (a lost answer)
                  {"down": 1}             the next request(s) get 503
                  {"hold": 1}             the next request(s) wait for POST /_release
                                          ("held" in /_state counts them)
                  {"answer_then_hang": 1} the next comment or transition is made,
                                          then never answered
    GET  /_state  {"issues": [{"key", "fields", "status", "comments": [...]}],
                   "requests": [{"method", "path", "status"}]}
"""
import argparse
import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
RELEASE = threading.Event()
STATE = {"issues": [], "requests": [], "plan": {}, "held": 0}
WORKFLOW = {"To Do": [("11", "Start progress", "In Progress"), ("31", "Done", "Done")],
            "In Progress": [("31", "Done", "Done")],
            "Done": [("41", "Reopen", "To Do")]}
ARGS = None


def err(messages, errors=None):
    return {"errorMessages": messages, "errors": errors or {}}


def adf_ok(doc):
    return (isinstance(doc, dict) and doc.get("type") == "doc" and doc.get("version") == 1
            and isinstance(doc.get("content"), list) and len(doc["content"]) > 0)


def take(name):
    with LOCK:
        n = STATE["plan"].get(name, 0)
        if n > 0:
            STATE["plan"][name] = n - 1
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body are two writes: without TCP_NODELAY the body waits
    # for the client's delayed ACK of the headers (~40 ms per answer)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, doc, headers=None):
        body = json.dumps(doc).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        with LOCK:
            STATE["requests"].append({"method": self.command, "path": self.path, "status": status})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        url = urlsplit(self.path)
        raw = self.body()
        if url.path == "/_release":
            RELEASE.set()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if url.path == "/_plan":
            plan = json.loads(raw or b"{}")
            with LOCK:
                STATE["plan"].update(plan)
                if "hold" in plan:
                    RELEASE.clear()
                    STATE["held"] = 0
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return
        if url.path == "/_state":
            with LOCK:
                body = json.dumps({"issues": STATE["issues"], "requests": STATE["requests"], "held": STATE["held"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if take("hold"):
            # held until POST /_release (a test stops tripl meanwhile)
            with LOCK:
                STATE["held"] += 1
            RELEASE.wait(60)
        if take("down"):
            return self.answer(503, err(["Service unavailable"]))
        if take("rate_limit"):
            return self.answer(429, err(["Rate limit exceeded."]), {"Retry-After": "1"})
        auth = self.headers.get("Authorization", "")
        want = "Basic " + base64.b64encode(ARGS.auth.encode()).decode()
        if auth != want:
            return self.answer(401, err(["You are not authenticated. Authentication required to perform this operation."]))
        parts = url.path.strip("/").split("/")
        if len(parts) < 4 or parts[0] != "rest" or parts[1] != "api" or parts[2] not in ("2", "3"):
            return self.answer(404, err(["Not found"]))
        v3 = parts[2] == "3"
        rest = parts[3:]
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            return self.answer(400, err(["Unexpected character in the request body."]))
        if self.command == "POST" and rest == ["issue"]:
            return self.create(doc, v3)
        if self.command == "POST" and len(rest) == 3 and rest[0] == "issue" and rest[2] == "comment":
            return self.comment(rest[1], doc, v3)
        if self.command == "GET" and len(rest) == 3 and rest[0] == "issue" and rest[2] == "comment":
            return self.comments(rest[1])
        if len(rest) == 3 and rest[0] == "issue" and rest[2] == "transitions":
            return self.transitions(rest[1], doc if self.command == "POST" else None)
        if self.command == "GET" and (rest == ["search", "jql"] and v3 or rest == ["search"] and not v3):
            return self.search(parse_qs(url.query))
        if self.command == "GET" and len(rest) == 2 and rest[0] == "project":
            if rest[1] != ARGS.project:
                return self.answer(404, err(["No project could be found with key '%s'." % rest[1]]))
            return self.answer(200, {"id": "10000", "key": ARGS.project, "name": "Operations"})
        return self.answer(404, err(["Not found"]))

    def create(self, doc, v3):
        f = (doc or {}).get("fields") or {}
        errors = {}
        if (f.get("project") or {}).get("key") != ARGS.project:
            errors["project"] = "valid project is required"
        if (f.get("issuetype") or {}).get("name") not in ("Task", "Bug", "Incident"):
            errors["issuetype"] = "valid issue type is required"
        s = f.get("summary")
        if not isinstance(s, str) or not s or len(s) > 255 or "\n" in s or "\r" in s:
            errors["summary"] = "Summary must be less than 255 characters and one line."
        labels = f.get("labels", [])
        if not isinstance(labels, list) or any(not isinstance(l, str) or " " in l or not l for l in labels):
            errors["labels"] = "Labels cannot contain spaces."
        d = f.get("description")
        if v3 and not adf_ok(d):
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        if not v3 and not isinstance(d, str):
            errors["description"] = "Operation value must be a string"
        if errors:
            return self.answer(400, err([], errors))
        with LOCK:
            n = len(STATE["issues"]) + 1
            key = "%s-%d" % (ARGS.project, n)
            STATE["issues"].append({"id": str(10000 + n), "key": key, "fields": f, "comments": [],
                                    "status": "To Do"})
        if take("create_then_hang"):
            time.sleep(30)
            return
        return self.answer(201, {"id": str(10000 + n), "key": key,
                                 "self": "http://127.0.0.1/rest/api/3/issue/%d" % (10000 + n)})

    def comment(self, key, doc, v3):
        with LOCK:
            issue = next((i for i in STATE["issues"] if i["key"] == key), None)
        if issue is None:
            return self.answer(404, err(["Issue does not exist or you do not have permission to see it."]))
        b = (doc or {}).get("body")
        if (v3 and not adf_ok(b)) or (not v3 and not isinstance(b, str)):
            return self.answer(400, err(["Comment body can not be empty!"]))
        with LOCK:
            issue["comments"].append(b)
            cid = str(len(issue["comments"]))
        if take("answer_then_hang"):
            time.sleep(30)
            return
        return self.answer(201, {"id": cid, "body": b})

    def find(self, key):
        with LOCK:
            return next((i for i in STATE["issues"] if i["key"] == key), None)

    def comments(self, key):
        issue = self.find(key)
        if issue is None:
            return self.answer(404, err(["Issue does not exist or you do not have permission to see it."]))
        with LOCK:
            cs = [{"id": str(n + 1), "body": b} for n, b in enumerate(issue["comments"])]
        cs.reverse()  # orderBy=-created
        return self.answer(200, {"startAt": 0, "maxResults": 100, "total": len(cs), "comments": cs[:100]})

    def transitions(self, key, doc):
        issue = self.find(key)
        if issue is None:
            return self.answer(404, err(["Issue does not exist or you do not have permission to see it."]))
        offered = WORKFLOW[issue["status"]]
        if doc is None:
            return self.answer(200, {"expand": "transitions", "transitions": [
                {"id": i, "name": n, "to": {"id": str(10000 + len(t)), "name": t}, "hasScreen": False,
                 "isGlobal": False, "isInitial": False, "isConditional": False}
                for (i, n, t) in offered]})
        tid = ((doc or {}).get("transition") or {}).get("id")
        match = [t for (i, n, t) in offered if i == tid]
        if not match:
            return self.answer(400, err(["Transition id '%s' is not valid for this issue." % tid]))
        with LOCK:
            issue["status"] = match[0]
        if take("answer_then_hang"):
            time.sleep(30)
            return
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with LOCK:
            STATE["requests"].append({"method": self.command, "path": self.path, "status": 204})

    def search(self, q):
        jql = (q.get("jql") or [""])[0]
        prefix = 'labels = "'
        if not jql.startswith(prefix) or not jql.endswith('"'):
            return self.answer(400, err(["Error in the JQL Query: unsupported by this test server."]))
        label = jql[len(prefix):-1]
        with LOCK:
            found = [{"id": i["id"], "key": i["key"]} for i in STATE["issues"] if label in i["fields"].get("labels", [])]
        return self.answer(200, {"issues": found[:1], "isLast": True})


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--auth", required=True)
    ap.add_argument("--project", default="OPS")
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
