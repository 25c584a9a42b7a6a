//! The RADIUS packet: header, attributes, decoding and encoding (RFC 2865 §3, §5).
//!
//! Decoding never panics: every length is checked before it is used. Authenticators
//! and Message-Authenticator live in [`crate::auth`]; typed attribute access in
//! [`crate::attributes`].

use thiserror::Error;

/// Size of the fixed header: Code, Identifier, Length, Authenticator (RFC 2865 §3).
pub const HEADER_LEN: usize = 20;
/// Largest packet allowed on the wire (RFC 2865 §3).
pub const MAX_PACKET_LEN: usize = 4096;
/// Largest attribute value: the one-octet Length counts its own two header octets.
pub const MAX_ATTR_VALUE_LEN: usize = 253;

/// Packet type (the Code field, RFC 2865 §3, RFC 5997, RFC 5176 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// Access-Request (1).
    AccessRequest,
    /// Access-Accept (2).
    AccessAccept,
    /// Access-Reject (3).
    AccessReject,
    /// Accounting-Request (4).
    AccountingRequest,
    /// Accounting-Response (5).
    AccountingResponse,
    /// Access-Challenge (11).
    AccessChallenge,
    /// Status-Server (12).
    StatusServer,
    /// Status-Client (13).
    StatusClient,
    /// Disconnect-Request (40).
    DisconnectRequest,
    /// Disconnect-ACK (41).
    DisconnectAck,
    /// Disconnect-NAK (42).
    DisconnectNak,
    /// CoA-Request (43).
    CoaRequest,
    /// CoA-ACK (44).
    CoaAck,
    /// CoA-NAK (45).
    CoaNak,
}

impl Code {
    /// The numeric Code field.
    pub fn as_u8(self) -> u8 {
        match self {
            Code::AccessRequest => 1,
            Code::AccessAccept => 2,
            Code::AccessReject => 3,
            Code::AccountingRequest => 4,
            Code::AccountingResponse => 5,
            Code::AccessChallenge => 11,
            Code::StatusServer => 12,
            Code::StatusClient => 13,
            Code::DisconnectRequest => 40,
            Code::DisconnectAck => 41,
            Code::DisconnectNak => 42,
            Code::CoaRequest => 43,
            Code::CoaAck => 44,
            Code::CoaNak => 45,
        }
    }

    /// The code for a numeric Code field, `None` for codes this crate does not handle.
    pub fn from_u8(code: u8) -> Option<Code> {
        Some(match code {
            1 => Code::AccessRequest,
            2 => Code::AccessAccept,
            3 => Code::AccessReject,
            4 => Code::AccountingRequest,
            5 => Code::AccountingResponse,
            11 => Code::AccessChallenge,
            12 => Code::StatusServer,
            13 => Code::StatusClient,
            40 => Code::DisconnectRequest,
            41 => Code::DisconnectAck,
            42 => Code::DisconnectNak,
            43 => Code::CoaRequest,
            44 => Code::CoaAck,
            45 => Code::CoaNak,
            _ => return None,
        })
    }

    /// The name used in RFCs and logs, such as "CoA-ACK".
    pub fn name(self) -> &'static str {
        match self {
            Code::AccessRequest => "Access-Request",
            Code::AccessAccept => "Access-Accept",
            Code::AccessReject => "Access-Reject",
            Code::AccountingRequest => "Accounting-Request",
            Code::AccountingResponse => "Accounting-Response",
            Code::AccessChallenge => "Access-Challenge",
            Code::StatusServer => "Status-Server",
            Code::StatusClient => "Status-Client",
            Code::DisconnectRequest => "Disconnect-Request",
            Code::DisconnectAck => "Disconnect-ACK",
            Code::DisconnectNak => "Disconnect-NAK",
            Code::CoaRequest => "CoA-Request",
            Code::CoaAck => "CoA-ACK",
            Code::CoaNak => "CoA-NAK",
        }
    }

    /// Whether a packet of this code is a request (sent by a client, answered by a server).
    pub fn is_request(self) -> bool {
        matches!(
            self,
            Code::AccessRequest
                | Code::AccountingRequest
                | Code::StatusServer
                | Code::StatusClient
                | Code::DisconnectRequest
                | Code::CoaRequest
        )
    }

    /// Whether the request authenticator is an MD5 over the packet (RFC 2866 §3,
    /// RFC 5176 §2.3) rather than a random nonce (Access-Request, Status-Server).
    pub fn has_computed_request_authenticator(self) -> bool {
        matches!(self, Code::AccountingRequest | Code::DisconnectRequest | Code::CoaRequest)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One attribute as on the wire: a Type and up to 253 octets of value (RFC 2865 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The Type octet; see [`crate::dictionary::attr`].
    pub typ: u8,
    /// The Value octets, not including the Type and Length octets.
    pub value: Vec<u8>,
}

/// A decoded RADIUS packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Packet type.
    pub code: Code,
    /// Matches requests with responses (RFC 2865 §3).
    pub identifier: u8,
    /// Request or Response Authenticator, depending on the code.
    pub authenticator: [u8; 16],
    /// Attributes in wire order (order matters for Proxy-State and EAP-Message).
    pub attributes: Vec<Attribute>,
}

/// Why a datagram is not a RADIUS packet; the server drops it silently (RFC 2865 §3).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer octets than the 20-octet header.
    #[error("datagram of {0} octets is shorter than the RADIUS header")]
    TooShort(usize),
    /// The Length field is below 20 or above 4096.
    #[error("Length field {0} is outside 20..=4096")]
    BadLength(usize),
    /// The datagram holds fewer octets than the Length field says.
    #[error("Length field {length} exceeds the {received} octets received")]
    Truncated {
        /// The Length field.
        length: usize,
        /// Octets received.
        received: usize,
    },
    /// An attribute has Length < 2 or runs past the packet Length.
    #[error("malformed attribute at offset {0}")]
    BadAttribute(usize),
    /// A Code this crate does not handle.
    #[error("unknown packet code {0}")]
    UnknownCode(u8),
}

/// Why a packet cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// An attribute value longer than 253 octets (split it with `add_split`).
    #[error("attribute {typ} value of {len} octets exceeds 253")]
    AttributeTooLong {
        /// The attribute Type.
        typ: u8,
        /// The value length.
        len: usize,
    },
    /// The packet would exceed 4096 octets.
    #[error("packet of {0} octets exceeds 4096")]
    PacketTooLong(usize),
    /// `encode_request` on a response code, or `encode_response` on a request code.
    #[error("{0} is the wrong direction for this operation")]
    WrongDirection(Code),
    /// More than one Message-Authenticator, or one whose value is not 16 octets.
    #[error("malformed Message-Authenticator")]
    MalformedMessageAuthenticator,
}

impl Packet {
    /// A packet with no attributes and an all-zero authenticator.
    pub fn new(code: Code, identifier: u8) -> Packet {
        Packet { code, identifier, authenticator: [0; 16], attributes: Vec::new() }
    }

    /// Parses a datagram. Octets beyond the Length field are padding and ignored;
    /// a datagram shorter than Length is rejected (RFC 2865 §3).
    pub fn decode(datagram: &[u8]) -> Result<Packet, DecodeError> {
        if datagram.len() < HEADER_LEN {
            return Err(DecodeError::TooShort(datagram.len()));
        }
        let length = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
        if !(HEADER_LEN..=MAX_PACKET_LEN).contains(&length) {
            return Err(DecodeError::BadLength(length));
        }
        if datagram.len() < length {
            return Err(DecodeError::Truncated { length, received: datagram.len() });
        }
        let code = Code::from_u8(datagram[0]).ok_or(DecodeError::UnknownCode(datagram[0]))?;
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(&datagram[4..HEADER_LEN]);
        let attributes = decode_attributes(&datagram[HEADER_LEN..length])
            .map_err(|offset| DecodeError::BadAttribute(HEADER_LEN + offset))?;
        Ok(Packet { code, identifier: datagram[1], authenticator, attributes })
    }

    /// Serialises the packet with `self.authenticator` as it is; see
    /// [`Packet::encode_request`] and [`Packet::encode_response`] for signed forms.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut len = HEADER_LEN;
        for a in &self.attributes {
            if a.value.len() > MAX_ATTR_VALUE_LEN {
                return Err(EncodeError::AttributeTooLong { typ: a.typ, len: a.value.len() });
            }
            len += 2 + a.value.len();
        }
        if len > MAX_PACKET_LEN {
            return Err(EncodeError::PacketTooLong(len));
        }
        let mut out = Vec::with_capacity(len);
        out.push(self.code.as_u8());
        out.push(self.identifier);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&self.authenticator);
        for a in &self.attributes {
            out.push(a.typ);
            out.push((a.value.len() + 2) as u8);
            out.extend_from_slice(&a.value);
        }
        Ok(out)
    }
}

/// Splits the attribute area; on error returns the offset of the bad attribute.
fn decode_attributes(mut area: &[u8]) -> Result<Vec<Attribute>, usize> {
    let total = area.len();
    let mut attributes = Vec::new();
    while !area.is_empty() {
        let offset = total - area.len();
        // RFC 2865 §5: Length covers Type, Length and Value, so it is at least 2.
        let &[typ, len, ..] = area else {
            return Err(offset);
        };
        let len = usize::from(len);
        if len < 2 || len > area.len() {
            return Err(offset);
        }
        attributes.push(Attribute { typ, value: area[2..len].to_vec() });
        area = &area[len..];
    }
    Ok(attributes)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, RngCore, SeedableRng};

    /// Parses whitespace-separated or contiguous hex, for RFC vectors.
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
        assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
        digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
    }

    /// RFC 2865 §7.1, the Access-Request from NAS 192.168.1.16 for user "nemo".
    pub(crate) const RFC2865_ACCESS_REQUEST: &str = "
        01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
        98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d
        93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8
        01 10 05 06 00 00 00 03";
    /// RFC 2865 §7.1, the Access-Accept answering it.
    pub(crate) const RFC2865_ACCESS_ACCEPT: &str = "
        02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf
        9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00
        0e 06 c0 a8 01 03";
    /// RFC 2865 §7.2, an Access-Request for "flopsy" with CHAP-Password.
    pub(crate) const RFC2865_CHAP_REQUEST: &str = "
        01 01 00 47 2a ee 86 f0 8d 0d 55 96 9c a5 97 8e
        0d 33 67 a2 01 08 66 6c 6f 70 73 79 03 13 16 e9
        75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75 04
        06 c0 a8 01 10 05 06 00 00 00 14 06 06 00 00 00
        02 07 06 00 00 00 01";

    #[test]
    fn decodes_rfc2865_examples_and_reencodes_them_exactly() {
        for vector in [RFC2865_ACCESS_REQUEST, RFC2865_ACCESS_ACCEPT, RFC2865_CHAP_REQUEST] {
            let bytes = hex(vector);
            let p = Packet::decode(&bytes).unwrap();
            assert_eq!(p.encode().unwrap(), bytes);
        }
        let p = Packet::decode(&hex(RFC2865_ACCESS_REQUEST)).unwrap();
        assert_eq!((p.code, p.identifier), (Code::AccessRequest, 0));
        assert_eq!(p.authenticator[..4], [0x0f, 0x40, 0x3f, 0x94]);
        let types: Vec<u8> = p.attributes.iter().map(|a| a.typ).collect();
        assert_eq!(types, [1, 2, 4, 5]);
        assert_eq!(p.attributes[0].value, b"nemo");
        let p = Packet::decode(&hex(RFC2865_CHAP_REQUEST)).unwrap();
        assert_eq!(p.attributes[1].typ, 3);
        assert_eq!(p.attributes[1].value.len(), 17);
    }

    #[test]
    fn octets_beyond_length_are_ignored() {
        let mut bytes = hex(RFC2865_ACCESS_ACCEPT);
        let want = Packet::decode(&bytes).unwrap();
        bytes.extend_from_slice(&[0xde, 0xad, 0x01]);
        assert_eq!(Packet::decode(&bytes).unwrap(), want);
    }

    #[test]
    fn rejects_bad_lengths() {
        let good = hex(RFC2865_ACCESS_ACCEPT);
        assert_eq!(Packet::decode(&good[..19]), Err(DecodeError::TooShort(19)));
        let mut b = good.clone();
        b[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(Packet::decode(&b), Err(DecodeError::BadLength(19)));
        b[2..4].copy_from_slice(&4097u16.to_be_bytes());
        assert_eq!(Packet::decode(&b), Err(DecodeError::BadLength(4097)));
        b[2..4].copy_from_slice(&39u16.to_be_bytes());
        assert_eq!(Packet::decode(&b), Err(DecodeError::Truncated { length: 39, received: 38 }));
        // Length cuts the last attribute (Login-IP-Host, 6 octets at offset 32) short.
        b[2..4].copy_from_slice(&37u16.to_be_bytes());
        assert_eq!(Packet::decode(&b), Err(DecodeError::BadAttribute(32)));
        let mut b = good.clone();
        b[21] = 1; // first attribute Length < 2
        assert_eq!(Packet::decode(&b), Err(DecodeError::BadAttribute(20)));
        let mut b = good.clone();
        b[0] = 99;
        assert_eq!(Packet::decode(&b), Err(DecodeError::UnknownCode(99)));
        // A lone Type octet with no Length.
        let mut b = good[..20].to_vec();
        b.push(1);
        b[3] = 21;
        assert_eq!(Packet::decode(&b), Err(DecodeError::BadAttribute(20)));
    }

    #[test]
    fn every_truncation_of_a_valid_packet_is_rejected_without_panic() {
        for vector in [RFC2865_ACCESS_REQUEST, RFC2865_ACCESS_ACCEPT, RFC2865_CHAP_REQUEST] {
            let bytes = hex(vector);
            for n in 0..bytes.len() {
                assert!(Packet::decode(&bytes[..n]).is_err(), "prefix of {n} octets");
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5ad1_u64);
        let template = hex(RFC2865_CHAP_REQUEST);
        let mut accepted = 0;
        for i in 0..20_000 {
            let mut buf = if i % 2 == 0 {
                let mut b = vec![0u8; rng.gen_range(0..600)];
                rng.fill_bytes(&mut b);
                b
            } else {
                // Mutate a valid packet so that decoding gets past the header checks.
                let mut b = template.clone();
                for _ in 0..rng.gen_range(1..4) {
                    let at = rng.gen_range(0..b.len());
                    b[at] = rng.gen();
                }
                b
            };
            if i % 3 == 0 {
                buf.truncate(rng.gen_range(0..=buf.len()));
            }
            if let Ok(p) = Packet::decode(&buf) {
                accepted += 1;
                let length = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
                assert_eq!(p.encode().unwrap(), buf[..length]);
            }
        }
        assert!(accepted > 100, "mutations should sometimes stay valid ({accepted})");
    }

    #[test]
    fn encode_checks_sizes() {
        let mut p = Packet::new(Code::AccessAccept, 7);
        p.attributes.push(Attribute { typ: 18, value: vec![b'x'; 254] });
        assert_eq!(p.encode(), Err(EncodeError::AttributeTooLong { typ: 18, len: 254 }));
        p.attributes[0].value.truncate(253);
        assert_eq!(p.encode().unwrap().len(), 20 + 255);
        p.attributes = vec![Attribute { typ: 18, value: vec![0; 253] }; 17];
        assert_eq!(p.encode(), Err(EncodeError::PacketTooLong(20 + 17 * 255)));
        // Exactly 4096 octets: 15 full attributes plus one of 251 octets.
        p.attributes.truncate(15);
        p.attributes.push(Attribute { typ: 18, value: vec![0; 249] });
        let bytes = p.encode().unwrap();
        assert_eq!(bytes.len(), MAX_PACKET_LEN);
        assert_eq!(Packet::decode(&bytes).unwrap(), p);
        p.attributes[15].value.push(0);
        assert_eq!(p.encode(), Err(EncodeError::PacketTooLong(4097)));
    }

    #[test]
    fn codes_round_trip() {
        for n in 0..=255u8 {
            if let Some(c) = Code::from_u8(n) {
                assert_eq!(c.as_u8(), n);
            }
        }
        assert_eq!(Code::from_u8(43), Some(Code::CoaRequest));
        assert_eq!(Code::DisconnectNak.to_string(), "Disconnect-NAK");
        assert!(Code::StatusServer.is_request() && !Code::CoaAck.is_request());
    }
}
