//! The little DER the signing key needs: reading PKCS#8 `PrivateKeyInfo` and SEC1
//! `ECPrivateKey` (definite lengths only), and writing a SubjectPublicKeyInfo.

/// Universal tags used here.
pub const SEQUENCE: u8 = 0x30;
/// INTEGER.
pub const INTEGER: u8 = 0x02;
/// BIT STRING.
pub const BIT_STRING: u8 = 0x03;
/// OCTET STRING.
pub const OCTET_STRING: u8 = 0x04;
/// NULL.
pub const NULL: u8 = 0x05;
/// OBJECT IDENTIFIER.
pub const OID: u8 = 0x06;

/// A DER reader over one level of a structure.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Reader { rest: b }
    }

    /// Nothing left.
    pub fn done(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, if any.
    pub fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads one element with tag `tag` and returns its contents.
    pub fn expect(&mut self, tag: u8) -> Result<&'a [u8], String> {
        let (&t, rest) = self.rest.split_first().ok_or("truncated")?;
        if t != tag {
            return Err(format!("expected DER tag {tag:#04x}, found {t:#04x}"));
        }
        let (&l0, mut rest) = rest.split_first().ok_or("truncated length")?;
        let len = if l0 < 0x80 {
            l0 as usize
        } else {
            let n = (l0 & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return Err("bad DER length".into());
            }
            let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return Err("truncated".into());
        }
        let (body, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(body)
    }

    /// Reads the next element if it has tag `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, String> {
        if self.peek() == Some(tag) {
            self.expect(tag).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// One element: tag, definite length, contents.
pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = body.len();
    if n < 0x80 {
        v.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        v.push(0x80 | bytes.len() as u8);
        v.extend(bytes);
    }
    v.extend_from_slice(body);
    v
}

/// The number of significant bits of a DER INTEGER's unsigned value.
pub fn integer_bits(int: &[u8]) -> usize {
    let mut s = int;
    while let [0, rest @ ..] = s {
        s = rest;
    }
    match s.first() {
        None => 0,
        Some(&b) => s.len() * 8 - b.leading_zeros() as usize,
    }
}

/// A SubjectPublicKeyInfo: `algorithm` is the AlgorithmIdentifier's contents (OID and
/// parameters, already encoded), `key` the subjectPublicKey bits.
pub fn spki(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let mut bits = vec![0];
    bits.extend_from_slice(key);
    tlv(
        SEQUENCE,
        &[tlv(SEQUENCE, algorithm), tlv(BIT_STRING, &bits)].concat(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_and_long_lengths() {
        for n in [0usize, 5, 127, 128, 255, 256, 70_000] {
            let body = vec![7u8; n];
            let enc = tlv(OCTET_STRING, &body);
            let mut r = Reader::new(&enc);
            assert_eq!(r.expect(OCTET_STRING).unwrap(), &body[..]);
            assert!(r.done());
        }
    }

    #[test]
    fn refuses_truncated_and_wrong_tags() {
        assert!(Reader::new(&[0x30, 0x05, 1]).expect(SEQUENCE).is_err());
        assert!(Reader::new(&[0x30, 0x85, 1, 2, 3, 4, 5])
            .expect(SEQUENCE)
            .is_err());
        let e = Reader::new(&[0x02, 0x00]).expect(SEQUENCE).unwrap_err();
        assert!(e.contains("expected DER tag 0x30"), "{e}");
        let mut r = Reader::new(&[0x02, 0x01, 0x05]);
        assert_eq!(r.optional(OID).unwrap(), None);
        assert_eq!(r.optional(INTEGER).unwrap(), Some(&[5u8][..]));
    }

    #[test]
    fn counts_integer_bits() {
        assert_eq!(integer_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(integer_bits(&[0x01, 0xff]), 9);
        assert_eq!(integer_bits(&[0x00]), 0);
    }
}
