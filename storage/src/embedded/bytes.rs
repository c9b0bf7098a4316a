//! Byte-level primitives shared by every on-disk format of the embedded store: LEB128
//! varints, zig-zag integers, length-prefixed strings, and a bounds-checked reader.
//!
//! Everything read from disk goes through [`Reader`], which never panics: a short or
//! malformed buffer is a [`CorruptError`].

use std::fmt;

/// A file or record whose bytes do not decode; the caller drops or skips it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptError(pub &'static str);

impl fmt::Display for CorruptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt data: {}", self.0)
    }
}

impl std::error::Error for CorruptError {}

pub type Decoded<T> = Result<T, CorruptError>;

pub fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    put_u64(out, ((v << 1) ^ (v >> 63)) as u64);
}

pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u64(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A cursor over untrusted bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn u8(&mut self) -> Decoded<u8> {
        let (&b, rest) = self.buf.split_first().ok_or(CorruptError("short read"))?;
        self.buf = rest;
        Ok(b)
    }

    pub fn u64(&mut self) -> Decoded<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CorruptError("varint too long"))
    }

    pub fn i64(&mut self) -> Decoded<i64> {
        let v = self.u64()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    pub fn u32(&mut self) -> Decoded<u32> {
        u32::try_from(self.u64()?).map_err(|_| CorruptError("u32 out of range"))
    }

    /// A count or length, refused when larger than what is left to read (every element
    /// takes at least one byte), so a hostile count cannot trigger a huge allocation.
    pub fn len(&mut self) -> Decoded<usize> {
        let n = usize::try_from(self.u64()?).map_err(|_| CorruptError("length overflow"))?;
        if n > self.buf.len() {
            return Err(CorruptError("length beyond end"));
        }
        Ok(n)
    }

    pub fn take(&mut self, n: usize) -> Decoded<&'a [u8]> {
        if n > self.buf.len() {
            return Err(CorruptError("short read"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub fn fixed<const N: usize>(&mut self) -> Decoded<[u8; N]> {
        let b = self.take(N)?;
        b.try_into().map_err(|_| CorruptError("short read"))
    }

    pub fn bytes(&mut self) -> Decoded<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    pub fn str(&mut self) -> Decoded<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| CorruptError("invalid UTF-8"))
    }

    pub fn u64_le(&mut self) -> Decoded<u64> {
        Ok(u64::from_le_bytes(self.fixed()?))
    }

    pub fn u128_be(&mut self) -> Decoded<u128> {
        Ok(u128::from_be_bytes(self.fixed()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_garbage() {
        let mut out = Vec::new();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            put_u64(&mut out, v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            put_i64(&mut out, v);
        }
        let mut r = Reader::new(&out);
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(r.u64().unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(r.i64().unwrap(), v);
        }
        assert!(r.is_empty());
        assert!(Reader::new(&[0xff; 11]).u64().is_err());
        assert!(Reader::new(&[0x80]).u64().is_err());
        assert!(Reader::new(&[5, b'a']).bytes().is_err());
        assert!(Reader::new(&[2, 0xff, 0xfe]).str().is_err());
    }
}
