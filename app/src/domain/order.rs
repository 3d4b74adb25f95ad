//! Orders: what a shopper asks for (`NewOrder`, parsed from raw input) and what they are told (`OrderView`).

use super::customer::{Customer, CustomerInput};
use super::error::{FieldProblem, Invalid};
use super::problem::Problem;
use super::quantity::Quantity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// At most this many different products in one order.
pub const MAX_LINES_PER_ORDER: usize = 20;

/// One line of an order as it arrived: untrusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRequest {
    pub product_id: i64,
    pub quantity: i64,
}

/// A client-generated key that makes placing an order safe to retry: 16–64 of `A-Z a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<IdempotencyKey, Problem> {
        let ok_chars = raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !(16..=64).contains(&raw.len()) || !ok_chars {
            return Err(Problem::KeyMalformed);
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short, human-friendly order code such as `K7M3-Q9PX`: no 0/O, 1/I/L to misread over the phone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderCode(String);

impl OrderCode {
    const ALPHABET: &'static [u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

    /// Parses what a shopper typed: case, spaces and the dash do not matter.
    pub fn parse(raw: &str) -> Result<OrderCode, Problem> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if compact.len() != 8 || !compact.bytes().all(|b| Self::ALPHABET.contains(&b)) {
            return Err(Problem::OrderCodeMalformed);
        }
        Ok(OrderCode(format!("{}-{}", &compact[..4], &compact[4..])))
    }

    /// A code from eight random bytes (the caller brings the randomness; ~40 bits).
    pub fn from_random_bytes(bytes: [u8; 8]) -> OrderCode {
        let n = Self::ALPHABET.len();
        let chars: Vec<char> = bytes
            .iter()
            .map(|b| char::from(Self::ALPHABET[usize::from(*b) % n]))
            .collect();
        let s: String = chars.into_iter().collect();
        OrderCode(format!("{}-{}", &s[..4], &s[4..]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrderCode {
    type Error = Problem;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        OrderCode::parse(&value)
    }
}

impl From<OrderCode> for String {
    fn from(code: OrderCode) -> String {
        code.0
    }
}

impl fmt::Display for OrderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    Shipped,
    Completed,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        [
            OrderStatus::AwaitingPayment,
            OrderStatus::Paid,
            OrderStatus::Shipped,
            OrderStatus::Completed,
            OrderStatus::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// The owner's moves: awaiting payment → paid → shipped → completed; an order not yet shipped
    /// can be cancelled (its units go back on the shelf). Nothing else, and never backwards.
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::{AwaitingPayment, Cancelled, Completed, Paid, Shipped};
        matches!(
            (self, to),
            (AwaitingPayment, Paid)
                | (Paid, Shipped)
                | (Shipped, Completed)
                | (AwaitingPayment | Paid, Cancelled)
        )
    }

    /// Every status, in the order an order goes through them.
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::AwaitingPayment,
        OrderStatus::Paid,
        OrderStatus::Shipped,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];
}

/// A parsed, valid order request: at least one line, each product once, a valid customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub idempotency_key: IdempotencyKey,
    /// Product id → quantity, merged and sorted by product id (a stable lock order).
    pub lines: Vec<(i64, Quantity)>,
    pub customer: Customer,
    /// The waiting-room hold this order turns into (its id, from a verified hold token).
    pub hold: Option<i64>,
}

impl NewOrder {
    /// Parses raw input, reporting every bad field; duplicate products are merged.
    pub fn parse(
        idempotency_key: &str,
        lines: &[LineRequest],
        customer: &CustomerInput,
    ) -> Result<NewOrder, Invalid> {
        let mut errors = Vec::new();
        let key = IdempotencyKey::parse(idempotency_key)
            .map_err(|p| errors.push(FieldProblem::new("idempotency_key", p)))
            .ok();
        let mut merged: BTreeMap<i64, Quantity> = BTreeMap::new();
        if lines.is_empty() {
            errors.push(FieldProblem::new("lines", Problem::CartEmpty));
        } else if lines.len() > MAX_LINES_PER_ORDER {
            errors.push(FieldProblem::new(
                "lines",
                Problem::ItemsAtMost {
                    max: MAX_LINES_PER_ORDER,
                },
            ));
        } else {
            for (i, line) in lines.iter().enumerate() {
                if line.product_id < 1 {
                    errors.push(FieldProblem::new(
                        format!("lines[{i}].product_id"),
                        Problem::UnknownProduct,
                    ));
                    continue;
                }
                match Quantity::parse(line.quantity) {
                    Err(p) => errors.push(FieldProblem::new(format!("lines[{i}].quantity"), p)),
                    Ok(q) => match merged.get(&line.product_id) {
                        None => {
                            merged.insert(line.product_id, q);
                        }
                        Some(prev) => match prev.checked_add(q) {
                            Some(sum) => {
                                merged.insert(line.product_id, sum);
                            }
                            None => errors.push(FieldProblem::new(
                                format!("lines[{i}].quantity"),
                                Problem::OneItemAtMost { max: Quantity::MAX },
                            )),
                        },
                    },
                }
            }
        }
        let customer = Customer::parse(customer)
            .map_err(|mut fs| {
                fs.iter_mut()
                    .for_each(|f| f.field = format!("customer.{}", f.field));
                errors.extend(fs);
            })
            .ok();
        match (key, customer) {
            (Some(idempotency_key), Some(customer)) if errors.is_empty() => Ok(NewOrder {
                idempotency_key,
                lines: merged.into_iter().collect(),
                customer,
                hold: None,
            }),
            _ => Err(Invalid(errors)),
        }
    }

    /// A canonical text of everything the order asks for, so a retry with the same key but a
    /// different request can be told apart from a true retry.
    pub fn fingerprint(&self) -> String {
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|(id, q)| format!("{id}x{}", q.get()))
            .collect();
        let c = &self.customer;
        let hold = self
            .hold
            .map(|h| format!("\u{1f}hold{h}"))
            .unwrap_or_default();
        format!(
            "{}{hold}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            lines.join(","),
            c.name.as_str(),
            c.phone.as_str(),
            c.address.as_str(),
            c.note.as_str()
        )
    }
}

/// One line of a placed order, at the price the shop charged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineView {
    pub product_id: i64,
    pub product_name: String,
    pub unit_price_cents: i64,
    pub quantity: u32,
    pub line_total_cents: i64,
}

/// A placed order as the shopper (and the JSON API) sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub order_code: OrderCode,
    pub status: OrderStatus,
    pub total_cents: i64,
    pub lines: Vec<OrderLineView>,
    pub customer_name: String,
    pub phone: String,
    pub address: String,
    pub note: String,
    /// RFC 3339, UTC (see [`super::At`]).
    pub created_at: super::time::At,
    /// While it awaits payment: when it is cancelled unless paid (RFC 3339, UTC), if ever. Told
    /// when the order is looked up (`my_order`, `order_status`), not in `place_order`'s answer.
    #[serde(default)]
    pub pay_by: Option<super::time::At>,
    /// The carrier's tracking number, once the owner has shipped it (else empty).
    #[serde(default)]
    pub tracking_number: String,
    /// For the order's page: the sealed token its live channel is asked with (see
    /// `live::OrderLive`); empty where the order is not shown to its shopper.
    #[serde(default)]
    pub live_token: String,
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_order_moves_forward_only_and_cannot_be_cancelled_once_shipped() {
        use OrderStatus::*;
        let allowed: Vec<(OrderStatus, OrderStatus)> = OrderStatus::ALL
            .into_iter()
            .flat_map(|a| OrderStatus::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (AwaitingPayment, Paid),
                (AwaitingPayment, Cancelled),
                (Paid, Shipped),
                (Paid, Cancelled),
                (Shipped, Completed),
            ]
        );
    }
    use super::*;

    fn customer() -> CustomerInput {
        CustomerInput {
            name: "Ada".into(),
            phone: "+1 555 010 2030".into(),
            address: "1 Main St".into(),
            note: String::new(),
        }
    }

    const KEY: &str = "key-0123456789abcdef";

    #[test]
    fn an_order_code_is_read_forgivingly() {
        assert_eq!(
            OrderCode::parse("k7m3q9px").map(String::from),
            Ok("K7M3-Q9PX".into())
        );
        assert_eq!(
            OrderCode::parse(" K7M3-Q9PX").map(String::from),
            Ok("K7M3-Q9PX".into())
        );
        assert!(
            OrderCode::parse("K7M3-Q9P0").is_err(),
            "0 is not in the alphabet"
        );
        assert!(OrderCode::parse("K7M3").is_err());
    }

    #[test]
    fn a_random_order_code_parses_back_to_itself() {
        for seed in 0..=255_u8 {
            let code =
                OrderCode::from_random_bytes([seed, seed.wrapping_mul(7), 3, 250, 9, 1, 0, 128]);
            assert_eq!(OrderCode::parse(code.as_str()).as_ref(), Ok(&code));
        }
    }

    #[test]
    fn an_idempotency_key_must_be_16_to_64_safe_characters() {
        assert!(IdempotencyKey::parse("short").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(65)).is_err());
        assert!(IdempotencyKey::parse("has spaces in it!!").is_err());
        assert!(IdempotencyKey::parse(KEY).is_ok());
    }

    #[test]
    fn duplicate_lines_are_merged_and_sorted() {
        let lines = [
            LineRequest {
                product_id: 5,
                quantity: 1,
            },
            LineRequest {
                product_id: 2,
                quantity: 3,
            },
            LineRequest {
                product_id: 5,
                quantity: 2,
            },
        ];
        let order = NewOrder::parse(KEY, &lines, &customer()).map(|o| o.lines);
        let q = |n| Quantity::parse(n).ok();
        let expected: Vec<(i64, Quantity)> = [(2, q(3)), (5, q(3))]
            .into_iter()
            .filter_map(|(id, q)| q.map(|q| (id, q)))
            .collect();
        assert_eq!(order, Ok(expected));
    }

    #[test]
    fn an_empty_cart_and_bad_quantities_are_each_reported() {
        let empty = NewOrder::parse(KEY, &[], &customer());
        assert_eq!(
            empty.err().and_then(|e| e.problem_of("lines").cloned()),
            Some(Problem::CartEmpty)
        );
        let bad = NewOrder::parse(
            KEY,
            &[
                LineRequest {
                    product_id: 1,
                    quantity: 0,
                },
                LineRequest {
                    product_id: 0,
                    quantity: 1,
                },
            ],
            &CustomerInput::default(),
        );
        let err = bad.err();
        for (field, problem) in [
            ("lines[0].quantity", Problem::QuantityBelowOne),
            ("lines[1].product_id", Problem::UnknownProduct),
            (
                "customer.name",
                Problem::Missing(crate::domain::CustomerField::Name),
            ),
            (
                "customer.phone",
                Problem::Phone(crate::domain::PhoneError::Empty),
            ),
        ] {
            assert_eq!(
                err.as_ref().and_then(|e| e.problem_of(field)),
                Some(&problem),
                "{field} should be reported: {err:?}"
            );
        }
    }

    #[test]
    fn the_fingerprint_differs_when_the_request_differs() {
        let a = NewOrder::parse(
            KEY,
            &[LineRequest {
                product_id: 1,
                quantity: 1,
            }],
            &customer(),
        );
        let b = NewOrder::parse(
            KEY,
            &[LineRequest {
                product_id: 1,
                quantity: 2,
            }],
            &customer(),
        );
        let (a, b) = (a.map(|o| o.fingerprint()), b.map(|o| o.fingerprint()));
        assert!(a.is_ok() && b.is_ok());
        assert_ne!(a, b);
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in [
            "awaiting_payment",
            "paid",
            "shipped",
            "completed",
            "cancelled",
        ] {
            assert_eq!(OrderStatus::parse(s).map(OrderStatus::as_str), Some(s));
        }
        assert_eq!(OrderStatus::parse("lost"), None);
    }
}
