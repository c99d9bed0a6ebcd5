"""The L7 control plane: a declarative description of what each node's Envoy carries, turned into Envoy's own
resources (listeners, routes, clusters, endpoints) and served over gRPC ADS as versioned snapshots."""
