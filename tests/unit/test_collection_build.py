"""Staging the tree as the edgewright.edge collection: which names are qualified, which forms are refused,
and what never goes in. tests/integration/test_collection.py builds, installs and runs the real one."""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path

import pytest

from edgewright.collection.build import (
    CollectionError,
    Names,
    filter_names,
    find_names,
    qualify_actions,
    qualify_filters,
    qualify_imports,
    read_release,
    stage,
    unqualified_actions,
    unqualified_filters,
    unqualified_imports,
)

ROOT = Path(__file__).resolve().parents[2]
NAMES = Names(
    collection="edgewright.edge",
    module_utils=frozenset({"tpm", "edgewright_mesh"}),
    modules=frozenset({"edge_stage", "mesh_election"}),
    filters=frozenset({"mesh_endpoints", "kube_label_problems", "edgewright_bad_networks"}),
)


def test_the_tree_stages_with_every_name_qualified(tmp_path):
    release = stage(ROOT, tmp_path)
    assert release.collection == "edgewright.edge"
    assert (tmp_path / "plugins" / "modules" / "tpm_quote.py").is_file()
    quote = (tmp_path / "plugins" / "modules" / "tpm_quote.py").read_text()
    assert "from ansible_collections.edgewright.edge.plugins.module_utils.tpm import" in quote
    elect = (tmp_path / "roles" / "mesh" / "tasks" / "elect.yml").read_text()
    assert "edgewright.edge.mesh_election:" in elect and "\n  mesh_election:" not in elect
    # Nothing but the collection: no tests, no package, no stacks.
    assert {path.name for path in tmp_path.iterdir()} == {
        "CHANGELOG.md",
        "README.md",
        "galaxy.yml",
        "meta",
        "playbooks",
        "plugins",
        "requirements.txt",
        "roles",
    }


def test_the_names_are_found_in_the_tree():
    names = find_names(ROOT, "edgewright.edge")
    assert {"tpm", "edge_probe", "edgewright_mesh"} <= names.module_utils
    # Modules and action plugins alike, as tasks name them.
    assert {"tpm_quote", "edge_stage", "mesh_election", "attest_verifier"} <= names.modules
    assert {"mesh_endpoints", "edgewright_lb_plan", "kube_label_problems"} <= names.filters


def test_filter_names_are_read_from_the_filters_dict():
    source = "class FilterModule:\n    def filters(self):\n        return {'a_b': f, \"c\": g}\n"
    assert filter_names(source, "x.py") == {"a_b", "c"}
    with pytest.raises(CollectionError, match=r"x\.py: cannot read its filter names"):
        filter_names("class FilterModule:\n    def filters(self):\n        return dict(a=f)\n", "x.py")


def test_imports_of_project_module_utils_come_from_the_collection():
    source = textwrap.dedent("""\
        from ansible.module_utils.basic import AnsibleModule
        from ansible.module_utils.tpm import quote
        import ansible.module_utils.edgewright_mesh as mesh
        from ansible.module_utils.tpm2 import other
        """)
    assert qualify_imports(source, NAMES) == textwrap.dedent("""\
        from ansible.module_utils.basic import AnsibleModule
        from ansible_collections.edgewright.edge.plugins.module_utils.tpm import quote
        import ansible_collections.edgewright.edge.plugins.module_utils.edgewright_mesh as mesh
        from ansible.module_utils.tpm2 import other
        """)
    assert unqualified_imports(qualify_imports(source, NAMES), NAMES) == []


@pytest.mark.parametrize(
    "source",
    [
        "from ansible.module_utils import tpm\n",
        "import ansible.module_utils.tpm\n",
        "def f():\n    from ansible.module_utils.edgewright_mesh import parse_ping\n",
    ],
)
def test_an_import_left_through_ansible_module_utils_is_caught(source):
    assert unqualified_imports(source, NAMES)


def test_a_script_fallback_import_stays_as_it_is():
    source = "try:\n    from ansible.module_utils.tpm import quote\nexcept ImportError:\n    from tpm import quote\n"
    staged = qualify_imports(source, NAMES)
    assert "from ansible_collections.edgewright.edge.plugins.module_utils.tpm import quote" in staged
    assert "    from tpm import quote" in staged and unqualified_imports(staged, NAMES) == []


def test_filters_are_applied_and_mapped_by_their_collection_names():
    text = textwrap.dedent("""\
        - name: Check the labels
          ansible.builtin.set_fact:
            problems: "{{ labels | kube_label_problems }}"
            kubelet_label_problems: "{{ x |kube_label_problems | length }}"
            peers: "{{ ['a'] | map('mesh_endpoints', nodes, 1) | list }}"
            done: "{{ y | edgewright.edge.mesh_endpoints(n, 2) }}"
          when: cidrs | edgewright_bad_networks | length == 0
        """)
    staged = qualify_filters(text, NAMES)
    assert '"{{ labels | edgewright.edge.kube_label_problems }}"' in staged
    assert 'kubelet_label_problems: "{{ x |edgewright.edge.kube_label_problems | length }}"' in staged
    assert "map('edgewright.edge.mesh_endpoints', nodes, 1)" in staged
    assert "y | edgewright.edge.mesh_endpoints(n, 2)" in staged
    assert "cidrs | edgewright.edge.edgewright_bad_networks | length" in staged
    assert unqualified_filters(staged, NAMES) == []
    assert qualify_filters(staged, NAMES) == staged


def test_a_block_scalar_is_no_filter():
    text = "msg: |\n  mesh_endpoints is a filter\n"
    assert qualify_filters(text, NAMES) == text
    # The build refuses what it would not qualify rather than leave it to fail at a site.
    assert unqualified_filters(text, NAMES) == ["line 2 names the filter mesh_endpoints unqualified"]


def test_a_filter_in_another_form_is_caught():
    assert unqualified_filters("{% filter mesh_endpoints(n, 1) %}a{% endfilter %}", NAMES)


def test_a_yaml_comment_naming_a_filter_is_no_use_of_it():
    text = '# mesh_endpoints gives host:port\nx: "{{ a }}"  # as mesh_endpoints does\n'
    assert unqualified_filters(text, NAMES, yaml_comments=True) == []
    # In a template a '#' is text it renders.
    assert unqualified_filters("# {{ a }} mesh_endpoints\n", NAMES)


def test_actions_and_module_defaults_name_the_collections_modules():
    text = textwrap.dedent("""\
        - name: Elect
          mesh_election:
            state: /x
          module_defaults:
            mesh_election: "{{ settings }}"
        - edge_stage: {stage: probed}
        - name: edge_stage
          ansible.builtin.debug: {msg: edge_stage}
        """)
    staged = qualify_actions(text, NAMES)
    assert staged == textwrap.dedent("""\
        - name: Elect
          edgewright.edge.mesh_election:
            state: /x
          module_defaults:
            edgewright.edge.mesh_election: "{{ settings }}"
        - edgewright.edge.edge_stage: {stage: probed}
        - name: edge_stage
          ansible.builtin.debug: {msg: edge_stage}
        """)
    assert unqualified_actions(staged, NAMES) == []


@pytest.mark.parametrize(
    "text",
    [
        "- {name: Record, edge_stage: {stage: probed}}\n",
        "- name: Record\n  action: edge_stage stage=probed\n",
        "- name: Elect\n  module_defaults: {mesh_election: {state: /x}}\n  ansible.builtin.debug: {}\n",
    ],
)
def test_a_module_named_in_another_form_is_caught(text):
    assert unqualified_actions(qualify_actions(text, NAMES), NAMES)


def test_ansible_tags_are_read():
    text = "- name: Record\n  edge_stage:\n    stage: !unsafe '{{ x }}'\n"
    assert unqualified_actions(qualify_actions(text, NAMES), NAMES) == []


def small_tree(root: Path, version: str = "1.2.3") -> Path:
    files = {
        "pyproject.toml": f'[project]\nname = "edgewright"\nversion = "{version}"\n',
        "collection/galaxy.yml": "namespace: edgewright\nname: edge\nversion: 1.2.3\nreadme: README.md\n",
        "collection/README.md": "# edgewright.edge\n",
        "library/edge_stage.py": "from ansible.module_utils.tpm import quote\n",
        "plugins/module_utils/tpm.py": "def quote():\n    pass\n",
        "plugins/filter/mesh.py": "class FilterModule:\n    def filters(self):\n        return {'mesh_endpoints': 1}\n",
        "plugins/module_utils/__pycache__/tpm.cpython-311.pyc": "",
        "roles/r/tasks/main.yml": "- name: Record\n  edge_stage: {}\n",
        "roles/r/templates/t.j2": "{{ a | mesh_endpoints(b, 1) }}\n",
        "roles/r/tests/test.yml": "- hosts: all\n",
        "roles/r/files/run": "#!/bin/sh\n",
        "roles/r/.hidden": "x\n",
        "playbooks/p.yml": "- hosts: all\n  roles: [r]\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "roles/r/files/run").chmod(0o755)
    return root


def test_staging_writes_the_collection_layout(tmp_path):
    tree = small_tree(tmp_path / "tree")
    out = tmp_path / "out"
    release = stage(tree, out)
    assert release.tarball == "edgewright-edge-1.2.3.tar.gz"
    staged = sorted(str(path.relative_to(out)) for path in out.rglob("*") if path.is_file())
    assert staged == [
        "README.md",
        "galaxy.yml",
        "playbooks/p.yml",
        "plugins/filter/mesh.py",
        "plugins/module_utils/tpm.py",
        "plugins/modules/edge_stage.py",
        "requirements.txt",
        "roles/r/files/run",
        "roles/r/tasks/main.yml",
        "roles/r/templates/t.j2",
    ]
    assert (
        out / "roles/r/tasks/main.yml"
    ).read_text() == "- name: Record\n  edgewright.edge.edge_stage: {}\n"
    assert (out / "roles/r/templates/t.j2").read_text() == "{{ a | edgewright.edge.mesh_endpoints(b, 1) }}\n"
    assert (out / "requirements.txt").read_text() == "edgewright==1.2.3\n"
    assert (out / "roles/r/files/run").stat().st_mode & 0o777 == 0o755


def test_a_form_left_unqualified_fails_the_build_naming_the_file(tmp_path):
    tree = small_tree(tmp_path / "tree")
    (tree / "roles/r/tasks/other.yml").write_text("- {name: Record, edge_stage: {}}\n")
    (tree / "library/edge_probe.py").write_text("from ansible.module_utils import tpm\n")
    with pytest.raises(CollectionError) as error:
        stage(tree, tmp_path / "out")
    assert "roles/r/tasks/other.yml: names the module edge_stage unqualified" in str(error.value)
    assert "library/edge_probe.py: line 1 imports ansible.module_utils.tpm" in str(error.value)


def test_a_private_key_is_never_staged(tmp_path):
    tree = small_tree(tmp_path / "tree")
    (tree / "roles/r/files/node.key").write_text(
        "-----BEGIN EC PRIVATE KEY-----\nMHc=\n-----END EC PRIVATE KEY-----\n"
    )
    with pytest.raises(CollectionError, match=r"roles/r/files/node\.key: holds a private key"):
        stage(tree, tmp_path / "out")
    assert not (tmp_path / "out" / "roles/r/files/node.key").exists()


def test_a_release_of_another_version_than_the_package_is_refused(tmp_path):
    tree = small_tree(tmp_path / "tree", version="1.3.0")
    with pytest.raises(CollectionError, match=r"galaxy\.yml has version 1\.2\.3, pyproject\.toml 1\.3\.0"):
        read_release(tree)


def test_a_tree_without_the_collection_says_so(tmp_path):
    with pytest.raises(CollectionError, match=r"collection/galaxy\.yml not found"):
        read_release(tmp_path)


def test_the_collection_goes_with_this_package_release():
    package = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert read_release(ROOT).version == package["version"]
