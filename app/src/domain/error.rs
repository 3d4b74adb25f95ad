//! Input that does not parse into a domain type: which fields, and what is wrong with each.

use super::problem::Problem;
use std::fmt;

/// One bad input field and what is wrong with it (worded next to the field, at the edge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub problem: Problem,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, problem: impl Into<Problem>) -> FieldProblem {
        FieldProblem {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Input that did not parse: every bad field (the API answers it as `invalid_input`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldProblem>);

impl Invalid {
    /// What is wrong with one field, if it is among the bad ones.
    pub fn problem_of(&self, field: &str) -> Option<&Problem> {
        self.0.iter().find(|f| f.field == field).map(|f| &f.problem)
    }
}

/// The English, for logs.
impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&fields.join("; "))
    }
}

impl std::error::Error for Invalid {}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}
