//! Who an order is for: name, phone (see [`super::phone`]), delivery address and an optional
//! note, each parsed at the edge.

use super::error::FieldProblem;
use super::phone::Phone;
use super::problem::{CustomerField, Problem};
use serde::{Deserialize, Serialize};

/// The customer fields exactly as they arrived (a form or JSON): untrusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub note: String,
}

/// A validated customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub name: CustomerName,
    pub phone: Phone,
    pub address: Address,
    pub note: Note,
}

impl Customer {
    /// Parses every field, reporting all the bad ones at once so a form can mark each.
    pub fn parse(input: &CustomerInput) -> Result<Customer, Vec<FieldProblem>> {
        let name = CustomerName::parse(&input.name);
        let phone = Phone::parse(&input.phone);
        let address = Address::parse(&input.address);
        let note = Note::parse(&input.note);
        match (name, phone, address, note) {
            (Ok(name), Ok(phone), Ok(address), Ok(note)) => Ok(Customer {
                name,
                phone,
                address,
                note,
            }),
            (name, phone, address, note) => Err([
                name.err().map(|p| FieldProblem::new("name", p)),
                phone.err().map(|e| FieldProblem::new("phone", e)),
                address.err().map(|p| FieldProblem::new("address", p)),
                note.err().map(|p| FieldProblem::new("note", p)),
            ]
            .into_iter()
            .flatten()
            .collect()),
        }
    }
}

/// Trims, and refuses control characters (other than newlines where `multiline`).
fn clean_text(raw: &str, multiline: bool) -> Result<String, Problem> {
    let trimmed = raw.trim();
    if trimmed
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t')))
    {
        return Err(Problem::NotAllowedCharacters);
    }
    Ok(trimmed.to_owned())
}

fn check_length(
    text: String,
    min: usize,
    max: usize,
    what: CustomerField,
) -> Result<String, Problem> {
    let chars = text.chars().count();
    if chars < min {
        return Err(if min == 1 {
            Problem::Missing(what)
        } else {
            Problem::TooShort { what, min }
        });
    }
    if chars > max {
        return Err(Problem::TooLong { what, max });
    }
    Ok(text)
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $what:expr, $multiline:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(raw: &str) -> Result<$name, Problem> {
                clean_text(raw, $multiline)
                    .and_then(|t| check_length(t, $min, $max, $what))
                    .map($name)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

text_newtype!(
    /// The name to deliver to.
    CustomerName, 1, 100, CustomerField::Name, false
);
text_newtype!(
    /// Where to deliver.
    Address, 5, 500, CustomerField::Address, true
);
text_newtype!(
    /// An optional note for the shop ("leave it with the neighbour").
    Note, 0, 500, CustomerField::Note, true
);

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, phone: &str, address: &str, note: &str) -> CustomerInput {
        CustomerInput {
            name: name.into(),
            phone: phone.into(),
            address: address.into(),
            note: note.into(),
        }
    }

    #[test]
    fn an_empty_or_huge_name_is_rejected() {
        assert!(CustomerName::parse("   ").is_err());
        assert!(CustomerName::parse(&"x".repeat(101)).is_err());
        assert_eq!(
            CustomerName::parse("  Ada Lovelace ").map(|n| n.0),
            Ok("Ada Lovelace".into())
        );
        assert!(CustomerName::parse("李小龙").is_ok());
    }

    #[test]
    fn control_characters_are_rejected_but_newlines_allowed_in_an_address() {
        assert!(CustomerName::parse("Ada\u{0}").is_err());
        assert!(CustomerName::parse("Ada\nLovelace").is_err());
        assert!(Address::parse("1 Main St\nSpringfield").is_ok());
    }

    #[test]
    fn the_note_is_optional() {
        assert_eq!(Note::parse("").map(|n| n.0), Ok(String::new()));
        assert!(Note::parse(&"n".repeat(501)).is_err());
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let errors = Customer::parse(&input("", "abc", "x", ""))
            .err()
            .unwrap_or_default();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "phone", "address"]);
    }

    #[test]
    fn a_good_customer_parses() {
        let c = Customer::parse(&input("Ada", "138 0013 8000", "1 Main St", "ring twice"));
        assert!(c.is_ok());
    }
}
