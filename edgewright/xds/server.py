"""The ADS server: every connected Envoy gets its node's snapshot, and a new snapshot is pushed live.

State-of-the-world ADS over gRPC (grpcio + the Envoy API stubs from xds-protos). Per stream and per type,
the server remembers the nonce it last sent; a request carrying that nonce and the current version is an
ACK, one carrying an error is a NACK (logged; the node keeps its last good configuration and nothing is
resent until the snapshot changes), one carrying an older nonce is stale and ignored.

Who a node is comes from its client certificate, not from what it says: the server requires mutual TLS
with a certificate from the site's xDS client CA and serves a stream only the snapshot of the node that
certificate names. Plaintext, where any client can claim any node.id, is only by an explicit
`insecure_plaintext`.

With a `standing` check (the attestation verifier's word, `verifier_standing`), a node is served only
while it is attested: checked when its stream opens and again every few seconds while it lasts, so a node
quarantined mid-stream is cut off and gets no new configuration.
"""

from __future__ import annotations

import datetime
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import yaml
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

from edgewright.xds.identity import PeerIdentity, identity_of_pem
from edgewright.xds.model import Endpoint, ServiceRef, Source, SourceError, parse_source
from edgewright.xds.resources import TYPE_ORDER, Snapshot, snapshot

log = logging.getLogger("edgewright.xds")

_WAKE = object()  # put on a stream's queue when its node's snapshot changed
# Seconds between two checks of a live stream's node standing.
STANDING_RECHECK_S = 2.0


def verifier_standing(verifier_dir: str | Path, max_age: float | None = None) -> Callable[[str], str | None]:
    """A standing check over the attestation verifier's store: None while NODE is attested (by a quote at
    most MAX_AGE seconds old, None: the verifier's default), else why it is not. A store that cannot be
    read refuses (fails closed)."""
    from edgewright.attest.store import Store, StoreError
    from edgewright.attest.verifier import DEFAULT_MAX_AGE, Refused, Verifier

    verifier = Verifier(Store(verifier_dir))

    def standing(node: str) -> str | None:
        try:
            verifier.require_attested(node, DEFAULT_MAX_AGE if max_age is None else max_age)
        except (Refused, StoreError) as err:
            return str(err)
        return None

    return standing


class SnapshotCache:
    """The current snapshot of every node, built from one Source, and the streams watching each node.

    It holds state only for the nodes the source names and the nodes connected now: a node that disconnects
    and that the source does not name is forgotten, and so is a node the source drops once it is gone, so
    clients announcing ever new node ids cannot grow it.
    """

    def __init__(self, source: Source | None = None) -> None:
        self._lock = threading.Lock()
        self._declared = source or Source()
        # The ready endpoints of each Service port the source names, as last seen in the cluster.
        self._service_endpoints: dict[ServiceRef, tuple[Endpoint, ...]] = {}
        self._source = self._declared
        self._snapshots: dict[str, Snapshot] = {}
        self._watchers: dict[str, set[queue.Queue]] = {}

    def set_source(self, source: Source) -> list[str]:
        """Replace the source; wake the streams of every node whose snapshot changed. Returns those nodes."""
        with self._lock:
            self._declared = source
            return self._apply()

    def set_service_endpoints(self, service: ServiceRef, endpoints: tuple[Endpoint, ...]) -> list[str]:
        """The ready endpoints of SERVICE changed; push them (EDS) to every node whose clusters follow it.
        Returns the nodes woken."""
        with self._lock:
            if self._service_endpoints.get(service) == endpoints:
                return []
            self._service_endpoints[service] = endpoints
            return self._apply()

    def services(self) -> frozenset[ServiceRef]:
        """The Service ports the current source follows."""
        with self._lock:
            return self._declared.services()

    def _apply(self) -> list[str]:
        source = self._declared.with_endpoints(self._service_endpoints)
        self._source = source
        for node_id in [n for n in self._snapshots if n not in self._watchers]:
            if node_id not in source.nodes:
                del self._snapshots[node_id]
        changed = []
        for node_id in set(self._snapshots) | set(self._watchers):
            new = snapshot(source.node_config(node_id))
            old = self._snapshots.get(node_id)
            self._snapshots[node_id] = new
            if old is None or old.version != new.version:
                changed.append(node_id)
                for q in self._watchers.get(node_id, ()):
                    q.put(_WAKE)
        return sorted(changed)

    def get(self, node_id: str) -> Snapshot:
        with self._lock:
            if node_id not in self._snapshots:
                self._snapshots[node_id] = snapshot(self._source.node_config(node_id))
            return self._snapshots[node_id]

    def watch(self, node_id: str, q: queue.Queue) -> None:
        with self._lock:
            self._watchers.setdefault(node_id, set()).add(q)

    def unwatch(self, node_id: str, q: queue.Queue) -> bool:
        """Stop waking Q for NODE_ID; True when that was the node's last stream and the node is forgotten."""
        with self._lock:
            watchers = self._watchers.get(node_id, set())
            watchers.discard(q)
            if watchers:
                return False
            self._watchers.pop(node_id, None)
            if node_id in self._source.nodes:
                return False
            self._snapshots.pop(node_id, None)
            return True

    def knows(self, node_id: str) -> bool:
        """Whether NODE_ID is named by the source or connected now."""
        with self._lock:
            return node_id in self._source.nodes or bool(self._watchers.get(node_id))

    def held_nodes(self) -> list[str]:
        """Every node the cache holds state for (a snapshot or a watching stream)."""
        with self._lock:
            return sorted(set(self._snapshots) | set(self._watchers))


@dataclass
class _TypeState:
    """What one stream has asked for and been sent, for one resource type."""

    names: list[str] = field(default_factory=list)
    nonce: str = ""
    sent_version: str | None = None


class AggregatedDiscovery(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):
    """The ADS servicer. A stream serves the node its client certificate names (see edgewright.xds.identity)
    and is refused with PERMISSION_DENIED when a request asks for another node.id. Only with
    INSECURE_PLAINTEXT (no TLS, so no certificate) does it take the client's node.id at its word.

    The `_stream_opened`, `_stream_closed`, `_refused` and `_nacked` hooks do nothing here; subclasses
    count with them (edgewright.metrics.xds).
    """

    def __init__(
        self,
        cache: SnapshotCache,
        *,
        insecure_plaintext: bool = False,
        standing: Callable[[str], str | None] | None = None,
    ) -> None:
        self._cache = cache
        self.insecure_plaintext = insecure_plaintext
        # Why a node may not be served now (None: it may); unset, every certified node is served.
        self.standing = standing
        self._nonce = 0
        self._nonce_lock = threading.Lock()

    def _next_nonce(self) -> str:
        with self._nonce_lock:
            self._nonce += 1
            return str(self._nonce)

    def _peer_identity(self, context) -> PeerIdentity | None:
        """Who the peer's client certificate names (the TLS handshake checked it against the CA)."""
        pems = context.auth_context().get("x509_pem_cert") or []
        return identity_of_pem(pems[0]) if pems else None

    def _refuse(self, context, code: grpc.StatusCode, reason: str, message: str) -> None:
        log.warning("refused an ADS stream from %s: %s", context.peer(), message)
        self._refused(reason)
        context.abort(code, message)

    def StreamAggregatedResources(
        self, request_iterator, context
    ) -> Iterator[discovery_pb2.DiscoveryResponse]:
        certified, expires = None, None
        if not self.insecure_plaintext:
            identity = self._peer_identity(context)
            if identity is None:
                self._refuse(
                    context,
                    grpc.StatusCode.UNAUTHENTICATED,
                    "no_node_certificate",
                    "the client certificate names no node (SAN URI edgewright://node/NAME)",
                )
            certified, expires = identity.node, identity.not_after
        inbox: queue.Queue = queue.Queue()
        threading.Thread(target=_pump, args=(request_iterator, inbox), daemon=True).start()
        node_id: str | None = None
        states: dict[str, _TypeState] = {}
        checked_at = 0.0
        try:
            while context.is_active():
                if self.standing is not None and (certified or node_id):
                    now = time.monotonic()
                    if now - checked_at >= STANDING_RECHECK_S:
                        checked_at = now
                        self._refuse_unless_standing(context, certified or node_id)
                # TLS checked the certificate once, at the handshake: a stream outliving it is ended, so a
                # node that is no longer given a certificate (quarantined) does not keep its configuration.
                if expires is not None and datetime.datetime.now(datetime.UTC) >= expires:
                    self._refuse(
                        context,
                        grpc.StatusCode.UNAUTHENTICATED,
                        "certificate_expired",
                        f"the client certificate of {certified} expired at {expires.isoformat()}",
                    )
                try:
                    item = inbox.get(timeout=1.0)
                except queue.Empty:
                    continue
                if item is None:  # the node closed its stream
                    return
                if item is _WAKE:
                    assert node_id is not None
                    yield from self._push_all(node_id, states)
                    continue
                request: discovery_pb2.DiscoveryRequest = item
                if certified is not None and request.node.id and request.node.id != certified:
                    self._refuse(
                        context,
                        grpc.StatusCode.PERMISSION_DENIED,
                        "node_id_mismatch",
                        f"node.id {request.node.id!r} is not the node {certified!r} "
                        "the client certificate names",
                    )
                if node_id is None and self.standing is not None and certified is None:
                    # Plaintext: the node is who it says; it is still served only while attested.
                    self._refuse_unless_standing(context, request.node.id)
                if node_id is None:
                    if not request.node.id:
                        self._refuse(
                            context,
                            grpc.StatusCode.INVALID_ARGUMENT,
                            "no_node_id",
                            "the first request must carry node.id",
                        )
                    node_id = request.node.id
                    until = f" (client certificate valid until {expires.isoformat()})" if expires else ""
                    log.info("node %s connected%s", node_id, until)
                    self._cache.watch(node_id, inbox)
                    self._stream_opened(node_id)
                response = self._answer(node_id, request, states)
                if response is not None:
                    yield response
        finally:
            if node_id is not None:
                forgotten = self._cache.unwatch(node_id, inbox)
                self._stream_closed(node_id, forgotten)
                log.info("node %s disconnected%s", node_id, "; its state is dropped" if forgotten else "")

    def _refuse_unless_standing(self, context, node: str) -> None:
        problem = self.standing(node) if node else None
        if problem is not None:
            self._refuse(
                context, grpc.StatusCode.PERMISSION_DENIED, "node_not_attested", f"node {node}: {problem}"
            )

    def _answer(self, node_id: str, request, states: dict[str, _TypeState]):
        type_url = request.type_url
        state = states.setdefault(type_url, _TypeState())
        if request.response_nonce and request.response_nonce != state.nonce:
            return None  # an answer to a response we have since replaced
        if request.HasField("error_detail"):
            log.warning(
                "node %s rejected %s version %s: %s",
                node_id,
                type_url.rsplit(".", 1)[-1],
                state.sent_version,
                request.error_detail.message,
            )
            self._nacked(node_id, type_url)
            state.names = list(request.resource_names)
            return None
        current = self._cache.get(node_id)
        names_changed = list(request.resource_names) != state.names
        state.names = list(request.resource_names)
        if (
            request.version_info == current.version
            and state.sent_version == current.version
            and not names_changed
        ):
            log.debug("node %s acknowledged %s version %s", node_id, type_url, current.version)
            return None
        return self._response(node_id, current, type_url, state)

    def _push_all(self, node_id: str, states: dict[str, _TypeState]):
        current = self._cache.get(node_id)
        for type_url in TYPE_ORDER:
            state = states.get(type_url)
            if state is not None and state.sent_version != current.version:
                yield self._response(node_id, current, type_url, state)

    def _response(
        self, node_id: str, current: Snapshot, type_url: str, state: _TypeState
    ) -> discovery_pb2.DiscoveryResponse:
        response = discovery_pb2.DiscoveryResponse(
            version_info=current.version, type_url=type_url, nonce=self._next_nonce()
        )
        for message in current.of_type(type_url, state.names):
            response.resources.add().Pack(message)
        state.nonce, state.sent_version = response.nonce, current.version
        return response

    def _stream_opened(self, node_id: str) -> None:
        """A stream of NODE_ID passed its checks."""

    def _stream_closed(self, node_id: str, forgotten: bool) -> None:
        """A stream of NODE_ID ended; FORGOTTEN when the cache dropped the node's state."""

    def _refused(self, reason: str) -> None:
        """A stream was refused or ended, for REASON (no_node_certificate, node_id_mismatch, no_node_id,
        certificate_expired, node_not_attested)."""

    def _nacked(self, node_id: str, type_url: str) -> None:
        """NODE_ID rejected the last response of TYPE_URL."""


def _pump(request_iterator, inbox: queue.Queue) -> None:
    try:
        for request in request_iterator:
            inbox.put(request)
    except grpc.RpcError:
        pass
    finally:
        inbox.put(None)


def load_source(path: Path) -> Source:
    """Read and check a YAML source file; SourceError (naming the file) when it is unreadable or wrong."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as err:
        raise SourceError(f"{path}: cannot read: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise SourceError(f"{path}: not valid YAML: {err}") from None
    try:
        return parse_source(raw)
    except SourceError as err:
        raise SourceError(f"{path}: {err}") from None


class SourceWatcher:
    """Reloads the source file when it changes; a broken edit is reported and the last good one kept."""

    def __init__(self, path: Path, cache: SnapshotCache, on_error: Callable[[str], None] = log.error) -> None:
        self.path = path
        self._cache = cache
        self._on_error = on_error
        self._seen: tuple[int, int] | None = None

    def poll(self) -> bool:
        """Load the file if it changed since the last poll; True when a new source was taken."""
        try:
            st = self.path.stat()
        except OSError as err:
            self._on_error(f"{self.path}: cannot read: {err.strerror}")
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._seen:
            return False
        self._seen = stamp
        try:
            source = load_source(self.path)
        except SourceError as err:
            self._on_error(f"keeping the last good source: {err}")
            return False
        changed = self._cache.set_source(source)
        log.info("source %s loaded; nodes with a new snapshot: %s", self.path, ", ".join(changed) or "none")
        return True


@dataclass(frozen=True)
class ServerTls:
    """The control plane's TLS: its own identity (PEM certificate and key; nodes check it against the CA they
    are given) and the site's xDS client CA, which every client must present a certificate from."""

    cert: Path
    key: Path
    client_ca: Path

    def credentials(self) -> grpc.ServerCredentials:
        try:
            pair = (self.key.read_bytes(), self.cert.read_bytes())
            client_ca = self.client_ca.read_bytes()
        except OSError as err:
            raise OSError(f"cannot read {err.filename}: {err.strerror}") from None
        return grpc.ssl_server_credentials([pair], root_certificates=client_ca, require_client_auth=True)


def start_server(
    cache: SnapshotCache,
    listen: str,
    max_nodes: int = 512,
    tls: ServerTls | None = None,
    discovery: AggregatedDiscovery | None = None,
    insecure_plaintext: bool = False,
    max_connection_age_s: float = 900.0,
) -> tuple[grpc.Server, int]:
    """Serve ADS on LISTEN ('host:port'; port 0 picks one) over mutual TLS (TLS), or, only when
    INSECURE_PLAINTEXT says so, over plaintext gRPC trusting each client's node.id. Returns the server and
    its bound port.

    Each connected Envoy holds one worker thread for its stream; a node beyond MAX_NODES is refused with
    RESOURCE_EXHAUSTED (Envoy retries) rather than left hanging. DISCOVERY replaces the plain servicer over
    CACHE (e.g. one that counts, for metrics).

    A connection is closed (gracefully: its streams finish first) after MAX_CONNECTION_AGE_S: TLS checks a
    client certificate only at the handshake, so this is how a renewed certificate is taken up and an
    expired one shut out, since Envoy opens new streams on the connection it has.
    """
    if (tls is None) != insecure_plaintext:
        raise ValueError("serve ADS either over mutual TLS (tls) or, explicitly, with insecure_plaintext")
    discovery = discovery or AggregatedDiscovery(cache, insecure_plaintext=insecure_plaintext)
    if discovery.insecure_plaintext != insecure_plaintext:
        raise ValueError("the discovery servicer and the server disagree on insecure_plaintext")
    age_ms = int(max_connection_age_s * 1000)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_nodes + 1),
        maximum_concurrent_rpcs=max_nodes,
        options=[("grpc.max_connection_age_ms", age_ms), ("grpc.max_connection_age_grace_ms", age_ms)],
    )
    ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(discovery, server)
    if tls is not None:
        port = server.add_secure_port(listen, tls.credentials())
    else:
        log.warning("serving ADS over INSECURE PLAINTEXT on %s: any client can claim any node.id", listen)
        port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    server.start()
    return server, port
