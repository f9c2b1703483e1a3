"""The demo web worker: serves HTTP on a listening socket inherited from circus.

Usage (circus fills in the fd): ``python demo_app.py --fd $(circus.sockets.web) --wid $(circus.wid)``
"""

import argparse
import http.server
import os
import socket
import socketserver
import time

STARTED = time.time()


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "circus-demo/1"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = (
            f"Hello from circus worker wid={self.server.wid} pid={os.getpid()}, "
            f"up {time.time() - STARTED:.0f}s\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(f"wid={self.server.wid} pid={os.getpid()} {self.address_string()} {fmt % args}",
              flush=True)


class InheritedServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, fd: int, wid: str):
        super().__init__(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = socket.socket(fileno=fd)  # already bound and listening
        self.wid = wid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--wid", default="?")
    args = parser.parse_args()
    print(f"worker wid={args.wid} pid={os.getpid()} serving on fd {args.fd}", flush=True)
    InheritedServer(args.fd, args.wid).serve_forever()


if __name__ == "__main__":
    main()
