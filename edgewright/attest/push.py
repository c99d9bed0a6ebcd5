"""Continuous attestation in push mode: joined nodes, NAT'd or not, dial out to the controller on their own
schedule, take a fresh nonce and push a quote over it. Nothing dials a node.

    POST /v1/nodes/NODE/nonce   -> {"nonce": HEX, "expires_in": SECONDS}
    POST /v1/nodes/NODE/quote   {"message": B64, "signature": B64, "pcrs": {"13": HEX, ...},
                                 "measurement_log": TEXT}
                                -> {"status": "attested" | "quarantined", "reason": ...}

Keylime 7.14's push mode has the same two steps (the agent creates an attestation, the verifier answers
with its challenge, the agent sends evidence over it before the challenge expires), and its
push_agent_monitor's event-driven deadline is reused as an idea: every passing quote re-arms one timer for
its node, and a node whose next quote does not arrive before the deadline is quarantined (Keylime marks it
failed), since a node that stops pushing is indistinguishable from one that hides a change. Its code is not
reused: it runs on tornado, its own database models and its agent's evidence format; ours is the
verifier's (edgewright.attest.verifier) behind a small standard-library server.

Authenticated by mutual TLS: every client presents a certificate from the site's node CA naming its node
(the xDS client identity, edgewright.xds.identity), and may push only for that node. What a node sends is
never trusted beyond its signature: the node class and golden policy are the verifier's, learning is off,
and only a node the verifier has enrolled and attested before (a joined node) is served.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import ssl
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from edgewright.attest.verifier import ATTESTED, QUARANTINED, RELEASED, Refused, Verifier, VerifierError
from edgewright.errors import EdgewrightError
from edgewright.xds.identity import identity_of_pem

log = logging.getLogger("edgewright.attest.push")

MAX_BODY = 64 * 1024
_PATH = re.compile(r"^/v1/nodes/([A-Za-z0-9][A-Za-z0-9._-]{0,127})/(nonce|quote)$")


class PushError(EdgewrightError, ValueError):
    """A push the service refuses before it reaches the verifier (the message says why)."""


def parse_quote(body: bytes) -> tuple[bytes, bytes, dict[int, bytes], str | None]:
    """(message, signature, {pcr: value}) from a pushed quote's JSON body; PushError naming what is wrong."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PushError(f"the body is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("pcrs"), dict):
        raise PushError("the body must be an object with message, signature and pcrs")
    try:
        message = base64.b64decode(doc.get("message", ""), validate=True)
        signature = base64.b64decode(doc.get("signature", ""), validate=True)
        pcrs = {int(k): bytes.fromhex(v) for k, v in doc["pcrs"].items()}
    except (binascii.Error, TypeError, ValueError, AttributeError) as exc:
        raise PushError(f"message and signature must be base64 and pcrs PCR=HEX: {exc}") from None
    if not message or not signature or not pcrs:
        raise PushError("message, signature and pcrs must not be empty")
    log = doc.get("measurement_log")
    if log is not None and not isinstance(log, str):
        raise PushError("measurement_log must be the log's text")
    return message, signature, pcrs, log


class PushService:
    """The verifier side of push mode: nonces and quotes for joined nodes, and each node's deadline."""

    def __init__(
        self,
        verifier: Verifier,
        *,
        deadline_s: float,
        on_quarantined: Callable[[str, str], None] = lambda node, reason: None,
    ) -> None:
        self.verifier = verifier
        self.deadline_s = deadline_s
        self.on_quarantined = on_quarantined
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()

    def _joined(self, node: str) -> dict:
        record = self.verifier.status(node)
        if record and record["status"] == QUARANTINED:
            return record  # the verifier refuses it, saying why and how to release it
        if not record or not record.get("node_class") or record["status"] not in (ATTESTED, RELEASED):
            status = record["status"] if record else "unknown"
            raise Refused(
                f"node {node} is not a joined, attested node (status: {status}): it joins by site.yml"
            )
        return record

    def nonce(self, node: str) -> bytes:
        self._joined(node)
        return self.verifier.issue_nonce(node)

    def quote(
        self,
        node: str,
        message: bytes,
        signature: bytes,
        pcrs: dict[int, bytes],
        measurement_log: str | None = None,
    ) -> tuple[bool, str]:
        """Judge a pushed quote and its measurement log; a failure quarantines the node and starts its
        revocation."""
        record = self._joined(node)
        verdict = self.verifier.verify(
            node, record["node_class"], message, signature, pcrs, measurement_log=measurement_log
        )
        if verdict.ok:
            self._arm(node)
            return True, verdict.reason
        self._quarantined(node, verdict.reason)
        return False, verdict.reason

    def _arm(self, node: str) -> None:
        """(Re)start NODE's deadline: its next quote must pass within deadline_s."""
        timer = threading.Timer(self.deadline_s, self._missed, args=(node,))
        timer.daemon = True
        with self._lock:
            old = self._timers.pop(node, None)
            self._timers[node] = timer
        if old is not None:
            old.cancel()
        timer.start()

    def _missed(self, node: str) -> None:
        with self._lock:
            if self._timers.get(node) is not threading.current_thread():
                return  # superseded by a newer quote's timer
            del self._timers[node]
        reason = f"no attestation pushed within {self.deadline_s:.0f} s (continuous attestation deadline)"
        if self.verifier.quarantine(node, reason).changed:
            self._quarantined(node, reason)

    def _quarantined(self, node: str, reason: str) -> None:
        with self._lock:
            timer = self._timers.pop(node, None)
        if timer is not None:
            timer.cancel()
        log.warning("node %s quarantined: %s", node, reason)
        threading.Thread(target=self.on_quarantined, args=(node, reason), daemon=True).start()

    def arm_joined(self) -> list[str]:
        """Start the deadline of every attested node (at service start: a node that never pushes again is
        caught too). Returns those nodes."""
        joined = [
            r["node"] for r in self.verifier.store.nodes() if r["status"] == ATTESTED and r.get("node_class")
        ]
        for node in joined:
            self._arm(node)
        return joined

    def stop(self) -> None:
        with self._lock:
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()


def _handler(service: PushService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "edgewright-attest"

        def log_message(self, fmt, *args) -> None:
            log.info("%s %s", self.client_address[0], fmt % args)

        def _answer(self, status: HTTPStatus, doc: dict) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            match = _PATH.match(self.path)
            if not match:
                return self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such resource: {self.path}"})
            node, step = match.groups()
            der = self.connection.getpeercert(binary_form=True)
            identity = identity_of_pem(ssl.DER_cert_to_PEM_cert(der).encode()) if der else None
            if identity is None or identity.node != node:
                named = identity.node if identity else "no node"
                return self._answer(
                    HTTPStatus.FORBIDDEN, {"error": f"the client certificate names {named}, not {node}"}
                )
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"over {MAX_BODY} bytes"})
            body = self.rfile.read(length)
            try:
                if step == "nonce":
                    nonce = service.nonce(node)
                    return self._answer(
                        HTTPStatus.OK, {"nonce": nonce.hex(), "expires_in": service.verifier.nonce_ttl}
                    )
                ok, reason = service.quote(node, *parse_quote(body))
            except PushError as exc:
                return self._answer(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            except Refused as exc:
                return self._answer(HTTPStatus.FORBIDDEN, {"status": "refused", "reason": str(exc)})
            except VerifierError as exc:
                return self._answer(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            status = HTTPStatus.OK if ok else HTTPStatus.FORBIDDEN
            return self._answer(status, {"status": "attested" if ok else "quarantined", "reason": reason})

    return Handler


def tls_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """The server's TLS: its own certificate, and a client certificate from CLIENT_CA required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def start_server(service: PushService, host: str, port: int, context: ssl.SSLContext) -> ThreadingHTTPServer:
    """Serve push-mode attestation on HOST:PORT (port 0 picks one) over mutual TLS, in a thread."""
    server = ThreadingHTTPServer((host, port), _handler(service))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
