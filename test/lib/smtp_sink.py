#!/usr/bin/python3
"""
smtp_sink.py -- a test SMTP server for tripl's email deliveries.

Listens on 127.0.0.1 and speaks enough ESMTP for libcurl: EHLO/HELO,
STARTTLS (with --cert/--key), AUTH PLAIN and LOGIN, MAIL, RCPT, DATA,
RSET, NOOP, QUIT; --implicit-tls wraps every connection in TLS at once
(SMTPS).  Every accepted message is recorded as one JSON object per line in
the log file:

    {"seq": 1, "mail_from": "<a@b.c>", "rcpt": ["<d@e.f>"], "tls": true,
     "auth": "tripl", "data_base64": "...", "ehlo": "name",
     "commands": ["EHLO x", "STARTTLS", ...]}

"data_base64" is the message exactly as received after the final "."
line was removed and dot-stuffing undone.  Python 3 standard library only.

Usage:
    python3 test/lib/smtp_sink.py --port 0 --log FILE [--plan FILE]
        [--cert FILE --key FILE] [--implicit-tls] [--auth user:password]

The first line on stdout is "PORT <n>".  With --auth, MAIL is refused
(530) until the client logged in with that user and password (535 for a
wrong one).  The plan file (JSON, read again at every connection) changes
the answers:

    {"data": "550 5.7.1 Message rejected"}   answer to the end of DATA
    {"rcpt": "550 5.1.1 No such user"}        answer to every RCPT
    {"mail": "451 4.3.0 Try again later"}     answer to MAIL
    {"hang": "greeting"}  or  {"hang": "data"} never answer (at the start,
                                               or after the message)
SIGTERM stops it.
"""
import argparse
import base64
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time


class Sink:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.seq = 0
        self.log = open(args.log, "a", encoding="utf-8")
        self.ctx = None
        if args.cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(args.cert, args.key)

    def plan(self):
        if not self.args.plan or not os.path.exists(self.args.plan):
            return {}
        try:
            with open(self.args.plan, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def record(self, rec):
        with self.lock:
            self.seq += 1
            rec["seq"] = self.seq
            self.log.write(json.dumps(rec) + "\n")
            self.log.flush()


class Conn:
    def __init__(self, sink, sock):
        self.sink = sink
        self.sock = sock
        self.buf = b""
        self.tls = False
        self.plan = sink.plan()
        self.user = None
        self.commands = []
        self.ehlo = None
        self.reset()

    def reset(self):
        self.mail_from = None
        self.rcpt = []

    def send(self, line):
        self.sock.sendall(line.encode("ascii") + b"\r\n")

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def hang(self):
        time.sleep(3600)

    def run(self):
        if self.plan.get("hang") == "greeting":
            self.hang()
            return
        self.send("220 tripl-test ESMTP")
        while True:
            line = self.readline()
            if line is None:
                return
            text = line.decode("latin-1")
            verb = text.split(" ", 1)[0].upper()
            self.commands.append(text if verb != "AUTH" else "AUTH " + text.split(" ")[1])
            arg = text[len(verb):].strip()
            if verb in ("EHLO", "HELO"):
                self.ehlo = arg
                ext = ["250-tripl-test"]
                if self.sink.ctx is not None and not self.tls:
                    ext.append("250-STARTTLS")
                if self.sink.args.auth:
                    ext.append("250-AUTH PLAIN LOGIN")
                ext.append("250 8BITMIME")
                for e in ext:
                    self.send(e)
            elif verb == "STARTTLS" and self.sink.ctx is not None and not self.tls:
                self.send("220 go ahead")
                self.sock = self.sink.ctx.wrap_socket(self.sock, server_side=True)
                self.tls = True
                self.buf = b""
                self.ehlo = None
                self.reset()
            elif verb == "AUTH":
                self.auth(arg)
            elif verb == "MAIL":
                if self.sink.args.auth and self.user is None:
                    self.send("530 5.7.0 Authentication required")
                    continue
                answer = self.plan.get("mail", "250 2.1.0 OK")
                if answer.startswith("250"):
                    self.mail_from = arg[5:].strip() if arg.upper().startswith("FROM:") else arg
                self.send(answer)
            elif verb == "RCPT":
                if self.mail_from is None:
                    self.send("503 5.5.1 MAIL first")
                    continue
                answer = self.plan.get("rcpt", "250 2.1.5 OK")
                if answer.startswith("250"):
                    self.rcpt.append(arg[3:].strip() if arg.upper().startswith("TO:") else arg)
                self.send(answer)
            elif verb == "DATA":
                if not self.rcpt:
                    self.send("503 5.5.1 RCPT first")
                    continue
                self.send("354 end with <CRLF>.<CRLF>")
                data = self.read_data()
                if data is None:
                    return
                if self.plan.get("hang") == "data":
                    self.hang()
                    return
                answer = self.plan.get("data", "250 2.0.0 queued")
                if answer.startswith("250"):
                    self.sink.record({"mail_from": self.mail_from, "rcpt": self.rcpt, "tls": self.tls,
                                      "auth": self.user, "ehlo": self.ehlo, "commands": self.commands,
                                      "data_base64": base64.b64encode(data).decode("ascii")})
                self.send(answer)
                self.reset()
            elif verb == "RSET":
                self.reset()
                self.send("250 OK")
            elif verb == "NOOP":
                self.send("250 OK")
            elif verb == "QUIT":
                self.send("221 bye")
                return
            else:
                self.send("502 5.5.2 not implemented")

    def read_data(self):
        lines = []
        while True:
            line = self.readline()
            if line is None:
                return None
            if line == b".":
                return b"".join(l + b"\r\n" for l in lines)
            if line.startswith(b".."):
                line = line[1:]
            lines.append(line)

    def auth(self, arg):
        parts = arg.split(" ")
        mech = parts[0].upper()
        want = self.sink.args.auth or ""
        if mech == "PLAIN":
            if len(parts) > 1:
                resp = parts[1]
            else:
                self.send("334 ")
                resp = (self.readline() or b"").decode("ascii")
            try:
                _, user, pw = base64.b64decode(resp).decode("utf-8").split("\0")
            except (ValueError, UnicodeDecodeError):
                self.send("501 5.5.2 bad PLAIN")
                return
        elif mech == "LOGIN":
            if len(parts) > 1:
                user = base64.b64decode(parts[1]).decode("utf-8")
            else:
                self.send("334 VXNlcm5hbWU6")
                user = base64.b64decode(self.readline() or b"").decode("utf-8")
            self.send("334 UGFzc3dvcmQ6")
            pw = base64.b64decode(self.readline() or b"").decode("utf-8")
        else:
            self.send("504 5.5.4 mechanism not supported")
            return
        if "%s:%s" % (user, pw) == want:
            self.user = user
            self.send("235 2.7.0 Authentication successful")
        else:
            self.send("535 5.7.8 Authentication credentials invalid")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", required=True)
    ap.add_argument("--plan")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--implicit-tls", action="store_true")
    ap.add_argument("--auth")
    args = ap.parse_args()
    sink = Sink(args)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(128)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    print("PORT %d" % srv.getsockname()[1], flush=True)

    def serve(sock):
        try:
            if args.implicit_tls:
                sock = sink.ctx.wrap_socket(sock, server_side=True)
            c = Conn(sink, sock)
            if args.implicit_tls:
                c.tls = True
            c.run()
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass

    while True:
        s, _ = srv.accept()
        threading.Thread(target=serve, args=(s,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
