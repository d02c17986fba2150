"""HTTPS server for MTA-STS policy files in tests.

Serves GET /.well-known/mta-sts.txt as text/plain from DIR/HOST.txt,
where HOST is the request's Host header without a port, and returns 404
for anything else. Each request is appended to DIR/requests.log as
"HOST PATH STATUS". Run it in the test's network namespace:

    sts_policy_server.py --listen 127.0.0.4 --port 443 --cert C --key K --dir DIR
"""
import argparse
import http.server
import os
import ssl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            path = os.path.join(args.dir, host + ".txt")
            body, status = b"not found\n", 404
            if self.path == "/.well-known/mta-sts.txt" and "/" not in host and os.path.isfile(path):
                with open(path, "rb") as f:
                    body, status = f.read(), 200
            with open(os.path.join(args.dir, "requests.log"), "a") as log:
                log.write(f"{host} {self.path} {status}\n")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *a):
            pass

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server = http.server.ThreadingHTTPServer((args.listen, args.port), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
