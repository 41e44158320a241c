#!/usr/bin/python3
"""
linear_sink.py -- a small Linear GraphQL API for tripl's tests.

Listens on 127.0.0.1 and answers POST /graphql as Linear does, for the
operations tripl sends (doc/alerting.md, "Linear"):

    mutation ($input: IssueCreateInput!)   { issueCreate(input: $input) { success issue { id identifier url } } }
    mutation ($input: CommentCreateInput!) { commentCreate(input: $input) { success comment { id } } }
    query ($filter: IssueFilter)           { issues(filter: $filter, first: 1, includeArchived: true) { nodes { id identifier } } }
    query ($id: String!)                   { issue(id: $id) { comments(first: N) { nodes { body } } } }
    query ($id: String!)                   { team(id: $id) { id key name } }

It checks what Linear checks and answers with its error bodies
({"errors": [{"message", "extensions": {"code", ...}}], "data": null}):
the Authorization header (the API key as is, or "Bearer <token>"), a JSON
body of "query" and "variables", each input's fields and types (an unknown
field is a validation error, HTTP 400), that the team and labels exist
(otherwise "Entity not found", with HTTP 200), a title of one line.
Anything it does not recognise is recorded in "bad" (the test expects none).
Python 3 standard library only.

    python3 test/lib/linear_sink.py --port 0 --key lin_api_x --team UUID \
        --team-key ENG --labels UUID,UUID

The first line on stdout is "PORT <n>".  Control (never counted):

    POST /_plan   {"rate_limit": 1}       the next request(s): HTTP 400, RATELIMITED
                  {"too_many": 1}         the next request(s): HTTP 429
                  {"errors_200": 1}       the next request(s): HTTP 200 with an error
                  {"create_then_hang": 1} the next create(s) make the issue, never answer
                  {"answer_then_hang": 1} the next comment(s) are made, never answered
                  {"down": 1}             the next request(s): HTTP 503
                  {"hold": 1}             the next request(s) wait for POST /_release
                                          ("held" in /_state counts them)
    GET  /_state  {"issues": [{"id", "identifier", "title", "description", "labelIds",
                   "comments": [...]}], "requests": [{"op", "status"}], "bad": [...]}
"""
import argparse
import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
RELEASE = threading.Event()
STATE = {"issues": [], "requests": [], "plan": {}, "held": 0, "bad": []}
ARGS = None

OPS = [
    ("issueCreate", re.compile(r"^mutation \w+\(\$input: IssueCreateInput!\) \{ issueCreate\(input: \$input\) "
                               r"\{ success issue \{ id identifier( url)? \} \} \}$")),
    ("commentCreate", re.compile(r"^mutation \w+\(\$input: CommentCreateInput!\) \{ commentCreate\(input: \$input\) "
                                 r"\{ success comment \{ id \} \} \}$")),
    ("issues", re.compile(r"^query \w+\(\$filter: IssueFilter\) \{ issues\(filter: \$filter, first: 1"
                          r"(, includeArchived: true)?\) \{ nodes \{ id identifier \} \} \}$")),
    ("comments", re.compile(r"^query \w+\(\$id: String!\) \{ issue\(id: \$id\) \{ comments\(first: \d+\) "
                            r"\{ nodes \{ body \} \} \} \}$")),
    ("team", re.compile(r"^query \w+\(\$id: String!\) \{ team\(id: \$id\) \{ id key name \} \}$")),
]


def gql_error(message, code, **ext):
    e = {"message": message, "extensions": dict({"code": code}, **ext)}
    return {"errors": [e], "data": None}


def take(name):
    with LOCK:
        n = STATE["plan"].get(name, 0)
        if n > 0:
            STATE["plan"][name] = n - 1
            return True
    return False


def check_fields(obj, allowed, typename):
    """GraphQL input validation: every field known, of its type"""
    if not isinstance(obj, dict):
        return 'Variable "$input" of type "%s!" must be an object' % typename
    for k, v in obj.items():
        if k not in allowed:
            return 'Variable "$input" got invalid value; Field "%s" is not defined by type "%s".' % (k, typename)
        if not allowed[k](v):
            return 'Variable "$input" got invalid value at "input.%s".' % k
    return None


def is_str(v):
    return isinstance(v, str)


def is_str_list(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body are two writes: without TCP_NODELAY the body waits
    # for the client's delayed ACK of the headers (~40 ms per answer)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, doc, op, headers=None):
        body = json.dumps(doc).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        with LOCK:
            STATE["requests"].append({"op": op, "status": status})

    def bad(self, why):
        with LOCK:
            STATE["bad"].append(why)
        return self.answer(400, gql_error(why, "GRAPHQL_VALIDATION_FAILED"), "bad")

    def do_GET(self):
        if self.path == "/_state":
            with LOCK:
                body = json.dumps({k: STATE[k] for k in ("issues", "requests", "bad", "held")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.path == "/_release":
            RELEASE.set()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/_plan":
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
        if self.path != "/graphql":
            return self.bad("POST to %s, not /graphql" % self.path)
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self.bad("Content-Type is not application/json")
        if take("hold"):
            # held until POST /_release (a test stops tripl meanwhile)
            with LOCK:
                STATE["held"] += 1
            RELEASE.wait(60)
        if take("down"):
            return self.answer(503, {"error": "Service Unavailable"}, "down")
        if take("too_many"):
            return self.answer(429, gql_error("Too many requests", "RATELIMITED"), "429", {"Retry-After": "1"})
        if take("rate_limit"):
            return self.answer(400, gql_error("Rate limit exceeded", "RATELIMITED",
                                              userPresentableMessage="You have exceeded the rate limit."),
                               "ratelimited", {"X-RateLimit-Requests-Remaining": "0"})
        auth = self.headers.get("Authorization", "")
        if auth not in (ARGS.key, "Bearer " + ARGS.key):
            return self.answer(400, gql_error("Authentication required, not authenticated", "AUTHENTICATION_ERROR",
                                              type="authentication error"), "unauthenticated")
        try:
            doc = json.loads(raw)
        except ValueError:
            return self.bad("the body is not JSON")
        if not isinstance(doc, dict) or not isinstance(doc.get("query"), str) or not isinstance(doc.get("variables"), dict):
            return self.bad("the body is not {query, variables}")
        op = next((name for name, rx in OPS if rx.match(doc["query"])), None)
        if op is None:
            return self.bad("unknown operation: %s" % doc["query"][:200])
        if take("errors_200"):
            return self.answer(200, gql_error("Entity not found: Team", "INVALID_INPUT", userError=True), op)
        return getattr(self, "op_" + op)(doc["variables"])

    def op_team(self, v):
        if v.get("id") != ARGS.team:
            return self.answer(200, gql_error("Entity not found: Team", "INVALID_INPUT"), "team")
        return self.answer(200, {"data": {"team": {"id": ARGS.team, "key": ARGS.team_key, "name": "Engineering"}}}, "team")

    def op_issueCreate(self, v):
        inp = v.get("input")
        why = check_fields(inp, {"teamId": is_str, "title": is_str, "description": is_str, "labelIds": is_str_list},
                           "IssueCreateInput")
        if why is None and ("teamId" not in inp or "title" not in inp):
            why = 'Field "IssueCreateInput.teamId" and "title" of required type were not provided.'
        if why:
            return self.bad(why)
        if inp["teamId"] != ARGS.team:
            return self.answer(200, gql_error("Entity not found: Team", "INVALID_INPUT", userError=True), "issueCreate")
        if any(l not in ARGS.labels for l in inp.get("labelIds", [])):
            return self.answer(200, gql_error("Entity not found: IssueLabel", "INVALID_INPUT", userError=True), "issueCreate")
        if not inp["title"] or "\n" in inp["title"] or len(inp["title"]) > 255:
            return self.answer(200, gql_error("Argument Validation Error", "INVALID_INPUT", userError=True), "issueCreate")
        with LOCK:
            n = len(STATE["issues"]) + 1
            issue = {"id": str(uuid.uuid4()), "identifier": "%s-%d" % (ARGS.team_key, n), "title": inp["title"],
                     "description": inp.get("description", ""), "labelIds": inp.get("labelIds", []), "comments": []}
            STATE["issues"].append(issue)
        if take("create_then_hang"):
            time.sleep(30)
            return
        return self.answer(200, {"data": {"issueCreate": {"success": True, "issue": {
            "id": issue["id"], "identifier": issue["identifier"],
            "url": "https://linear.app/acme/issue/%s" % issue["identifier"]}}}}, "issueCreate")

    def op_commentCreate(self, v):
        inp = v.get("input")
        why = check_fields(inp, {"issueId": is_str, "body": is_str}, "CommentCreateInput")
        if why:
            return self.bad(why)
        with LOCK:
            issue = next((i for i in STATE["issues"] if i["id"] == inp.get("issueId")), None)
        if issue is None:
            return self.answer(200, gql_error("Entity not found: Issue", "INVALID_INPUT", userError=True), "commentCreate")
        if not inp.get("body"):
            return self.answer(200, gql_error("Argument Validation Error", "INVALID_INPUT", userError=True), "commentCreate")
        with LOCK:
            issue["comments"].append(inp["body"])
        if take("answer_then_hang"):
            time.sleep(30)
            return
        return self.answer(200, {"data": {"commentCreate": {"success": True, "comment": {"id": str(uuid.uuid4())}}}},
                           "commentCreate")

    def op_issues(self, v):
        f = v.get("filter")
        if not isinstance(f, dict) or set(f) - {"team", "description"}:
            return self.bad("unexpected issue filter %r" % (f,))
        team = (((f.get("team") or {}).get("id") or {}).get("eq"))
        text = ((f.get("description") or {}).get("contains"))
        if not isinstance(team, str) or not isinstance(text, str):
            return self.bad("the filter is not {team: {id: {eq}}, description: {contains}}")
        with LOCK:
            found = [{"id": i["id"], "identifier": i["identifier"]} for i in STATE["issues"]
                     if team == ARGS.team and text in i["description"]]
        return self.answer(200, {"data": {"issues": {"nodes": found[:1]}}}, "issues")

    def op_comments(self, v):
        with LOCK:
            issue = next((i for i in STATE["issues"] if i["id"] == v.get("id")), None)
        if issue is None:
            return self.answer(200, gql_error("Entity not found: Issue", "INVALID_INPUT"), "comments")
        return self.answer(200, {"data": {"issue": {"comments": {"nodes": [{"body": b} for b in issue["comments"]]}}}},
                           "comments")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", required=True)
    ap.add_argument("--team", required=True)
    ap.add_argument("--team-key", default="ENG")
    ap.add_argument("--labels", default="")
    ARGS = ap.parse_args()
    ARGS.labels = [l for l in ARGS.labels.split(",") if l]
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
