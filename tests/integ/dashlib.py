"""dashlib — helpers for the dashboard's integration tests: start `ecom dash` on a free port,
wait for its URL line (bounded), make raw HTTP requests, stop it and check its exit; a fake
stream /status whose answer the test sets (FakeStream)."""
import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time

ECOM = os.environ.get("ECOM", "build/san/ecom")


class Dash:
    def __init__(self, data, *args, env=None, binary=None):
        self.proc = subprocess.Popen([binary or ECOM, "dash", "--data", data, "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        line = self.proc.stdout.readline()   # the server prints its URL once it listens
        m = re.search(r"serving http://([\d.]+):(\d+)/", line)
        if not m:
            self.proc.kill()
            raise RuntimeError("ecom dash did not start: %r %s" % (line, self.proc.stderr.read()))
        self.host, self.port = m.group(1), int(m.group(2))
        self.url = "http://%s:%d" % (self.host, self.port)

    def request(self, method, path, headers=None, body=None, timeout=10):
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders()
        if body is not None:
            c.send(body)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def get_json(self, path, headers=None):
        st, h, body = self.request("GET", path, headers)
        return st, json.loads(body) if body else None

    def stop(self):
        """SIGTERM, then the exit code and stderr (ASan reports land there)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode, self.proc.stderr.read()


class Cases:
    """Runs named cases, prints PASS/FAIL per case, and remembers failures."""
    def __init__(self):
        self.failed = 0

    def run(self, fn):
        self.errors = []
        try:
            fn(self)
        except Exception as e:  # a crash in a case is a failure of that case
            self.errors.append("exception: %r" % (e,))
        if self.errors:
            self.failed += 1
            for e in self.errors:
                print("  check failed:", e)
            print("FAIL", fn.__name__, flush=True)
        else:
            print("PASS", fn.__name__, flush=True)

    def check(self, cond, msg):
        if not cond:
            self.errors.append(msg)
        return cond

    def eq(self, got, want, msg):
        return self.check(got == want, "%s: expected %r, got %r" % (msg, want, got))


class FakeStream:
    """A stand-in for `ecom stream --listen`'s GET /status, whose answer the test sets."""
    def __init__(self):
        import http.server
        outer = self
        self.body, self.code, self.delay = b"{}", 200, 0.0

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if outer.delay:
                    threading.Event().wait(outer.delay)
                self.send_response(outer.code if self.path == "/status" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                try:
                    self.wfile.write(outer.body)
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
