//! Placing and finding orders: `POST /api/place_order` (JSON), the checkout form, and lookups.

use super::cart::CartView;
use crate::api::ApiError;
#[cfg(feature = "ssr")]
use crate::api::Refusal;
#[cfg(feature = "ssr")]
use crate::domain::Problem;
use crate::domain::{CustomerInput, LineRequest, OrderView};
use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json, PostUrl};
use serde::{Deserialize, Serialize};

/// Everything the checkout page needs: the cart's idempotency key (the same on every rendering of
/// this cart until an order succeeds, so a reload after a lost answer cannot order twice), what
/// the shopper typed last time (kept across a no-JavaScript round trip), and the priced cart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutPageData {
    pub idempotency_key: String,
    pub values: CustomerInput,
    pub cart: CartView,
}

#[cfg(feature = "ssr")]
pub(crate) use edge::{hold_key, read_draft};

#[cfg(feature = "ssr")]
mod edge {
    //! Cookies and admission shared by the order endpoints.
    use super::*;
    use crate::api::cookies;
    use crate::domain::{NewOrder, OrderCode};
    use crate::language::Language;
    use crate::state::AppState;

    pub const ORDERS_COOKIE: &str = "hf_orders";
    pub const DRAFT_COOKIE: &str = "hf_checkout";
    /// This browser's current try at ordering its cart (a random nonce, sealed).
    pub const TRY_COOKIE: &str = "hf_try";
    const ORDERS_KEPT: usize = 20;
    const YEAR: u32 = 365 * 24 * 3600;
    const DAY: u32 = 24 * 3600;

    /// Places a parsed order if the shop has room for one more right now and the owner has not
    /// paused checkout for it; every answer is counted in the server's pulse.
    pub async fn place(order: NewOrder) -> Result<OrderView, Refusal> {
        use crate::pulse::Answer;
        let state = crate::api::state()?;
        let started = std::time::Instant::now();
        let placed = admit_and_place(&state, order).await;
        let took = placed.is_ok().then(|| started.elapsed());
        state
            .pulse
            .record(Answer::of(&placed.as_ref().map(|_| ())), took);
        placed
    }

    async fn admit_and_place(
        state: &crate::state::AppState,
        order: NewOrder,
    ) -> Result<OrderView, Refusal> {
        // the rules cannot be read: the database is away, and the order could not be placed
        // either — shed it (503, retry shortly) rather than fail it
        let rules = state.store.checkout_rules().await.map_err(|e| {
            tracing::warn!(error = %e, "cannot read the checkout rules; shedding the order");
            Refusal::overloaded(2)
        })?;
        check_rules(&rules, &order)?;
        let _admitted = state
            .order_admission
            .enter()
            .map_err(|busy| Refusal::overloaded(busy.retry_after_secs))?;
        Ok(state.store.place_order(order).await?)
    }

    /// The order with its payment deadline, while it awaits payment: placed during a sale, that
    /// sale's window; else the shop-wide one; the shorter if both (the expiry task cancels it at
    /// the first). Without a deadline to tell (a read that fails), none is told.
    pub async fn with_pay_by(state: &AppState, mut order: OrderView) -> OrderView {
        if order.status != crate::domain::OrderStatus::AwaitingPayment {
            return order;
        }
        let sale = match state.store.sale_pay_window(&order.order_code).await {
            Ok(window) => window,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read an order's payment window");
                return order;
            }
        };
        let shop = state
            .unpaid_expiry
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let window = match (sale, shop) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        order.pay_by = window.map(|secs| order.created_at.plus_secs(secs));
        order
    }

    /// The order's lines named as the shopper reads them: a line whose product still bears the
    /// name it was ordered under takes that product's name in `lang` (the demo's Chinese); a
    /// product renamed or gone since keeps the name it was ordered under.
    pub async fn named_in(state: &AppState, mut order: OrderView, lang: Language) -> OrderView {
        let Ok(products) = state.store.products().await else {
            return order;
        };
        for line in &mut order.lines {
            if let Some(p) = products
                .iter()
                .find(|p| p.id == line.product_id && p.name == line.product_name)
            {
                line.product_name = p.name_in(lang).to_owned();
            }
        }
        order
    }

    /// The owner's brakes, archived products and per-order limits, checked before the desk.
    pub fn check_rules(
        rules: &crate::store::CheckoutRules,
        order: &NewOrder,
    ) -> Result<(), Refusal> {
        let held = order.hold.is_some();
        if rules.all_paused() {
            return Err(Refusal::Paused {
                product_id: None,
                held,
            });
        }
        for (id, quantity) in &order.lines {
            if rules.is_paused(*id) {
                return Err(Refusal::Paused {
                    product_id: Some(*id),
                    held,
                });
            }
            if rules.is_archived(*id) {
                return Err(crate::store::CheckoutError::UnknownProduct { product_id: *id }.into());
            }
            if let Some(limit) = rules.per_order_limit(*id) {
                if quantity.get() > limit {
                    return Err(crate::store::CheckoutError::TooManyInOneOrder {
                        product_id: *id,
                        limit: i64::from(limit),
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    /// The order codes this browser placed (newest last), from the sealed orders cookie: a
    /// cookie the shop did not write (a code typed in by someone else) opens nothing.
    pub fn my_codes(signer: &crate::tokens::Signer) -> Vec<String> {
        cookies::read_sealed(signer, ORDERS_COOKIE)
            .map(|v| {
                v.split('.')
                    .filter_map(|c| OrderCode::parse(c).ok())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn remember_code(state: &AppState, code: &OrderCode) {
        let mut codes = my_codes(&state.signer);
        codes.retain(|c| c != code.as_str());
        codes.push(code.to_string());
        let skip = codes.len().saturating_sub(ORDERS_KEPT);
        cookies::set_sealed(
            &state.signer,
            ORDERS_COOKIE,
            &codes[skip..].join("."),
            YEAR,
            state.secure_cookies,
        );
    }

    /// What the shopper typed last time, from the sealed draft cookie (see [`save_draft`]).
    pub fn read_draft(signer: &crate::tokens::Signer) -> Option<CustomerInput> {
        let raw = cookies::read_sealed(signer, DRAFT_COOKIE)?;
        serde_json::from_str(&cookies::decode(&raw)?).ok()
    }

    /// Keeps what the shopper typed for a day, so a no-JS error page does not lose it. Sealed
    /// with the shop's key: a draft planted by anyone else is ignored (and whatever a draft
    /// holds is rendered as escaped text, never markup).
    pub fn save_draft(state: &AppState, values: &CustomerInput) {
        let Ok(json) = serde_json::to_string(values) else {
            return;
        };
        let encoded = cookies::encode(&json);
        // browsers drop cookies over 4 KiB; better no draft than a broken one
        if encoded.len() <= 3700 {
            cookies::set_sealed(
                &state.signer,
                DRAFT_COOKIE,
                &encoded,
                DAY,
                state.secure_cookies,
            );
        }
    }

    pub fn clear_draft(secure: bool) {
        cookies::set(DRAFT_COOKIE, "", 0, secure);
    }

    /// Refuses a lookup of `code` when this client or this code has asked too often.
    pub fn check_lookup(state: &AppState, code: &OrderCode) -> Result<(), Refusal> {
        let client = leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|p| {
                p.extensions
                    .get::<crate::lookup_limits::ClientAddr>()
                    .copied()
            })
            .map(|c| c.0);
        state
            .lookups
            .check(client, code.as_str())
            .map_err(Refusal::rate_limited)
    }

    /// The idempotency key of ordering this cart from this browser: derived from the browser's
    /// try nonce (a sealed cookie, made here when missing) and the cart's lines. Every rendering
    /// of the checkout shows the same key until an order succeeds ([`forget_try`]), so a form
    /// sent again — a reload after a lost answer, the back button, a busy page's retry — finds
    /// the first order instead of placing a second one; a changed cart is a new key. Another
    /// browser with the same cart has another nonce, so nobody can reach this order's key.
    pub fn cart_key(state: &AppState, cart: &crate::domain::Cart) -> String {
        let nonce = cookies::read_sealed(&state.signer, TRY_COOKIE)
            .filter(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_alphanumeric()))
            .unwrap_or_else(|| {
                use rand::distr::{Alphanumeric, SampleString};
                let nonce = Alphanumeric.sample_string(&mut rand::rng(), 32);
                cookies::set_sealed(&state.signer, TRY_COOKIE, &nonce, DAY, state.secure_cookies);
                nonce
            });
        state
            .signer
            .digest("checkout-key", &format!("{nonce}|{}", cart.to_cookie()))
    }

    /// The order is placed: the next cart is a new try.
    pub fn forget_try(secure: bool) {
        cookies::set(TRY_COOKIE, "", 0, secure);
    }

    /// The idempotency key of turning a waiting-room hold into an order: one per hold, so the
    /// hold's checkout sent again finds the order it made.
    pub fn hold_key(state: &AppState, hold_id: i64) -> String {
        state.signer.digest("hold-key", &hold_id.to_string())
    }
}

/// The JSON API for placing an order. Answers only once the order is durably committed; the same
/// `idempotency_key` always answers with the first order.
/// With a `hold_token` from the waiting room, the order turns that hold into the order (it must be
/// exactly the held product and quantity, by the phone number that joined the line).
#[server(endpoint = "place_order", input = Json, output = Json)]
pub async fn place_order(
    idempotency_key: String,
    lines: Vec<LineRequest>,
    customer: CustomerInput,
    hold_token: Option<String>,
) -> Result<OrderView, ApiError> {
    super::answered(
        async move {
            let mut order = crate::domain::NewOrder::parse(&idempotency_key, &lines, &customer)?;
            if let Some(token) = hold_token {
                order.hold = Some(super::queue::hold_id(&crate::api::state()?, &token)?);
            }
            edge::place(order).await
        }
        .await,
    )
}

/// Places the order for a waiting-room hold: the held product and quantity, nothing else.
#[cfg(feature = "ssr")]
pub(crate) async fn place_with_hold(
    idempotency_key: &str,
    hold_token: &str,
    values: &CustomerInput,
) -> Result<OrderView, Refusal> {
    let state = crate::api::state()?;
    let hold = super::queue::hold_id(&state, hold_token)?;
    let held = state
        .queue
        .hold_line(hold)
        .await?
        .ok_or(Refusal::HoldInvalid(Problem::HoldUnknown))?;
    let lines = [LineRequest {
        product_id: held.0,
        quantity: held.1,
    }];
    let mut order = crate::domain::NewOrder::parse(idempotency_key, &lines, values)?;
    order.hold = Some(hold);
    let placed = edge::place(order).await;
    match &placed {
        Ok(order) => {
            edge::clear_draft(state.secure_cookies);
            edge::remember_code(&state, &order.order_code);
        }
        Err(_) if super::cookies::from_plain_form() => {
            edge::save_draft(&state, values);
        }
        Err(_) => {}
    }
    placed
}

/// The checkout form (works without JavaScript): orders what is in the cart cookie.
#[server(endpoint = "checkout", input = PostUrl, output = Json)]
pub async fn checkout(
    idempotency_key: String,
    name: String,
    phone: String,
    address: String,
    note: String,
) -> Result<String, ApiError> {
    super::answered(
        async move {
            let state = super::state()?;
            let secure = state.secure_cookies;
            let values = CustomerInput {
                name,
                phone,
                address,
                note,
            };
            let cart = super::cart::read_cart();
            let lines: Vec<LineRequest> = cart
                .lines()
                .iter()
                .map(|(id, q)| LineRequest {
                    product_id: *id,
                    quantity: i64::from(q.get()),
                })
                .collect();
            let outcome = match crate::domain::NewOrder::parse(&idempotency_key, &lines, &values) {
                Ok(order) => edge::place(order).await,
                Err(e) => Err(e.into()),
            };
            match outcome {
                Ok(order) => {
                    super::cart::write_cart(&crate::domain::Cart::default(), secure);
                    edge::forget_try(secure);
                    edge::clear_draft(secure);
                    edge::remember_code(&state, &order.order_code);
                    leptos_axum::redirect(&format!("/order/{}", order.order_code));
                    Ok(order.order_code.to_string())
                }
                Err(e) => {
                    if super::cookies::from_plain_form() {
                        edge::save_draft(&state, &values);
                    }
                    if e == Refusal::field("idempotency_key", Problem::KeyReused) {
                        // this cart's try already made an order with other details: say so,
                        // and let a second sending be a new try (a new key), as she chooses
                        edge::forget_try(secure);
                        return Err(Refusal::field("idempotency_key", Problem::AlreadyOrdered));
                    }
                    Err(e)
                }
            }
        }
        .await,
    )
}

/// What the checkout page shows.
#[server(endpoint = "checkout_form", input = GetUrl, output = Json)]
pub async fn checkout_form() -> Result<CheckoutPageData, ApiError> {
    super::answered(
        async move {
            let state = super::state()?;
            let cart = super::cart::read_cart();
            let idempotency_key = edge::cart_key(&state, &cart);
            let cart = super::cart::price_cart(&state, &cart).await?;
            Ok(CheckoutPageData {
                idempotency_key,
                values: edge::read_draft(&state.signer).unwrap_or_default(),
                cart,
            })
        }
        .await,
    )
}

/// An order placed from this browser (its code is in the orders cookie).
#[server(endpoint = "my_order", input = GetUrl, output = Json)]
pub async fn my_order(code: String) -> Result<OrderView, ApiError> {
    super::answered(
        async move {
            use crate::domain::OrderCode;
            let not_mine = || Refusal::NotFound(Problem::LookUpWithPhone);
            let code = OrderCode::parse(&code).map_err(|_| not_mine())?;
            let state = super::state()?;
            edge::check_lookup(&state, &code)?;
            if !edge::my_codes(&state.signer)
                .iter()
                .any(|c| c == code.as_str())
            {
                return Err(not_mine());
            }
            let order = state.store.order(&code).await?.ok_or_else(not_mine)?;
            let mut order = edge::with_pay_by(&state, order).await;
            // its page listens for the owner's changes with this (shown only to its shopper)
            order.live_token = state
                .signer
                .seal(crate::live::ORDER_TOKEN_PURPOSE, order.order_code.as_str());
            Ok(edge::named_in(&state, order, crate::language::use_language()).await)
        }
        .await,
    )
}

/// Looks an order up by its code and the phone number it was placed with.
#[server(endpoint = "order_status", input = GetUrl, output = Json)]
pub async fn order_status(code: String, phone: String) -> Result<OrderView, ApiError> {
    super::answered(
        async move {
            use crate::domain::{FieldProblem, OrderCode, Phone};
            let parsed_code = OrderCode::parse(&code);
            let parsed_phone = Phone::parse(&phone);
            let (code, phone) = match (parsed_code, parsed_phone) {
                (Ok(c), Ok(p)) => (c, p),
                (c, p) => {
                    let errors = [
                        c.err().map(|p| FieldProblem::new("code", p)),
                        p.err().map(|e| FieldProblem::new("phone", e)),
                    ];
                    return Err(Refusal::Invalid(errors.into_iter().flatten().collect()));
                }
            };
            let state = super::state()?;
            edge::check_lookup(&state, &code)?;
            let not_found = || Refusal::NotFound(Problem::NoOrderFound);
            let order = state.store.order(&code).await?.ok_or_else(not_found)?;
            if !phone.same_number(&order.phone) {
                return Err(not_found());
            }
            let mut order = edge::with_pay_by(&state, order).await;
            // its page listens for the owner's changes with this (shown only to its shopper)
            order.live_token = state
                .signer
                .seal(crate::live::ORDER_TOKEN_PURPOSE, order.order_code.as_str());
            Ok(edge::named_in(&state, order, crate::language::use_language()).await)
        }
        .await,
    )
}
