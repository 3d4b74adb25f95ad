//! Input that does not parse into a domain type: which fields, and what is wrong with each.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One bad input field and what is wrong with it, shown next to the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Input that did not parse: every bad field (the API answers it as `invalid_input`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    /// The message for one field, if it is among the bad ones.
    pub fn field_message(&self, field: &str) -> Option<String> {
        self.0
            .iter()
            .find(|f| f.field == field)
            .map(|f| f.message.clone())
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&fields.join("; "))
    }
}

impl std::error::Error for Invalid {}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
