//! Protobuf's JSON mapping (proto3 JSON, Go's jsonpb) for scalar fields, shared by the
//! JSON codecs built on protobuf messages ([`crate::otlp_json`], [`crate::kafka`]).
//!
//! Reading is as lenient as protobuf JSON parsers are; writing follows the canonical form:
//! * integers: JSON numbers (exactly integral floats such as `1e3` included) or decimal
//!   strings; 64-bit ones are written as strings (JavaScript numbers lose precision past
//!   2^53), 32-bit ones as numbers;
//! * doubles: numbers, quoted numbers, or `"NaN"` / `"Infinity"` / `"-Infinity"`;
//! * bytes: base64, standard or URL-safe alphabet, padded or not; written standard, padded;
//! * enums: numbers or their protobuf names; written as numbers (callers wanting names
//!   write them themselves).
//!
//! Every reader maps `null` to the default, as protobuf does for any field. All of them read
//! with `deserialize_any`, so they suit self-describing formats (JSON) only.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// An integer field. `T` is `u32`, `u64` or `i64`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Int<T>(pub T);

pub(crate) trait JsonInt:
    Copy + Default + FromStr + TryFrom<u64> + TryFrom<i64> + fmt::Display + Serialize
{
    /// Whether protobuf JSON writes it as a string (the 64-bit types).
    const QUOTED: bool;
}
impl JsonInt for u32 {
    const QUOTED: bool = false;
}
impl JsonInt for u64 {
    const QUOTED: bool = true;
}
impl JsonInt for i64 {
    const QUOTED: bool = true;
}

impl<T: JsonInt> Serialize for Int<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if T::QUOTED {
            s.collect_str(&self.0)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de, T: JsonInt> Deserialize<'de> for Int<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        fn out_of_range<E: de::Error>(v: impl fmt::Display) -> E {
            E::custom(format_args!("integer {v} out of range"))
        }
        impl<T: JsonInt> Visitor<'_> for V<T> {
            type Value = Int<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a decimal string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::try_from(v).map(Int).map_err(|_| out_of_range(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::try_from(v).map(Int).map_err(|_| out_of_range(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // `1e9` is an integer in protobuf JSON's eyes; take any exactly-integral value.
                const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
                if v.fract() != 0.0 || !v.is_finite() {
                    return Err(E::custom(format_args!("{v} is not an integer")));
                }
                if (0.0..TWO_POW_64).contains(&v) {
                    self.visit_u64(v as u64)
                } else if v >= i64::MIN as f64 && v < 0.0 {
                    self.visit_i64(v as i64)
                } else {
                    Err(out_of_range(v))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse::<T>()
                    .map(Int)
                    .map_err(|_| E::custom(format_args!("invalid integer {:?}", clip(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Int::default())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A double field.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Double(pub f64);

/// Protobuf JSON's spelling of a non-finite double, `None` for a finite one.
pub(crate) fn non_finite_name(d: f64) -> Option<&'static str> {
    if d.is_nan() {
        Some("NaN")
    } else if d == f64::INFINITY {
        Some("Infinity")
    } else if d == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

impl Serialize for Double {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match non_finite_name(self.0) {
            Some(name) => s.serialize_str(name),
            None => s.serialize_f64(self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Double {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Double;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Double, E> {
                Ok(Double(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Double, E> {
                Ok(Double(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Double, E> {
                Ok(Double(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Double, E> {
                let invalid = || E::custom(format_args!("invalid number {:?}", clip(v)));
                match v {
                    "NaN" => Ok(Double(f64::NAN)),
                    "Infinity" => Ok(Double(f64::INFINITY)),
                    "-Infinity" => Ok(Double(f64::NEG_INFINITY)),
                    // A quoted number. Rust's parser also takes "inf"/"nan" spellings
                    // protobuf does not; only plain decimal text is let through.
                    _ if v
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
                    {
                        v.parse().map(Double).map_err(|_| invalid())
                    }
                    _ => Err(invalid()),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Double, E> {
                Ok(Double::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// A bytes field, as base64.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Base64(pub Vec<u8>);

impl Serialize for Base64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_str(d, "base64", |s| decode_base64(s).map(Base64))
    }
}

/// Standard or URL-safe alphabet, padded or not (protobuf's JSON mapping allows all four).
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
    const URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
    // The alphabets differ only in `+/` vs `-_`, so one attempt suffices: text with
    // neither decodes the same under both.
    if s.contains(['-', '_']) {
        URL.decode(s).ok()
    } else {
        STD.decode(s).ok()
    }
}

/// The names of one protobuf enum.
pub(crate) trait EnumNames {
    /// What the enum is, for error messages ("span kind").
    const WHAT: &'static str;
    /// The number of a value's protobuf name (`SPAN_KIND_SERVER`), case-sensitive.
    fn from_name(name: &str) -> Option<i32>;
}

/// An enum field, read as a number or a name. An unknown number is kept: the mapping into
/// the model decides what it means.
pub(crate) struct Enum<N> {
    pub value: i32,
    names: PhantomData<N>,
}

impl<N> Enum<N> {
    pub(crate) fn new(value: i32) -> Self {
        Enum {
            value,
            names: PhantomData,
        }
    }
}

// By hand: derives would demand the same traits of the marker `N`.
impl<N> Default for Enum<N> {
    fn default() -> Self {
        Enum::new(0)
    }
}

impl<N> PartialEq for Enum<N> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<N> Serialize for Enum<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.value)
    }
}

impl<'de, N: EnumNames> Deserialize<'de> for Enum<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<N>(PhantomData<N>);
        fn out_of_range<N: EnumNames, E: de::Error>(v: impl fmt::Display) -> E {
            E::custom(format_args!("{} {v} out of range", N::WHAT))
        }
        impl<N: EnumNames> Visitor<'_> for V<N> {
            type Value = Enum<N>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a {} name or number", N::WHAT)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i32::try_from(v)
                    .map(Enum::new)
                    .map_err(|_| out_of_range::<N, E>(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                i32::try_from(v)
                    .map(Enum::new)
                    .map_err(|_| out_of_range::<N, E>(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                N::from_name(v)
                    .map(Enum::new)
                    .ok_or_else(|| E::custom(format_args!("unknown {} {:?}", N::WHAT, clip(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Enum::default())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Reads a scalar written as a JSON string (bytes, IDs, times), parsed by `parse`;
/// `null` is the default. `what` names it in errors: "invalid {what} \"…\"".
pub(crate) fn deserialize_str<'de, D, T, F>(
    d: D,
    what: &'static str,
    parse: F,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default,
    F: FnOnce(&str) -> Option<T>,
{
    struct V<T, F> {
        what: &'static str,
        parse: F,
        out: PhantomData<T>,
    }
    impl<T: Default, F: FnOnce(&str) -> Option<T>> Visitor<'_> for V<T, F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a {} string", self.what)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v)
                .ok_or_else(|| E::custom(format_args!("invalid {} {:?}", self.what, clip(v))))
        }
        fn visit_unit<E: de::Error>(self) -> Result<T, E> {
            Ok(T::default())
        }
    }
    d.deserialize_any(V {
        what,
        parse,
        out: PhantomData,
    })
}

/// At most the first 64 characters of `s`: error messages quote only a short prefix of
/// hostile input.
pub(crate) fn clip(s: &str) -> &str {
    s.char_indices().nth(64).map_or(s, |(end, _)| &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_accepts_all_four_spellings() {
        for s in ["+/8=", "+/8", "-_8=", "-_8"] {
            assert_eq!(decode_base64(s), Some(vec![0xfb, 0xff]), "{s}");
        }
        assert_eq!(decode_base64("AQID"), Some(vec![1, 2, 3]));
        assert_eq!(decode_base64(""), Some(vec![]));
        assert_eq!(decode_base64("a"), None);
        assert_eq!(decode_base64("+_8="), None, "mixed alphabets");
        assert_eq!(decode_base64("!!"), None);
    }

    #[test]
    fn integers_take_numbers_strings_and_integral_floats() {
        let parse = |s: &str| serde_json::from_str::<Int<u64>>(s).map(|i| i.0).ok();
        assert_eq!(parse("12"), Some(12));
        assert_eq!(parse("\"12\""), Some(12));
        assert_eq!(parse("1e3"), Some(1000));
        assert_eq!(parse("null"), Some(0));
        assert_eq!(parse("1.5"), None);
        assert_eq!(parse("-1"), None);
        assert_eq!(parse("1e20"), None);
        assert_eq!(parse("\"\""), None);
        assert_eq!(parse("\"12x\""), None);
        let parse32 = |s: &str| serde_json::from_str::<Int<u32>>(s).map(|i| i.0).ok();
        assert_eq!(parse32("4294967296"), None);
        assert_eq!(parse32("\"7\""), Some(7));
        let parse64 = |s: &str| serde_json::from_str::<Int<i64>>(s).map(|i| i.0).ok();
        assert_eq!(parse64("-1e3"), Some(-1000));
        assert_eq!(parse64("\"-9223372036854775808\""), Some(i64::MIN));
        assert_eq!(parse64("9223372036854775808"), None);
        assert_eq!(serde_json::to_string(&Int(7u32)).unwrap(), "7");
        assert_eq!(serde_json::to_string(&Int(-7i64)).unwrap(), "\"-7\"");
        assert_eq!(serde_json::to_string(&Int(7u64)).unwrap(), "\"7\"");
    }

    #[test]
    fn doubles_take_numbers_quoted_numbers_and_protobuf_names() {
        let parse = |s: &str| serde_json::from_str::<Double>(s).map(|d| d.0).ok();
        assert_eq!(parse("0.25"), Some(0.25));
        assert_eq!(parse("\"0.25\""), Some(0.25));
        assert_eq!(parse("-3"), Some(-3.0));
        assert_eq!(parse("\"Infinity\""), Some(f64::INFINITY));
        assert_eq!(parse("\"-Infinity\""), Some(f64::NEG_INFINITY));
        assert!(parse("\"NaN\"").is_some_and(f64::is_nan));
        for bad in [
            "\"inf\"",
            "\"nan\"",
            "\"infinity\"",
            "\"1x\"",
            "\"\"",
            "true",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        for (d, json) in [
            (f64::NAN, "\"NaN\""),
            (f64::INFINITY, "\"Infinity\""),
            (f64::NEG_INFINITY, "\"-Infinity\""),
            (72.5, "72.5"),
        ] {
            assert_eq!(serde_json::to_string(&Double(d)).unwrap(), json);
        }
    }

    struct Colors;
    impl EnumNames for Colors {
        const WHAT: &'static str = "color";
        fn from_name(name: &str) -> Option<i32> {
            ["RED", "GREEN"]
                .iter()
                .position(|n| *n == name)
                .map(|i| i as i32)
        }
    }

    #[test]
    fn enums_take_numbers_and_names() {
        let parse = |s: &str| serde_json::from_str::<Enum<Colors>>(s).map(|e| e.value);
        assert_eq!(parse("\"GREEN\"").ok(), Some(1));
        assert_eq!(parse("99").ok(), Some(99), "unknown numbers pass");
        assert_eq!(parse("null").ok(), Some(0));
        assert!(parse("\"green\"")
            .unwrap_err()
            .to_string()
            .contains("color"));
        assert!(parse("2147483648").is_err());
    }

    #[test]
    fn clip_keeps_a_char_prefix() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(100);
        assert_eq!(clip(&long).chars().count(), 64);
    }
}
