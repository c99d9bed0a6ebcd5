# shellcheck shell=bash
# TPM: swtpm for the verifier's tests (software TPMs on loopback) and tpm2-tools, which the controller-side
# verifier uses to make enrollment credentials (tpm2_makecredential without a TPM). Sourced by scripts/setup.
ensure_debs swtpm swtpm-tools tpm2-tools
