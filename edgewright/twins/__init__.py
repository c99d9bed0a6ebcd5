"""Device twins: every edge device gets a workload (Deployment + Service + ConfigMap + ServiceAccount)
on the node the placement rules choose, moved when nodes go away; and the edge map that draws it."""
