//! A shopper's phone number, in the one form the shop stores and counts by: E.164
//! (`+8613800138000`). A Chinese shop's shoppers write their mobile number as they always do —
//! `138 0013 8000`, `138-0013-8000`, `+86 138 0013 8000`, `0086 13800138000`, in full-width
//! digits from a Chinese keyboard — and every way is the same shopper for the per-customer limit,
//! the waiting room and order lookups. A number from another country is written with `+` and its
//! country code.

/// A phone number in E.164 form: `+`, the country code, the national number; 15 digits at most.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// Why a phone number was refused (worded by [`super::Problem`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    Empty,
    TooLong,
    /// Letters or other signs than digits, spaces, dashes, dots, brackets and a leading `+`.
    NotANumber,
    /// Written without `+` and not a Chinese mobile number.
    NoCountryCode,
    /// `+86` followed by something other than an 11-digit mobile number.
    NotAChineseMobile,
    UnknownCountryCode,
    /// Too few or too many digits for the country.
    WrongLength,
}

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone, PhoneError> {
        let trimmed = raw.trim_matches(|c: char| c.is_whitespace());
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        if trimmed.chars().count() > 40 {
            return Err(PhoneError::TooLong);
        }
        let (plus, digits) = digits_of(trimmed)?;
        if plus {
            return international(&digits);
        }
        // 00 is the international prefix in China and most of the world
        if let Some(rest) = digits.strip_prefix("00") {
            return international(rest);
        }
        if is_chinese_mobile(&digits) {
            return Ok(Phone(format!("+86{digits}")));
        }
        // "86 138 0013 8000": the country code without its +
        if let Some(national) = digits.strip_prefix("86") {
            if is_chinese_mobile(national) {
                return Ok(Phone(format!("+86{national}")));
            }
        }
        Err(PhoneError::NoCountryCode)
    }

    /// E.164: what is stored, shown to the owner and counted by.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a number an order stored is this one.
    pub fn same_number(&self, stored: &str) -> bool {
        self.0 == Phone::key_of(stored)
    }

    /// What per-customer limits, holds and the waiting room count by: the E.164 form.
    pub fn key(&self) -> String {
        self.0.clone()
    }

    /// The key of a number as an order stored it. Orders store E.164; one stored before they
    /// did that cannot be placed in a country now (`5550102030`) is keyed `+` and its digits,
    /// as the migration to E.164 keyed it.
    pub fn key_of(stored: &str) -> String {
        Phone::parse(stored).map_or_else(
            |_| {
                let digits: String = stored.chars().filter(char::is_ascii_digit).collect();
                format!("+{digits}")
            },
            |p| p.0,
        )
    }
}

/// A stored number for people to read: a Chinese mobile number grouped as Chinese write it
/// (`+86 138 0013 8000`); others as stored.
pub fn pretty(stored: &str) -> String {
    match stored.strip_prefix("+86") {
        Some(national) if is_chinese_mobile(national) => format!(
            "+86 {} {} {}",
            &national[..3],
            &national[3..7],
            &national[7..]
        ),
        _ => stored.to_owned(),
    }
}

/// The digits of a number as typed, and whether it began with `+`. Full-width digits and signs
/// (a Chinese keyboard's) count as their ASCII twins; `(0)`, the trunk prefix some countries
/// write after the country code (`+44 (0)20 …`), is dropped.
fn digits_of(typed: &str) -> Result<(bool, String), PhoneError> {
    let ascii: String = typed
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_digit(u32::from(c) - u32::from('０'), 10).unwrap_or(c),
            '＋' => '+',
            '－' | '—' | '–' => '-',
            '（' => '(',
            '）' => ')',
            '．' => '.',
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect();
    let ascii = ascii.replace("(0)", "");
    let mut digits = String::with_capacity(16);
    let mut plus = false;
    for c in ascii.chars() {
        match c {
            '0'..='9' => digits.push(c),
            // before any digit: "+86 …", "(+86) …"
            '+' if digits.is_empty() && !plus => plus = true,
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(PhoneError::NotANumber),
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::NotANumber);
    }
    Ok((plus, digits))
}

/// `1[3-9]` and nine more digits: a mainland Chinese mobile number.
fn is_chinese_mobile(digits: &str) -> bool {
    let b = digits.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
}

/// A number after its `+` (or `00`): a country code, then a national number of a length that
/// country uses.
fn international(digits: &str) -> Result<Phone, PhoneError> {
    let code_len = country_code_length(digits).ok_or(PhoneError::UnknownCountryCode)?;
    let (code, national) = digits.split_at(code_len);
    let fits = match code {
        "86" => {
            if !is_chinese_mobile(national) {
                return Err(PhoneError::NotAChineseMobile);
            }
            true
        }
        // the US, Canada and the Caribbean; Hong Kong, Macau; Singapore
        "1" => national.len() == 10,
        "852" | "853" | "65" => national.len() == 8,
        _ => (4..=14).contains(&national.len()),
    };
    if !fits || digits.len() > 15 {
        return Err(PhoneError::WrongLength);
    }
    Ok(Phone(format!("+{digits}")))
}

/// The length of the country code `digits` starts with, if it starts with an assigned one (ITU-T
/// E.164; the codes are prefix-free, so at most one matches).
fn country_code_length(digits: &str) -> Option<usize> {
    const ONE: &[&str] = &["1", "7"];
    const TWO: &[&str] = &[
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    const THREE: &[&str] = &[
        "211", "212", "213", "216", "218", "220", "221", "222", "223", "224", "225", "226", "227",
        "228", "229", "230", "231", "232", "233", "234", "235", "236", "237", "238", "239", "240",
        "241", "242", "243", "244", "245", "246", "247", "248", "249", "250", "251", "252", "253",
        "254", "255", "256", "257", "258", "260", "261", "262", "263", "264", "265", "266", "267",
        "268", "269", "290", "291", "297", "298", "299", "350", "351", "352", "353", "354", "355",
        "356", "357", "358", "359", "370", "371", "372", "373", "374", "375", "376", "377", "378",
        "379", "380", "381", "382", "383", "385", "386", "387", "389", "420", "421", "423", "500",
        "501", "502", "503", "504", "505", "506", "507", "508", "509", "590", "591", "592", "593",
        "594", "595", "596", "597", "598", "599", "670", "672", "673", "674", "675", "676", "677",
        "678", "679", "680", "681", "682", "683", "685", "686", "687", "688", "689", "690", "691",
        "692", "800", "808", "850", "852", "853", "855", "856", "870", "878", "880", "881", "882",
        "883", "886", "888", "960", "961", "962", "963", "964", "965", "966", "967", "968", "970",
        "971", "972", "973", "974", "975", "976", "977", "979", "992", "993", "994", "995", "996",
        "998",
    ];
    [(1, ONE), (2, TWO), (3, THREE)]
        .into_iter()
        .find(|(len, codes)| digits.get(..*len).is_some_and(|p| codes.contains(&p)))
        .map(|(len, _)| len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(typed: &str) -> Result<String, PhoneError> {
        Phone::parse(typed).map(|p| p.0)
    }

    #[test]
    fn a_chinese_mobile_number_is_the_same_however_it_is_written() {
        for typed in [
            "13800138000",
            "138 0013 8000",
            "138-0013-8000",
            " 138 0013 8000 ",
            "+86 138 0013 8000",
            "+86-138-0013-8000",
            "+8613800138000",
            "(+86) 138 0013 8000",
            "0086 138 0013 8000",
            "008613800138000",
            "86 13800138000",
            "８６１３８００１３８０００",
            "＋８６　１３８　００１３　８０００",
            "138．0013．8000",
        ] {
            assert_eq!(e164(typed), Ok("+8613800138000".into()), "{typed}");
        }
        // every second digit from 3 to 9
        for second in 3..=9 {
            let typed = format!("1{second}912345678");
            assert_eq!(e164(&typed), Ok(format!("+86{typed}")));
        }
    }

    #[test]
    fn other_countries_need_the_plus_and_their_code() {
        let table = [
            ("+1 (555) 010-2030", "+15550102030"),
            ("+1 555 010 2030", "+15550102030"),
            ("001 555 010 2030", "+15550102030"),
            ("+852 9123 4567", "+85291234567"),
            ("+853 6612 3456", "+85366123456"),
            ("+886 912 345 678", "+886912345678"),
            ("+44 (0)7700 900123", "+447700900123"),
            ("+44 7700 900123", "+447700900123"),
            ("+49 30 901820", "+4930901820"),
            ("+65 9123 4567", "+6591234567"),
            ("+7 912 345-67-89", "+79123456789"),
            ("+683 4002", "+6834002"),
        ];
        for (typed, expected) in table {
            assert_eq!(e164(typed), Ok(expected.into()), "{typed}");
        }
    }

    #[test]
    fn numbers_that_are_not_a_shoppers_phone_are_refused_with_the_reason() {
        let table = [
            ("", PhoneError::Empty),
            ("   ", PhoneError::Empty),
            ("call me", PhoneError::NotANumber),
            ("138 0013 800O", PhoneError::NotANumber),
            ("12+3456789", PhoneError::NotANumber),
            ("+", PhoneError::NotANumber),
            // a Chinese number needs 11 digits starting 13–19
            ("1380013800", PhoneError::NoCountryCode),
            ("12800138000", PhoneError::NoCountryCode),
            ("555 010 2030", PhoneError::NoCountryCode),
            ("010 6552 9988", PhoneError::NoCountryCode),
            ("+86 10 6552 9988", PhoneError::NotAChineseMobile),
            ("+86 138 0013 800", PhoneError::NotAChineseMobile),
            ("+999 1234 5678", PhoneError::UnknownCountryCode),
            ("+0 1234 5678", PhoneError::UnknownCountryCode),
            ("+1 555 010 203", PhoneError::WrongLength),
            ("+852 9123 456", PhoneError::WrongLength),
            ("+44 123", PhoneError::WrongLength),
            ("+49 1234 5678 9012 345", PhoneError::WrongLength),
        ];
        for (typed, why) in table {
            assert_eq!(e164(typed), Err(why), "{typed}");
        }
        assert_eq!(e164(&"1".repeat(41)), Err(PhoneError::TooLong));
    }

    #[test]
    fn a_chinese_mobile_number_is_shown_in_groups() {
        assert_eq!(pretty("+8613800138000"), "+86 138 0013 8000");
        assert_eq!(pretty("+15550102030"), "+15550102030");
        assert_eq!(pretty("+86123"), "+86123");
    }

    #[test]
    fn a_stored_number_matches_the_same_number_typed_another_way() {
        let typed = Phone::parse("138 0013 8000").ok();
        assert_eq!(
            typed.as_ref().map(|p| p.same_number("+8613800138000")),
            Some(true)
        );
        assert_eq!(
            typed.as_ref().map(Phone::key),
            Some("+8613800138000".into())
        );
        // an order stored before numbers were kept in E.164
        assert_eq!(Phone::key_of("13800138000"), "+8613800138000");
        assert_eq!(Phone::key_of("5550102030"), "+5550102030");
        assert_eq!(typed.map(|p| p.same_number("+15550102030")), Some(false));
    }
}
