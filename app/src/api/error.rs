//! The one error type every server function returns, its wire form (JSON with a `kind`), and the
//! HTTP status each kind answers with.

use crate::domain::{FieldError, Invalid};
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

/// What a request the shop could not read is told. The reader's own words (serde's, which quote
/// the request: a field's name, a value) are logged, never said back: a message may end up in
/// an address anyone can share.
pub const UNREADABLE: &str = "The request could not be read.";

/// What went wrong, as the shopper or API client sees it. Serialises as
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
    pub fn invalid(fields: Vec<FieldError>) -> ApiError {
        let message = match fields.as_slice() {
            [one] => one.message.clone(),
            _ => "Some fields need fixing.".to_owned(),
        };
        ApiError::InvalidInput {
            message,
            field: fields.first().map(|f| f.field.clone()),
            fields,
        }
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(vec![FieldError::new(field, message)])
    }

    /// The request itself could not be read (malformed JSON, missing argument, too large).
    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::InvalidInput {
            message: message.into(),
            field: None,
            fields: Vec::new(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::NotFound {
            message: message.into(),
        }
    }

    pub fn overloaded(retry_after_secs: u32) -> ApiError {
        ApiError::Overloaded {
            message: format!(
                "The shop is very busy right now. Please try again in {retry_after_secs} s."
            ),
            retry_after_secs,
        }
    }

    /// Checkout is paused by the owner: for `product_id`, or the whole shop when `None`; `held`:
    /// the order was for a waiting-room hold (which does not run out while paused).
    pub fn paused(product_id: Option<i64>, held: bool) -> ApiError {
        let message = if held {
            "Checkout is paused for a moment by the shop. Your hold is kept: it will not run out \
             while paused; please try again shortly."
        } else {
            "Checkout is paused for a moment by the shop. Your cart is kept; please try again \
             shortly."
        };
        ApiError::Paused {
            message: message.to_owned(),
            product_id,
            retry_after_secs: 10,
            held,
        }
    }

    pub fn rate_limited(retry_after_secs: u32) -> ApiError {
        ApiError::RateLimited {
            message: format!(
                "Too many requests from your connection. Please wait {retry_after_secs} s and try again."
            ),
            retry_after_secs,
        }
    }

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

    pub fn already_in_line(product_id: i64) -> ApiError {
        ApiError::AlreadyInLine {
            message: "This phone number is already in line for this product. Use the page or \
                      link you got when you joined."
                .to_owned(),
            product_id,
        }
    }

    pub fn cross_site() -> ApiError {
        ApiError::Forbidden {
            message: "This form came from another site, so the shop did not accept it. Go back \
                      to the shop and try again there."
                .to_owned(),
        }
    }

    pub fn internal() -> ApiError {
        ApiError::Internal {
            message: "Something went wrong on our side. Nothing was charged; please try again."
                .to_owned(),
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

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> ApiError {
        ApiError::invalid(invalid.0)
    }
}

mod server_fn_glue {
    use super::ApiError;
    use leptos::server_fn::codec::JsonEncoding;
    use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};

    impl FromServerFnError for ApiError {
        type Encoder = JsonEncoding;

        /// Framework-level failures: undecodable arguments are the client's fault (400);
        /// anything else is ours. On the server the status is set here, where the error is made.
        fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
            let error = match value {
                ServerFnErrorErr::Args(detail) | ServerFnErrorErr::Deserialization(detail) => {
                    #[cfg(feature = "ssr")]
                    tracing::debug!(%detail, "a request's arguments could not be read");
                    #[cfg(not(feature = "ssr"))]
                    let _ = detail;
                    ApiError::malformed(super::UNREADABLE)
                }
                ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => {
                    ApiError::Internal {
                        message: "Could not reach the shop. Check your connection and try again."
                            .to_owned(),
                    }
                }
                _ => ApiError::internal(),
            };
            #[cfg(feature = "ssr")]
            super::super::set_status(&error);
            error
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

    #[test]
    fn errors_serialise_with_a_kind_tag() {
        let e = ApiError::overloaded(3);
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(json["kind"], "overloaded");
        assert_eq!(json["retry_after_secs"], 3);
        let back: Result<ApiError, _> = serde_json::from_value(json);
        assert_eq!(back.ok(), Some(e));
    }

    #[test]
    fn each_kind_maps_to_its_status() {
        assert_eq!(ApiError::malformed("x").status_code(), 400);
        assert_eq!(ApiError::invalid_field("phone", "bad").status_code(), 422);
        assert_eq!(ApiError::not_found("x").status_code(), 404);
        assert_eq!(ApiError::overloaded(1).status_code(), 503);
        assert_eq!(ApiError::rate_limited(1).status_code(), 429);
        assert_eq!(ApiError::rate_limited(4).retry_after_secs(), Some(4));
        assert_eq!(ApiError::internal().status_code(), 500);
    }

    #[test]
    fn an_invalid_input_error_names_its_first_field() {
        let e = ApiError::invalid(vec![
            FieldError::new("name", "a"),
            FieldError::new("phone", "b"),
        ]);
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(json["field"], "name");
        assert_eq!(e.field_message("phone").as_deref(), Some("b"));
    }
}
