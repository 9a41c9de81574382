# HTTP hello server of bench/languages.sh: the same file runs on the host's
# python3 and on the python runtime under wasmrun. Single-threaded
# http.server (the WASI build has no threads), HTTP/1.0: one request per
# connection on both sides. Listens on 127.0.0.1:$PORT.
import http.server, os


class Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        pass  # no per-request log line on either side


class Server(http.server.HTTPServer):
    request_queue_size = 128  # the load client's connections may all knock at once


Server(("127.0.0.1", int(os.environ["PORT"])), Hello).serve_forever()
