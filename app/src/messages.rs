//! What the shop tells a shopper when something is wrong, in the shopper's language.
//!
//! The shop's rules and edges write their messages in English where they find the problem (deep
//! in parsing, far from any request). On the way out (`api::answered`), every error is put into
//! the request's language: kinds with facts (sold out, limits, busy, …) are written again from
//! those facts; a free message is looked up by its English text, as gettext does with its
//! `msgid`. A test feeds every parser the inputs that make each of its messages and fails on any
//! that has no Chinese here.

use crate::api::ApiError;
use crate::domain::FieldError;
use crate::language::Language;

impl ApiError {
    /// The same error, its messages in `lang`. Machine-readable parts (`kind`, fields, numbers)
    /// never change.
    pub fn in_language(self, lang: Language) -> ApiError {
        if lang == Language::En {
            return self;
        }
        let say = |english: &str| say(english, lang);
        match self {
            ApiError::SoldOut {
                product_id,
                product_name,
                available,
                ..
            } => ApiError::SoldOut {
                message: if available == 0 {
                    crate::tr!(lang, err_sold_out, name = product_name.clone())
                } else {
                    crate::tr!(
                        lang,
                        err_only_left,
                        name = product_name.clone(),
                        count = available
                    )
                },
                product_id,
                product_name,
                available,
            },
            ApiError::InvalidInput {
                message,
                field,
                fields,
            } => ApiError::InvalidInput {
                message: say(&message),
                field,
                fields: fields
                    .into_iter()
                    .map(|f| FieldError {
                        message: say(&f.message),
                        field: f.field,
                    })
                    .collect(),
            },
            ApiError::NotFound { message } => ApiError::NotFound {
                message: say(&message),
            },
            ApiError::SaleNotStarted {
                product_id,
                starts_in_secs,
                ..
            } => ApiError::SaleNotStarted {
                message: crate::tr!(
                    lang,
                    err_sale_not_started,
                    time = crate::domain::countdown_text(starts_in_secs, lang)
                ),
                product_id,
                starts_in_secs,
            },
            ApiError::QueueRequired { product_id, .. } => ApiError::QueueRequired {
                message: crate::tr!(lang, err_queue_required),
                product_id,
            },
            ApiError::LimitReached {
                product_id,
                limit,
                already,
                ..
            } => ApiError::LimitReached {
                message: if already == 0 {
                    crate::tr!(lang, err_limit, limit = limit)
                } else {
                    crate::tr!(lang, err_limit_already, limit = limit, already = already)
                },
                product_id,
                limit,
                already,
            },
            ApiError::HoldInvalid { message, reason } => ApiError::HoldInvalid {
                message: match reason.as_str() {
                    "expired" => crate::tr!(lang, err_hold_expired),
                    "used" => crate::tr!(lang, err_hold_used),
                    _ => say(&message),
                },
                reason,
            },
            ApiError::RateLimited {
                retry_after_secs, ..
            } => ApiError::RateLimited {
                message: crate::tr!(lang, err_rate_limited, secs = retry_after_secs),
                retry_after_secs,
            },
            ApiError::Paused {
                product_id,
                retry_after_secs,
                held,
                ..
            } => ApiError::Paused {
                message: if held {
                    crate::tr!(lang, err_paused_hold)
                } else {
                    crate::tr!(lang, err_paused)
                },
                product_id,
                retry_after_secs,
                held,
            },
            ApiError::Overloaded {
                retry_after_secs, ..
            } => ApiError::Overloaded {
                message: crate::tr!(lang, err_overloaded, secs = retry_after_secs),
                retry_after_secs,
            },
            ApiError::AlreadyInLine { product_id, .. } => ApiError::AlreadyInLine {
                message: crate::tr!(lang, err_already_in_line),
                product_id,
            },
            ApiError::Forbidden { .. } => ApiError::Forbidden {
                message: crate::tr!(lang, err_cross_site),
            },
            ApiError::Internal { message } => ApiError::Internal {
                message: say(&message),
            },
        }
    }
}

/// One English message in `lang`; a message this table does not know stays English (the test
/// below makes sure the shop writes none such).
pub fn say(english: &str, lang: Language) -> String {
    if lang == Language::En {
        return english.to_owned();
    }
    chinese(english).unwrap_or_else(|| english.to_owned())
}

/// The Chinese of a message the shop writes, by its English.
fn chinese(english: &str) -> Option<String> {
    let fixed = match english {
        "Some fields need fixing." => "有几项需要修改。",
        "Contains characters that are not allowed." => "含有不允许的字符。",
        "Quantity must be at least 1." => "数量至少为 1。",
        "Quantity is out of range." => "数量超出范围。",
        "The idempotency key must be 16 to 64 letters, digits, '-' or '_'." => {
            "幂等键必须是 16 到 64 个字母、数字、“-”或“_”。"
        }
        "An order code looks like K7M3-Q9PX." => "订单号的格式类似 K7M3-Q9PX。",
        "Your cart is empty." => "购物车是空的。",
        "Unknown product." | "There is no such product." => "没有这件商品。",
        "That hold does not exist." => "这个保留不存在。",
        "Look up this order with its code and your phone number." => {
            "请用订单号和手机号查询这个订单。"
        }
        "No order with that code and phone number." => "没有找到这个订单号和手机号对应的订单。",
        "That place in line does not exist. Join the line again from the product page." => {
            "这个排队位置不存在。请在商品页重新排队。"
        }
        "That place in line does not exist." => "这个排队位置不存在。",
        "Your cart is full: check out or remove something first." => {
            "购物车满了：请先结算或删除一些商品。"
        }
        "Your cart is full." => "购物车满了。",
        "Give a product id or slug." => "请提供商品 id 或 slug。",
        crate::api::errors::KEY_REUSED => {
            "这个幂等键已用于另一个订单。"
        }
        "This product is no longer sold." => "这件商品已下架。",
        crate::api::orders::ALREADY_ORDERED => "这个购物车已经下过一个订单（填写的信息不同；之前的回复可能没有送到）。请到“我的订单”或用订单号查询。如果确实要再下一单，请再提交一次。",
        "Use the phone number you joined the line with." => "请使用排队时填写的手机号。",
        "Something went wrong on our side. Nothing was charged; please try again." => {
            "我们这边出了点问题。没有扣款，请重试。"
        }
        crate::api::error::UNREADABLE => "请求无法读取。",
        "Could not reach the shop. Check your connection and try again." => {
            "连不上店铺。请检查网络后重试。"
        }
        // phone numbers (`domain::PhoneError`)
        "Please enter your phone number." => "请填写手机号。",
        "That phone number is too long." => "手机号太长了。",
        "A phone number has only digits, spaces, dashes and a leading +." => {
            "手机号只能包含数字、空格、短横线和开头的 +。"
        }
        "Please enter an 11-digit Chinese mobile number (such as 138 0013 8000), or a number from another country starting with + and its country code." => {
            "请填写 11 位中国大陆手机号（如 138 0013 8000），或以 + 和国家代码开头的其他国家号码。"
        }
        "A Chinese mobile number has 11 digits and starts with 13 to 19." => {
            "中国大陆手机号是 11 位，以 13 到 19 开头。"
        }
        "That country code does not exist." => "这个国家代码不存在。",
        "That number has too few or too many digits." => "号码位数不对。",
        // amounts and times the owner types (`Money::parse_amount`, `shop_time::ZoneError`)
        "The most a price may be is 1,000,000.00." => "价格最高为 1,000,000.00。",
        "The time must be a date and time, like 2026-12-24 09:00." => {
            "时间必须是日期和时间，如 2026-12-24 09:00。"
        }
        _ => "",
    };
    if !fixed.is_empty() {
        return Some(fixed.to_owned());
    }
    let what = |w: &str| match w {
        "name" => Some("收货人姓名"),
        "delivery address" => Some("收货地址"),
        "note" => Some("留言"),
        _ => None,
    };
    if let Some(w) = between(english, "Please enter your ", ".").and_then(what) {
        return Some(format!("请填写{w}。"));
    }
    if let Some((w, n)) = between(english, "Your ", " characters).")
        .and_then(|s| s.split_once(" looks too short (at least "))
    {
        return Some(format!("{}太短了（至少 {} 个字）。", what(w)?, number(n)?));
    }
    if let Some((w, n)) = between(english, "Your ", " characters).")
        .and_then(|s| s.split_once(" is too long (at most "))
    {
        return Some(format!("{}太长了（最多 {} 个字）。", what(w)?, number(n)?));
    }
    if let Some(n) = between(english, "At most ", " of one item per order.").and_then(number) {
        return Some(format!("同一件商品每单最多 {n} 件。"));
    }
    if let Some(n) = between(english, "At most ", " different items per order.").and_then(number) {
        return Some(format!("每单最多 {n} 种商品。"));
    }
    if let Some(n) =
        between(english, "At most ", " of this product fit in one order.").and_then(number)
    {
        return Some(format!("这件商品每单最多 {n} 件。"));
    }
    if let Some(n) = between(english, "There is no product with id ", ".").and_then(number) {
        return Some(format!("没有 id 为 {n} 的商品。"));
    }
    if let Some(name) = between(
        english,
        "",
        " has no waiting line right now: add it to your cart instead.",
    ) {
        return Some(format!("{name} 现在不用排队：直接加入购物车吧。"));
    }
    if let Some((quantity, name)) = between(
        english,
        "This hold is for ",
        "; the order must be exactly that.",
    )
    .and_then(|s| s.split_once(" × "))
    {
        return Some(format!(
            "这个保留是 {quantity} × {name}，订单必须与之完全一致。"
        ));
    }
    if let Some(n) =
        between(english, "The request body is too large (at most ", " KiB).").and_then(number)
    {
        return Some(format!("提交的内容太大（最多 {n} KiB）。"));
    }
    if let Some(n) = between(
        english,
        "The request took too long to arrive (over ",
        " s). Check your connection and try again.",
    )
    .and_then(number)
    {
        return Some(format!(
            "请求太久没有送达（超过 {n} 秒）。请检查网络后重试。"
        ));
    }
    if let Some(amount) = between(english, "“", "” is not an amount like 12.50.") {
        return Some(format!("“{amount}”不是有效的金额，请写成 12.50 这样。"));
    }
    if let Some(zone) = between(
        english,
        "“",
        "” is not a time zone; choose one from the list, like Asia/Shanghai.",
    ) {
        return Some(format!(
            "“{zone}”不是时区，请从列表中选择，如 Asia/Shanghai。"
        ));
    }
    if let Some((time, zone)) = between(
        english,
        "",
        ": the clocks skip it. Choose a time an hour later.",
    )
    .and_then(|s| s.split_once(" does not exist in "))
    {
        return Some(format!(
            "{zone} 没有 {time} 这个时间（夏令时跳过了它），请选晚一小时的时间。"
        ));
    }
    None
}

/// The part of `text` between `prefix` and `suffix`, if it has both.
fn between<'a>(text: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    text.strip_prefix(prefix)?.strip_suffix(suffix)
}

/// `n` if it is a whole number.
fn number(n: &str) -> Option<&str> {
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CustomerInput, JoinInput, LineRequest, NewOrder, OrderCode, Phone};

    /// Every message the parsers write for these bad inputs has its Chinese.
    #[test]
    fn every_message_a_shopper_can_cause_has_its_chinese() {
        let mut english: Vec<String> = Vec::new();
        let customers = [
            ("", "", "", ""),
            ("x", "12", "abc", "\u{7}"),
            (
                &"长".repeat(101)[..],
                &"1".repeat(41)[..],
                &"地".repeat(501)[..],
                &"注".repeat(501)[..],
            ),
            ("李\u{0}", "+999 123", "Main St 1", ""),
            ("Ada", "+86 12345", "Main St 1", ""),
            ("Ada", "12-3a", "Main St 1", ""),
            ("Ada", "+1 555", "Main St 1", ""),
        ];
        for (name, phone, address, note) in customers {
            let customer = CustomerInput {
                name: name.into(),
                phone: phone.into(),
                address: address.into(),
                note: note.into(),
            };
            let lines_sets: [&[LineRequest]; 3] = [
                &[],
                &[LineRequest {
                    product_id: 0,
                    quantity: 0,
                }],
                &[LineRequest {
                    product_id: 1,
                    quantity: 1000,
                }],
            ];
            for lines in lines_sets {
                for key in ["bad key", "a-good-key-123456"] {
                    if let Err(e) = NewOrder::parse(key, lines, &customer) {
                        english.push(ApiError::from(e.clone()).to_string());
                        english.extend(e.0.into_iter().map(|f| f.message));
                    }
                }
            }
        }
        let many: Vec<LineRequest> = (1..=60)
            .map(|id| LineRequest {
                product_id: id,
                quantity: 1,
            })
            .collect();
        if let Err(e) = NewOrder::parse("a-good-key-123456", &many, &CustomerInput::default()) {
            english.extend(e.0.into_iter().map(|f| f.message));
        }
        for (quantity, phone) in [(0, ""), (200, "abc"), (1, "+0 1")] {
            let join = JoinInput {
                product_id: -1,
                quantity,
                phone: phone.into(),
            };
            if let Err(e) = crate::domain::JoinRequest::parse(&join) {
                english.extend(e.0.into_iter().map(|f| f.message));
            }
        }
        english.extend(OrderCode::parse("nope").err());
        for phone in [
            "",
            "abc",
            &"1".repeat(60),
            "12345",
            "+86 123",
            "+999 1",
            "+1 2",
        ] {
            english.extend(Phone::parse(phone).err().map(String::from));
        }
        english.extend(
            [
                ApiError::from(crate::store::CheckoutError::UnknownProduct { product_id: 9 }),
                ApiError::from(crate::store::CheckoutError::KeyReused),
                ApiError::from(crate::store::CheckoutError::TooManyInOneOrder {
                    product_id: 1,
                    limit: 2,
                }),
                ApiError::from(crate::store::JoinError::NoWaitingRoom {
                    product_name: "Harbour Mug".into(),
                }),
                ApiError::from(crate::store::JoinError::NotSold { product_id: 1 }),
                ApiError::from(crate::store::CheckoutError::Hold(
                    crate::store::HoldProblem::Mismatch(
                        "This hold is for 2 × Harbour Mug; the order must be exactly that.".into(),
                    ),
                )),
                ApiError::internal(),
                ApiError::malformed(crate::api::error::UNREADABLE),
            ]
            .into_iter()
            .map(|e| e.to_string()),
        );
        // the owner's amounts and times (her forms say them in her language too)
        for amount in ["12.345", "abc", "99999999"] {
            english.extend(crate::domain::Money::parse_amount(amount).err());
        }
        #[cfg(feature = "ssr")]
        {
            use crate::shop_time::ShopZone;
            english.extend(ShopZone::parse("Beijing").err().map(|e| e.to_string()));
            let berlin = ShopZone::of_setting("Europe/Berlin");
            for typed in ["tomorrow", "2026-03-29T02:30"] {
                english.extend(berlin.to_utc(typed).err().map(|e| e.to_string()));
            }
        }
        assert!(english.len() > 25, "{english:?}");
        let untranslated: Vec<&String> = english.iter().filter(|m| chinese(m).is_none()).collect();
        assert!(untranslated.is_empty(), "no Chinese for {untranslated:?}");
    }

    #[test]
    fn errors_keep_their_kind_and_facts_in_every_language() {
        let sold_out = ApiError::SoldOut {
            message: "Sorry, only 2 of Harbour Mug left.".into(),
            product_id: 3,
            product_name: "Harbour Mug".into(),
            available: 2,
        };
        let zh = sold_out.clone().in_language(Language::ZhCn);
        assert_eq!(zh.to_string(), "抱歉，Harbour Mug 只剩 2 件了。");
        assert_eq!(zh.status_code(), sold_out.status_code());
        let json = serde_json::to_value(&zh).unwrap_or_default();
        assert_eq!(
            (json["kind"].as_str(), json["available"].as_i64()),
            (Some("sold_out"), Some(2))
        );
        assert_eq!(sold_out.clone().in_language(Language::En), sold_out);

        let invalid = ApiError::invalid(vec![
            FieldError::new("customer.phone", "Please enter your phone number."),
            FieldError::new(
                "customer.name",
                "Your name is too long (at most 100 characters).",
            ),
        ]);
        let zh = invalid.in_language(Language::ZhCn);
        assert_eq!(
            zh.field_message("customer.phone").as_deref(),
            Some("请填写手机号。")
        );
        assert_eq!(
            zh.field_message("customer.name").as_deref(),
            Some("收货人姓名太长了（最多 100 个字）。")
        );
        assert_eq!(
            ApiError::overloaded(3)
                .in_language(Language::ZhCn)
                .to_string(),
            "店里现在太忙了，请 3 秒后再试。"
        );
    }
}
