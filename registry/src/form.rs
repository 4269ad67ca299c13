//! Checking a submitted form against its item's JSON Schema, the way the host
//! does before it calls the app's `validate` hook.

use serde::Serialize;

/// A schema violation at one place of the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaViolation {
    /// Where in the form, as a `/`-separated path without the leading slash
    /// (`operator/id-number`), matching the app's own field names.
    pub field: String,
    pub message: String,
}

/// Why a form could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("the form is not valid JSON: {0}")]
    NotJson(String),
    #[error("the item's form schema cannot be used: {0}")]
    BadSchema(String),
}

/// Every violation of `schema` by `form` (JSON text), in document order.
pub fn schema_violations(schema: &serde_json::Value, form: &str) -> Result<Vec<SchemaViolation>, FormError> {
    let instance: serde_json::Value = serde_json::from_str(form).map_err(|e| FormError::NotJson(e.to_string()))?;
    let validator = jsonschema::validator_for(schema).map_err(|e| FormError::BadSchema(e.to_string()))?;
    Ok(validator
        .iter_errors(&instance)
        .map(|e| SchemaViolation {
            field: e.instance_path().to_string().trim_start_matches('/').to_owned(),
            message: e.to_string(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn violations_name_their_field() {
        let schema = json!({
            "type": "object",
            "required": ["a"],
            "properties": {"a": {"type": "object", "properties": {"b": {"type": "string", "maxLength": 2}}}}
        });
        let v = schema_violations(&schema, r#"{"a": {"b": "long"}}"#).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "a/b");
        assert!(schema_violations(&schema, "{").is_err());
        assert_eq!(schema_violations(&schema, "{}").unwrap()[0].field, "");
    }
}
