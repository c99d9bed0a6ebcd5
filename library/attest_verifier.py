#!/usr/bin/python
"""Talk to edgewright's attestation verifier: an action plugin
(plugins/action/attest_verifier.py); this file documents it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: attest_verifier
short_description: Enroll, attest, quarantine and release edge nodes with edgewright's TPM verifier
description:
  - Runs on the controller as an action plugin, in the controller's own process as the operator (whatever
    C(become) the play sets), against the verifier's directory, where it keeps a
    registry of enrolled nodes, golden PCR policies per node class and an evidence log (JSON lines).
  - Each I(action) is one step of a node's enrollment or attestation; the node-side steps are the
    M(tpm_identity), M(tpm_activate_credential) and M(tpm_quote) modules.
  - Needs the C(edgewright) Python package on the controller.
options:
  store:
    description: The verifier's directory on the controller; unset, the inventory's C(edgewright_verifier_dir),
      else C($EDGEWRIGHT_VERIFIER_DIR), else C(~/.local/state/edgewright/verifier).
    type: path
  node: {description: The node's name (its inventory hostname)., type: str, required: true}
  action:
    description:
      - C(enroll) issues a credential challenge unless the node is enrolled with these keys;
        C(complete) checks the secret the node's TPM recovered; C(nonce) issues a fresh nonce;
        C(verify) checks a quote; C(quarantine) quarantines the node with I(reason);
        C(release) lifts a quarantine; C(require_attested) fails unless the node is attested;
        C(policy) sets the golden PCR values of I(node_class); C(deregister) forgets a decommissioned node
        and its keys.
    type: str
    required: true
    choices: [enroll, complete, nonce, verify, quarantine, release, require_attested, policy, deregister]
  ek_public: {description: The EK's TPM2B_PUBLIC (base64) for C(enroll)., type: str}
  ak_public: {description: The AK's TPM2B_PUBLIC (base64) for C(enroll)., type: str}
  ek_certificate:
    description:
      - For C(enroll), the EK certificate the TPM's manufacturer stored in it (DER, base64), as
        M(tpm_identity) returns it. The EK is enrolled only when this certificate is signed by a
        manufacturer CA in the store's C(ek-ca/) directory, or the EK is in C(ek-allowlist.txt).
    type: str
  insecure_trust_any_ek:
    description:
      - Enroll any EK, certified or not (trust on first use). A node without a TPM passes then, with keys
        made in software; for a test bench only.
    type: bool
    default: false
  secret: {description: The activated credential secret (base64) for C(complete)., type: str}
  node_class: {description: The node's class; its golden policy applies (C(verify), C(policy))., type: str}
  quote:
    description: The node's quote for C(verify), as M(tpm_quote) returns it (message, signature, pcrs).
    type: dict
  learn_policy:
    description:
      - With C(verify), make this node's PCR values and measurement log the golden policy of a class that
        has none, when this node is I(policy_reference_node) (required with it). Any other node never
        learns; it fails until the reference node has attested.
      - Refused (and the node quarantined) when the quote does not cover exactly I(expected_pcrs), or its
        measurement log is empty or does not replay.
    type: bool
    default: false
  policy_reference_node:
    description: With I(learn_policy), the one node a class's policy is learned from.
    type: str
  expected_pcrs:
    description: With C(verify), the PCRs every node of the class quotes; a policy is learned only from a quote of exactly these.
    type: list
    elements: int
  pcrs: {description: Golden PCR values for C(policy) (PCR number to SHA-256 hex)., type: dict}
  reason: {description: Why the node is quarantined (C(quarantine))., type: str}
  forget_keys: {description: With C(release), make the node enroll again., type: bool, default: false}
  max_age:
    description:
      - With C(require_attested), the oldest attestation (seconds) that lets the node through; older, the
        node is refused (not quarantined) until it attests again. Unset, the verifier's default (3600 s).
    type: float
  nonce_ttl: {description: Seconds a nonce stays valid., type: float, default: 300}
author: edgewright
"""

EXAMPLES = r"""
- name: Issue a fresh nonce for this node's quote
  attest_verifier: {store: /var/lib/edgewright-verifier, node: "{{ inventory_hostname }}", action: nonce}
  register: attest_nonce

- name: Refuse a node that is not attested
  attest_verifier: {store: /var/lib/edgewright-verifier, node: "{{ inventory_hostname }}", action: require_attested}
"""

RETURN = r"""
status: {description: The node's status after this step (enrolling, enrolled, attested, quarantined, released)., returned: always, type: str}
reason: {description: Why, in words (the failure reason when quarantined)., returned: always, type: str}
credential: {description: The credential challenge (base64) from C(enroll); null when already enrolled., returned: when action is enroll, type: str}
nonce: {description: The nonce (hex) from C(nonce)., returned: when action is nonce, type: str}
details: {description: What the verdict was based on (class, nonce, PCR values)., returned: when action is verify, type: dict}
"""
