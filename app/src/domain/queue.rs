//! The waiting room as the shopper and the JSON API see it.

use super::error::{FieldProblem, Invalid};
use super::phone::Phone;
use super::problem::Problem;
use super::quantity::Quantity;
use serde::{Deserialize, Serialize};

/// `POST /api/queue/join` as it arrived: untrusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinInput {
    pub product_id: i64,
    pub quantity: i64,
    pub phone: String,
}

/// A valid request for a place in line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    pub product_id: i64,
    pub quantity: Quantity,
    pub phone: Phone,
}

impl JoinRequest {
    pub fn parse(input: &JoinInput) -> Result<JoinRequest, Invalid> {
        let mut errors = Vec::new();
        if input.product_id < 1 {
            errors.push(FieldProblem::new("product_id", Problem::UnknownProduct));
        }
        let quantity = Quantity::parse(input.quantity)
            .map_err(|p| errors.push(FieldProblem::new("quantity", p)))
            .ok();
        let phone = Phone::parse(&input.phone)
            .map_err(|e| errors.push(FieldProblem::new("phone", e)))
            .ok();
        match (quantity, phone) {
            (Some(quantity), Some(phone)) if errors.is_empty() => Ok(JoinRequest {
                product_id: input.product_id,
                quantity,
                phone,
            }),
            _ => Err(Invalid(errors)),
        }
    }
}

/// Where a ticket stands. Serialises with a `state` tag, as `GET /api/queue/status` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum QueueState {
    /// In line. Before the sale starts nobody has a position yet (the line is drawn at random at
    /// the start), so `position` is absent and `eta_seconds` counts down to the start.
    Waiting {
        position: Option<u64>,
        /// The earliest the shopper can be admitted, in seconds.
        eta_seconds: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        starts_in_secs: Option<u64>,
    },
    /// Units are held for this shopper: check out with `hold_token` before `hold_expires_at`.
    Admitted {
        hold_token: String,
        /// RFC 3339, UTC.
        hold_expires_at: super::time::At,
        hold_seconds_left: u64,
    },
    /// Everything left is spoken for by people ahead in line.
    SoldOut,
    /// The hold ran out before checkout; its units went to the next in line.
    Expired,
    /// The shopper left the line (or gave up their hold).
    Left,
    /// The hold became this order.
    Ordered { order_code: String },
}

/// One ticket's standing, with what it is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// The opaque, signed ticket: keep it to ask again.
    pub ticket: String,
    pub product_id: i64,
    pub product_name: String,
    pub product_slug: String,
    pub quantity: u32,
    /// The owner has paused this sale: nobody is admitted meanwhile, places are kept.
    #[serde(default)]
    pub paused: bool,
    #[serde(flatten)]
    pub state: QueueState,
}

impl QueueStatus {
    /// Whether the page should keep asking.
    pub fn is_waiting(&self) -> bool {
        matches!(self.state, QueueState::Waiting { .. })
    }

    /// The live channel told a waiting ticket its place and estimate: from now it has a place
    /// (the line is drawn), whatever the page was drawn with.
    pub fn told_place(&mut self, position: u64, eta: u64) {
        if let QueueState::Waiting {
            position: shown,
            eta_seconds,
            starts_in_secs,
        } = &mut self.state
        {
            *shown = Some(position);
            *eta_seconds = eta;
            *starts_in_secs = None;
        }
    }

    /// How many seconds until a waiting page asks again (the island's poll and the no-JS page's
    /// refresh), from what the server told it: every 3 s near the head of the line, slower
    /// further back (a turn cannot come soon there, and 10,000 phones asking every 3 s would be
    /// 3,300 requests a second for nothing), up to 20 s; before the sale starts, half the time
    /// left (3–60 s); while paused, 10 s.
    pub fn ask_again_secs(&self) -> u32 {
        if self.paused {
            return 10;
        }
        match self.state {
            QueueState::Waiting {
                starts_in_secs: Some(secs),
                ..
            } => u32::try_from(secs / 2).unwrap_or(u32::MAX).clamp(3, 60),
            QueueState::Waiting {
                position: Some(position),
                ..
            } => u32::try_from(3 + position / 500)
                .unwrap_or(u32::MAX)
                .min(20),
            _ => 3,
        }
    }
}

/// When to ask again after `failures` failed asks in a row: the usual interval while all is
/// well; after a failure sooner at first (a blip), then doubling up to a minute, so a server
/// that is down or shedding is not hammered — and never giving up. `spread` (0–999, different
/// for each phone) adds up to a second so phones that failed together do not come back together.
pub fn ask_again_after(usual_secs: u32, failures: u32, spread: u32) -> std::time::Duration {
    let secs = match failures {
        0 => usual_secs,
        n => 2_u32.saturating_pow(n.min(6)).min(60),
    };
    std::time::Duration::from_millis(u64::from(secs) * 1000 + u64::from(spread % 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(position: Option<u64>, starts_in_secs: Option<u64>) -> QueueStatus {
        QueueStatus {
            ticket: "t1.x".into(),
            product_id: 1,
            product_name: "Hoodie".into(),
            product_slug: "hoodie".into(),
            quantity: 1,
            paused: false,
            state: QueueState::Waiting {
                position,
                eta_seconds: 0,
                starts_in_secs,
            },
        }
    }

    #[test]
    fn pages_further_back_in_line_ask_less_often() {
        assert_eq!(waiting(Some(1), None).ask_again_secs(), 3);
        assert_eq!(waiting(Some(1_000), None).ask_again_secs(), 5);
        assert_eq!(waiting(Some(1_000_000), None).ask_again_secs(), 20);
        assert_eq!(waiting(None, Some(3_600)).ask_again_secs(), 60);
        assert_eq!(waiting(None, Some(10)).ask_again_secs(), 5);
        assert_eq!(waiting(None, Some(1)).ask_again_secs(), 3);
        let mut paused = waiting(Some(1), None);
        paused.paused = true;
        assert_eq!(paused.ask_again_secs(), 10);
    }

    #[test]
    fn failed_asks_back_off_to_a_minute_and_never_stop() {
        use std::time::Duration;
        assert_eq!(ask_again_after(3, 0, 0), Duration::from_secs(3));
        assert_eq!(ask_again_after(3, 1, 250), Duration::from_millis(2_250));
        assert_eq!(ask_again_after(3, 3, 0), Duration::from_secs(8));
        assert_eq!(ask_again_after(3, 6, 0), Duration::from_secs(60));
        assert_eq!(
            ask_again_after(3, 1_000, 999),
            Duration::from_millis(60_999)
        );
    }

    #[test]
    fn a_status_serialises_flat_with_its_state() {
        let status = QueueStatus {
            ticket: "t".into(),
            product_id: 1,
            product_name: "Hoodie".into(),
            product_slug: "hoodie".into(),
            quantity: 2,
            paused: false,
            state: QueueState::Waiting {
                position: Some(4),
                eta_seconds: 30,
                starts_in_secs: None,
            },
        };
        let json = serde_json::to_value(&status).unwrap_or_default();
        assert_eq!(json["state"], "waiting");
        assert_eq!(json["position"], 4);
        assert_eq!(json["eta_seconds"], 30);
        let back: Result<QueueStatus, _> = serde_json::from_value(json);
        assert_eq!(back.ok(), Some(status));
        let sold_out = serde_json::to_value(QueueState::SoldOut).unwrap_or_default();
        assert_eq!(sold_out["state"], "sold_out");
    }

    #[test]
    fn a_join_request_reports_every_bad_field() {
        let bad = JoinRequest::parse(&JoinInput {
            product_id: 0,
            quantity: 0,
            phone: "x".into(),
        });
        let Err(Invalid(fields)) = bad else {
            panic!("expected invalid input, got {bad:?}");
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["product_id", "quantity", "phone"]);
        let ok = JoinRequest::parse(&JoinInput {
            product_id: 3,
            quantity: 2,
            phone: "+1 555 010 2030".into(),
        });
        assert_eq!(ok.map(|r| r.phone.key()), Ok("+15550102030".to_owned()));
    }
}
