#!/usr/bin/env python3
"""The JSON Schema of a definitions document, checked (Python 3 stdlib only).

    json_schema.py validate SCHEMA DOCUMENT   -- DOCUMENT conforms to SCHEMA
    json_schema.py fields SCHEMA FIELDS       -- SCHEMA describes exactly the
        fields of tripl._definition_fields() (FIELDS: its rows as a JSON array
        of {t: object_type, f: field, j: json_type, d: default, r: required,
        c: canon})

The validator knows the subset of JSON Schema (2020-12) that
doc/definitions.schema.json uses -- type, const, pattern, properties,
required, additionalProperties: false, items, oneOf, $ref to #/$defs/... --
and refuses a schema that uses any other keyword, so the schema cannot drift
into something this check silently ignores.  Exit status 0 when all is well;
each problem is printed on its own line otherwise.
"""
import json
import re
import sys

ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "default", "x-change"}
KEYWORDS = {"type", "const", "pattern", "properties", "required", "additionalProperties",
            "items", "oneOf", "$ref"} | ANNOTATIONS
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def resolve(root, ref):
    if not ref.startswith("#/"):
        raise ValueError("only local $ref is supported: %s" % ref)
    node = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def validate(root, schema, value, path, errors):
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise ValueError("%s: unsupported schema keywords %s" % (path, sorted(unknown)))
    if "$ref" in schema:
        validate(root, resolve(root, schema["$ref"]), value, path, errors)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[t](value) for t in types):
            errors.append("%s: %s is not of type %s" % (path, json.dumps(value), "/".join(types)))
            return
    if "const" in schema and value != schema["const"]:
        errors.append("%s: must be %s" % (path, json.dumps(schema["const"])))
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append("%s: %s does not match %s" % (path, json.dumps(value), schema["pattern"]))
    if "oneOf" in schema:
        matches = 0
        for sub in schema["oneOf"]:
            sub_errors = []
            validate(root, sub, value, path, sub_errors)
            matches += not sub_errors
        if matches != 1:
            errors.append("%s: matches %d of the oneOf alternatives, not exactly one" % (path, matches))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append("%s: required property %s is missing" % (path, key))
        for key, sub in value.items():
            if key in props:
                validate(root, props[key], sub, "%s.%s" % (path, key), errors)
            elif schema.get("additionalProperties", True) is False:
                errors.append("%s: property %s is not allowed" % (path, key))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(root, schema["items"], item, "%s[%d]" % (path, i), errors)


def check_fields(schema, fields):
    """The schema's $defs against the table of fields: same names, types, defaults"""
    problems = []
    defs = schema["$defs"]
    by_type = {}
    for f in fields:
        by_type.setdefault(f["t"], []).append(f)
    for t, fs in by_type.items():
        if t not in defs:
            problems.append("object type %s is not in the schema's $defs" % t)
            continue
        props = defs[t]["properties"]
        names = {f["f"] for f in fs} | ({"name"} if "name" in props else set())
        for extra in sorted(set(props) - names):
            problems.append("%s.%s is in the schema but not in src/defio.c" % (t, extra))
        required = set(defs[t].get("required", [])) - {"name"}
        for f in fs:
            where = "%s.%s" % (t, f["f"])
            p = props.get(f["f"])
            if p is None:
                problems.append("%s is in src/defio.c but not in the schema" % where)
                continue
            if f["r"] != (f["f"] in required):
                problems.append("%s: required is %s in src/defio.c" % (where, f["r"]))
            if not f["r"] and f["d"] is not None and p.get("default") != f["d"]:
                problems.append("%s: default %s, src/defio.c says %s" % (where, json.dumps(p.get("default")),
                                                                         json.dumps(f["d"])))
            alternatives = p["oneOf"] if "oneOf" in p else [p]
            want = {"string_array": "#/$defs/string_array", "secret": "#/$defs/secret"}.get(f["j"])
            if f["c"] and f["c"].startswith("object:"):
                want = "#/$defs/" + f["c"][7:]
            if want:
                ok = any(a.get("$ref") == want for a in alternatives)
            else:
                ok = any(f["j"] in (a["type"] if isinstance(a.get("type"), list) else [a.get("type")])
                         for a in alternatives)
            if not ok:
                problems.append("%s: the schema's type is not %s" % (where, want or f["j"]))
    return problems


def main(argv):
    if len(argv) != 4 or argv[1] not in ("validate", "fields"):
        print(__doc__)
        return 2
    with open(argv[2]) as fh:
        schema = json.load(fh)
    with open(argv[3]) as fh:
        other = json.load(fh)
    if argv[1] == "validate":
        problems = []
        validate(schema, schema, other, "$", problems)
    else:
        problems = check_fields(schema, other)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
