"""Attestation on the controller: enroll edge nodes' TPMs, verify their quotes, quarantine what fails."""
