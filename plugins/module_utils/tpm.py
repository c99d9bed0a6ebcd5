"""Node-side TPM 2.0 operations through tpm2-tools (stdlib only: runs on a bare edge node).

The endorsement key (EK) and attestation key (AK) are persistent TPM objects: made once, in the TPM, and
never leaving it; only their public areas are read out. Without a resource manager (swtpm reached
directly) the TPM has few object slots, so every step flushes the transient objects it loaded.

The verifier on the controller imports this same file as edgewright.attest.node_tpm (a link to it), for
what it must compute exactly as the node does: the measurement log's event hashes and lines, and the PCR
values they replay to. One copy of that arithmetic, which the node can run without the edgewright package.
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import tempfile

SHA256_SIZE = 32
PCR_COUNT = 24
ZERO_PCR = bytes(SHA256_SIZE)
ENDORSEMENT_HIERARCHY = "e"


class TpmError(RuntimeError):
    """A TPM command failed or no TPM answered; the message carries the tool's own words."""


def check_pcr_index(index):
    """INDEX as an int when it names a PCR (0-23), else ValueError naming it."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < PCR_COUNT:
        raise ValueError(f"PCR {index!r} is out of range: a TPM 2.0 has PCRs 0-{PCR_COUNT - 1}")
    return index


def check_handle(handle):
    """HANDLE as an int when it is a persistent handle (0x81000000-0x81FFFFFF), else ValueError."""
    value = int(handle, 0) if isinstance(handle, str) else handle
    if not 0x81000000 <= value <= 0x81FFFFFF:
        raise ValueError(f"handle {handle!r} is not a persistent handle (0x81000000-0x81FFFFFF)")
    return value


def check_key_handles(ek_handle, ak_handle):
    """(EK handle, AK handle) as ints when both are persistent handles, and two of them, else ValueError."""
    ek, ak = check_handle(ek_handle), check_handle(ak_handle)
    if ek == ak:
        raise ValueError("ek_handle and ak_handle must differ")
    return ek, ak


# The arguments the TPM modules share (as kubernetes.core's args_common): how to reach the TPM, and the
# persistent handles of its endorsement key and attestation key (by default where the tpm role makes them).
TCTI_ARG = {"tcti": {"type": "str", "required": True}}
EK_HANDLE_ARG = {"ek_handle": {"type": "str", "default": "0x81010001"}}
AK_HANDLE_ARG = {"ak_handle": {"type": "str", "default": "0x81010002"}}


def run(tcti, args, check=True):
    """Run one tpm2-tools command against the TPM at TCTI and return its stdout."""
    env = dict(os.environ, TPM2TOOLS_TCTI=tcti)
    try:
        proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise TpmError(f"{args[0]} not found: install tpm2-tools") from None
    if check and proc.returncode != 0:
        if "Could not load tcti" in proc.stderr or "Connection refused" in proc.stderr:
            raise TpmError(f"no TPM answers at {tcti} ({args[0]} could not reach it)")
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")] or proc.stderr.splitlines()
        raise TpmError(f"{args[0]} failed (TCTI {tcti}): {' / '.join(lines[-3:]) or 'no output'}")
    return proc.stdout


def flush_transient(tcti):
    run(tcti, ["tpm2_flushcontext", "-t"], check=False)
    run(tcti, ["tpm2_flushcontext", "-s"], check=False)


def persistent_handles(tcti):
    """The persistent handles in the TPM (which also proves a TPM answers at TCTI)."""
    out = run(tcti, ["tpm2_getcap", "handles-persistent"])
    return {int(line.strip("- \t"), 16) for line in out.splitlines() if line.strip().startswith("- 0x")}


def read_public(tcti, handle):
    """The TPM2B_PUBLIC of the persistent object at HANDLE."""
    with tempfile.TemporaryDirectory(prefix="edgewright-tpm-") as tmp:
        path = os.path.join(tmp, "public")
        run(tcti, ["tpm2_readpublic", "-c", hex(handle), "-f", "tss", "-o", path])
        with open(path, "rb") as f:
            return f.read()


# Where TPM vendors store the certificate of the RSA 2048 EK (TCG EK Credential Profile, "low range").
RSA_EK_CERTIFICATE_INDEX = 0x01C00002


def nv_indexes(tcti):
    """The NV indexes the TPM defines."""
    out = run(tcti, ["tpm2_getcap", "handles-nv-index"])
    return {int(line.strip("- \t"), 16) for line in out.splitlines() if line.strip().startswith("- 0x")}


def read_ek_certificate(tcti, index=RSA_EK_CERTIFICATE_INDEX):
    """The EK certificate the manufacturer stored in the TPM (DER, possibly padded), or None without one."""
    if index not in nv_indexes(tcti):
        return None
    with tempfile.TemporaryDirectory(prefix="edgewright-tpm-") as tmp:
        path = os.path.join(tmp, "ek.crt")
        try:
            run(tcti, ["tpm2_nvread", hex(index), "-C", "o", "-o", path])
        finally:
            flush_transient(tcti)
        with open(path, "rb") as f:
            return f.read() or None


def ensure_identity(tcti, ek_handle, ak_handle, create=True):
    """Make the EK and AK persistent at their handles unless they are there already.

    Returns (ek_public, ak_public, created) where created lists "ek"/"ak" made now (or, without CREATE,
    that would be made; their public parts are then None).
    """
    present = persistent_handles(tcti)
    created = [name for name, h in (("ek", ek_handle), ("ak", ak_handle)) if h not in present]
    if not create:
        ek = read_public(tcti, ek_handle) if ek_handle in present else None
        ak = read_public(tcti, ak_handle) if ak_handle in present else None
        return ek, ak, created
    try:
        if "ek" in created:
            run(tcti, ["tpm2_createek", "-c", hex(ek_handle), "-G", "rsa"])
            flush_transient(tcti)
        if "ak" in created:
            with tempfile.TemporaryDirectory(prefix="edgewright-tpm-") as tmp:
                ctx = os.path.join(tmp, "ak.ctx")
                run(
                    tcti,
                    [
                        "tpm2_createak",
                        "-C",
                        hex(ek_handle),
                        "-c",
                        ctx,
                        "-G",
                        "rsa",
                        "-g",
                        "sha256",
                        "-s",
                        "rsassa",
                        "-u",
                        os.path.join(tmp, "ak.pub"),
                        "-n",
                        os.path.join(tmp, "ak.name"),
                    ],
                )
                flush_transient(tcti)
                run(tcti, ["tpm2_evictcontrol", "-C", "o", "-c", ctx, hex(ak_handle)])
    finally:
        flush_transient(tcti)
    return read_public(tcti, ek_handle), read_public(tcti, ak_handle), created


def activate_credential(tcti, ek_handle, ak_handle, credential):
    """The secret inside CREDENTIAL, which only this TPM can recover, and only for the AK it names."""
    with tempfile.TemporaryDirectory(prefix="edgewright-tpm-") as tmp:
        cred, session, secret = (os.path.join(tmp, n) for n in ("credential", "session.ctx", "secret"))
        with open(cred, "wb") as f:
            f.write(credential)
        try:
            # The EK's policy asks for endorsement-hierarchy authorization, given through a policy session.
            run(tcti, ["tpm2_startauthsession", "--policy-session", "-S", session])
            run(tcti, ["tpm2_policysecret", "-S", session, "-c", ENDORSEMENT_HIERARCHY])
            run(
                tcti,
                [
                    "tpm2_activatecredential",
                    "-c",
                    hex(ak_handle),
                    "-C",
                    hex(ek_handle),
                    "-i",
                    cred,
                    "-o",
                    secret,
                    "-P",
                    f"session:{session}",
                ],
            )
            run(tcti, ["tpm2_flushcontext", session], check=False)
        finally:
            flush_transient(tcti)
        with open(secret, "rb") as f:
            return f.read()


def pcr_list(indexes):
    return "sha256:" + ",".join(str(check_pcr_index(i)) for i in sorted(set(indexes)))


def quote(tcti, ak_handle, indexes, nonce):
    """A quote by the AK over the SHA-256 PCRs INDEXES with NONCE: (message, signature, {pcr: value})."""
    indexes = sorted(set(indexes))
    if not indexes:
        raise ValueError("a quote needs at least one PCR")
    with tempfile.TemporaryDirectory(prefix="edgewright-tpm-") as tmp:
        msg, sig, pcrs = (os.path.join(tmp, n) for n in ("quote.msg", "quote.sig", "quote.pcrs"))
        try:
            run(
                tcti,
                [
                    "tpm2_quote",
                    "-c",
                    hex(ak_handle),
                    "-l",
                    pcr_list(indexes),
                    "-q",
                    nonce.hex(),
                    "-m",
                    msg,
                    "-s",
                    sig,
                    "-o",
                    pcrs,
                    "-F",
                    "values",
                    "-f",
                    "plain",
                    "-g",
                    "sha256",
                ],
            )
        finally:
            flush_transient(tcti)
        with open(msg, "rb") as m, open(sig, "rb") as s, open(pcrs, "rb") as p:
            message, signature, values = m.read(), s.read(), p.read()
    if len(values) != SHA256_SIZE * len(indexes):
        raise TpmError(f"tpm2_quote returned {len(values)} bytes of PCR values for {len(indexes)} PCRs")
    return (
        message,
        signature,
        {i: values[n * SHA256_SIZE : (n + 1) * SHA256_SIZE] for n, i in enumerate(indexes)},
    )


def read_pcr(tcti, index):
    with tempfile.TemporaryDirectory(prefix="edgewright-tpm-") as tmp:
        path = os.path.join(tmp, "pcr")
        run(tcti, ["tpm2_pcrread", f"sha256:{check_pcr_index(index)}", "-o", path])
        with open(path, "rb") as f:
            return f.read()


def extend_pcr(tcti, index, digest):
    run(tcti, ["tpm2_pcrextend", f"{check_pcr_index(index)}:sha256={digest.hex()}"])


# -- measuring artefacts: pure functions, then the one step that touches the TPM --------------------------

# edgewright's own measurements go into a PCR that software cannot reset at locality 0 (PCRs 0-15 of the PC
# Client profile), and one a Debian node's boot chain leaves alone (roles/attest/README.md says why 13).
MEASUREMENT_PCR = 13
MEASUREMENT_LOG = "/var/lib/edgewright/measurements.log"
TEMPLATE = "ima-ng"


def extend(value, measurement):
    """What a SHA-256 PCR holds after extending MEASUREMENT into VALUE."""
    return hashlib.sha256(value + measurement).digest()


def replay(base, measurements):
    """The PCR value after extending each measurement, in order, into BASE."""
    for m in measurements:
        base = extend(base, m)
    return base


def file_measurement(path):
    """The SHA-256 of the file at PATH; an absent file has a measurement of its own, so absence counts too."""
    try:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.digest()
    except FileNotFoundError:
        return hashlib.sha256(b"absent:" + path.encode()).digest()


def check_measured_path(path):
    """PATH when it can be one field of the measurement log (absolute, no control characters), else ValueError."""
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or any(ord(c) < 32 or ord(c) == 127 for c in path)
    ):
        raise ValueError(f"measured path {path!r} must be absolute and free of control characters")
    return path


def event_hash(path, digest):
    """What one measurement extends into the PCR: the SHA-256 of IMA's ima-ng template data (the file's
    digest, then its path), so the PCR binds each digest to the path it was measured at.
    """
    d_ng = b"sha256:\0" + digest
    n_ng = path.encode() + b"\0"
    template = struct.pack("<I", len(d_ng)) + d_ng + struct.pack("<I", len(n_ng)) + n_ng
    return hashlib.sha256(template).digest()


def log_line(pcr, path, digest):
    """One event of the measurement log, in the layout of IMA's ascii_runtime_measurements:
    PCR, event hash (what was extended), template, algorithm:digest of the file, path."""
    return (
        f"{pcr} {event_hash(path, digest).hex()} {TEMPLATE} sha256:{digest.hex()} {check_measured_path(path)}"
    )


def parse_log_line(line):
    """(pcr, path, digest) of one log line written by log_line, or None when it is not one."""
    fields = line.split(" ", 4)
    if len(fields) != 5 or fields[2] != TEMPLATE or not fields[3].startswith("sha256:"):
        return None
    try:
        return int(fields[0]), fields[4], bytes.fromhex(fields[3][len("sha256:") :])
    except ValueError:
        return None


def measurement_plan(current, log, desired, pcr=MEASUREMENT_PCR):
    """What to extend into PCR so its log records DESIRED [(path, digest)], given the PCR's CURRENT value
    and the node's measurement LOG [(pcr, path, digest)]. Returns (to_extend, new_log).

    A PCR at zero has not been extended since the TPM started (a reboot): its entries start again. An
    artefact whose last measurement in the log is its current digest is not measured again, so a rerun
    changes nothing; a changed (or never measured) artefact is measured anew, and that entry, which the
    policy does not allow, is what the verifier names. The PCR cannot be reset, so nothing here can take a
    measurement back: the node fails attestation until its TPM restarts with the artefacts the policy allows.
    """
    log = [e for e in (log or []) if not (current == ZERO_PCR and e[0] == pcr)]
    latest = {path: digest for p, path, digest in log if p == pcr}
    to_extend = [(path, digest) for path, digest in desired if latest.get(path) != digest]
    return to_extend, log + [(pcr, path, digest) for path, digest in to_extend]


def log_replay(log, pcr):
    """The value PCR has when the log explains every extension of it since the TPM started."""
    return replay(ZERO_PCR, [event_hash(path, digest) for p, path, digest in log if p == pcr])


def read_log_text(path):
    """The measurement log's text ("" when there is none yet)."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def load_log(path):
    """The log's events [(pcr, path, digest)]; lines that are not events are dropped (the verifier, which
    replays the log against the PCR, then finds it does not replay)."""
    return [e for e in (parse_log_line(line) for line in read_log_text(path).splitlines()) if e is not None]


def save_log(path, log):
    """Replace the log atomically, readable by root only (it says what the node runs)."""
    text = "".join(log_line(*e) + "\n" for e in log)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def measure_artefacts(tcti, pcr, artefacts, log_path, check_mode=False):
    """Measure ARTEFACTS into PCR as measurement_plan says, logging each measurement in LOG_PATH.

    Returns (measured paths, the PCR's value, the log, its measurements [(path, digest)]). In CHECK_MODE
    nothing is extended or written; the paths are those a real run would measure.
    """
    desired = [(check_measured_path(a), file_measurement(a)) for a in artefacts]
    current = read_pcr(tcti, pcr)
    log = load_log(log_path)
    to_extend, new_log = measurement_plan(current, log, desired, pcr)
    if to_extend and not check_mode:
        # Logged first: should an extension fail, the log holds more than the PCR and the verifier says so;
        # the other order would leave the PCR holding what no log entry names.
        save_log(log_path, new_log)
        log = new_log
        for path, digest in to_extend:
            extend_pcr(tcti, pcr, event_hash(path, digest))
        current = read_pcr(tcti, pcr)
    return [path for path, _ in to_extend], current, log, desired
