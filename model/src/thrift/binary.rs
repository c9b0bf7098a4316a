//! Thrift's binary protocol (the agent's UDP port 6832 and the collector's HTTP
//! `/api/traces` endpoint).
//!
//! Everything is fixed-width big-endian: a field is a type byte and an i16 id, lengths and
//! collection sizes are i32. Messages come in the strict form (a versioned i32 first) that
//! every current client writes, and the old non-strict form (name first), both accepted.

use super::protocol::*;
use crate::DecodeError;

const VERSION_1: u32 = 0x8001_0000;
const VERSION_MASK: u32 = 0xffff_0000;

const T_STOP: u8 = 0;
const T_BOOL: u8 = 2;
const T_BYTE: u8 = 3;
const T_DOUBLE: u8 = 4;
const T_I16: u8 = 6;
const T_I32: u8 = 8;
const T_I64: u8 = 10;
const T_STRING: u8 = 11;
const T_STRUCT: u8 = 12;
const T_MAP: u8 = 13;
const T_SET: u8 = 14;
const T_LIST: u8 = 15;
const T_UUID: u8 = 16;

fn ttype_of(code: u8) -> Result<TType, DecodeError> {
    Ok(match code {
        T_BOOL => TType::Bool,
        T_BYTE => TType::Byte,
        T_DOUBLE => TType::Double,
        T_I16 => TType::I16,
        T_I32 => TType::I32,
        T_I64 => TType::I64,
        T_STRING => TType::Binary,
        T_STRUCT => TType::Struct,
        T_MAP => TType::Map,
        T_SET => TType::Set,
        T_LIST => TType::List,
        T_UUID => TType::Uuid,
        _ => return Err(malformed(format!("unknown binary type code {code}"))),
    })
}

fn code_of(t: TType) -> u8 {
    match t {
        TType::Bool => T_BOOL,
        TType::Byte => T_BYTE,
        TType::Double => T_DOUBLE,
        TType::I16 => T_I16,
        TType::I32 => T_I32,
        TType::I64 => T_I64,
        TType::Binary => T_STRING,
        TType::Struct => T_STRUCT,
        TType::Map => T_MAP,
        TType::Set => T_SET,
        TType::List => T_LIST,
        TType::Uuid => T_UUID,
    }
}

/// The fewest bytes one element of `t` takes: what bounds a collection's claimed size.
fn min_size(t: TType) -> usize {
    match t {
        TType::Bool | TType::Byte | TType::Struct => 1,
        TType::I16 => 2,
        TType::I32 | TType::Binary => 4,
        TType::I64 | TType::Double => 8,
        TType::List | TType::Set => 5,
        TType::Map => 6,
        TType::Uuid => 16,
    }
}

/// Reads the binary protocol from a borrowed buffer.
#[derive(Clone, Debug)]
pub struct BinaryReader<'a> {
    c: Cursor<'a>,
}

impl<'a> BinaryReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        BinaryReader {
            c: Cursor::new(buf),
        }
    }

    fn read_size(&mut self) -> Result<usize, DecodeError> {
        let at = self.c.pos();
        let v = self.read_i32()?;
        usize::try_from(v).map_err(|_| malformed(format!("negative size {v} at byte {at}")))
    }
}

impl<'a> ProtocolReader<'a> for BinaryReader<'a> {
    fn read_message_begin(&mut self) -> Result<MessageHeader<'a>, DecodeError> {
        let first = self.read_i32()? as u32;
        if first & 0x8000_0000 != 0 {
            if first & VERSION_MASK != VERSION_1 {
                return Err(malformed(format!(
                    "unsupported binary protocol version {:#010x}",
                    first & VERSION_MASK
                )));
            }
            let kind = MessageType::from_u8((first & 0xff) as u8)?;
            let name = self.read_binary()?;
            let seq_id = self.read_i32()?;
            Ok(MessageHeader { name, kind, seq_id })
        } else {
            // Non-strict: `first` was the name's length.
            let name = self.c.take(first as usize)?;
            let kind = MessageType::from_u8(self.c.byte()?)?;
            let seq_id = self.read_i32()?;
            Ok(MessageHeader { name, kind, seq_id })
        }
    }

    #[inline]
    fn struct_begin(&mut self) -> i16 {
        0
    }

    #[inline]
    fn struct_end(&mut self, _token: i16) {}

    #[inline]
    fn field_begin(&mut self) -> Result<Option<FieldHeader>, DecodeError> {
        let code = self.c.byte()?;
        if code == T_STOP {
            return Ok(None);
        }
        let ttype = ttype_of(code)?;
        let id = i16::from_be_bytes(self.c.array()?);
        Ok(Some(FieldHeader { id, ttype }))
    }

    fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.c.byte()? != 0)
    }

    fn read_i8(&mut self) -> Result<i8, DecodeError> {
        Ok(self.c.byte()? as i8)
    }

    fn read_i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.c.array()?))
    }

    #[inline]
    fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.c.array()?))
    }

    #[inline]
    fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.c.array()?))
    }

    fn read_double(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_be_bytes(self.c.array()?))
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
        let elem = ttype_of(self.c.byte()?)?;
        let size = self.read_size()?;
        let size = check_size(size, min_size(elem), self.c.remaining())?;
        Ok(ListHeader { elem, size })
    }

    fn map_begin(&mut self) -> Result<MapHeader, DecodeError> {
        let key_code = self.c.byte()?;
        let value_code = self.c.byte()?;
        let size = self.read_size()?;
        if size == 0 {
            // Some writers leave the types of an empty map as zero; they are irrelevant.
            return Ok(MapHeader {
                key: TType::Byte,
                value: TType::Byte,
                size: 0,
            });
        }
        let key = ttype_of(key_code)?;
        let value = ttype_of(value_code)?;
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

/// Writes the binary protocol (strict message headers, as current clients do).
#[derive(Clone, Debug, Default)]
pub struct BinaryWriter {
    buf: Vec<u8>,
}

impl BinaryWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        BinaryWriter {
            buf: Vec::with_capacity(capacity),
        }
    }

    fn size(&mut self, size: usize) {
        self.buf.extend_from_slice(&wire_size(size).to_be_bytes());
    }
}

impl ProtocolWriter for BinaryWriter {
    fn message_begin(&mut self, name: &str, kind: MessageType, seq_id: i32) {
        self.buf
            .extend_from_slice(&(VERSION_1 | u32::from(kind.to_u8())).to_be_bytes());
        self.write_binary(name.as_bytes());
        self.write_i32(seq_id);
    }

    fn struct_begin(&mut self) -> i16 {
        0
    }

    fn struct_end(&mut self, _token: i16) {
        self.buf.push(T_STOP);
    }

    fn field_begin(&mut self, id: i16, ttype: TType) {
        self.buf.push(code_of(ttype));
        self.buf.extend_from_slice(&id.to_be_bytes());
    }

    fn bool_field(&mut self, id: i16, value: bool) {
        self.field_begin(id, TType::Bool);
        self.write_bool(value);
    }

    fn write_bool(&mut self, value: bool) {
        self.buf.push(u8::from(value));
    }

    fn write_i8(&mut self, value: i8) {
        self.buf.push(value as u8);
    }

    fn write_i16(&mut self, value: i16) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    fn write_i32(&mut self, value: i32) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    fn write_i64(&mut self, value: i64) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    fn write_double(&mut self, value: f64) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    fn write_binary(&mut self, value: &[u8]) {
        self.size(value.len());
        self.buf.extend_from_slice(value);
    }

    fn write_uuid(&mut self, value: [u8; 16]) {
        self.buf.extend_from_slice(&value);
    }

    fn list_begin(&mut self, elem: TType, size: usize) {
        self.buf.push(code_of(elem));
        self.size(size);
    }

    fn map_begin(&mut self, key: TType, value: TType, size: usize) {
        self.buf.push(code_of(key));
        self.buf.push(code_of(value));
        self.size(size);
    }

    fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_and_old_message_headers() {
        let mut w = BinaryWriter::new();
        w.message_begin("emitBatch", MessageType::Oneway, 7);
        let bytes = w.into_bytes();
        assert_eq!(&bytes[..8], &[0x80, 0x01, 0x00, 0x04, 0, 0, 0, 9]);
        let h = BinaryReader::new(&bytes).read_message_begin().unwrap();
        assert_eq!(
            (h.name, h.kind, h.seq_id),
            (&b"emitBatch"[..], MessageType::Oneway, 7)
        );

        let mut old = vec![0, 0, 0, 2];
        old.extend_from_slice(b"hi");
        old.extend_from_slice(&[1, 0, 0, 0, 3]);
        let h = BinaryReader::new(&old).read_message_begin().unwrap();
        assert_eq!(
            (h.name, h.kind, h.seq_id),
            (&b"hi"[..], MessageType::Call, 3)
        );

        let bad_version = [0x80, 0x02, 0, 1, 0, 0, 0, 0];
        assert!(BinaryReader::new(&bad_version)
            .read_message_begin()
            .is_err());
    }

    #[test]
    fn every_value_round_trips() {
        let mut w = BinaryWriter::new();
        w.bool_field(1, true);
        w.field_begin(2, TType::Double);
        w.write_double(2.25);
        w.field_begin(-3, TType::I16);
        w.write_i16(i16::MIN);
        w.list_begin(TType::I64, 2);
        w.write_i64(-1);
        w.write_i64(i64::MIN);
        w.map_begin(TType::Binary, TType::I32, 1);
        w.write_binary(b"k");
        w.write_i32(-9);
        let bytes = w.into_bytes();

        let mut r = BinaryReader::new(&bytes);
        assert_eq!(
            r.field_begin().unwrap(),
            Some(FieldHeader {
                id: 1,
                ttype: TType::Bool
            })
        );
        assert_eq!(r.read_bool(), Ok(true));
        r.field_begin().unwrap();
        assert_eq!(r.read_double(), Ok(2.25));
        assert_eq!(r.field_begin().unwrap().map(|f| f.id), Some(-3));
        assert_eq!(r.read_i16(), Ok(i16::MIN));
        assert_eq!(r.list_begin().unwrap().size, 2);
        assert_eq!(r.read_i64(), Ok(-1));
        assert_eq!(r.read_i64(), Ok(i64::MIN));
        let m = r.map_begin().unwrap();
        assert_eq!((m.key, m.value, m.size), (TType::Binary, TType::I32, 1));
        assert_eq!(r.read_binary(), Ok(&b"k"[..]));
        assert_eq!(r.read_i32(), Ok(-9));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn hostile_sizes_are_rejected_before_allocation() {
        // list<i64> claiming 2^31 - 1 elements in a short packet.
        let list = [T_I64, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(BinaryReader::new(&list).list_begin().is_err());
        // 2 elements of i64 need 16 bytes; only 8 follow.
        let short = [T_I64, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(BinaryReader::new(&short).list_begin().is_err());
        let neg = [0xff, 0xff, 0xff, 0xff, b'a'];
        assert!(BinaryReader::new(&neg).read_binary().is_err());
        let long = [0x7f, 0xff, 0xff, 0xff, b'a'];
        assert!(BinaryReader::new(&long).read_binary().is_err());
        assert!(
            BinaryReader::new(&[99]).field_begin().is_err(),
            "unknown type"
        );
    }
}
