//! An instant as the shop keeps it: UTC, to the millisecond, ordered by value. It has one text
//! form, RFC 3339 with milliseconds and `Z` (`2026-12-24T01:00:00.000Z`), in which it is stored,
//! sent and logged; any RFC 3339 text (another offset, more or fewer decimals) parses into it.
//! Plain integer arithmetic, so the browser's bundle needs no time library for it.

use super::problem::Problem;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct At(i64);

const MS_PER_DAY: i64 = 86_400_000;

impl At {
    /// The earliest and latest instants the text form holds (years 0000 to 9999).
    const FIRST: i64 = -62_167_219_200_000;
    const LAST: i64 = 253_402_300_799_999;

    pub fn from_millis(ms: i64) -> At {
        At(ms.clamp(Self::FIRST, Self::LAST))
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (0 for an instant before it).
    pub fn unix_secs(self) -> u64 {
        u64::try_from(self.0.div_euclid(1000)).unwrap_or(0)
    }

    pub fn plus_secs(self, secs: i64) -> At {
        At::from_millis(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// Whole seconds from `self` until `later` (negative if it is past), rounded up: "1 s" means
    /// not yet.
    pub fn secs_until(self, later: At) -> i64 {
        let ms = later.0 - self.0;
        ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0)
    }

    /// RFC 3339: `2026-12-24T09:00:00Z`, `2026-12-24T09:00:00.5+08:00`, `…t…` or `… …` between
    /// date and time; decimals beyond the millisecond are dropped.
    pub fn parse(text: &str) -> Result<At, Problem> {
        parse(text.trim().as_bytes()).ok_or(Problem::NotATime)
    }
}

fn parse(b: &[u8]) -> Option<At> {
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(13, b':') && at(16, b':')) {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    // a leap second reads as the last millisecond of its minute
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut ms = 0;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                ms = ms * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        ms *= [100, 10, 1][digits.min(3) - 1];
    }
    let offset_minutes = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            (h * 60 + m) * if *sign == b'-' { -1 } else { 1 }
        }
        _ => return None,
    };
    let (second, ms) = if second == 60 {
        (59, 999)
    } else {
        (second, ms)
    };
    let local = days_from_civil(year, month, day) * MS_PER_DAY
        + ((hour * 60 + minute) * 60 + second) * 1000
        + ms;
    let utc = local - offset_minutes * 60_000;
    (At::FIRST..=At::LAST).contains(&utc).then_some(At(utc))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day counted from 1970-01-01: (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The one text form: `2026-12-24T01:00:00.000Z`.
impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, in_day) = (self.0.div_euclid(MS_PER_DAY), self.0.rem_euclid(MS_PER_DAY));
        let (year, month, day) = civil_from_days(days);
        let (secs, ms) = (in_day / 1000, in_day % 1000);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl fmt::Debug for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for At {
    type Err = Problem;
    fn from_str(text: &str) -> Result<At, Problem> {
        At::parse(text)
    }
}

impl Serialize for At {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<At, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        At::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "ssr")]
impl From<chrono::DateTime<chrono::Utc>> for At {
    fn from(at: chrono::DateTime<chrono::Utc>) -> At {
        At::from_millis(at.timestamp_millis())
    }
}

#[cfg(feature = "ssr")]
impl From<At> for chrono::DateTime<chrono::Utc> {
    fn from(at: At) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(at.0).unwrap_or_default()
    }
}

/// Stored as `timestamptz` on Postgres, and as its text form on SQLite (which has no time type:
/// TEXT columns compared as text, which the one form makes sort as time). Read back through
/// [`At::parse`] on SQLite, so a row that is not a time fails to read rather than being guessed.
#[cfg(feature = "ssr")]
mod stored {
    use super::At;
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
    use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
    use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

    type Utc = chrono::DateTime<chrono::Utc>;

    impl Type<Sqlite> for At {
        fn type_info() -> SqliteTypeInfo {
            <String as Type<Sqlite>>::type_info()
        }
        fn compatible(ty: &SqliteTypeInfo) -> bool {
            <String as Type<Sqlite>>::compatible(ty)
        }
    }

    impl<'r> Decode<'r, Sqlite> for At {
        fn decode(value: SqliteValueRef<'r>) -> Result<At, BoxDynError> {
            let text = <&str as Decode<'r, Sqlite>>::decode(value)?;
            Ok(At::parse(text)?)
        }
    }

    impl<'q> Encode<'q, Sqlite> for At {
        fn encode_by_ref(
            &self,
            buf: &mut Vec<SqliteArgumentValue<'q>>,
        ) -> Result<IsNull, BoxDynError> {
            <String as Encode<'q, Sqlite>>::encode(self.to_string(), buf)
        }
    }

    impl Type<Postgres> for At {
        fn type_info() -> PgTypeInfo {
            <Utc as Type<Postgres>>::type_info()
        }
        fn compatible(ty: &PgTypeInfo) -> bool {
            <Utc as Type<Postgres>>::compatible(ty)
        }
    }

    impl<'r> Decode<'r, Postgres> for At {
        fn decode(value: PgValueRef<'r>) -> Result<At, BoxDynError> {
            Ok(At::from(<Utc as Decode<'r, Postgres>>::decode(value)?))
        }
    }

    impl Encode<'_, Postgres> for At {
        fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
            <Utc as Encode<'_, Postgres>>::encode(Utc::from(*self), buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_reads_and_writes_its_one_text_form() {
        let at = At::parse("2026-12-24T01:00:00.000Z");
        let at = at.as_ref().ok().copied();
        assert_eq!(
            at.map(|a| a.to_string()).as_deref(),
            Some("2026-12-24T01:00:00.000Z")
        );
        for same in [
            "2026-12-24T09:00:00+08:00",
            "2026-12-24 01:00:00Z",
            "2026-12-24t01:00:00.0000z",
            "2026-12-23T20:00:00.000-05:00",
        ] {
            assert_eq!(At::parse(same).ok(), at, "{same}");
        }
        assert_eq!(
            At::parse("1969-12-31T23:59:59.999Z").map(At::millis),
            Ok(-1)
        );
        assert_eq!(
            At::parse("2024-02-29T12:00:00.5Z")
                .map(|a| a.to_string())
                .as_deref(),
            Ok("2024-02-29T12:00:00.500Z")
        );
    }

    #[test]
    fn what_is_not_a_time_is_refused() {
        for bad in [
            "",
            "2026-12-24",
            "2026-12-24T01:00:00",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-24T24:00:00Z",
            "2026-12-24T01:00:00.Z",
            "2026-12-24T01:00:00+8:00",
            "2026-12-24T01:00:00Z junk",
            "２０２６-12-24T01:00:00Z",
        ] {
            assert_eq!(At::parse(bad), Err(Problem::NotATime), "{bad:?}");
        }
    }

    #[test]
    fn instants_are_ordered_by_value_not_by_text() {
        // the same instant written two ways, and a later one whose text sorts first
        let a = At::parse("2026-12-24T09:00:00+08:00").ok();
        let b = At::parse("2026-12-24T01:00:00.000Z").ok();
        let later = At::parse("2026-12-24T02:00:00+00:30").ok();
        assert_eq!(a, b);
        assert!(later > b);
        assert!("2026-12-24T02:00:00+00:30" < "2026-12-24T09:00:00+08:00");
    }

    #[test]
    fn seconds_until_round_up() {
        let now = At::from_millis(10_000);
        assert_eq!(now.secs_until(At::from_millis(10_001)), 1);
        assert_eq!(now.secs_until(At::from_millis(11_000)), 1);
        assert_eq!(now.secs_until(At::from_millis(9_000)), -1);
        assert_eq!(now.secs_until(now.plus_secs(90)), 90);
        assert_eq!(At::from_millis(1_999).unix_secs(), 1);
        assert_eq!(At::from_millis(-1).unix_secs(), 0, "before the epoch");
    }

    #[test]
    fn it_travels_as_its_text() {
        let at = At::from_millis(1_798_074_000_123);
        let json = serde_json::to_string(&at).unwrap_or_default();
        assert_eq!(json, "\"2026-12-24T01:00:00.123Z\"");
        assert_eq!(serde_json::from_str::<At>(&json).ok(), Some(at));
        assert!(serde_json::from_str::<At>("\"tomorrow\"").is_err());
    }

    #[cfg(feature = "ssr")]
    mod against_chrono {
        use super::super::At;
        use chrono::{DateTime, SecondsFormat, Utc};
        use proptest::prelude::*;

        proptest! {
            /// Every instant from year 1 to 9999 is written as chrono writes it and read back
            /// as chrono reads it, in any offset.
            #[test]
            fn it_agrees_with_chrono(
                ms in -62_135_596_800_000i64..253_402_300_799_999,
                offset_min in -(23 * 60 + 59)..=(23 * 60 + 59i32),
            ) {
                let Some(utc) = DateTime::<Utc>::from_timestamp_millis(ms) else {
                    return Ok(());
                };
                let at = At::from_millis(ms);
                prop_assert_eq!(at.to_string(), utc.to_rfc3339_opts(SecondsFormat::Millis, true));
                let Some(zone) = chrono::FixedOffset::east_opt(offset_min * 60) else {
                    return Ok(());
                };
                let local = utc.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::Millis, false);
                // years before 1 or after 9999 in another offset do not fit four digits
                if let Ok(parsed) = At::parse(&local) {
                    prop_assert_eq!(parsed, at, "{}", local);
                } else {
                    prop_assert!(!(1..=9999).contains(&local[..4].parse::<i32>().unwrap_or(0)), "{}", local);
                }
            }
        }
    }
}
