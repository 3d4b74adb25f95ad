//! The cart: kept in a cookie, priced from the database on every read.

use crate::api::ApiError;
#[cfg(feature = "ssr")]
use crate::api::Refusal;
#[cfg(feature = "ssr")]
use crate::domain::Problem;
use crate::domain::ProductView;
use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json, PostUrl};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub product: ProductView,
    pub quantity: u32,
    pub line_total_cents: i64,
}

impl CartLine {
    /// Whether the shop still has enough stock for this line.
    pub fn in_stock(&self) -> bool {
        self.product.stock >= i64::from(self.quantity)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartView {
    pub lines: Vec<CartLine>,
    pub total_cents: i64,
}

impl CartView {
    pub fn units(&self) -> u32 {
        self.lines.iter().map(|l| l.quantity).sum()
    }
}

/// Cookies live a month: a cart should outlast a lost phone signal.
#[cfg(feature = "ssr")]
const CART_MAX_AGE: u32 = 30 * 24 * 3600;

#[cfg(feature = "ssr")]
pub(crate) fn read_cart() -> crate::domain::Cart {
    super::cookies::read(crate::domain::cart::CART_COOKIE)
        .map(|v| crate::domain::Cart::from_cookie(&v))
        .unwrap_or_default()
}

#[cfg(feature = "ssr")]
pub(crate) fn write_cart(cart: &crate::domain::Cart, secure: bool) {
    let max_age = if cart.is_empty() { 0 } else { CART_MAX_AGE };
    super::cookies::set(
        crate::domain::cart::CART_COOKIE,
        &cart.to_cookie(),
        max_age,
        secure,
    );
}

/// The cart priced as an order placed now would be (a live sale's price); lines for products that no longer exist are dropped.
#[cfg(feature = "ssr")]
pub(crate) async fn price_cart(
    state: &crate::state::AppState,
    cart: &crate::domain::Cart,
) -> Result<CartView, Refusal> {
    let ids: Vec<i64> = cart.lines().iter().map(|(id, _)| *id).collect();
    let products = state.store.products_by_ids(&ids).await?;
    let mut view = CartView::default();
    for (id, q) in cart.lines() {
        let Some(product) = products.iter().find(|p| p.id == *id) else {
            continue;
        };
        // what the order will charge: the sale price while the sale is live
        let line_total_cents = product
            .price_now_cents()
            .checked_mul(i64::from(q.get()))
            .ok_or(Refusal::Internal)?;
        view.total_cents = view
            .total_cents
            .checked_add(line_total_cents)
            .ok_or(Refusal::Internal)?;
        view.lines.push(CartLine {
            product: product.clone(),
            quantity: q.get(),
            line_total_cents,
        });
    }
    Ok(view)
}

#[server(endpoint = "cart", input = GetUrl, output = Json)]
pub async fn get_cart() -> Result<CartView, ApiError> {
    super::answered(
        async move {
            let state = super::state()?;
            price_cart(&state, &read_cart()).await
        }
        .await,
    )
}

/// Adds units of a product to the cart, refusing what the shop cannot sell, then shows the cart.
#[server(endpoint = "add_to_cart", input = PostUrl, output = Json)]
pub async fn add_to_cart(product_id: i64, quantity: i64) -> Result<(), ApiError> {
    super::answered(
        async move {
            use crate::domain::Quantity;
            use crate::store::ProductKey;
            let quantity = Quantity::parse(quantity).map_err(|p| Refusal::field("quantity", p))?;
            let state = super::state()?;
            let product = state
                .store
                .product(&ProductKey::Id(product_id))
                .await?
                .ok_or_else(|| Refusal::field("product_id", Problem::NoSuchProduct))?;
            let mut cart = read_cart();
            let wanted = cart
                .quantity_of(product_id)
                .map_or(0, |q| i64::from(q.get()))
                + i64::from(quantity.get());
            if let Some(limit) = product.max_per_order {
                if wanted > i64::from(limit) {
                    return Err(Refusal::field(
                        "quantity",
                        Problem::ProductAtMost {
                            limit: i64::from(limit),
                        },
                    ));
                }
            }
            if wanted > product.stock {
                return Err(crate::store::CheckoutError::SoldOut {
                    product_id,
                    product_name: product.name,
                    available: product.stock,
                }
                .into());
            }
            if !cart.add(product_id, quantity) {
                return Err(Refusal::field("product_id", Problem::CartFullAdding));
            }
            write_cart(&cart, state.secure_cookies);
            leptos_axum::redirect("/cart");
            Ok(())
        }
        .await,
    )
}

/// Sets a line's quantity; 0 removes it.
#[server(endpoint = "update_cart", input = PostUrl, output = Json)]
pub async fn update_cart(product_id: i64, quantity: i64) -> Result<(), ApiError> {
    super::answered(
        async move {
            use crate::domain::Quantity;
            let quantity = match quantity {
                0 => None,
                n => Some(Quantity::parse(n).map_err(|p| Refusal::field("quantity", p))?),
            };
            let state = super::state()?;
            let mut cart = read_cart();
            if !cart.set(product_id, quantity) {
                return Err(Refusal::field("product_id", Problem::CartFull));
            }
            write_cart(&cart, state.secure_cookies);
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "remove_from_cart", input = PostUrl, output = Json)]
pub async fn remove_from_cart(product_id: i64) -> Result<(), ApiError> {
    super::answered(
        async move {
            let state = super::state()?;
            let mut cart = read_cart();
            cart.set(product_id, None);
            write_cart(&cart, state.secure_cookies);
            Ok(())
        }
        .await,
    )
}
