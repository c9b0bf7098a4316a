//! The protocol-neutral vocabulary of Thrift: value types, message/field/collection
//! headers, the reader and writer traits both wire protocols implement, and the generic
//! skipping of values a decoder does not know.
//!
//! Decoders are written once, generic over [`ProtocolReader`], and monomorphised per
//! protocol, so the compact and binary paths each compile to straight-line code with no
//! dynamic dispatch.
//!
//! Hostile-input rules every reader follows: every length is checked against the bytes
//! left before anything is sized from it (a collection header may claim at most as many
//! elements as the smallest encoding of its element type leaves room for), varints that
//! overflow their width are errors, and nesting is bounded by [`MAX_DEPTH`].

use crate::DecodeError;

/// The `format` name in every [`DecodeError::Malformed`] from this module tree.
pub(crate) const FORMAT: &str = "thrift";

/// Deepest nesting of structs and collections [`skip`] will follow. Jaeger's own
/// structures nest four deep; 64 leaves room for any sane extension and bounds recursion.
pub const MAX_DEPTH: u32 = 64;

pub(crate) fn malformed(reason: impl Into<String>) -> DecodeError {
    DecodeError::malformed(FORMAT, reason)
}

/// A Thrift value type, independent of how a protocol numbers it on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TType {
    Bool,
    Byte,
    I16,
    I32,
    I64,
    Double,
    /// `string` and `binary` share one wire type.
    Binary,
    Struct,
    Map,
    Set,
    List,
    Uuid,
}

/// The kind of a message envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    Call,
    Reply,
    Exception,
    Oneway,
}

impl MessageType {
    pub fn to_u8(self) -> u8 {
        match self {
            MessageType::Call => 1,
            MessageType::Reply => 2,
            MessageType::Exception => 3,
            MessageType::Oneway => 4,
        }
    }

    pub fn from_u8(v: u8) -> Result<Self, DecodeError> {
        Ok(match v {
            1 => MessageType::Call,
            2 => MessageType::Reply,
            3 => MessageType::Exception,
            4 => MessageType::Oneway,
            _ => return Err(malformed(format!("unknown message type {v}"))),
        })
    }
}

/// A message envelope; `name` borrows from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageHeader<'a> {
    pub name: &'a [u8],
    pub kind: MessageType,
    pub seq_id: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldHeader {
    pub id: i16,
    pub ttype: TType,
}

/// A list or set header. `size` has already been checked against the input left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListHeader {
    pub elem: TType,
    pub size: usize,
}

/// A map header. `size` has already been checked against the input left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapHeader {
    pub key: TType,
    pub value: TType,
    pub size: usize,
}

/// Reads one protocol from a borrowed buffer. Strings and binaries are returned as slices
/// of the input, so the caller decides when (and whether) to copy them.
pub trait ProtocolReader<'a> {
    fn read_message_begin(&mut self) -> Result<MessageHeader<'a>, DecodeError>;
    /// Enters a struct; the returned token goes back to [`ProtocolReader::struct_end`]
    /// (the compact protocol's field-id deltas are relative to the enclosing struct).
    fn struct_begin(&mut self) -> i16;
    fn struct_end(&mut self, token: i16);
    /// The next field's header, or `None` at the struct's STOP marker.
    fn field_begin(&mut self) -> Result<Option<FieldHeader>, DecodeError>;
    fn read_bool(&mut self) -> Result<bool, DecodeError>;
    fn read_i8(&mut self) -> Result<i8, DecodeError>;
    fn read_i16(&mut self) -> Result<i16, DecodeError>;
    fn read_i32(&mut self) -> Result<i32, DecodeError>;
    fn read_i64(&mut self) -> Result<i64, DecodeError>;
    fn read_double(&mut self) -> Result<f64, DecodeError>;
    fn read_binary(&mut self) -> Result<&'a [u8], DecodeError>;
    fn read_uuid(&mut self) -> Result<[u8; 16], DecodeError>;
    /// Also used for sets, which share the list encoding in both protocols.
    fn list_begin(&mut self) -> Result<ListHeader, DecodeError>;
    fn map_begin(&mut self) -> Result<MapHeader, DecodeError>;
    /// Bytes consumed so far.
    fn position(&self) -> usize;
    fn remaining(&self) -> usize;
}

/// Writes one protocol into a growing buffer. Used for tests, round trips and load
/// generation; writing to a `Vec` cannot fail.
pub trait ProtocolWriter {
    fn message_begin(&mut self, name: &str, kind: MessageType, seq_id: i32);
    fn struct_begin(&mut self) -> i16;
    /// Writes the STOP marker and leaves the struct.
    fn struct_end(&mut self, token: i16);
    /// Not for `bool` fields: use [`ProtocolWriter::bool_field`], since the compact
    /// protocol folds a boolean field's value into its header.
    fn field_begin(&mut self, id: i16, ttype: TType);
    fn bool_field(&mut self, id: i16, value: bool);
    /// A boolean collection element.
    fn write_bool(&mut self, value: bool);
    fn write_i8(&mut self, value: i8);
    fn write_i16(&mut self, value: i16);
    fn write_i32(&mut self, value: i32);
    fn write_i64(&mut self, value: i64);
    fn write_double(&mut self, value: f64);
    fn write_binary(&mut self, value: &[u8]);
    fn write_uuid(&mut self, value: [u8; 16]);
    fn list_begin(&mut self, elem: TType, size: usize);
    fn map_begin(&mut self, key: TType, value: TType, size: usize);
    fn into_bytes(self) -> Vec<u8>
    where
        Self: Sized;
}

/// Collection sizes on the wire are 32-bit; a larger in-memory collection cannot be
/// encoded and is clamped rather than silently wrapped (it would never fit a packet).
pub(crate) fn wire_size(size: usize) -> u32 {
    u32::try_from(size).unwrap_or(u32::MAX).min(i32::MAX as u32)
}

/// Checks a collection's claimed element count against the bytes left, before the caller
/// sizes anything from it: every element takes at least `min_elem_bytes`.
pub(crate) fn check_size(
    size: usize,
    min_elem_bytes: usize,
    remaining: usize,
) -> Result<usize, DecodeError> {
    match size.checked_mul(min_elem_bytes) {
        Some(need) if need <= remaining => Ok(size),
        _ => Err(malformed(format!(
            "collection of {size} elements cannot fit in the {remaining} bytes left"
        ))),
    }
}

/// Skips one value of type `ttype`, whatever it contains, up to [`MAX_DEPTH`] levels deep.
pub fn skip<'a, R: ProtocolReader<'a>>(r: &mut R, ttype: TType) -> Result<(), DecodeError> {
    skip_nested(r, ttype, MAX_DEPTH)
}

fn skip_nested<'a, R: ProtocolReader<'a>>(
    r: &mut R,
    ttype: TType,
    depth_left: u32,
) -> Result<(), DecodeError> {
    match ttype {
        TType::Bool => r.read_bool().map(drop),
        TType::Byte => r.read_i8().map(drop),
        TType::I16 => r.read_i16().map(drop),
        TType::I32 => r.read_i32().map(drop),
        TType::I64 => r.read_i64().map(drop),
        TType::Double => r.read_double().map(drop),
        TType::Binary => r.read_binary().map(drop),
        TType::Uuid => r.read_uuid().map(drop),
        TType::Struct | TType::List | TType::Set | TType::Map => {
            let Some(inner) = depth_left.checked_sub(1) else {
                return Err(malformed(format!(
                    "nesting deeper than {MAX_DEPTH} levels at byte {}",
                    r.position()
                )));
            };
            match ttype {
                TType::Struct => {
                    let token = r.struct_begin();
                    while let Some(f) = r.field_begin()? {
                        skip_nested(r, f.ttype, inner)?;
                    }
                    r.struct_end(token);
                }
                TType::Map => {
                    let h = r.map_begin()?;
                    for _ in 0..h.size {
                        skip_nested(r, h.key, inner)?;
                        skip_nested(r, h.value, inner)?;
                    }
                }
                _ => {
                    let h = r.list_begin()?;
                    for _ in 0..h.size {
                        skip_nested(r, h.elem, inner)?;
                    }
                }
            }
            Ok(())
        }
    }
}

/// A bounds-checked read position over the input.
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    // Errors are built only on the failing path (let-else): an eagerly built one would
    // cost a drop on every successful read of the hot loop.
    #[inline]
    pub(crate) fn byte(&mut self) -> Result<u8, DecodeError> {
        let Some(&b) = self.buf.get(self.pos) else {
            return Err(DecodeError::Truncated(self.pos));
        };
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let at = self.pos;
        let Some(s) = at.checked_add(n).and_then(|end| self.buf.get(at..end)) else {
            return Err(DecodeError::Truncated(at));
        };
        self.pos = at + s.len();
        Ok(s)
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let at = self.pos;
        self.take(N)?
            .try_into()
            .map_err(|_| DecodeError::Truncated(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_check_rejects_claims_beyond_the_input() {
        assert_eq!(check_size(10, 1, 10), Ok(10));
        assert!(check_size(11, 1, 10).is_err());
        assert!(check_size(3, 4, 10).is_err());
        assert!(
            check_size(usize::MAX, 2, 10).is_err(),
            "overflowing product"
        );
    }

    #[test]
    fn cursor_never_reads_past_the_end() {
        let mut c = Cursor::new(&[1, 2, 3]);
        assert_eq!(c.byte(), Ok(1));
        assert_eq!(c.take(usize::MAX), Err(DecodeError::Truncated(1)));
        assert_eq!(c.array::<2>(), Ok([2, 3]));
        assert_eq!(c.byte(), Err(DecodeError::Truncated(3)));
        assert_eq!(c.remaining(), 0);
    }

    #[test]
    fn wire_sizes_are_clamped_to_i32() {
        assert_eq!(wire_size(5), 5);
        assert_eq!(wire_size(usize::MAX), i32::MAX as u32);
    }
}
