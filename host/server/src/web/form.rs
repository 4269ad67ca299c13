//! Forms rendered from an item's JSON Schema, and read back into JSON.
//!
//! Objects become fieldsets, strings inputs (selects for `enum`), integers
//! number inputs, arrays of strings a textarea with one entry per line. A
//! field's name is its path (`operator/name`), the same path the schema
//! check and the app's `validate` use for their errors, so each error lands
//! next to its field and in the error summary; what the citizen typed is
//! kept when the form comes back with errors.

use std::collections::{BTreeMap, HashMap};

use maud::{Markup, html};
use serde_json::{Map, Value};

use super::layout::Lang;

/// The HTML id of a field path.
pub fn field_id(path: &str) -> String {
    let mut id = String::from("f-");
    for c in path.chars() {
        id.push(if c.is_ascii_alphanumeric() { c } else { '-' });
    }
    id
}

fn title(schema: &Value, fallback: &str, lang: Lang) -> String {
    let text = schema.get("title").and_then(Value::as_str).unwrap_or(fallback);
    // Titles are written "中文 / English".
    match (lang, text.split_once(" / ")) {
        (Lang::Zh, Some((zh, _))) => zh.to_owned(),
        (Lang::En, Some((_, en))) => en.to_owned(),
        _ => text.to_owned(),
    }
}

/// Render the fields of an object schema.
pub fn fields(
    schema: &Value,
    values: &HashMap<String, String>,
    errors: &BTreeMap<String, String>,
    lang: Lang,
) -> Markup {
    render(schema, "", values, errors, lang)
}

fn render(
    schema: &Value,
    path: &str,
    values: &HashMap<String, String>,
    errors: &BTreeMap<String, String>,
    lang: Lang,
) -> Markup {
    let properties = schema.get("properties").and_then(Value::as_object);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    html! {
        @if let Some(properties) = properties {
            @for (name, child) in properties {
                @let child_path = if path.is_empty() { name.clone() } else { format!("{path}/{name}") };
                @let id = field_id(&child_path);
                @let label = title(child, name, lang);
                @let kind = child.get("type").and_then(Value::as_str).unwrap_or("string");
                @let error = errors.get(&child_path);
                @let value = values.get(&child_path).cloned().unwrap_or_default();
                @let needed = required.contains(&name.as_str());
                @if kind == "object" {
                    fieldset {
                        legend { (label) }
                        (render(child, &child_path, values, errors, lang))
                    }
                } @else {
                    label for=(id) {
                        (label)
                        @if !needed { " " span { (lang.t("（选填）", "(optional)")) } }
                    }
                    @if let Some(error) = error {
                        span.field-error id={ (id) "-error" } { (error) }
                    }
                    @if kind == "array" {
                        textarea id=(id) name=(child_path) rows="4" aria-describedby=[error.map(|_| format!("{id}-error"))] { (value) }
                        span.hint { (lang.t("每行一项", "One entry per line")) }
                    } @else if let Some(options) = child.get("enum").and_then(Value::as_array) {
                        @let labels_en = child.get("x-enum-labels-en").and_then(Value::as_array);
                        select id=(id) name=(child_path) aria-describedby=[error.map(|_| format!("{id}-error"))] {
                            option value="" { (lang.t("请选择", "Choose")) }
                            @for (i, option) in options.iter().enumerate() {
                                @let text = option.as_str().unwrap_or_default();
                                @let shown = match (lang, labels_en.and_then(|l| l.get(i)).and_then(Value::as_str)) {
                                    (Lang::En, Some(en)) => en,
                                    _ => text,
                                };
                                option value=(text) selected[value == text] { (shown) }
                            }
                        }
                    } @else {
                        input id=(id) name=(child_path) type=(if kind == "integer" { "number" } else { "text" })
                            value=(value) required[needed]
                            maxlength=[child.get("maxLength").and_then(Value::as_u64)]
                            aria-describedby=[error.map(|_| format!("{id}-error"))];
                    }
                }
            }
        }
    }
}

/// Read the posted fields back into JSON shaped by the schema. A field that
/// does not parse (letters in a number) stays a string, so the schema check
/// names it.
pub fn read(schema: &Value, posted: &HashMap<String, String>) -> Value {
    read_object(schema, "", posted)
}

fn read_object(schema: &Value, path: &str, posted: &HashMap<String, String>) -> Value {
    let mut out = Map::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}/{name}")
            };
            let kind = child.get("type").and_then(Value::as_str).unwrap_or("string");
            let value = match kind {
                "object" => Some(read_object(child, &child_path, posted)),
                _ => {
                    let raw = posted.get(&child_path).map(|v| v.trim()).unwrap_or_default();
                    match kind {
                        _ if raw.is_empty() && kind != "array" => None,
                        "array" => Some(Value::Array(
                            raw.lines()
                                .map(str::trim)
                                .filter(|l| !l.is_empty())
                                .map(|l| Value::String(l.to_owned()))
                                .collect(),
                        )),
                        "integer" => Some(
                            raw.parse::<i64>()
                                .map(Value::from)
                                .unwrap_or_else(|_| Value::String(raw.to_owned())),
                        ),
                        _ => Some(Value::String(raw.to_owned())),
                    }
                }
            };
            if let Some(value) = value {
                out.insert(name.clone(), value);
            }
        }
    }
    Value::Object(out)
}

/// The field values of a submitted form, keyed by path the way [`read`]
/// takes them: the inverse of `read`, so a form sent back for correction
/// opens with what was submitted. Arrays become one entry per line.
pub fn values_of(form: &Value) -> HashMap<String, String> {
    let mut out = HashMap::new();
    flatten(form, "", &mut out);
    out
}

fn flatten(value: &Value, path: &str, out: &mut HashMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (name, child) in map {
                let child_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}/{name}")
                };
                flatten(child, &child_path, out);
            }
        }
        Value::Array(items) => {
            let lines: Vec<String> = items
                .iter()
                .map(|item| match item {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.insert(path.to_owned(), lines.join("\n"));
        }
        Value::String(text) => {
            out.insert(path.to_owned(), text.clone());
        }
        Value::Null => {}
        other => {
            out.insert(path.to_owned(), other.to_string());
        }
    }
}

/// The `x-prefill` sources of a schema's fields: path → source
/// (`identity:NAME` or `certificate:TYPE:FIELD`).
pub fn prefill_sources(schema: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect(schema, "", &mut out);
    out
}

fn collect(schema: &Value, path: &str, out: &mut Vec<(String, String)>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}/{name}")
            };
            if let Some(source) = child.get("x-prefill").and_then(Value::as_str) {
                out.push((child_path.clone(), source.to_owned()));
            }
            collect(child, &child_path, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "a": {"type": "object", "title": "甲 / A", "properties": {
                    "name": {"type": "string", "title": "姓名 / Name", "x-prefill": "identity:name"},
                    "n": {"type": "integer"}
                }},
                "list": {"type": "array", "items": {"type": "string"}}
            }
        })
    }

    #[test]
    fn posted_fields_read_back_into_typed_json() {
        let posted: HashMap<String, String> = [("a/name", " 张三 "), ("a/n", "12"), ("list", "一\n\n二 \n")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            read(&schema(), &posted),
            json!({"a": {"name": "张三", "n": 12}, "list": ["一", "二"]})
        );
        let bad: HashMap<String, String> = [("a/n".to_owned(), "x1".to_owned())].into_iter().collect();
        assert_eq!(
            read(&schema(), &bad)["a"]["n"],
            "x1",
            "kept for the schema check to name"
        );
    }

    #[test]
    fn a_submitted_form_reads_back_into_the_same_fields() {
        let submitted = json!({"a": {"name": "张三", "n": 12}, "list": ["一", "二"]});
        let values = values_of(&submitted);
        assert_eq!(values["a/name"], "张三");
        assert_eq!(values["a/n"], "12");
        assert_eq!(values["list"], "一\n二");
        assert_eq!(read(&schema(), &values), submitted);
    }

    #[test]
    fn fields_keep_values_show_errors_and_use_the_language() {
        let values: HashMap<String, String> = [("a/name".to_owned(), "李四".to_owned())].into_iter().collect();
        let errors: BTreeMap<String, String> = [("a/name".to_owned(), "太短".to_owned())].into_iter().collect();
        let zh = fields(&schema(), &values, &errors, Lang::Zh).into_string();
        assert!(
            zh.contains("value=\"李四\"") && zh.contains("太短") && zh.contains(">甲<"),
            "{zh}"
        );
        assert!(zh.contains("id=\"f-a-name\""), "{zh}");
        let en = fields(&schema(), &values, &errors, Lang::En).into_string();
        assert!(en.contains(">A<") && en.contains("Name"), "{en}");
        assert_eq!(
            prefill_sources(&schema()),
            [("a/name".to_owned(), "identity:name".to_owned())]
        );
    }
}
