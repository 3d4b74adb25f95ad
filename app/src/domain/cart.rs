//! The shopper's cart, kept in a cookie so it survives a reload with or without JavaScript.
//!
//! The cookie holds only product ids and quantities (`3:2.7:1`); names, prices and stock always
//! come from the database, so a tampered cookie can at worst ask for other products.

use super::quantity::Quantity;

/// Name of the cart cookie.
pub const CART_COOKIE: &str = "hf_cart";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    lines: Vec<(i64, Quantity)>,
}

impl Cart {
    /// At most this many different products in a cart (as in an order).
    pub const MAX_LINES: usize = super::order::MAX_LINES_PER_ORDER;

    /// Reads a cookie value, skipping anything malformed rather than failing the page.
    pub fn from_cookie(value: &str) -> Cart {
        let mut cart = Cart::default();
        for item in value.split('.') {
            let Some((id, qty)) = item.split_once(':') else {
                continue;
            };
            let (Ok(id), Ok(qty)) = (id.parse::<i64>(), qty.parse::<i64>()) else {
                continue;
            };
            if let (true, Ok(q)) = (id > 0, Quantity::parse(qty)) {
                cart.set(id, Some(q));
            }
        }
        cart
    }

    pub fn to_cookie(&self) -> String {
        self.lines
            .iter()
            .map(|(id, q)| format!("{id}:{}", q.get()))
            .collect::<Vec<_>>()
            .join(".")
    }

    pub fn lines(&self) -> &[(i64, Quantity)] {
        &self.lines
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn quantity_of(&self, product_id: i64) -> Option<Quantity> {
        self.lines
            .iter()
            .find(|(id, _)| *id == product_id)
            .map(|(_, q)| *q)
    }

    /// Sets a product's quantity (`None` removes it). Returns false when the cart is full.
    pub fn set(&mut self, product_id: i64, quantity: Option<Quantity>) -> bool {
        let pos = self.lines.iter().position(|(id, _)| *id == product_id);
        match (pos, quantity) {
            (Some(i), Some(q)) => self.lines[i].1 = q,
            (Some(i), None) => {
                self.lines.remove(i);
            }
            (None, Some(q)) => {
                if self.lines.len() >= Self::MAX_LINES {
                    return false;
                }
                self.lines.push((product_id, q));
            }
            (None, None) => {}
        }
        true
    }

    /// Adds to a product's quantity, capped at the per-line maximum.
    pub fn add(&mut self, product_id: i64, quantity: Quantity) -> bool {
        let sum = match self.quantity_of(product_id) {
            Some(prev) => prev
                .checked_add(quantity)
                .or_else(|| Quantity::parse(i64::from(Quantity::MAX)).ok()),
            None => Some(quantity),
        };
        self.set(product_id, sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64) -> Quantity {
        Quantity::parse(n).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_cart_round_trips_through_its_cookie() {
        let mut cart = Cart::default();
        cart.add(3, q(2));
        cart.add(7, q(1));
        assert_eq!(cart.to_cookie(), "3:2.7:1");
        assert_eq!(Cart::from_cookie(&cart.to_cookie()), cart);
    }

    #[test]
    fn a_tampered_cookie_keeps_only_the_valid_lines() {
        let cart = Cart::from_cookie("3:2.x:1.4:0.5:-1.6:1000.-2:1.;drop table.8:4");
        assert_eq!(cart.to_cookie(), "3:2.8:4");
    }

    #[test]
    fn adding_again_sums_and_caps_at_the_maximum() {
        let mut cart = Cart::default();
        cart.add(1, q(60));
        cart.add(1, q(60));
        assert_eq!(cart.quantity_of(1), Some(q(99)));
    }

    #[test]
    fn setting_none_removes_a_line() {
        let mut cart = Cart::from_cookie("1:1.2:2");
        cart.set(1, None);
        assert_eq!(cart.to_cookie(), "2:2");
    }

    #[test]
    fn a_cart_is_bounded_in_lines() {
        let mut cart = Cart::default();
        for id in 1..=20 {
            assert!(cart.add(id, q(1)));
        }
        assert!(!cart.add(21, q(1)));
        assert_eq!(cart.lines().len(), 20);
    }
}
