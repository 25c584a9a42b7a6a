#!/usr/bin/env python3
"""Local peers for the notification tests, written by others than us: an SMTP server
(aiosmtpd) and an HTTP sink standing in for an SMS / WhatsApp provider.

    peers.py smtp            SMTP on 127.0.0.1, a random port
    peers.py http [FAILS]    HTTP on 127.0.0.1; answers 500 to the first FAILS requests
                             (-1: to all of them), then 201 with {"sid": "SM<n>"}

The first line on stdout is {"port": N}; then one JSON line per message or request, with the
email parsed by Python's email package (headers, text body, attachments). It runs until its
stdin closes (the test's process ends or drops it).
"""
import asyncio
import base64
import email
import email.policy
import json
import sys
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def parse_mail(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))
    attachments = []
    for part in msg.iter_attachments():
        data = part.get_payload(decode=True) or b""
        attachments.append({
            "filename": part.get_filename(),
            "content_type": part.get_content_type(),
            "size": len(data),
            "head": base64.b64encode(data[:8]).decode(),
        })
    return {
        "headers": {k: str(v) for k, v in msg.items()},
        "body": body.get_content() if body is not None else "",
        "attachments": attachments,
    }


async def smtp():
    from aiosmtpd.smtp import SMTP, AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):
        # Only the tests' user with its password gets in (proves the secret was decrypted).
        ok = auth_data.login == b"isp" and auth_data.password == b"smtp-password"
        return AuthResult(success=ok, auth_data=auth_data.login.decode() if ok else None)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            raw = envelope.original_content or envelope.content
            out({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "auth": session.auth_data,
                 "mail": parse_mail(raw)})
            return "250 2.0.0 Ok: queued as TEST"

    loop = asyncio.get_running_loop()
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    # AUTH without TLS: the peer is on the loopback interface.
    server = await loop.create_server(
        lambda: SMTP(Handler(), hostname="sink.test", authenticator=authenticator, auth_require_tls=False,
                     auth_required=True),
        "127.0.0.1", 0)
    out({"port": server.sockets[0].getsockname()[1]})
    await loop.run_in_executor(None, sys.stdin.read)


def http(fails):
    state = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length).decode("utf-8", "replace")
            with lock:
                state["n"] += 1
                n = state["n"]
            failing = fails < 0 or n <= fails
            out({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                 "answered": 500 if failing else 201})
            if failing:
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b'{"error": "provider down"}')
            else:
                answer = json.dumps({"sid": f"SM{n:06d}", "status": "queued"}).encode()
                self.send_response(201)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    out({"port": server.server_address[1]})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    if sys.argv[1] == "smtp":
        asyncio.run(smtp())
    else:
        http(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
