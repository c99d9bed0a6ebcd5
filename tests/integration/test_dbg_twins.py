import test_twins_kube as t


def test_dbg(cluster, capsys):
    cluster.node("twn-berlin", location=t.BERLIN, memory="8Gi")
    cluster.device("camera", protocol="mqtt", address="tcp://x:1883")
    cluster.reconcile()
    print("STATUS", cluster.status("camera"))
    print("TAINTS", t.res(cluster.dyn, "v1", "Node").get(name="twn-berlin").to_dict()["spec"])
