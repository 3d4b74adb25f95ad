//! The states a place in line and a hold go through, as Rust enums. The databases keep them as
//! the text columns of migrations `0002_sales_and_queue.sql` (whose CHECK lists these words).

use std::fmt;

/// A shopper's place in a waiting line.
///
/// `Waiting` → `Admitted` (a hold is granted) → `Ordered` (the hold became an order), or it ends
/// as `Expired` (the hold ran out), `Left` (the shopper left, or can no longer be served within
/// their allowance) or `SoldOut` (nothing left that can reach their place).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketState {
    Waiting,
    Admitted,
    SoldOut,
    Expired,
    Left,
    Ordered,
}

/// Units taken out of stock for one admitted shopper, for a while.
///
/// `Live` → `Used` (it became an order), `Expired` (ran out) or `Released` (the shopper left); an
/// expired or released hold's units go back to stock exactly once, by leaving `Live`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldState {
    Live,
    Used,
    Expired,
    Released,
}

impl TicketState {
    pub const ALL: [TicketState; 6] = [
        TicketState::Waiting,
        TicketState::Admitted,
        TicketState::SoldOut,
        TicketState::Expired,
        TicketState::Left,
        TicketState::Ordered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Waiting => "waiting",
            TicketState::Admitted => "admitted",
            TicketState::SoldOut => "sold_out",
            TicketState::Expired => "expired",
            TicketState::Left => "left",
            TicketState::Ordered => "ordered",
        }
    }

    pub fn parse(text: &str) -> Option<TicketState> {
        TicketState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Still in line: waiting, or admitted and holding units (one such ticket per phone and
    /// product).
    pub fn in_line(self) -> bool {
        matches!(self, TicketState::Waiting | TicketState::Admitted)
    }
}

impl HoldState {
    pub const ALL: [HoldState; 4] = [
        HoldState::Live,
        HoldState::Used,
        HoldState::Expired,
        HoldState::Released,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HoldState::Live => "live",
            HoldState::Used => "used",
            HoldState::Expired => "expired",
            HoldState::Released => "released",
        }
    }

    pub fn parse(text: &str) -> Option<HoldState> {
        HoldState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for HoldState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_text_and_nothing_else_does() {
        for s in TicketState::ALL {
            assert_eq!(TicketState::parse(s.as_str()), Some(s));
        }
        for s in HoldState::ALL {
            assert_eq!(HoldState::parse(s.as_str()), Some(s));
        }
        assert_eq!(TicketState::parse("Waiting"), None);
        assert_eq!(HoldState::parse(""), None);
    }

    #[test]
    fn the_states_are_the_words_the_migrations_allow() {
        for backend in ["sqlite", "postgres"] {
            let path = format!(
                "{}/../migrations/{backend}/0002_sales_and_queue.sql",
                env!("CARGO_MANIFEST_DIR")
            );
            let sql = std::fs::read_to_string(&path).unwrap_or_default();
            let ticket_check = TicketState::ALL.map(|s| format!("'{s}'")).join(", ");
            let hold_check = HoldState::ALL.map(|s| format!("'{s}'")).join(", ");
            assert!(
                sql.contains(&format!("state IN ({ticket_check})")),
                "{path} allows other ticket states than {ticket_check}"
            );
            assert!(
                sql.contains(&format!("state IN ({hold_check})")),
                "{path} allows other hold states than {hold_check}"
            );
        }
    }
}
