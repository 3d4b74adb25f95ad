//! The shop's time zone: times are typed and shown in it; the shop keeps them as
//! [`crate::domain::At`] (UTC). Countdowns count seconds and never need it.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::domain::{At, Problem};

/// A time zone the owner may choose: a real IANA name (`Asia/Shanghai`, `Europe/Berlin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShopZone(Tz);

/// Zones offered first in the owner's list; any IANA name is accepted.
pub const COMMON_ZONES: [&str; 8] = [
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
];

impl ShopZone {
    pub fn parse(name: &str) -> Result<ShopZone, Problem> {
        let name = name.trim();
        name.parse::<Tz>()
            .map(ShopZone)
            .map_err(|_| Problem::NotAZone {
                typed: name.chars().take(60).collect(),
            })
    }

    /// The zone of a stored name; a name that is not one (it cannot be stored, but still) reads
    /// as the default, China's.
    pub fn of_setting(name: &str) -> ShopZone {
        ShopZone::parse(name).unwrap_or(ShopZone(chrono_tz::Asia::Shanghai))
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// An instant as the shop's clock reads it, `2026-12-24 09:00`.
    pub fn show(self, at: At) -> String {
        self.local(at).format("%Y-%m-%d %H:%M").to_string()
    }

    /// An instant to the second, as the shop's clock reads it: `2026-12-24 09:00:05` (the
    /// control room's "updated at").
    pub fn show_seconds(self, at: At) -> String {
        self.local(at).format("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// An instant as a `datetime-local` input's value, `2026-12-24T09:00`.
    pub fn input_value(self, at: At) -> String {
        self.local(at).format("%Y-%m-%dT%H:%M").to_string()
    }

    fn local(self, at: At) -> DateTime<Tz> {
        DateTime::<Utc>::from(at).with_timezone(&self.0)
    }

    /// A time as the owner types it in the shop's zone (`2026-12-24T09:00`, with seconds, or a
    /// space) → the stored UTC stamp `2026-12-24T01:00:00.000Z`. A time the clocks skip (the
    /// spring change) is refused; a time they pass twice (the autumn change) is the first.
    pub fn to_utc(self, typed: &str) -> Result<At, Problem> {
        let t = typed.trim().replace(' ', "T");
        let naive = NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S"))
            .map_err(|_| Problem::NotATime)?;
        let at = match self.0.from_local_datetime(&naive) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at,
            LocalResult::None => {
                return Err(Problem::SkippedTime {
                    time: naive.format("%Y-%m-%d %H:%M").to_string(),
                    zone: self.name().to_owned(),
                })
            }
        };
        Ok(At::from(at.with_timezone(&Utc)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> At {
        At::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn sale_times_are_typed_in_the_shops_zone_and_stored_in_utc() {
        let shanghai = ShopZone::of_setting("Asia/Shanghai");
        assert_eq!(
            shanghai
                .to_utc("2026-12-24T09:00")
                .map(|a| a.to_string())
                .as_deref(),
            Ok("2026-12-24T01:00:00.000Z")
        );
        assert_eq!(
            shanghai
                .to_utc("2026-12-24 00:30:15")
                .map(|a| a.to_string())
                .as_deref(),
            Ok("2026-12-23T16:30:15.000Z")
        );
        let utc = ShopZone::of_setting("UTC");
        assert_eq!(
            utc.to_utc("2026-12-24T09:00")
                .map(|a| a.to_string())
                .as_deref(),
            Ok("2026-12-24T09:00:00.000Z")
        );
        let new_york = ShopZone::of_setting("America/New_York");
        assert_eq!(
            new_york
                .to_utc("2026-07-04T12:00")
                .map(|a| a.to_string())
                .as_deref(),
            Ok("2026-07-04T16:00:00.000Z")
        );
        assert_eq!(shanghai.to_utc("24/12/2026 9am"), Err(Problem::NotATime));
        assert_eq!(shanghai.to_utc("2026-02-30T09:00"), Err(Problem::NotATime));
    }

    #[test]
    fn stored_times_are_shown_on_the_shops_clock_and_read_back_the_same() {
        let shanghai = ShopZone::of_setting("Asia/Shanghai");
        assert_eq!(
            shanghai.show(at("2026-12-23T16:30:00.000Z")),
            "2026-12-24 00:30"
        );
        assert_eq!(
            shanghai.input_value(at("2026-12-23T16:30:00.000Z")),
            "2026-12-24T00:30"
        );
        let berlin = ShopZone::of_setting("Europe/Berlin");
        for stamp in ["2026-01-15T08:00:00.000Z", "2026-07-15T08:00:00.000Z"] {
            assert_eq!(berlin.to_utc(&berlin.input_value(at(stamp))), Ok(at(stamp)));
        }
        assert_eq!(
            berlin.show(at("2026-07-15T08:00:00.000Z")),
            "2026-07-15 10:00"
        );
        assert_eq!(
            berlin.show(at("2026-01-15T08:00:00.000Z")),
            "2026-01-15 09:00"
        );
        assert_eq!(
            shanghai.show_seconds(at("2026-12-06T06:47:34.909Z")),
            "2026-12-06 14:47:34"
        );
    }

    #[test]
    fn the_clock_changes_are_handled_not_guessed() {
        let berlin = ShopZone::of_setting("Europe/Berlin");
        // 2026-03-29 02:30 does not exist in Berlin: the clocks go from 02:00 to 03:00
        assert!(matches!(
            berlin.to_utc("2026-03-29T02:30"),
            Err(Problem::SkippedTime { .. })
        ));
        // 2026-10-25 02:30 happens twice: the first (summer time, UTC+2) is taken
        assert_eq!(
            berlin
                .to_utc("2026-10-25T02:30")
                .map(|a| a.to_string())
                .as_deref(),
            Ok("2026-10-25T00:30:00.000Z")
        );
    }

    #[test]
    fn only_real_zone_names_are_taken() {
        assert!(ShopZone::parse(" Asia/Shanghai ").is_ok());
        for name in COMMON_ZONES {
            assert_eq!(ShopZone::parse(name).map(ShopZone::name), Ok(name));
        }
        for bad in [
            "",
            "Beijing",
            "UTC+8",
            "Asia/Shanghai<script>",
            "../etc/passwd",
        ] {
            assert!(ShopZone::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ShopZone::of_setting("nonsense").name(), "Asia/Shanghai");
    }
}
