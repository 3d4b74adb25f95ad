//! What a change did, in words for the product's audit log.

use super::super::pages::money;
use super::{AdminProduct, ProductFields, SaleSettings};

/// "price $12.00 → $14.00; name “Mug” → “Big mug”" — what an edit changed, for the audit log.
pub(super) fn describe_edit(before: &AdminProduct, after: &ProductFields) -> String {
    let mut changes = Vec::new();
    if before.name != after.name {
        changes.push(format!("name “{}” → “{}”", before.name, after.name));
    }
    if before.slug != after.slug {
        changes.push(format!("address /p/{} → /p/{}", before.slug, after.slug));
    }
    if before.description != after.description {
        changes.push("description".to_owned());
    }
    if before.price_cents != after.price_cents {
        changes.push(format!(
            "price {} → {}",
            money(before.price_cents),
            money(after.price_cents)
        ));
    }
    if before.max_per_order != after.max_per_order {
        let limit = |l: Option<i64>| l.map_or_else(|| "none".to_owned(), |l| l.to_string());
        changes.push(format!(
            "per-order limit {} → {}",
            limit(before.max_per_order),
            limit(after.max_per_order)
        ));
    }
    changes.join("; ")
}

pub(super) fn describe_sale(s: &SaleSettings) -> String {
    format!(
        "{} to {} at {}; {}; {}; holds {} min; unpaid orders cancelled after {} min",
        s.starts_at,
        s.ends_at,
        money(s.sale_price_cents),
        s.per_customer_limit.map_or_else(
            || "no per-customer limit".to_owned(),
            |l| format!("{l} per customer")
        ),
        if s.waiting_room {
            "waiting room on"
        } else {
            "no waiting room"
        },
        s.hold_seconds / 60,
        s.pay_seconds / 60
    )
}
