//! Why the shop refused a request, as facts and no words: what the server functions, the
//! store's errors and the edge's guards produce. It is worded once, at the edge, in the
//! request's language ([`Refusal::say`]), as the [`ApiError`] a client reads; its `Display` is
//! the English, for logs.

use super::error::{ApiError, FieldError};
use crate::domain::{FieldProblem, Problem};
use crate::language::Language;
use crate::tr;
use std::fmt;

/// How long a paused checkout asks a shopper to wait before trying again.
const PAUSED_RETRY_SECS: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not enough stock for one line: nothing was ordered.
    SoldOut {
        product_id: i64,
        product_name: String,
        available: i64,
    },
    /// Bad input: each bad field and what is wrong with it.
    Invalid(Vec<FieldProblem>),
    /// The request itself could not be read (malformed, missing argument, too large, too slow).
    Malformed(Problem),
    NotFound(Problem),
    SaleNotStarted {
        product_id: i64,
        product_name: String,
        starts_in_secs: i64,
    },
    QueueRequired {
        product_id: i64,
        product_name: String,
    },
    LimitReached {
        product_id: i64,
        product_name: String,
        limit: i64,
        already: i64,
    },
    /// The hold token cannot be used: one of the `Hold…` problems.
    HoldInvalid(Problem),
    RateLimited {
        retry_after_secs: u32,
    },
    /// The owner has paused checkout, for a product or (`None`) the whole shop; `held`: the
    /// order was for a waiting-room hold, which does not run out while paused.
    Paused {
        product_id: Option<i64>,
        held: bool,
    },
    Overloaded {
        retry_after_secs: u32,
    },
    AlreadyInLine {
        product_id: i64,
    },
    /// A form posted from another site.
    CrossSite,
    Internal,
    /// The browser could not reach the shop (said by the browser's side of a server function).
    Unreachable,
}

impl Refusal {
    /// One bad field.
    pub fn field(field: &str, problem: Problem) -> Refusal {
        Refusal::Invalid(vec![FieldProblem::new(field, problem)])
    }

    pub fn overloaded(retry_after_secs: u32) -> Refusal {
        Refusal::Overloaded { retry_after_secs }
    }

    pub fn rate_limited(retry_after_secs: u32) -> Refusal {
        Refusal::RateLimited { retry_after_secs }
    }

    /// The refusal in `lang`'s words, as the API answers it: its kind and facts never change
    /// with the language.
    pub fn say(&self, lang: Language) -> ApiError {
        match self {
            Refusal::SoldOut {
                product_id,
                product_name,
                available,
            } => ApiError::SoldOut {
                message: if *available == 0 {
                    tr!(lang, err_sold_out, name = product_name.clone())
                } else {
                    tr!(
                        lang,
                        err_only_left,
                        name = product_name.clone(),
                        count = *available
                    )
                },
                product_id: *product_id,
                product_name: product_name.clone(),
                available: *available,
            },
            Refusal::Invalid(fields) => ApiError::InvalidInput {
                message: match fields.as_slice() {
                    [one] => one.problem.say(lang),
                    _ => Problem::FieldsNeedFixing.say(lang),
                },
                field: fields.first().map(|f| f.field.clone()),
                fields: fields
                    .iter()
                    .map(|f| FieldError {
                        field: f.field.clone(),
                        message: f.problem.say(lang),
                    })
                    .collect(),
            },
            Refusal::Malformed(problem) => ApiError::InvalidInput {
                message: problem.say(lang),
                field: None,
                fields: Vec::new(),
            },
            Refusal::NotFound(problem) => ApiError::NotFound {
                message: problem.say(lang),
            },
            Refusal::SaleNotStarted {
                product_id,
                product_name,
                starts_in_secs,
            } => ApiError::SaleNotStarted {
                message: tr!(
                    lang,
                    err_sale_not_started,
                    name = product_name.clone(),
                    time = crate::domain::countdown_text(
                        *starts_in_secs,
                        &crate::domain::CountdownUnits::of(lang)
                    )
                ),
                product_id: *product_id,
                starts_in_secs: *starts_in_secs,
            },
            Refusal::QueueRequired {
                product_id,
                product_name,
            } => ApiError::QueueRequired {
                message: tr!(lang, err_queue_required, name = product_name.clone()),
                product_id: *product_id,
            },
            Refusal::LimitReached {
                product_id,
                product_name,
                limit,
                already,
            } => ApiError::LimitReached {
                message: if *already == 0 {
                    tr!(lang, err_limit, limit = *limit, name = product_name.clone())
                } else {
                    tr!(
                        lang,
                        err_limit_already,
                        limit = *limit,
                        name = product_name.clone(),
                        already = *already
                    )
                },
                product_id: *product_id,
                limit: *limit,
                already: *already,
            },
            Refusal::HoldInvalid(problem) => ApiError::HoldInvalid {
                message: problem.say(lang),
                reason: match problem {
                    Problem::HoldExpired => "expired",
                    Problem::HoldUsed => "used",
                    Problem::HoldMismatch { .. } | Problem::HoldOtherPhone => "mismatch",
                    _ => "unknown",
                }
                .to_owned(),
            },
            Refusal::RateLimited { retry_after_secs } => ApiError::RateLimited {
                message: tr!(lang, err_rate_limited, secs = *retry_after_secs),
                retry_after_secs: *retry_after_secs,
            },
            Refusal::Paused { product_id, held } => ApiError::Paused {
                message: if *held {
                    tr!(lang, err_paused_hold)
                } else {
                    tr!(lang, err_paused)
                },
                product_id: *product_id,
                retry_after_secs: PAUSED_RETRY_SECS,
                held: *held,
            },
            Refusal::Overloaded { retry_after_secs } => ApiError::Overloaded {
                message: tr!(lang, err_overloaded, secs = *retry_after_secs),
                retry_after_secs: *retry_after_secs,
            },
            Refusal::AlreadyInLine { product_id } => ApiError::AlreadyInLine {
                message: tr!(lang, err_already_in_line),
                product_id: *product_id,
            },
            Refusal::CrossSite => ApiError::Forbidden {
                message: tr!(lang, err_cross_site),
            },
            Refusal::Internal => ApiError::Internal {
                message: Problem::Internal.say(lang),
            },
            Refusal::Unreachable => ApiError::Internal {
                message: Problem::Unreachable.say(lang),
            },
        }
    }
}

impl Refusal {
    /// The kind alone, for the browser's side of a server function (it carries no words):
    /// what the browser itself can find wrong, that is, not reaching the shop at all.
    #[cfg(not(feature = "ssr"))]
    pub fn unworded(&self) -> ApiError {
        match self {
            Refusal::Malformed(_) => ApiError::InvalidInput {
                message: String::new(),
                field: None,
                fields: Vec::new(),
            },
            _ => ApiError::Internal {
                message: String::new(),
            },
        }
    }
}

impl From<crate::domain::Invalid> for Refusal {
    fn from(invalid: crate::domain::Invalid) -> Refusal {
        Refusal::Invalid(invalid.0)
    }
}

/// The English, for logs.
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.say(Language::En), f)
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CustomerField;
    use crate::domain::PhoneError;

    fn one_of_each() -> Vec<Refusal> {
        vec![
            Refusal::SoldOut {
                product_id: 3,
                product_name: "Harbour Mug".into(),
                available: 2,
            },
            Refusal::Invalid(vec![
                FieldProblem::new("customer.phone", Problem::Phone(PhoneError::Empty)),
                FieldProblem::new(
                    "customer.name",
                    Problem::TooLong {
                        what: CustomerField::Name,
                        max: 100,
                    },
                ),
            ]),
            Refusal::Malformed(Problem::Unreadable),
            Refusal::NotFound(Problem::NoOrderFound),
            Refusal::SaleNotStarted {
                product_id: 3,
                product_name: "Harbour Mug".into(),
                starts_in_secs: 3900,
            },
            Refusal::QueueRequired {
                product_id: 3,
                product_name: "Harbour Mug".into(),
            },
            Refusal::LimitReached {
                product_id: 3,
                product_name: "Harbour Mug".into(),
                limit: 2,
                already: 1,
            },
            Refusal::HoldInvalid(Problem::HoldExpired),
            Refusal::rate_limited(4),
            Refusal::Paused {
                product_id: None,
                held: true,
            },
            Refusal::overloaded(3),
            Refusal::AlreadyInLine { product_id: 3 },
            Refusal::CrossSite,
            Refusal::Internal,
            Refusal::Unreachable,
        ]
    }

    #[test]
    fn a_refusal_keeps_its_kind_status_and_facts_in_every_language() {
        for refusal in one_of_each() {
            let (en, zh) = (refusal.say(Language::En), refusal.say(Language::ZhCn));
            assert_eq!(en.status_code(), zh.status_code(), "{refusal:?}");
            assert_eq!(en.retry_after_secs(), zh.retry_after_secs(), "{refusal:?}");
            let (mut en_json, mut zh_json) = (
                serde_json::to_value(&en).unwrap_or_default(),
                serde_json::to_value(&zh).unwrap_or_default(),
            );
            assert_ne!(en_json["message"], zh_json["message"], "{refusal:?}");
            for json in [&mut en_json, &mut zh_json] {
                json["message"] = serde_json::Value::Null;
                for field in json["fields"].as_array_mut().into_iter().flatten() {
                    field["message"] = serde_json::Value::Null;
                }
            }
            assert_eq!(en_json, zh_json, "{refusal:?}");
        }
    }

    #[test]
    fn refusals_are_worded_from_their_facts() {
        let sold_out = &one_of_each()[0];
        assert_eq!(
            sold_out.say(Language::ZhCn).to_string(),
            "抱歉，Harbour Mug 只剩 2 件了。"
        );
        assert_eq!(sold_out.to_string(), "Sorry, only 2 of Harbour Mug left.");
        let invalid = one_of_each()[1].say(Language::ZhCn);
        assert_eq!(invalid.to_string(), "有几项需要修改。");
        assert_eq!(
            invalid.field_message("customer.phone").as_deref(),
            Some("请填写手机号。")
        );
        assert_eq!(
            invalid.field_message("customer.name").as_deref(),
            Some("收货人姓名太长了（最多 100 个字）。")
        );
        assert_eq!(
            Refusal::overloaded(3).say(Language::ZhCn).to_string(),
            "店里现在太忙了，请 3 秒后再试。"
        );
        assert_eq!(
            one_of_each()[4].to_string(),
            "The Harbour Mug sale starts in 1 h 05 min."
        );
        assert_eq!(
            one_of_each()[6].to_string(),
            "At most 2 Harbour Mug per customer in this sale, and this phone number already has 1."
        );
        let expired = Refusal::HoldInvalid(Problem::HoldExpired).say(Language::En);
        assert!(matches!(expired, ApiError::HoldInvalid { ref reason, .. } if reason == "expired"));
    }
}
