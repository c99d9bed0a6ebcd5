"""Twin composition (Shifu's thermometer shape) and the EdgeDevice CRD."""

import yaml

from edgewright.twins.device import EdgeDevice
from edgewright.twins.manifests import DEVICE_LABEL, PLACED_AT, crd, placed_node, twin_objects


def by_kind(objects):
    return {o["kind"]: o for o in objects}


def thermometer(**kw):
    return EdgeDevice("thermometer", "http", "http://10.231.70.50:8080", **kw)


def test_a_twin_is_deployment_service_configmap_and_a_least_privilege_account():
    objects = twin_objects(thermometer(), "twn-1", namespace="devices", placed_at=1700000000, reason="wired")
    kinds = [o["kind"] for o in objects]
    # Dependencies first: the Deployment needs its account and config.
    assert kinds == ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Deployment", "Service"]
    assert all(o["metadata"]["namespace"] == "devices" for o in objects)
    assert all(o["metadata"]["labels"][DEVICE_LABEL] == "thermometer" for o in objects)
    twin = by_kind(objects)
    deployment = twin["Deployment"]
    assert deployment["metadata"]["name"] == "edgedevice-thermometer-deployment"
    assert deployment["metadata"]["annotations"][PLACED_AT] == "1700000000"
    pod = deployment["spec"]["template"]["spec"]
    # Placed through the scheduler, by node affinity to the node's name: taints and admission still apply.
    assert "nodeName" not in pod and "tolerations" not in pod
    assert pod["affinity"] == {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["twn-1"]}]}
                ]
            }
        }
    }
    assert placed_node(pod) == "twn-1"
    assert pod["serviceAccountName"] == "edgedevice-thermometer-sa"
    (container,) = pod["containers"]
    assert container["name"] == "deviceshifu-http"
    assert {"name": "EDGEDEVICE_NAME", "value": "thermometer"} in container["env"]
    assert {"name": "EDGEDEVICE_NAMESPACE", "value": "devices"} in container["env"]
    assert container["resources"]["requests"]["memory"] == "64Mi"
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["volumes"][0]["configMap"]["name"] == twin["ConfigMap"]["metadata"]["name"]
    service = twin["Service"]
    assert service["metadata"]["name"] == "edgedevice-thermometer"
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert deployment["spec"]["template"]["metadata"]["labels"]["app"] == "edgedevice-thermometer-deployment"
    assert yaml.safe_load(twin["ConfigMap"]["data"]["driverProperties"]) == {
        "protocol": "http",
        "address": "http://10.231.70.50:8080",
        "link": "ethernet",
    }


def test_the_account_may_read_only_its_own_device():
    twin = by_kind(twin_objects(thermometer(), "twn-1"))
    rules = twin["Role"]["rules"]
    assert all(rule["resourceNames"] == ["thermometer"] for rule in rules)
    assert {v for rule in rules for v in rule["verbs"]} <= {"get", "watch", "patch", "update"}
    assert not any("list" in rule["verbs"] or "*" in rule["verbs"] for rule in rules)
    assert twin["RoleBinding"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "edgedevice-thermometer-sa", "namespace": "default"}
    ]
    assert twin["RoleBinding"]["roleRef"]["name"] == twin["Role"]["metadata"]["name"]


def test_protocol_image_memory_and_owner():
    twin = by_kind(
        twin_objects(EdgeDevice("plc", "opcua", "opc.tcp://plc:4840", memory_mib=200), "n", owner_uid="u-1")
    )
    container = twin["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("edgehub/deviceshifu-http-opcua:")
    assert container["resources"]["limits"]["memory"] == "200Mi"
    owner = twin["Service"]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "EdgeDevice",
        "plc",
        "u-1",
        True,
    )
    custom = by_kind(twin_objects(thermometer(image="registry.local/twin:1"), "n"))
    assert (
        custom["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/twin:1"
    )
    assert "ownerReferences" not in custom["Service"]["metadata"]


def test_the_crd_lets_the_api_server_refuse_bad_devices():
    definition = crd()
    assert definition["metadata"]["name"] == "edgedevices.edgewright.io"
    (version,) = definition["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["protocol"]["enum"] == ["http", "mqtt", "opcua"]
    assert spec["properties"]["link"]["enum"] == ["ethernet", "usb", "wifi", "mesh"]
    latitude = spec["properties"]["location"]["properties"]["latitude"]
    assert (latitude["minimum"], latitude["maximum"]) == (-90, 90)
    assert spec["required"] == ["protocol", "address"]
    assert "status" in version["subresources"]


def test_a_twin_tolerates_only_the_taints_it_is_given():
    battery = {
        "key": "edgewright.io/battery-powered",
        "operator": "Equal",
        "value": "true",
        "effect": "NoSchedule",
    }
    deployment = by_kind(twin_objects(thermometer(), "twn-1", tolerations=[battery]))["Deployment"]
    assert deployment["spec"]["template"]["spec"]["tolerations"] == [battery]


def test_the_placed_node_is_read_back_from_affinity_or_a_former_node_name():
    assert placed_node({"nodeName": "old-1"}) == "old-1"
    assert placed_node({}) is None
