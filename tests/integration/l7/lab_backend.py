"""A backend app for lab nodes (stdlib only): HTTP/1.1 on a TCP port and a UDP echo, each answering NAME.

Usage: python3 lab_backend.py NAME TCP_PORT [UDP_PORT]
"""

import http.server
import socketserver
import sys
import threading


def main(name: str, tcp_port: int, udp_port: int | None) -> None:
    class Http(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so a test can hold one connection open

        def do_GET(self):
            body = name.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Udp(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            sock.sendto(name.encode() + b":" + data, self.client_address)

    if udp_port:
        udp = socketserver.ThreadingUDPServer(("0.0.0.0", udp_port), Udp)
        threading.Thread(target=udp.serve_forever, daemon=True).start()
    http.server.ThreadingHTTPServer(("0.0.0.0", tcp_port), Http).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
