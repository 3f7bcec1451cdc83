#!/usr/bin/env python3
"""Answer Lambda Invoke calls as the Lambda API does, in front of `cargo lambda watch`.

  lambda-invoke-proxy.py LISTEN_PORT UPSTREAM_PORT

`cargo lambda watch` answers an invocation whose function returned an error with HTTP 500 and
the error document. The Lambda API answers it with 200, the error document as the payload and
the header `X-Amz-Function-Error: Unhandled` (AWS Lambda API Reference, Invoke, "Response
Syntax": "X-Amz-Function-Error: If present, indicates that an error occurred during function
execution"), which is what Cognito, and cognito-local, read to show the error's message. Every
other answer passes through as it is. Used by scripts/e2e-cognito.sh only.
"""

import http.server
import json
import sys
import urllib.error
import urllib.request


def lambda_answer(status, body):
    """(status, headers, body) as the Lambda API gives them for the emulator's answer. Pure."""
    if status >= 500:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if isinstance(document, dict) and "errorType" in document:
            return 200, {"X-Amz-Function-Error": "Unhandled"}, body
    return status, {}, body


class Proxy(http.server.BaseHTTPRequestHandler):
    upstream = None

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        request = urllib.request.Request(self.upstream + self.path, data=self.rfile.read(length),
                                         method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        status, headers, body = lambda_answer(status, body)
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    listen, upstream = int(sys.argv[1]), int(sys.argv[2])
    Proxy.upstream = f"http://127.0.0.1:{upstream}"
    http.server.ThreadingHTTPServer(("127.0.0.1", listen), Proxy).serve_forever()


if __name__ == "__main__":
    main()
