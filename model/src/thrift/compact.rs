//! Thrift's compact protocol (what Jaeger clients send to the agent's UDP port 6831).
//!
//! Integers are zigzag varints, field ids are 4-bit deltas from the previous field of the
//! same struct, a boolean field's value lives in its header's type nibble, and doubles are
//! little-endian (unlike the binary protocol).

use super::protocol::*;
use crate::DecodeError;

const PROTOCOL_ID: u8 = 0x82;
const VERSION: u8 = 1;
const VERSION_MASK: u8 = 0x1f;
const TYPE_SHIFT: u8 = 5;

// Compact type codes.
const CT_BOOL_TRUE: u8 = 1;
const CT_BOOL_FALSE: u8 = 2;
const CT_BYTE: u8 = 3;
const CT_I16: u8 = 4;
const CT_I32: u8 = 5;
const CT_I64: u8 = 6;
const CT_DOUBLE: u8 = 7;
const CT_BINARY: u8 = 8;
const CT_LIST: u8 = 9;
const CT_SET: u8 = 10;
const CT_MAP: u8 = 11;
const CT_STRUCT: u8 = 12;
const CT_UUID: u8 = 13;

fn ttype_of(code: u8) -> Result<TType, DecodeError> {
    Ok(match code {
        CT_BOOL_TRUE | CT_BOOL_FALSE => TType::Bool,
        CT_BYTE => TType::Byte,
        CT_I16 => TType::I16,
        CT_I32 => TType::I32,
        CT_I64 => TType::I64,
        CT_DOUBLE => TType::Double,
        CT_BINARY => TType::Binary,
        CT_LIST => TType::List,
        CT_SET => TType::Set,
        CT_MAP => TType::Map,
        CT_STRUCT => TType::Struct,
        CT_UUID => TType::Uuid,
        _ => return Err(malformed(format!("unknown compact type code {code}"))),
    })
}

/// Collections encode booleans with the "true" code as their element type.
fn code_of(t: TType) -> u8 {
    match t {
        TType::Bool => CT_BOOL_TRUE,
        TType::Byte => CT_BYTE,
        TType::I16 => CT_I16,
        TType::I32 => CT_I32,
        TType::I64 => CT_I64,
        TType::Double => CT_DOUBLE,
        TType::Binary => CT_BINARY,
        TType::List => CT_LIST,
        TType::Set => CT_SET,
        TType::Map => CT_MAP,
        TType::Struct => CT_STRUCT,
        TType::Uuid => CT_UUID,
    }
}

/// The fewest bytes one element of `t` takes: what bounds a collection's claimed size.
fn min_size(t: TType) -> usize {
    match t {
        TType::Double => 8,
        TType::Uuid => 16,
        // Varints, length-prefixed strings, empty structs (STOP) and empty collections
        // all take at least one byte.
        _ => 1,
    }
}

#[inline]
fn unzigzag32(n: u32) -> i32 {
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

#[inline]
fn unzigzag64(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

#[inline]
fn zigzag32(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

#[inline]
fn zigzag64(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// Reads the compact protocol from a borrowed buffer.
#[derive(Clone, Debug)]
pub struct CompactReader<'a> {
    c: Cursor<'a>,
    last_field_id: i16,
    /// A boolean field's value, taken from its header until `read_bool` consumes it.
    pending_bool: Option<bool>,
}

impl<'a> CompactReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        CompactReader {
            c: Cursor::new(buf),
            last_field_id: 0,
            pending_bool: None,
        }
    }

    #[inline]
    fn read_varint64(&mut self) -> Result<u64, DecodeError> {
        let start = self.c.pos();
        let mut value = 0u64;
        for i in 0..10u32 {
            let b = self.c.byte()?;
            // The tenth byte holds only bit 63: anything more overflows 64 bits.
            if i == 9 && b > 1 {
                break;
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed(format!(
            "varint overflows 64 bits at byte {start}"
        )))
    }

    #[inline]
    fn read_varint32(&mut self) -> Result<u32, DecodeError> {
        let start = self.c.pos();
        let v = self.read_varint64()?;
        u32::try_from(v).map_err(|_| malformed(format!("varint overflows 32 bits at byte {start}")))
    }

    fn read_size(&mut self) -> Result<usize, DecodeError> {
        let start = self.c.pos();
        let v = self.read_varint32()?;
        // Sizes are i32 in Thrift; a value with the sign bit set is a negative size.
        if v > i32::MAX as u32 {
            return Err(malformed(format!("negative size at byte {start}")));
        }
        Ok(v as usize)
    }
}

impl<'a> ProtocolReader<'a> for CompactReader<'a> {
    fn read_message_begin(&mut self) -> Result<MessageHeader<'a>, DecodeError> {
        let id = self.c.byte()?;
        if id != PROTOCOL_ID {
            return Err(malformed(format!(
                "not a compact-protocol message: protocol id {id:#04x}, expected {PROTOCOL_ID:#04x}"
            )));
        }
        let vt = self.c.byte()?;
        let version = vt & VERSION_MASK;
        if version != VERSION {
            return Err(malformed(format!("unsupported compact version {version}")));
        }
        let kind = MessageType::from_u8(vt >> TYPE_SHIFT)?;
        // Some writers emit the sequence id as a 64-bit varint; it is only an echo token,
        // so keep its low 32 bits rather than reject the message.
        let seq_id = self.read_varint64()? as u32 as i32;
        let name = self.read_binary()?;
        Ok(MessageHeader { name, kind, seq_id })
    }

    #[inline]
    fn struct_begin(&mut self) -> i16 {
        std::mem::replace(&mut self.last_field_id, 0)
    }

    #[inline]
    fn struct_end(&mut self, token: i16) {
        self.last_field_id = token;
    }

    #[inline]
    fn field_begin(&mut self) -> Result<Option<FieldHeader>, DecodeError> {
        self.pending_bool = None;
        let at = self.c.pos();
        let b = self.c.byte()?;
        if b == 0 {
            return Ok(None);
        }
        let code = b & 0x0f;
        let delta = b >> 4;
        let id = if delta != 0 {
            self.last_field_id
                .checked_add(i16::from(delta))
                .ok_or_else(|| malformed(format!("field id overflows at byte {at}")))?
        } else {
            let raw = unzigzag32(self.read_varint32()?);
            i16::try_from(raw)
                .map_err(|_| malformed(format!("field id {raw} out of range at byte {at}")))?
        };
        let ttype = ttype_of(code)?;
        if ttype == TType::Bool {
            self.pending_bool = Some(code == CT_BOOL_TRUE);
        }
        self.last_field_id = id;
        Ok(Some(FieldHeader { id, ttype }))
    }

    #[inline]
    fn read_bool(&mut self) -> Result<bool, DecodeError> {
        match self.pending_bool.take() {
            Some(v) => Ok(v),
            // In collections a boolean is one byte; like Apache Thrift, only 1 is true.
            None => Ok(self.c.byte()? == CT_BOOL_TRUE),
        }
    }

    fn read_i8(&mut self) -> Result<i8, DecodeError> {
        Ok(self.c.byte()? as i8)
    }

    fn read_i16(&mut self) -> Result<i16, DecodeError> {
        let at = self.c.pos();
        let v = unzigzag32(self.read_varint32()?);
        i16::try_from(v).map_err(|_| malformed(format!("i16 out of range at byte {at}")))
    }

    #[inline]
    fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(unzigzag32(self.read_varint32()?))
    }

    #[inline]
    fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(unzigzag64(self.read_varint64()?))
    }

    fn read_double(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_le_bytes(self.c.array()?))
    }

    #[inline]
    fn read_binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.read_size()?;
        self.c.take(len)
    }

    fn read_uuid(&mut self) -> Result<[u8; 16], DecodeError> {
        self.c.array()
    }

    #[inline]
    fn list_begin(&mut self) -> Result<ListHeader, DecodeError> {
        let b = self.c.byte()?;
        let short = usize::from(b >> 4);
        let size = if short == 15 {
            self.read_size()?
        } else {
            short
        };
        let elem = ttype_of(b & 0x0f)?;
        let size = check_size(size, min_size(elem), self.c.remaining())?;
        Ok(ListHeader { elem, size })
    }

    fn map_begin(&mut self) -> Result<MapHeader, DecodeError> {
        let size = self.read_size()?;
        if size == 0 {
            // An empty map has no key/value type byte; the types are irrelevant.
            return Ok(MapHeader {
                key: TType::Byte,
                value: TType::Byte,
                size: 0,
            });
        }
        let kv = self.c.byte()?;
        let key = ttype_of(kv >> 4)?;
        let value = ttype_of(kv & 0x0f)?;
        let size = check_size(
            size,
            min_size(key).saturating_add(min_size(value)),
            self.c.remaining(),
        )?;
        Ok(MapHeader { key, value, size })
    }

    fn position(&self) -> usize {
        self.c.pos()
    }

    fn remaining(&self) -> usize {
        self.c.remaining()
    }
}

/// Writes the compact protocol.
#[derive(Clone, Debug, Default)]
pub struct CompactWriter {
    buf: Vec<u8>,
    last_field_id: i16,
}

impl CompactWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        CompactWriter {
            buf: Vec::with_capacity(capacity),
            last_field_id: 0,
        }
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn field_header(&mut self, id: i16, code: u8) {
        let delta = i32::from(id) - i32::from(self.last_field_id);
        if (1..=15).contains(&delta) {
            self.buf.push(((delta as u8) << 4) | code);
        } else {
            self.buf.push(code);
            self.varint(u64::from(zigzag32(i32::from(id))));
        }
        self.last_field_id = id;
    }
}

impl ProtocolWriter for CompactWriter {
    fn message_begin(&mut self, name: &str, kind: MessageType, seq_id: i32) {
        self.buf.push(PROTOCOL_ID);
        self.buf.push(VERSION | (kind.to_u8() << TYPE_SHIFT));
        self.varint(u64::from(seq_id as u32));
        self.write_binary(name.as_bytes());
    }

    fn struct_begin(&mut self) -> i16 {
        std::mem::replace(&mut self.last_field_id, 0)
    }

    fn struct_end(&mut self, token: i16) {
        self.buf.push(0);
        self.last_field_id = token;
    }

    fn field_begin(&mut self, id: i16, ttype: TType) {
        self.field_header(id, code_of(ttype));
    }

    fn bool_field(&mut self, id: i16, value: bool) {
        self.field_header(id, if value { CT_BOOL_TRUE } else { CT_BOOL_FALSE });
    }

    fn write_bool(&mut self, value: bool) {
        self.buf
            .push(if value { CT_BOOL_TRUE } else { CT_BOOL_FALSE });
    }

    fn write_i8(&mut self, value: i8) {
        self.buf.push(value as u8);
    }

    fn write_i16(&mut self, value: i16) {
        self.varint(u64::from(zigzag32(i32::from(value))));
    }

    fn write_i32(&mut self, value: i32) {
        self.varint(u64::from(zigzag32(value)));
    }

    fn write_i64(&mut self, value: i64) {
        self.varint(zigzag64(value));
    }

    fn write_double(&mut self, value: f64) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    fn write_binary(&mut self, value: &[u8]) {
        self.varint(u64::from(wire_size(value.len())));
        self.buf.extend_from_slice(value);
    }

    fn write_uuid(&mut self, value: [u8; 16]) {
        self.buf.extend_from_slice(&value);
    }

    fn list_begin(&mut self, elem: TType, size: usize) {
        let size = wire_size(size);
        if size < 15 {
            self.buf.push(((size as u8) << 4) | code_of(elem));
        } else {
            self.buf.push(0xf0 | code_of(elem));
            self.varint(u64::from(size));
        }
    }

    fn map_begin(&mut self, key: TType, value: TType, size: usize) {
        let size = wire_size(size);
        if size == 0 {
            self.buf.push(0);
        } else {
            self.varint(u64::from(size));
            self.buf.push((code_of(key) << 4) | code_of(value));
        }
    }

    fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_matches_the_spec_table() {
        for (n, z) in [(0i64, 0u64), (-1, 1), (1, 2), (-2, 3), (2, 4)] {
            assert_eq!(zigzag64(n), z);
            assert_eq!(unzigzag64(z), n);
        }
        assert_eq!(zigzag64(i64::MIN), u64::MAX);
        assert_eq!(unzigzag64(u64::MAX), i64::MIN);
        assert_eq!(zigzag32(i32::MAX), u32::MAX - 1);
        assert_eq!(unzigzag32(u32::MAX), i32::MIN);
    }

    #[test]
    fn varints_decode_and_overflow_is_detected() {
        // 300 = 0b1_0010_1100 → ac 02
        assert_eq!(CompactReader::new(&[0xac, 0x02]).read_varint64(), Ok(300));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(CompactReader::new(&max).read_varint64(), Ok(u64::MAX));
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(CompactReader::new(&over).read_varint64().is_err());
        let endless = [0x80; 11];
        assert!(CompactReader::new(&endless).read_varint64().is_err());
        let big32 = [0xff, 0xff, 0xff, 0xff, 0x1f];
        assert!(CompactReader::new(&big32).read_varint32().is_err());
        assert_eq!(
            CompactReader::new(&[0x80]).read_varint64(),
            Err(DecodeError::Truncated(1))
        );
    }

    #[test]
    fn every_value_round_trips() {
        let mut w = CompactWriter::new();
        let t = w.struct_begin();
        w.bool_field(1, true);
        w.bool_field(2, false);
        w.field_begin(3, TType::I16);
        w.write_i16(-300);
        w.field_begin(40, TType::I32); // long-form field header
        w.write_i32(i32::MIN);
        w.field_begin(41, TType::I64);
        w.write_i64(i64::MAX);
        w.field_begin(42, TType::Double);
        w.write_double(-1.5);
        w.field_begin(43, TType::Binary);
        w.write_binary(b"hi");
        w.field_begin(44, TType::List);
        w.list_begin(TType::Bool, 20); // long-form list header
        for i in 0..20 {
            w.write_bool(i % 3 == 0);
        }
        w.field_begin(45, TType::Map);
        w.map_begin(TType::Byte, TType::Uuid, 1);
        w.write_i8(-7);
        w.write_uuid([9; 16]);
        w.struct_end(t);
        let bytes = w.into_bytes();

        let mut r = CompactReader::new(&bytes);
        let t = r.struct_begin();
        let f = |id, ttype| Some(FieldHeader { id, ttype });
        assert_eq!(r.field_begin().unwrap(), f(1, TType::Bool));
        assert_eq!(r.read_bool(), Ok(true));
        assert_eq!(r.field_begin().unwrap(), f(2, TType::Bool));
        assert_eq!(r.read_bool(), Ok(false));
        assert_eq!(r.field_begin().unwrap(), f(3, TType::I16));
        assert_eq!(r.read_i16(), Ok(-300));
        assert_eq!(r.field_begin().unwrap(), f(40, TType::I32));
        assert_eq!(r.read_i32(), Ok(i32::MIN));
        assert_eq!(r.field_begin().unwrap(), f(41, TType::I64));
        assert_eq!(r.read_i64(), Ok(i64::MAX));
        assert_eq!(r.field_begin().unwrap(), f(42, TType::Double));
        assert_eq!(r.read_double(), Ok(-1.5));
        assert_eq!(r.field_begin().unwrap(), f(43, TType::Binary));
        assert_eq!(r.read_binary(), Ok(&b"hi"[..]));
        assert_eq!(r.field_begin().unwrap(), f(44, TType::List));
        let h = r.list_begin().unwrap();
        assert_eq!((h.elem, h.size), (TType::Bool, 20));
        for i in 0..20 {
            assert_eq!(r.read_bool(), Ok(i % 3 == 0));
        }
        assert_eq!(r.field_begin().unwrap(), f(45, TType::Map));
        let m = r.map_begin().unwrap();
        assert_eq!((m.key, m.value, m.size), (TType::Byte, TType::Uuid, 1));
        assert_eq!(r.read_i8(), Ok(-7));
        assert_eq!(r.read_uuid(), Ok([9; 16]));
        assert_eq!(r.field_begin().unwrap(), None);
        r.struct_end(t);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn message_header_layout() {
        let mut w = CompactWriter::new();
        w.message_begin("emitBatch", MessageType::Oneway, 1);
        let bytes = w.into_bytes();
        assert_eq!(&bytes[..4], &[0x82, 0x81, 0x01, 9]);
        assert_eq!(&bytes[4..], b"emitBatch");
        let h = CompactReader::new(&bytes).read_message_begin().unwrap();
        assert_eq!(h.name, b"emitBatch");
        assert_eq!(h.kind, MessageType::Oneway);
        assert_eq!(h.seq_id, 1);
    }

    #[test]
    fn hostile_sizes_are_rejected_before_allocation() {
        // A list of structs claiming 2^31 - 1 elements, with 3 bytes behind it.
        let bytes = [0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0, 0, 0];
        assert!(CompactReader::new(&bytes).list_begin().is_err());
        // A string claiming 1000 bytes.
        assert!(CompactReader::new(&[0xe8, 0x07, b'a'])
            .read_binary()
            .is_err());
        // A negative size.
        let neg = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(CompactReader::new(&neg).read_binary().is_err());
        // A map of doubles claiming more than fits.
        assert!(CompactReader::new(&[0x02, 0x77, 0, 0, 0, 0, 0, 0, 0, 0])
            .map_begin()
            .is_err());
    }
}
