//! Go's duration text (`time.ParseDuration` / `Duration.String`), the one parser for every
//! duration Sextant reads: query parameters (`minDuration`), Jaeger JSON messages, and every
//! flag (`--es.timeout=2s`), since Jaeger's are Go durations. A signed sequence of decimal
//! numbers, each with an optional fraction and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`),
//! e.g. `1.5h`, `300ms`, `-1h30m`. Error messages are Go's, since they reach the user in the
//! API's `errors`.

use std::time::Duration;

const MAX: u64 = 1 << 63;

/// A flag's duration: Go's syntax, plus `d` for days (`--embedded.retention=7d`), never
/// negative. Surrounding whitespace is ignored.
pub fn parse_flag(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    // Days are whole-day terms in front (`7d`, `1d12h`): Go has no such unit.
    let (days, rest) = match text.find('d') {
        Some(i) => {
            let days: u64 = text[..i]
                .parse()
                .map_err(|_| format!("time: invalid duration {text:?}"))?;
            (days, &text[i + 1..])
        }
        None => (0, text),
    };
    let rest_ns = if rest.is_empty() {
        if days == 0 {
            return Err(format!("time: invalid duration {text:?}"));
        }
        0
    } else {
        parse_go_duration_inner(rest, text)?
    };
    if rest_ns < 0 {
        return Err(format!("duration {text:?} is negative"));
    }
    Ok(Duration::from_secs(days.saturating_mul(86_400))
        .saturating_add(Duration::from_nanos(rest_ns as u64)))
}

/// Nanoseconds, possibly negative, as Go's `time.Duration`.
pub fn parse_go_duration(orig: &str) -> Result<i64, String> {
    parse_go_duration_inner(orig, orig)
}

/// Parses `orig`, naming `shown` in errors.
fn parse_go_duration_inner(orig: &str, shown: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {shown:?}");
    let (neg, mut s) = match orig.as_bytes().first() {
        Some(b'-') => (true, orig.get(1..).unwrap_or("")),
        Some(b'+') => (false, orig.get(1..).unwrap_or("")),
        _ => (false, orig),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let first = s.as_bytes().first().copied().unwrap_or(0);
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }
        let (int_part, rest, had_int) = leading_int(s).ok_or_else(invalid)?;
        s = rest;
        let (mut frac, mut scale, mut had_frac) = (0u64, 1.0f64, false);
        if let Some(after_dot) = s.strip_prefix('.') {
            let (f, sc, rest) = leading_fraction(after_dot);
            had_frac = rest.len() != after_dot.len();
            frac = f;
            scale = sc;
            s = rest;
        }
        if !had_int && !had_frac {
            return Err(invalid());
        }
        let unit_len = s
            .bytes()
            .position(|c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {shown:?}"));
        }
        let unit_text = s.get(..unit_len).ok_or_else(invalid)?;
        s = s.get(unit_len..).ok_or_else(invalid)?;
        let unit = unit_nanos(unit_text)
            .ok_or_else(|| format!("time: unknown unit {unit_text:?} in duration {shown:?}"))?;
        if int_part > MAX / unit {
            return Err(invalid());
        }
        let mut v = int_part * unit;
        if frac > 0 {
            // Go computes the fractional part in floating point, truncating.
            v = v.saturating_add((frac as f64 * (unit as f64 / scale)) as u64);
            if v > MAX {
                return Err(invalid());
            }
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > MAX {
            return Err(invalid());
        }
    }
    if neg {
        // total ≤ 2^63, so the negation fits (−2^63 is i64::MIN).
        return Ok(if total == MAX {
            i64::MIN
        } else {
            -(total as i64)
        });
    }
    i64::try_from(total).map_err(|_| invalid())
}

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Consumes `[0-9]*`; `None` on overflow past 2^63. Returns (value, rest, consumed any).
fn leading_int(s: &str) -> Option<(u64, &str, bool)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut x: u64 = 0;
    for c in s.bytes().take(digits) {
        if x > MAX / 10 {
            return None;
        }
        x = x * 10 + u64::from(c - b'0');
        if x > MAX {
            return None;
        }
    }
    Some((x, s.get(digits..).unwrap_or(""), digits > 0))
}

/// Consumes `[0-9]*` after a decimal point; digits past the precision are skipped.
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (mut x, mut scale, mut overflow) = (0u64, 1.0f64, false);
    for c in s.bytes().take(digits) {
        if overflow {
            continue;
        }
        if x > (MAX - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(c - b'0');
        if y > MAX {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, s.get(digits..).unwrap_or(""))
}

/// Go's `time.Duration.String()`: `0s`, `800ns`, `1.5µs`, `35ms`, `-45ms`, `1.5s`, `1m0s`,
/// `2h3m4.5s`. Jaeger's adjuster warnings print durations this way.
pub fn format_go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let body = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", decimal(u, 1_000))
    } else if u < 1_000_000_000 {
        format!("{}ms", decimal(u, 1_000_000))
    } else {
        let hours = u / 3_600_000_000_000;
        let minutes = (u / 60_000_000_000) % 60;
        let secs = decimal(u % 60_000_000_000, 1_000_000_000);
        match (hours, minutes) {
            (0, 0) => format!("{secs}s"),
            (0, m) => format!("{m}m{secs}s"),
            (h, m) => format!("{h}h{m}m{secs}s"),
        }
    };
    format!("{sign}{body}")
}

/// `v / unit` with its fraction, trailing zeros dropped (`1500, 1000` → `1.5`).
fn decimal(v: u64, unit: u64) -> String {
    let (int, frac) = (v / unit, v % unit);
    if frac == 0 {
        return int.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;
    const S: i64 = 1_000_000_000;

    #[test]
    fn flags_take_go_durations_and_days() {
        assert_eq!(parse_flag("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_flag(" 1m30s "), Ok(Duration::from_secs(90)));
        assert_eq!(parse_flag("0"), Ok(Duration::ZERO));
        assert_eq!(parse_flag("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_flag("1d12h"), Ok(Duration::from_secs(36 * 3_600)));
        for bad in ["", "10", "-1s", "d", "xd", "1d-1h", "5 s"] {
            assert!(parse_flag(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_go_forms() {
        for (text, want) in [
            ("0", 0),
            ("-0", 0),
            ("1.2s", 1_200 * MS),
            ("100ms", 100 * MS),
            ("500us", 500_000),
            ("500µs", 500_000),
            ("500μs", 500_000),
            ("7ns", 7),
            ("1m", 60 * S),
            ("1h30m", 5_400 * S),
            ("-1.5h", -5_400 * S),
            ("+2s", 2 * S),
            (".5s", 500 * MS),
            ("1.s", S),
            ("1.0000000001s", S),
            ("2562047h47m16.854775807s", i64::MAX),
            ("-2562047h47m16.854775808s", i64::MIN),
        ] {
            assert_eq!(parse_go_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_with_go_messages() {
        assert_eq!(
            parse_go_duration("abc"),
            Err("time: invalid duration \"abc\"".into())
        );
        assert_eq!(
            parse_go_duration(""),
            Err("time: invalid duration \"\"".into())
        );
        assert_eq!(
            parse_go_duration("10"),
            Err("time: missing unit in duration \"10\"".into())
        );
        assert_eq!(
            parse_go_duration("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".into())
        );
        for bad in [
            ".s",
            "-",
            "1s2",
            "2562047h47m16.854775808s",
            "9999999999999999999h",
            "99999999999999999999999ns",
            "1é",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_like_go() {
        for (ns, text) in [
            (0, "0s"),
            (800, "800ns"),
            (1_500, "1.5µs"),
            (35_000_000, "35ms"),
            (-45_000_000, "-45ms"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (7_384_500_000_000, "2h3m4.5s"),
        ] {
            assert_eq!(format_go_duration(ns), text);
        }
    }
}
