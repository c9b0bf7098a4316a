//! Index names: Jaeger's daily indices (`[PREFIX-]jaeger-span-2024-01-31`) and the
//! read/write aliases of the rollover layout, and the list of daily indices a time range
//! touches (so that a search reads only those). The archive's names (`[PREFIX-]jaeger-span-archive`,
//! or its `-read`/`-write` aliases) come from the same type in archive mode.

use time::OffsetDateTime;

/// The kinds of Jaeger index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKind {
    Span,
    Service,
    Dependencies,
}

impl IndexKind {
    pub fn base(self) -> &'static str {
        match self {
            IndexKind::Span => "jaeger-span",
            IndexKind::Service => "jaeger-service",
            IndexKind::Dependencies => "jaeger-dependencies",
        }
    }
}

/// How index names are formed.
#[derive(Clone, Debug)]
pub struct IndexNames {
    /// Empty, or the prefix followed by `-`.
    prefix: String,
    date_separator: String,
    use_aliases: bool,
    /// Jaeger's archive layout: one undated index per kind (`jaeger-span-archive`), or the
    /// rollover indices behind `jaeger-span-archive-read`/`-write`.
    archive: bool,
}

const DAY_NANOS: u64 = 86_400 * 1_000_000_000;

/// A search over more days than this reads the wildcard pattern instead of listing names
/// (a URL listing thousands of indices is longer than a cluster accepts).
const MAX_LISTED_DAYS: u64 = 100;

impl IndexNames {
    pub fn new(prefix: &str, date_separator: &str, use_aliases: bool) -> Self {
        let prefix = if prefix.is_empty() || prefix.ends_with('-') {
            prefix.to_string()
        } else {
            format!("{prefix}-")
        };
        IndexNames {
            prefix,
            date_separator: date_separator.to_string(),
            use_aliases,
            archive: false,
        }
    }

    /// The archive's names (Jaeger's `…-archive` indices) under the same prefix.
    pub fn archive(prefix: &str, use_aliases: bool) -> Self {
        IndexNames {
            archive: true,
            ..IndexNames::new(prefix, "-", use_aliases)
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn is_archive(&self) -> bool {
        self.archive
    }

    pub fn uses_aliases(&self) -> bool {
        self.use_aliases
    }

    /// `PREFIX-jaeger-span` (`PREFIX-jaeger-span-archive` for the archive).
    pub fn base(&self, kind: IndexKind) -> String {
        if self.archive {
            format!("{}{}-archive", self.prefix, kind.base())
        } else {
            format!("{}{}", self.prefix, kind.base())
        }
    }

    /// The pattern every index of the kind matches (templates, cleaner).
    pub fn pattern(&self, kind: IndexKind) -> String {
        format!("{}-*", self.base(kind))
    }

    pub fn read_alias(&self, kind: IndexKind) -> String {
        format!("{}-read", self.base(kind))
    }

    pub fn write_alias(&self, kind: IndexKind) -> String {
        format!("{}-write", self.base(kind))
    }

    /// The daily index of a time (Unix nanoseconds, UTC).
    pub fn daily(&self, kind: IndexKind, unix_nanos: u64) -> String {
        format!("{}-{}", self.base(kind), self.date(unix_nanos))
    }

    fn date(&self, unix_nanos: u64) -> String {
        let t = OffsetDateTime::from_unix_timestamp((unix_nanos / 1_000_000_000) as i64)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let sep = &self.date_separator;
        format!(
            "{:04}{sep}{:02}{sep}{:02}",
            t.year(),
            u8::from(t.month()),
            t.day()
        )
    }

    /// Where a document of this kind and time is written.
    pub fn write_index(&self, kind: IndexKind, unix_nanos: u64) -> String {
        if self.use_aliases {
            self.write_alias(kind)
        } else if self.archive {
            self.base(kind)
        } else {
            self.daily(kind, unix_nanos)
        }
    }

    /// The indices a search over `[min, max]` reads, newest first (Jaeger's order), as one
    /// comma-joined path segment.
    pub fn read_indices(&self, kind: IndexKind, min: u64, max: u64) -> String {
        if self.use_aliases {
            return self.read_alias(kind);
        }
        if self.archive {
            return self.base(kind);
        }
        let (min, max) = (min.min(max), max.max(min));
        if (max - min) / DAY_NANOS > MAX_LISTED_DAYS {
            return self.pattern(kind);
        }
        let first = min - min % DAY_NANOS;
        let mut day = max - max % DAY_NANOS;
        let mut names = Vec::new();
        loop {
            names.push(self.daily(kind, day));
            if day <= first {
                break;
            }
            day -= DAY_NANOS;
        }
        names.join(",")
    }

    /// The date of a daily index name of this kind, if it is one (`None` for aliases,
    /// rollover indices and other kinds). Used by the index cleaner.
    pub fn date_of(&self, kind: IndexKind, index: &str) -> Option<time::Date> {
        if self.archive {
            return None;
        }
        let rest = index.strip_prefix(&self.base(kind))?.strip_prefix('-')?;
        let parts: Vec<&str> = if self.date_separator.is_empty() {
            if rest.len() != 8 || !rest.is_char_boundary(4) || !rest.is_char_boundary(6) {
                return None;
            }
            vec![rest.get(0..4)?, rest.get(4..6)?, rest.get(6..8)?]
        } else {
            rest.split(self.date_separator.as_str()).collect()
        };
        let [y, m, d] = parts.as_slice() else {
            return None;
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
        time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_31_2024: u64 = 1_706_659_200 * 1_000_000_000;

    #[test]
    fn daily_names_follow_jaeger() {
        let n = IndexNames::new("", "-", false);
        assert_eq!(
            n.daily(IndexKind::Span, JAN_31_2024 + 5),
            "jaeger-span-2024-01-31"
        );
        let p = IndexNames::new("prod", ".", false);
        assert_eq!(
            p.daily(IndexKind::Service, JAN_31_2024),
            "prod-jaeger-service-2024.01.31"
        );
        assert_eq!(
            p.write_index(IndexKind::Span, 0),
            "prod-jaeger-span-1970.01.01"
        );
        let a = IndexNames::new("", "-", true);
        assert_eq!(a.write_index(IndexKind::Span, 0), "jaeger-span-write");
        assert_eq!(a.read_indices(IndexKind::Span, 0, 1), "jaeger-span-read");
    }

    #[test]
    fn archive_names_follow_jaeger() {
        let n = IndexNames::archive("prod", false);
        assert_eq!(
            n.write_index(IndexKind::Span, JAN_31_2024),
            "prod-jaeger-span-archive"
        );
        assert_eq!(
            n.read_indices(IndexKind::Span, 0, u64::MAX),
            "prod-jaeger-span-archive"
        );
        assert!(n
            .date_of(IndexKind::Span, "prod-jaeger-span-archive")
            .is_none());
        let a = IndexNames::archive("", true);
        assert_eq!(
            a.write_index(IndexKind::Span, JAN_31_2024),
            "jaeger-span-archive-write"
        );
        assert_eq!(
            a.read_indices(IndexKind::Span, 0, 1),
            "jaeger-span-archive-read"
        );
        // The primary's cleaner never mistakes the archive for a daily index.
        let p = IndexNames::new("", "-", false);
        assert!(p.date_of(IndexKind::Span, "jaeger-span-archive").is_none());
    }

    #[test]
    fn a_range_reads_each_day_it_touches_newest_first() {
        let n = IndexNames::new("", "-", false);
        let hour = 3_600 * 1_000_000_000;
        assert_eq!(
            n.read_indices(
                IndexKind::Span,
                JAN_31_2024 - hour,
                JAN_31_2024 + DAY_NANOS + hour
            ),
            "jaeger-span-2024-02-01,jaeger-span-2024-01-31,jaeger-span-2024-01-30"
        );
        assert_eq!(
            n.read_indices(IndexKind::Span, JAN_31_2024 + hour, JAN_31_2024 + 2 * hour),
            "jaeger-span-2024-01-31"
        );
        assert_eq!(
            n.read_indices(IndexKind::Span, 0, u64::MAX),
            "jaeger-span-*"
        );
    }

    #[test]
    fn dates_of_index_names() {
        let n = IndexNames::new("x", "-", false);
        let d = n
            .date_of(IndexKind::Span, "x-jaeger-span-2024-01-31")
            .unwrap();
        assert_eq!(d.to_string(), "2024-01-31");
        assert!(n.date_of(IndexKind::Span, "x-jaeger-span-000001").is_none());
        assert!(n
            .date_of(IndexKind::Span, "x-jaeger-service-2024-01-31")
            .is_none());
        assert!(n
            .date_of(IndexKind::Span, "x-jaeger-span-2024-13-31")
            .is_none());
        let e = IndexNames::new("", "", false);
        assert!(e.date_of(IndexKind::Span, "jaeger-span-20240131").is_some());
    }
}
