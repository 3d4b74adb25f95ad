//! The one error type every server function returns, its wire form (JSON with a `kind`), and the
//! HTTP status each kind answers with.

use serde::{Deserialize, Serialize};

/// What an error put in a page's address (after a plain form post) is sealed for: the page
/// shows only errors the shop sealed ([`crate::components::url_error`]).
pub const URL_ERROR_SEAL: &str = "url-error";

/// How long an error sealed into an address is shown: long enough to load the page the form
/// was sent back to, too short for the link to be passed around as the shop's word.
pub const URL_ERROR_SECS: u64 = 600;

/// What is sealed into an address: when (seconds since the Unix epoch) and the encoded error.
pub fn url_error_payload(at_secs: u64, encoded: &str) -> String {
    format!("{at_secs}.{encoded}")
}

/// The encoded error in an opened payload, if it was sealed within [`URL_ERROR_SECS`] before
/// `now_secs` (a minute ahead allowed: several servers' clocks differ a little).
pub fn fresh_url_error(payload: &str, now_secs: u64) -> Option<&str> {
    let (at, encoded) = payload.split_once('.')?;
    let at: u64 = at.parse().ok()?;
    (at <= now_secs.saturating_add(60) && now_secs.saturating_sub(at) <= URL_ERROR_SECS)
        .then_some(encoded)
}

/// The name of the sealed error in a page's address (server_fn's own `__err` is taken off every
/// request: Leptos would show it unchecked). It starts with `__`, as every name a page reads
/// from its address does, so the page cache never answers an address that has one.
pub const URL_ERROR_PARAM: &str = "__sealed_err";

/// One bad input field and what is wrong with it, in the request's language: shown next to
/// the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// What went wrong, as the shopper or API client sees it: a [`super::Refusal`] worded in the
/// request's language (the only way one is made on the server). Serialises as
/// `{"kind": "sold_out" | "invalid_input" | "not_found" | "overloaded" | "internal", "message": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApiError {
    /// Not enough stock for one line: nothing was ordered.
    #[error("{message}")]
    SoldOut {
        message: String,
        product_id: i64,
        product_name: String,
        available: i64,
    },
    /// Bad input; `fields` names each bad field (empty when the request could not be read at all).
    #[error("{message}")]
    InvalidInput {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        #[serde(default)]
        fields: Vec<FieldError>,
    },
    #[error("{message}")]
    NotFound { message: String },
    /// The product's sale has not started: orders open in `starts_in_secs`.
    #[error("{message}")]
    SaleNotStarted {
        message: String,
        product_id: i64,
        starts_in_secs: i64,
    },
    /// The product sells through its waiting room: join the line for a hold.
    #[error("{message}")]
    QueueRequired { message: String, product_id: i64 },
    /// This phone number has bought (or holds) `already` of the `limit` allowed per customer.
    #[error("{message}")]
    LimitReached {
        message: String,
        product_id: i64,
        limit: i64,
        already: i64,
    },
    /// The hold token cannot be used: `reason` is `unknown`, `expired`, `used` or `mismatch`.
    #[error("{message}")]
    HoldInvalid { message: String, reason: String },
    /// Too many requests from this client: try again after `retry_after_secs`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u32,
    },
    /// The owner has paused checkout (for this product or the whole shop): places in line are
    /// kept; try again after `retry_after_secs`.
    #[error("{message}")]
    Paused {
        message: String,
        product_id: Option<i64>,
        retry_after_secs: u32,
        /// The order was for a waiting-room hold (kept while paused); else a cart (kept too).
        #[serde(default)]
        held: bool,
    },
    /// The server is shedding load: try again after `retry_after_secs`.
    #[error("{message}")]
    Overloaded {
        message: String,
        retry_after_secs: u32,
    },
    /// This phone number already has a place in this line, and the request did not come with
    /// its ticket: nothing about that place is told or changed.
    #[error("{message}")]
    AlreadyInLine { message: String, product_id: i64 },
    /// A form posted from another site: refused before anything is read or changed.
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{message}")]
    Internal { message: String },
}

impl ApiError {
    /// Seconds the client should wait before trying again, for errors that say so.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::Overloaded {
                retry_after_secs, ..
            }
            | ApiError::Paused {
                retry_after_secs, ..
            }
            | ApiError::RateLimited {
                retry_after_secs, ..
            } => Some(u64::from(*retry_after_secs)),
            ApiError::SaleNotStarted { starts_in_secs, .. } => {
                Some(u64::try_from(*starts_in_secs).unwrap_or(0).max(1))
            }
            _ => None,
        }
    }

    /// The message for one field, if this error names it.
    pub fn field_message(&self, field: &str) -> Option<String> {
        match self {
            ApiError::InvalidInput { fields, .. } => fields
                .iter()
                .find(|f| f.field == field)
                .map(|f| f.message.clone()),
            _ => None,
        }
    }

    /// The HTTP status this error answers with: the one place that mapping lives.
    pub fn status_code(&self) -> u16 {
        match self {
            ApiError::SoldOut { .. } => 409,
            ApiError::InvalidInput { fields, .. } if fields.is_empty() => 400,
            ApiError::InvalidInput { .. } => 422,
            ApiError::NotFound { .. } => 404,
            ApiError::SaleNotStarted { .. }
            | ApiError::QueueRequired { .. }
            | ApiError::LimitReached { .. }
            | ApiError::HoldInvalid { .. }
            | ApiError::AlreadyInLine { .. } => 409,
            ApiError::Forbidden { .. } => 403,
            ApiError::RateLimited { .. } => 429,
            ApiError::Overloaded { .. } | ApiError::Paused { .. } => 503,
            ApiError::Internal { .. } => 500,
        }
    }
}

mod server_fn_glue {
    use super::ApiError;
    use crate::api::Refusal;
    use crate::domain::Problem;
    use leptos::server_fn::codec::JsonEncoding;
    use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

    impl FromServerFnError for ApiError {
        type Encoder = JsonEncoding;

        /// Framework-level failures: undecodable arguments are the client's fault (400);
        /// anything else is ours. On the server the status is set here, where the error is made.
        fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
            let refusal = match value {
                ServerFnErrorErr::Args(detail) | ServerFnErrorErr::Deserialization(detail) => {
                    #[cfg(feature = "ssr")]
                    tracing::debug!(%detail, "a request's arguments could not be read");
                    #[cfg(not(feature = "ssr"))]
                    let _ = detail;
                    Refusal::Malformed(Problem::Unreadable)
                }
                ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => {
                    Refusal::Unreachable
                }
                _ => Refusal::Internal,
            };
            #[cfg(feature = "ssr")]
            {
                let error = refusal.say(crate::language::use_language());
                super::super::set_status(&error);
                error
            }
            // in the browser, which carries no translations: the kind, for an island that
            // calls a server function to word with the words its page gave it
            #[cfg(not(feature = "ssr"))]
            {
                refusal.unworded()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_in_an_address_is_shown_for_ten_minutes() {
        let payload = super::url_error_payload(1_000_000, "eyJr=");
        assert_eq!(super::fresh_url_error(&payload, 1_000_000), Some("eyJr="));
        assert_eq!(super::fresh_url_error(&payload, 1_000_600), Some("eyJr="));
        assert_eq!(super::fresh_url_error(&payload, 1_000_601), None, "too old");
        assert_eq!(
            super::fresh_url_error(&payload, 999_900),
            None,
            "from the future"
        );
        assert_eq!(super::fresh_url_error("eyJr=", 1_000_000), None, "no time");
    }

    use super::*;

    use crate::api::Refusal;
    use crate::domain::Problem;
    use crate::language::Language::En;

    #[test]
    fn errors_serialise_with_a_kind_tag() {
        let e = Refusal::overloaded(3).say(En);
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(json["kind"], "overloaded");
        assert_eq!(json["retry_after_secs"], 3);
        let back: Result<ApiError, _> = serde_json::from_value(json);
        assert_eq!(back.ok(), Some(e));
    }

    #[test]
    fn each_kind_maps_to_its_status() {
        let status = |r: Refusal| r.say(En).status_code();
        assert_eq!(status(Refusal::Malformed(Problem::Unreadable)), 400);
        assert_eq!(
            status(Refusal::field("phone", Problem::QuantityBelowOne)),
            422
        );
        assert_eq!(status(Refusal::NotFound(Problem::NoOrderFound)), 404);
        assert_eq!(status(Refusal::overloaded(1)), 503);
        assert_eq!(status(Refusal::rate_limited(1)), 429);
        assert_eq!(Refusal::rate_limited(4).say(En).retry_after_secs(), Some(4));
        assert_eq!(status(Refusal::Internal), 500);
        assert_eq!(status(Refusal::Unreachable), 500);
    }

    #[test]
    fn an_invalid_input_error_names_its_first_field() {
        let e = Refusal::Invalid(vec![
            crate::domain::FieldProblem::new(
                "name",
                Problem::Missing(crate::domain::CustomerField::Name),
            ),
            crate::domain::FieldProblem::new("phone", Problem::QuantityBelowOne),
        ])
        .say(En);
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(json["field"], "name");
        assert_eq!(
            e.field_message("phone").as_deref(),
            Some("Quantity must be at least 1.")
        );
    }
}
