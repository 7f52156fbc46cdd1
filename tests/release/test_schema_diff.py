"""The bump a values-schema change needs: each rule of the policy, both ways."""

from leviathan.release.schema_diff import diff, required_level
from leviathan.release.semver import Level, Version, bump_level


def obj(properties: dict, required=(), closed=True) -> dict:
    node = {"type": "object", "properties": properties, "required": list(required)}
    if closed:
        node["additionalProperties"] = False
    return node


BASE = obj({"port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "name": {"type": ["string", "null"], "pattern": "^[a-z]+$"}})


def level(new: dict) -> Level:
    return required_level(diff(BASE, new))


def changed(**props) -> dict:
    return obj({**BASE["properties"], **props})


def test_identical_schemas_need_nothing():
    assert level(BASE) is Level.NONE


def test_removed_or_renamed_value_is_major():
    props = dict(BASE["properties"])
    props["portNumber"] = props.pop("port")
    changes = diff(BASE, obj(props))
    assert required_level(changes) is Level.MAJOR
    assert any(c.path == "port" and "removed or renamed" in c.what for c in changes)


def test_narrowing_is_major():
    assert level(changed(name={"type": "string", "pattern": "^[a-z]+$"})) is Level.MAJOR  # null dropped
    assert level(changed(mode={"type": "string", "enum": ["a"]})) is Level.MAJOR
    assert level(changed(port={"type": "integer", "minimum": 1024, "maximum": 65535})) is Level.MAJOR
    assert level(changed(port={"type": "integer", "minimum": 1, "maximum": 1000})) is Level.MAJOR
    assert level(changed(name={"type": ["string", "null"], "pattern": "^[a-z]{1,5}$"})) is Level.MAJOR
    assert required_level(diff(obj(BASE["properties"], closed=False), BASE)) is Level.MAJOR


def test_new_required_key_is_major_new_optional_is_minor():
    assert level(obj({**BASE["properties"], "extra": {"type": "string"}}, required=["extra"])) is Level.MAJOR
    assert level(obj(BASE["properties"], required=["port"])) is Level.MAJOR
    assert level(changed(extra={"type": "string", "default": ""})) is Level.MINOR


def test_widening_and_text_are_patch():
    assert level(changed(mode={"type": "string", "enum": ["a", "b", "c"]})) is Level.PATCH
    assert level(changed(port={"type": "integer", "minimum": 0, "maximum": 65535})) is Level.PATCH
    assert level(changed(port={"type": "integer", "minimum": 1, "maximum": 65535, "description": "x"})) is Level.PATCH
    assert level(changed(name={"type": ["string", "null", "integer"], "pattern": "^[a-z]+$"})) is Level.PATCH


def test_nested_and_list_items_are_walked():
    old = obj({"tolerations": {"type": "array", "items": obj({"key": {"type": "string"}})}})
    new = obj({"tolerations": {"type": "array", "items": obj({})}})
    changes = diff(old, new)
    assert [(c.level, c.path) for c in changes] == [(Level.MAJOR, "tolerations[].key")]


def test_composite_rules_count_as_narrowing_when_changed():
    old = changed(port={"anyOf": [{"type": "integer"}, {"type": "string"}]})
    new = changed(port={"anyOf": [{"type": "integer"}]})
    assert required_level(diff(old, new)) is Level.MAJOR


def test_bump_levels():
    v = Version.parse
    assert bump_level(v("0.1.0"), v("1.0.0")) is Level.MAJOR
    assert bump_level(v("1.4.2"), v("1.5.0")) is Level.MINOR
    assert bump_level(v("1.4.2"), v("1.4.3")) is Level.PATCH
    assert bump_level(v("1.4.2"), v("1.4.2")) is Level.NONE
    assert bump_level(v("1.4.2"), v("1.3.9")) is Level.NONE
    assert v("0.1.0").bump(Level.MAJOR) == v("1.0.0")
