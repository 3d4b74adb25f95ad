//! What a change did, in words for the product's audit log: written in the language of the owner
//! who made it, and kept as written.

use super::super::pages::{money, t, when};
use super::{AdminProduct, ProductFields, SaleSettings};

/// "price ¥12.00 → ¥14.00; name “Mug” → “Big mug”" — what an edit changed, for the audit log.
pub(super) fn describe_edit(before: &AdminProduct, after: &ProductFields) -> String {
    let mut changes = Vec::new();
    if before.name != after.name {
        changes.push(t!(
            admin_log_name,
            before = &before.name,
            after = &after.name
        ));
    }
    if before.slug != after.slug {
        changes.push(t!(
            admin_log_slug,
            before = &before.slug,
            after = &after.slug
        ));
    }
    if before.description != after.description {
        changes.push(t!(admin_log_description));
    }
    if before.price_cents != after.price_cents {
        changes.push(t!(
            admin_log_price,
            before = money(before.price_cents),
            after = money(after.price_cents)
        ));
    }
    if before.max_per_order != after.max_per_order {
        let limit = |l: Option<i64>| l.map_or_else(|| t!(admin_log_no_limit), |l| l.to_string());
        changes.push(t!(
            admin_log_per_order,
            before = limit(before.max_per_order),
            after = limit(after.max_per_order)
        ));
    }
    changes.join("; ")
}

pub(super) fn describe_sale(s: &SaleSettings) -> String {
    let limit = s.per_customer_limit.map_or_else(
        || t!(admin_log_no_customer_limit),
        |l| t!(admin_log_customer_limit, limit = l),
    );
    let room = if s.waiting_room {
        t!(admin_log_waiting_room_on)
    } else {
        t!(admin_log_waiting_room_off)
    };
    t!(
        admin_log_sale,
        starts = when(s.starts_at),
        ends = when(s.ends_at),
        price = money(s.sale_price_cents),
        limit = limit,
        room = room,
        hold = s.hold_seconds / 60,
        pay = s.pay_seconds / 60
    )
}
