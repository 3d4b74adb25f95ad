//! What is wrong with something a shopper or the owner sent, as facts (which field, what limit,
//! what was typed), never as words. Words come from `locales/*.json`, in one place: [`Problem::say`],
//! an exhaustive match, so a new problem without its texts in every language does not compile
//! (`tr!` checks each key, and `build.rs` that every language has every key). `Display` is the
//! English, for logs.

use super::phone::PhoneError;
use crate::language::Language;
use crate::tr;
use std::fmt;

/// A field of the customer's form, named inside a problem ("Please enter your …").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerField {
    Name,
    Address,
    Note,
}

impl CustomerField {
    fn say(self, lang: Language) -> String {
        match self {
            CustomerField::Name => tr!(lang, problem_what_name),
            CustomerField::Address => tr!(lang, problem_what_address),
            CustomerField::Note => tr!(lang, problem_what_note),
        }
    }
}

/// One thing wrong with input or a request, with its facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The summary of a form with several bad fields.
    FieldsNeedFixing,
    NotAllowedCharacters,
    Missing(CustomerField),
    TooShort {
        what: CustomerField,
        min: usize,
    },
    TooLong {
        what: CustomerField,
        max: usize,
    },
    Phone(PhoneError),
    QuantityBelowOne,
    QuantityOutOfRange,
    /// More of one item than any order may have.
    OneItemAtMost {
        max: u32,
    },
    /// More different items than one order may have.
    ItemsAtMost {
        max: usize,
    },
    /// More of this product than the owner lets one order have.
    ProductAtMost {
        limit: i64,
    },
    KeyMalformed,
    /// The idempotency key was used for another order (the JSON API's words).
    KeyReused,
    /// The checkout form's cart was ordered already, with other details.
    AlreadyOrdered,
    OrderCodeMalformed,
    CartEmpty,
    CartFull,
    /// The cart is full, said where the shopper tried to add to it.
    CartFullAdding,
    /// A line of a request names no product.
    UnknownProduct,
    NoSuchProduct,
    NoProductWithId {
        id: i64,
    },
    NoIdOrSlug,
    NotSold,
    NoWaitingRoom {
        product_name: String,
    },
    HoldUnknown,
    HoldExpired,
    HoldUsed,
    /// The order is not what the hold is for.
    HoldMismatch {
        quantity: i64,
        product_name: String,
    },
    /// The order's phone number is not the one that joined the line.
    HoldOtherPhone,
    TicketUnknown,
    /// No such place in line, said where the shopper can join again.
    TicketUnknownJoinAgain,
    LookUpWithPhone,
    NoOrderFound,
    Unreadable,
    BodyTooLarge {
        kib: usize,
    },
    TooSlow {
        secs: u64,
    },
    /// The browser could not reach the shop at all.
    Unreachable,
    Internal,
    NotAnAmount {
        typed: String,
    },
    PriceTooHigh,
    NotAZone {
        typed: String,
    },
    NotATime,
    /// A local time the clocks skip (the spring change).
    SkippedTime {
        time: String,
        zone: String,
    },
}

impl Problem {
    /// The problem in `lang`'s words.
    pub fn say(&self, lang: Language) -> String {
        use Problem as P;
        match self {
            P::FieldsNeedFixing => tr!(lang, problem_fields_need_fixing),
            P::NotAllowedCharacters => tr!(lang, problem_not_allowed_characters),
            P::Missing(what) => tr!(lang, problem_missing, what = what.say(lang)),
            P::TooShort { what, min } => {
                tr!(lang, problem_too_short, what = what.say(lang), min = *min)
            }
            P::TooLong { what, max } => {
                tr!(lang, problem_too_long, what = what.say(lang), max = *max)
            }
            P::Phone(e) => e.say(lang),
            P::QuantityBelowOne => tr!(lang, problem_quantity_below_one),
            P::QuantityOutOfRange => tr!(lang, problem_quantity_out_of_range),
            P::OneItemAtMost { max } => tr!(lang, problem_one_item_at_most, max = *max),
            P::ItemsAtMost { max } => tr!(lang, problem_items_at_most, max = *max),
            P::ProductAtMost { limit } => tr!(lang, problem_product_at_most, limit = *limit),
            P::KeyMalformed => tr!(lang, problem_key_malformed),
            P::KeyReused => tr!(lang, problem_key_reused),
            P::AlreadyOrdered => tr!(lang, problem_already_ordered),
            P::OrderCodeMalformed => tr!(lang, problem_order_code_malformed),
            P::CartEmpty => tr!(lang, problem_cart_empty),
            P::CartFull => tr!(lang, problem_cart_full),
            P::CartFullAdding => tr!(lang, problem_cart_full_adding),
            P::UnknownProduct => tr!(lang, problem_unknown_product),
            P::NoSuchProduct => tr!(lang, problem_no_such_product),
            P::NoProductWithId { id } => tr!(lang, problem_no_product_with_id, id = *id),
            P::NoIdOrSlug => tr!(lang, problem_no_id_or_slug),
            P::NotSold => tr!(lang, problem_not_sold),
            P::NoWaitingRoom { product_name } => {
                tr!(lang, problem_no_waiting_room, name = product_name.clone())
            }
            P::HoldUnknown => tr!(lang, problem_hold_unknown),
            P::HoldExpired => tr!(lang, err_hold_expired),
            P::HoldUsed => tr!(lang, err_hold_used),
            P::HoldMismatch {
                quantity,
                product_name,
            } => tr!(
                lang,
                problem_hold_mismatch,
                quantity = *quantity,
                name = product_name.clone()
            ),
            P::HoldOtherPhone => tr!(lang, problem_hold_other_phone),
            P::TicketUnknown => tr!(lang, problem_ticket_unknown),
            P::TicketUnknownJoinAgain => tr!(lang, problem_ticket_unknown_join_again),
            P::LookUpWithPhone => tr!(lang, problem_look_up_with_phone),
            P::NoOrderFound => tr!(lang, problem_no_order_found),
            P::Unreadable => tr!(lang, problem_unreadable),
            P::BodyTooLarge { kib } => tr!(lang, problem_body_too_large, kib = *kib),
            P::TooSlow { secs } => tr!(lang, problem_too_slow, secs = *secs),
            P::Unreachable => tr!(lang, problem_unreachable),
            P::Internal => tr!(lang, refusal_internal),
            P::NotAnAmount { typed } => tr!(lang, problem_not_an_amount, typed = typed.clone()),
            P::PriceTooHigh => tr!(lang, problem_price_too_high),
            P::NotAZone { typed } => tr!(lang, problem_not_a_zone, typed = typed.clone()),
            P::NotATime => tr!(lang, problem_not_a_time),
            P::SkippedTime { time, zone } => tr!(
                lang,
                problem_skipped_time,
                time = time.clone(),
                zone = zone.clone()
            ),
        }
    }
}

impl PhoneError {
    /// The refusal in `lang`'s words.
    pub fn say(self, lang: Language) -> String {
        match self {
            PhoneError::Empty => tr!(lang, problem_phone_empty),
            PhoneError::TooLong => tr!(lang, problem_phone_too_long),
            PhoneError::NotANumber => tr!(lang, problem_phone_not_a_number),
            PhoneError::NoCountryCode => tr!(lang, problem_phone_no_country_code),
            PhoneError::NotAChineseMobile => tr!(lang, problem_phone_not_a_chinese_mobile),
            PhoneError::UnknownCountryCode => tr!(lang, problem_phone_unknown_country_code),
            PhoneError::WrongLength => tr!(lang, problem_phone_wrong_length),
        }
    }
}

impl From<PhoneError> for Problem {
    fn from(e: PhoneError) -> Problem {
        Problem::Phone(e)
    }
}

/// The English, for logs; a shopper is told [`Problem::say`] in her language. (In the
/// browser, which keeps no logs and carries no translations, its name.)
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(feature = "ssr")]
        {
            f.write_str(&self.say(Language::En))
        }
        #[cfg(not(feature = "ssr"))]
        {
            fmt::Debug::fmt(self, f)
        }
    }
}

impl std::error::Error for Problem {}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Problem::Phone(*self), f)
    }
}

impl std::error::Error for PhoneError {}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One of each problem (and each phone refusal), for tests that go through them all.
    pub(crate) fn one_of_each() -> Vec<Problem> {
        use CustomerField::*;
        let phones = [
            PhoneError::Empty,
            PhoneError::TooLong,
            PhoneError::NotANumber,
            PhoneError::NoCountryCode,
            PhoneError::NotAChineseMobile,
            PhoneError::UnknownCountryCode,
            PhoneError::WrongLength,
        ];
        let mut all = vec![
            Problem::FieldsNeedFixing,
            Problem::NotAllowedCharacters,
            Problem::Missing(Name),
            Problem::Missing(Address),
            Problem::TooShort {
                what: Address,
                min: 5,
            },
            Problem::TooLong {
                what: Note,
                max: 500,
            },
            Problem::QuantityBelowOne,
            Problem::QuantityOutOfRange,
            Problem::OneItemAtMost { max: 99 },
            Problem::ItemsAtMost { max: 50 },
            Problem::ProductAtMost { limit: 2 },
            Problem::KeyMalformed,
            Problem::KeyReused,
            Problem::AlreadyOrdered,
            Problem::OrderCodeMalformed,
            Problem::CartEmpty,
            Problem::CartFull,
            Problem::CartFullAdding,
            Problem::UnknownProduct,
            Problem::NoSuchProduct,
            Problem::NoProductWithId { id: 9 },
            Problem::NoIdOrSlug,
            Problem::NotSold,
            Problem::NoWaitingRoom {
                product_name: "Harbour Mug".into(),
            },
            Problem::HoldUnknown,
            Problem::HoldExpired,
            Problem::HoldUsed,
            Problem::HoldMismatch {
                quantity: 2,
                product_name: "Harbour Mug".into(),
            },
            Problem::HoldOtherPhone,
            Problem::TicketUnknown,
            Problem::TicketUnknownJoinAgain,
            Problem::LookUpWithPhone,
            Problem::NoOrderFound,
            Problem::Unreadable,
            Problem::BodyTooLarge { kib: 64 },
            Problem::TooSlow { secs: 10 },
            Problem::Unreachable,
            Problem::Internal,
            Problem::NotAnAmount {
                typed: "abc".into(),
            },
            Problem::PriceTooHigh,
            Problem::NotAZone {
                typed: "Beijing".into(),
            },
            Problem::NotATime,
            Problem::SkippedTime {
                time: "2026-03-29 02:30".into(),
                zone: "Europe/Berlin".into(),
            },
        ];
        all.extend(phones.map(Problem::Phone));
        all
    }

    fn has_han(text: &str) -> bool {
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    /// Every problem is said in both languages, each in its own: Chinese has Chinese in it,
    /// English none, and no two problems read the same in either (a copied key would).
    #[test]
    fn every_problem_is_said_in_each_language() {
        let all = one_of_each();
        for lang in Language::ALL {
            let mut said: Vec<String> = all.iter().map(|p| p.say(lang)).collect();
            for (problem, words) in all.iter().zip(&said) {
                assert!(!words.trim().is_empty(), "{problem:?} says nothing");
                assert_eq!(
                    has_han(words),
                    lang == Language::ZhCn,
                    "{problem:?} in {lang:?}: {words}"
                );
            }
            said.sort();
            let before = said.len();
            said.dedup();
            // "Unknown product." and "There is no such product." are one sentence in Chinese
            let same_in_chinese = usize::from(lang == Language::ZhCn);
            assert_eq!(before - said.len(), same_in_chinese, "{lang:?}: {said:?}");
        }
    }

    #[test]
    fn a_problem_keeps_its_facts_in_its_words() {
        let p = Problem::HoldMismatch {
            quantity: 2,
            product_name: "Harbour Mug".into(),
        };
        assert_eq!(
            p.to_string(),
            "This hold is for 2 × Harbour Mug; the order must be exactly that."
        );
        assert_eq!(
            p.say(Language::ZhCn),
            "这个保留是 2 × Harbour Mug，订单必须与之完全一致。"
        );
        assert_eq!(
            Problem::TooLong {
                what: CustomerField::Name,
                max: 100
            }
            .say(Language::ZhCn),
            "收货人姓名太长了（最多 100 个字）。"
        );
    }
}
