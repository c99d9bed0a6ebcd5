"""Load balancers of a cloudlet: the port map (public port = internal port when free, else the next
free one) and the Envoy configuration of root and dedicated load balancers."""
