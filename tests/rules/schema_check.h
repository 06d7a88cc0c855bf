/* schema_check.h - a small validator for the subset of JSON Schema that
 * docs/verdict.schema.json uses: type (name or list), required, properties,
 * additionalProperties: false, items, enum, pattern (POSIX ERE), oneOf and
 * local $ref ("#/definitions/x"). Tests only. */
#ifndef FB_TESTS_SCHEMA_CHECK_H
#define FB_TESTS_SCHEMA_CHECK_H

#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

static int sc_type_is(const json_t *v, const char *t) {
  if (!strcmp(t, "object"))
    return json_is_object(v);
  if (!strcmp(t, "array"))
    return json_is_array(v);
  if (!strcmp(t, "string"))
    return json_is_string(v);
  if (!strcmp(t, "integer"))
    return json_is_integer(v);
  if (!strcmp(t, "number"))
    return json_is_number(v);
  if (!strcmp(t, "boolean"))
    return json_is_boolean(v);
  if (!strcmp(t, "null"))
    return json_is_null(v);
  return 0;
}

/* Returns 0 when v conforms; else 1 with a message naming the JSON path in err. */
static int sc_check(const json_t *root, const json_t *schema, const json_t *v, const char *where, char *err,
                    size_t errsz) {
  const json_t *s;
  const char *ref = json_string_value(json_object_get(schema, "$ref"));
  char sub[512];

  if (ref) {
    const json_t *defs = json_object_get(root, "definitions");
    if (strncmp(ref, "#/definitions/", 14) || (s = json_object_get(defs, ref + 14)) == NULL) {
      snprintf(err, errsz, "%s: unresolvable $ref %s", where, ref);
      return 1;
    }
    return sc_check(root, s, v, where, err, errsz);
  }
  if ((s = json_object_get(schema, "oneOf")) != NULL) {
    size_t i, ok = 0;
    json_t *alt;
    char tmp[512];
    json_array_foreach(s, i, alt) ok += sc_check(root, alt, v, where, tmp, sizeof(tmp)) == 0;
    if (ok != 1) {
      snprintf(err, errsz, "%s: matches %zu of the oneOf alternatives", where, ok);
      return 1;
    }
  }
  if ((s = json_object_get(schema, "type")) != NULL) {
    int ok = 0;
    if (json_is_string(s))
      ok = sc_type_is(v, json_string_value(s));
    else {
      size_t i;
      json_t *t;
      json_array_foreach(s, i, t) ok |= sc_type_is(v, json_string_value(t));
    }
    if (!ok) {
      snprintf(err, errsz, "%s: wrong type", where);
      return 1;
    }
  }
  if ((s = json_object_get(schema, "enum")) != NULL) {
    size_t i;
    json_t *e;
    int ok = 0;
    json_array_foreach(s, i, e) ok |= json_equal(e, (json_t *)v);
    if (!ok) {
      snprintf(err, errsz, "%s: value not in enum", where);
      return 1;
    }
  }
  if ((s = json_object_get(schema, "pattern")) != NULL && json_is_string(v)) {
    regex_t re;
    int bad;
    if (regcomp(&re, json_string_value(s), REG_EXTENDED | REG_NOSUB)) {
      snprintf(err, errsz, "%s: bad pattern in schema", where);
      return 1;
    }
    bad = regexec(&re, json_string_value(v), 0, NULL, 0);
    regfree(&re);
    if (bad) {
      snprintf(err, errsz, "%s: '%s' does not match %s", where, json_string_value(v), json_string_value(s));
      return 1;
    }
  }
  if (json_is_object(v)) {
    const json_t *props = json_object_get(schema, "properties");
    const char *k;
    json_t *x;
    size_t i;
    json_array_foreach(json_object_get(schema, "required"), i, x) {
      if (json_object_get(v, json_string_value(x)) == NULL) {
        snprintf(err, errsz, "%s: missing required '%s'", where, json_string_value(x));
        return 1;
      }
    }
    json_object_foreach((json_t *)v, k, x) {
      const json_t *ps = props ? json_object_get(props, k) : NULL;
      snprintf(sub, sizeof(sub), "%s.%s", where, k);
      if (ps == NULL) {
        if (json_is_false(json_object_get(schema, "additionalProperties"))) {
          snprintf(err, errsz, "%s: property not in the schema", sub);
          return 1;
        }
        continue;
      }
      if (sc_check(root, ps, x, sub, err, errsz))
        return 1;
    }
  }
  if (json_is_array(v) && (s = json_object_get(schema, "items")) != NULL) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
      snprintf(sub, sizeof(sub), "%s[%zu]", where, i);
      if (sc_check(root, s, x, sub, err, errsz))
        return 1;
    }
  }
  return 0;
}

/* Validate a JSON text against the schema file; 0 when it conforms. */
static int sc_validate_text(const char *schema_path, const char *text, char *err, size_t errsz) {
  json_error_t je;
  json_t *schema = json_load_file(schema_path, 0, &je), *doc;
  int rc;
  if (schema == NULL) {
    snprintf(err, errsz, "schema %s: %s", schema_path, je.text);
    return 1;
  }
  if ((doc = json_loads(text, 0, &je)) == NULL) {
    snprintf(err, errsz, "verdict JSON does not parse: %s (line %d)", je.text, je.line);
    json_decref(schema);
    return 1;
  }
  rc = sc_check(schema, schema, doc, "$", err, errsz);
  json_decref(doc);
  json_decref(schema);
  return rc;
}

#endif
