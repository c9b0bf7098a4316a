//! Reading the protobuf wire format by hand, under prost's rules: the one reader behind the
//! direct decoders ([`crate::otlp_decode`] for OTLP requests, [`crate::api_v2_decode`] for
//! Kafka's api_v2 spans), which build model spans without prost's intermediate structs.
//!
//! The rules are prost's, so a direct decoder accepts exactly what prost accepts: varints of
//! at most 10 bytes (the 10th no more than 1), keys within `u32` with a non-zero field
//! number and wire types 0–5, lengths within the buffer, UTF-8 strings, and unknown fields
//! of every wire type skipped — groups included, nested at most [`RECURSION_LIMIT`] deep.

use crate::error::DecodeError;

/// prost's message nesting limit (`prost::RECURSION_LIMIT`): the fields of the top-level
/// message are read with this budget, each nested message with one less, and a message (or
/// an unknown field) met with no budget left is an error.
pub(crate) const RECURSION_LIMIT: u32 = 100;

type Result<T> = std::result::Result<T, DecodeError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    Varint,
    Fixed64,
    Len,
    StartGroup,
    EndGroup,
    Fixed32,
}

/// A cursor over one message's bytes. Every read is bounds-checked and fails with an error
/// naming `format`; nothing here indexes unchecked.
#[derive(Clone)]
pub(crate) struct WireReader<'a> {
    buf: &'a [u8],
    pos: usize,
    format: &'static str,
}

impl<'a> WireReader<'a> {
    pub(crate) fn new(buf: &'a [u8], format: &'static str) -> Self {
        WireReader {
            buf,
            pos: 0,
            format,
        }
    }

    pub(crate) fn malformed(&self, detail: impl Into<String>) -> DecodeError {
        DecodeError::malformed(self.format, detail)
    }

    pub(crate) fn has_more(&self) -> bool {
        self.pos < self.buf.len()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// One-byte varints (most keys and lengths) inline; longer ones out of line.
    #[inline(always)]
    pub(crate) fn varint(&mut self) -> Result<u64> {
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.varint_slow()
    }

    #[inline(never)]
    fn varint_slow(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for (i, &b) in self.rest().iter().take(10).enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                // The tenth byte may only carry the top bit of a u64, as prost checks.
                if i == 9 && b >= 2 {
                    break;
                }
                self.pos += i + 1;
                return Ok(value);
            }
        }
        Err(self.malformed(format!("invalid varint at byte {}", self.pos)))
    }

    /// A field key: (field number, wire type).
    #[inline(always)]
    pub(crate) fn key(&mut self) -> Result<(u32, Wire)> {
        let key = self.varint()?;
        let key = u32::try_from(key).map_err(|_| self.malformed(format!("invalid key {key}")))?;
        let wire = match key & 7 {
            0 => Wire::Varint,
            1 => Wire::Fixed64,
            2 => Wire::Len,
            3 => Wire::StartGroup,
            4 => Wire::EndGroup,
            5 => Wire::Fixed32,
            w => return Err(self.malformed(format!("invalid wire type {w}"))),
        };
        let field = key >> 3;
        if field == 0 {
            return Err(self.malformed("invalid field number 0"));
        }
        Ok((field, wire))
    }

    #[inline(always)]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.buf.get(self.pos..end)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(DecodeError::Truncated(self.pos)),
        }
    }

    /// The payload of a length-delimited field whose key was just read.
    #[inline(always)]
    pub(crate) fn len_delimited(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated(self.pos))?;
        self.take(len)
    }

    /// A length-delimited UTF-8 string.
    #[inline]
    pub(crate) fn utf8(&mut self) -> Result<&'a str> {
        let b = self.len_delimited()?;
        std::str::from_utf8(b).map_err(|_| self.malformed("string field is not valid UTF-8"))
    }

    #[inline]
    pub(crate) fn fixed64_le(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    #[inline]
    pub(crate) fn fixed32_le(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// Fails unless a field came with the wire type its declaration needs.
    #[inline]
    pub(crate) fn expect(&self, got: Wire, want: Wire) -> Result<()> {
        if got == want {
            Ok(())
        } else {
            Err(self.malformed(format!("invalid wire type {got:?} (expected {want:?})")))
        }
    }

    // Checked reads: the field's wire type, then its value.

    #[inline]
    pub(crate) fn fixed64(&mut self, wire: Wire) -> Result<u64> {
        self.expect(wire, Wire::Fixed64)?;
        self.fixed64_le()
    }

    #[inline]
    pub(crate) fn fixed32(&mut self, wire: Wire) -> Result<u32> {
        self.expect(wire, Wire::Fixed32)?;
        self.fixed32_le()
    }

    /// A varint-typed field (`int32`, `uint32`, `int64`, `bool`, enums: the caller casts
    /// exactly as prost does).
    #[inline]
    pub(crate) fn varint_field(&mut self, wire: Wire) -> Result<u64> {
        self.expect(wire, Wire::Varint)?;
        self.varint()
    }

    #[inline(always)]
    pub(crate) fn bytes(&mut self, wire: Wire) -> Result<&'a [u8]> {
        self.expect(wire, Wire::Len)?;
        self.len_delimited()
    }

    #[inline]
    pub(crate) fn string(&mut self, wire: Wire) -> Result<&'a str> {
        self.expect(wire, Wire::Len)?;
        self.utf8()
    }

    /// A nested message: its own reader and the budget its fields are read with.
    #[inline]
    pub(crate) fn message(&mut self, wire: Wire, budget: u32) -> Result<(WireReader<'a>, u32)> {
        self.expect(wire, Wire::Len)?;
        let budget = descend(budget)?;
        Ok((WireReader::new(self.len_delimited()?, self.format), budget))
    }

    /// Skips an unknown field whose key was just read, the way prost does (including its
    /// budget check: `budget` is what the fields at this level are read with).
    pub(crate) fn skip(&mut self, field: u32, wire: Wire, budget: u32) -> Result<()> {
        let inner = descend(budget)?;
        match wire {
            Wire::Varint => {
                self.varint()?;
            }
            Wire::Fixed64 => {
                self.take(8)?;
            }
            Wire::Fixed32 => {
                self.take(4)?;
            }
            Wire::Len => {
                self.len_delimited()?;
            }
            Wire::StartGroup => loop {
                let (f, w) = self.key()?;
                if w == Wire::EndGroup {
                    if f != field {
                        return Err(self.malformed("mismatched end-group tag"));
                    }
                    break;
                }
                self.skip(f, w, inner)?;
            },
            Wire::EndGroup => return Err(self.malformed("unexpected end-group tag")),
        }
        Ok(())
    }
}

/// The budget one level down, or an error when none is left.
#[inline]
pub(crate) fn descend(budget: u32) -> Result<u32> {
    budget
        .checked_sub(1)
        .ok_or_else(|| DecodeError::TooLarge("protobuf messages nested too deeply".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_follow_prosts_limits() {
        let ten = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(WireReader::new(&ten, "t").varint(), Ok(u64::MAX));
        let overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(WireReader::new(&overflow, "t").varint().is_err());
        assert!(WireReader::new(&[0x80, 0x80], "t").varint().is_err());
        // A redundant (non-minimal) encoding is accepted, as prost does.
        assert_eq!(WireReader::new(&[0x80, 0x00], "t").varint(), Ok(0));
    }

    #[test]
    fn groups_are_skipped_within_the_budget() {
        // field 1 start-group, field 2 varint 5, field 1 end-group.
        let group = [0x0b, 0x10, 0x05, 0x0c];
        let mut r = WireReader::new(&group, "t");
        let (f, w) = r.key().unwrap();
        r.skip(f, w, 2).unwrap();
        assert!(!r.has_more());
        let mut r = WireReader::new(&group, "t");
        let (f, w) = r.key().unwrap();
        assert!(
            r.skip(f, w, 1).is_err(),
            "the group's field needs one more level"
        );
        // Mismatched end-group.
        let mut r = WireReader::new(&[0x0b, 0x14], "t");
        let (f, w) = r.key().unwrap();
        assert!(r.skip(f, w, 5).is_err());
    }
}
