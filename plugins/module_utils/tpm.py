"""Node-side TPM 2.0 operations through tpm2-tools (stdlib only: runs on a bare edge node).

The endorsement key (EK) and attestation key (AK) are persistent TPM objects: made once, in the TPM, and
never leaving it; only their public areas are read out. Without a resource manager (swtpm reached
directly) the TPM has few object slots, so every step flushes the transient objects it loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
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


def measurement_plan(current, log, desired):
    """What to extend so the PCR records DESIRED, given its CURRENT value and this node's measurement LOG.

    LOG is {"base": hex, "measurements": [hex]}: what edgewright extended since the PCR was BASE. Returns
    (to_extend, new_log). A PCR at zero was reset (a TPM restart): the log starts again. A log that no
    longer explains the PCR (something else was extended) restarts from the current value. Measurements
    already last in a consistent log are not extended again, so a rerun changes nothing; a changed artefact
    is extended anew, moving the PCR away from its golden value until the TPM restarts.
    """
    if current == ZERO_PCR or not log:
        log = {"base": ZERO_PCR.hex(), "measurements": []}
    base = bytes.fromhex(log["base"])
    done = [bytes.fromhex(m) for m in log["measurements"]]
    if replay(base, done) != current:
        base, done = current, []
    if done[len(done) - len(desired) :] == desired:
        return [], {"base": base.hex(), "measurements": [m.hex() for m in done]}
    return list(desired), {"base": base.hex(), "measurements": [m.hex() for m in done + list(desired)]}


def measure_artefacts(tcti, pcr, artefacts, log_path, check_mode=False):
    """Measure ARTEFACTS (absolute paths) into PCR as measurement_plan says, keeping the node's log at
    LOG_PATH. Returns (extended, pcr_value, new_log, desired): what was extended (nothing on a rerun with
    unchanged files), the PCR's value, the log and the files' measurements."""
    desired = [file_measurement(a) for a in artefacts]
    logs = load_log(log_path) or {}
    current = read_pcr(tcti, pcr)
    to_extend, new_log = measurement_plan(current, logs.get(str(pcr)), desired)
    if to_extend and not check_mode:
        for digest in to_extend:
            extend_pcr(tcti, pcr, digest)
        current = read_pcr(tcti, pcr)
    if not check_mode and logs.get(str(pcr)) != new_log:
        save_log(log_path, {**logs, str(pcr): new_log})
    return to_extend, current, new_log, desired


def load_log(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


def save_log(path, log):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(log, f, indent=2, sort_keys=True)
    os.replace(tmp, path)
