"""The mesh overlay: cluster-head election and topology."""
