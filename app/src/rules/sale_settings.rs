//! The rules of changing a sale's settings: what the owner may set, and what a sale that has
//! started keeps whatever the form says (shoppers have queued and bought under it).

use crate::domain::{At, SalePhase};
use crate::language::Language;

/// Why a sale's settings cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaleRefusal {
    /// Amounts in minor units.
    PriceAbove {
        sale: i64,
        normal: i64,
    },
    EndPassed,
    EndBeforeStart,
    /// Shoppers are in the line: the waiting room cannot be turned off.
    LineKeepsRoom {
        in_line: i64,
    },
}

impl SaleRefusal {
    /// What the owner is told, in `lang`, with amounts as `shown` writes them.
    pub fn said(&self, lang: Language, shown: impl Fn(i64) -> String) -> String {
        match self {
            SaleRefusal::PriceAbove { sale, normal } => crate::tr!(
                lang,
                sale_err_price_above,
                sale = shown(*sale),
                normal = shown(*normal)
            ),
            SaleRefusal::EndPassed => crate::tr!(lang, sale_err_end_passed),
            SaleRefusal::EndBeforeStart => crate::tr!(lang, sale_err_end_before_start),
            SaleRefusal::LineKeepsRoom { in_line } => {
                crate::tr!(lang, sale_err_line_keeps_room, count = in_line)
            }
        }
    }
}

/// A sale's settings, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleSettings {
    pub starts_at: At,
    pub ends_at: At,
    pub sale_price_cents: i64,
    pub per_customer_limit: Option<i64>,
    pub waiting_room: bool,
    pub hold_seconds: i64,
    /// Orders placed during the sale and unpaid this long after are cancelled and restocked.
    pub pay_seconds: i64,
}

impl SaleSettings {
    /// Where the sale stands at `now`.
    pub fn phase(&self, now: At) -> SalePhase {
        SalePhase::at(self.starts_at, self.ends_at, now)
    }
}

/// What the sale form asks for (already checked on its own: ends after it starts, and so on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleInput {
    pub starts_at: At,
    pub ends_at: At,
    pub sale_price_cents: i64,
    pub per_customer_limit: Option<i64>,
    pub waiting_room: bool,
    pub hold_seconds: i64,
    pub pay_seconds: i64,
}

/// The sale to store, given what is stored and what is in the line — or why not. A running sale
/// keeps its start, waiting room and per-customer limit (shoppers have queued and bought under
/// them); its end, price, hold time and payment window may change. A line with people in it keeps its waiting
/// room.
pub fn next_sale(
    current: Option<&SaleSettings>,
    input: &SaleInput,
    in_line: i64,
    price_cents: i64,
    now: At,
) -> Result<SaleSettings, SaleRefusal> {
    if input.sale_price_cents > price_cents {
        return Err(SaleRefusal::PriceAbove {
            sale: input.sale_price_cents,
            normal: price_cents,
        });
    }
    if input.ends_at <= now {
        return Err(SaleRefusal::EndPassed);
    }
    match current.map(|c| (c, c.phase(now))) {
        Some((current, SalePhase::Live)) => {
            if input.ends_at <= current.starts_at {
                return Err(SaleRefusal::EndBeforeStart);
            }
            Ok(SaleSettings {
                starts_at: current.starts_at,
                ends_at: input.ends_at,
                sale_price_cents: input.sale_price_cents,
                per_customer_limit: current.per_customer_limit,
                waiting_room: current.waiting_room,
                hold_seconds: input.hold_seconds,
                pay_seconds: input.pay_seconds,
            })
        }
        _ => {
            if in_line > 0 && !input.waiting_room {
                return Err(SaleRefusal::LineKeepsRoom { in_line });
            }
            if input.ends_at <= input.starts_at {
                return Err(SaleRefusal::EndBeforeStart);
            }
            Ok(SaleSettings {
                starts_at: input.starts_at,
                ends_at: input.ends_at,
                sale_price_cents: input.sale_price_cents,
                per_customer_limit: input.per_customer_limit,
                waiting_room: input.waiting_room,
                hold_seconds: input.hold_seconds,
                pay_seconds: input.pay_seconds,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> At {
        At::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn input(starts: &str, ends: &str) -> SaleInput {
        SaleInput {
            starts_at: at(starts),
            ends_at: at(ends),
            sale_price_cents: 900,
            per_customer_limit: Some(2),
            waiting_room: true,
            hold_seconds: 300,
            pay_seconds: 900,
        }
    }

    const NOW: &str = "2026-12-02T12:00:00.000Z";

    fn now() -> At {
        at(NOW)
    }

    #[test]
    fn a_new_sale_takes_the_form_as_it_is() {
        let asked = input("2026-12-03T09:00:00.000Z", "2026-12-04T09:00:00.000Z");
        let sale = next_sale(None, &asked, 0, 1000, now()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(sale.starts_at, asked.starts_at);
        assert_eq!(sale.per_customer_limit, Some(2));
    }

    #[test]
    fn a_running_sale_keeps_its_start_waiting_room_and_limit() {
        let running = SaleSettings {
            starts_at: at("2026-12-01T09:00:00.000Z"),
            ends_at: at("2026-12-05T09:00:00.000Z"),
            sale_price_cents: 800,
            per_customer_limit: Some(1),
            waiting_room: true,
            hold_seconds: 300,
            pay_seconds: 900,
        };
        let mut asked = input("2026-12-03T09:00:00.000Z", "2026-12-02T18:00:00.000Z");
        asked.waiting_room = false;
        asked.per_customer_limit = None;
        asked.hold_seconds = 600;
        asked.pay_seconds = 1800;
        let sale =
            next_sale(Some(&running), &asked, 40, 1000, now()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(sale.starts_at, running.starts_at);
        assert!(sale.waiting_room);
        assert_eq!(sale.per_customer_limit, Some(1));
        assert_eq!(sale.ends_at, at("2026-12-02T18:00:00.000Z"));
        assert_eq!((sale.sale_price_cents, sale.hold_seconds), (900, 600));
        assert_eq!(sale.pay_seconds, 1800, "the payment window may change");
    }

    #[test]
    fn the_rules_refuse_what_would_strand_shoppers_or_make_no_sense() {
        let upcoming = SaleSettings {
            starts_at: at("2026-12-03T09:00:00.000Z"),
            ends_at: at("2026-12-05T09:00:00.000Z"),
            sale_price_cents: 800,
            per_customer_limit: None,
            waiting_room: true,
            hold_seconds: 300,
            pay_seconds: 900,
        };
        let mut off = input("2026-12-03T09:00:00.000Z", "2026-12-04T09:00:00.000Z");
        off.waiting_room = false;
        assert!(
            next_sale(Some(&upcoming), &off, 3, 1000, now())
                == Err(SaleRefusal::LineKeepsRoom { in_line: 3 }),
            "people in line"
        );
        assert!(
            next_sale(Some(&upcoming), &off, 0, 1000, now()).is_ok(),
            "empty line"
        );
        let past = input("2026-11-01T09:00:00.000Z", "2026-11-02T09:00:00.000Z");
        assert!(
            next_sale(None, &past, 0, 1000, now()) == Err(SaleRefusal::EndPassed),
            "ends in the past"
        );
        let backwards = input("2026-12-04T09:00:00.000Z", "2026-12-03T09:00:00.000Z");
        assert!(
            next_sale(None, &backwards, 0, 1000, now()) == Err(SaleRefusal::EndBeforeStart),
            "ends before it starts"
        );
        let dear = input("2026-12-03T09:00:00.000Z", "2026-12-04T09:00:00.000Z");
        assert!(
            next_sale(None, &dear, 0, 500, now())
                == Err(SaleRefusal::PriceAbove {
                    sale: 900,
                    normal: 500
                }),
            "above the normal price"
        );
    }
}
