//! Typed reading and writing of attributes, including Vendor-Specific sub-attributes
//! (RFC 2865 §5, §5.26) and 64-bit counters split into octets plus gigawords (RFC 2869 §5.1).

use std::net::Ipv4Addr;

use crate::dictionary::attr;
use crate::packet::{Attribute, Packet, MAX_ATTR_VALUE_LEN};

/// One vendor sub-attribute found inside a Vendor-Specific attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorAttribute<'a> {
    /// IANA Private Enterprise Number, such as 14988 for MikroTik.
    pub vendor_id: u32,
    /// The vendor's own attribute type.
    pub vendor_type: u8,
    /// The sub-attribute value.
    pub value: &'a [u8],
}

/// Splits a Vendor-Specific value into its sub-attributes, or `None` when it does not
/// follow the recommended format of RFC 2865 §5.26 (Vendor-Id, then one or more
/// vendor-type / vendor-length / value triples that exactly fill the value).
pub fn parse_vendor_specific(value: &[u8]) -> Option<Vec<VendorAttribute<'_>>> {
    let (id, mut rest) = value.split_first_chunk::<4>()?;
    let vendor_id = u32::from_be_bytes(*id);
    let mut subs = Vec::new();
    while !rest.is_empty() {
        let &[vendor_type, len, ..] = rest else {
            return None;
        };
        let len = usize::from(len);
        if len < 2 || len > rest.len() {
            return None;
        }
        subs.push(VendorAttribute { vendor_id, vendor_type, value: &rest[2..len] });
        rest = &rest[len..];
    }
    (!subs.is_empty()).then_some(subs)
}

fn be_u32(value: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(value.try_into().ok()?))
}

impl Packet {
    /// The value of the first attribute of this type.
    pub fn attr(&self, typ: u8) -> Option<&[u8]> {
        self.attributes.iter().find(|a| a.typ == typ).map(|a| a.value.as_slice())
    }

    /// The values of every attribute of this type, in wire order.
    pub fn attrs(&self, typ: u8) -> impl Iterator<Item = &[u8]> + '_ {
        self.attributes.iter().filter(move |a| a.typ == typ).map(|a| a.value.as_slice())
    }

    /// The first attribute of this type as UTF-8 text; `None` if absent or not UTF-8.
    pub fn attr_str(&self, typ: u8) -> Option<&str> {
        std::str::from_utf8(self.attr(typ)?).ok()
    }

    /// The first attribute of this type as a 32-bit integer; `None` unless 4 octets.
    pub fn attr_u32(&self, typ: u8) -> Option<u32> {
        be_u32(self.attr(typ)?)
    }

    /// The first attribute of this type as an IPv4 address; `None` unless 4 octets.
    pub fn attr_ipv4(&self, typ: u8) -> Option<Ipv4Addr> {
        self.attr_u32(typ).map(Ipv4Addr::from)
    }

    /// A 64-bit counter from its low 32 bits and an optional gigawords attribute
    /// (Acct-Input-Octets + Acct-Input-Gigawords, RFC 2869 §5.1).
    pub fn attr_u64(&self, octets_typ: u8, gigawords_typ: u8) -> Option<u64> {
        let low = self.attr_u32(octets_typ)?;
        let high = self.attr_u32(gigawords_typ).unwrap_or(0);
        Some(u64::from(high) << 32 | u64::from(low))
    }

    /// All values of this type joined in order, as EAP-Message is (RFC 3579 §3.1).
    pub fn concat(&self, typ: u8) -> Vec<u8> {
        self.attrs(typ).flatten().copied().collect()
    }

    /// Every well-formed vendor sub-attribute in the packet, in wire order.
    pub fn vendor_attributes(&self) -> impl Iterator<Item = VendorAttribute<'_>> + '_ {
        self.attrs(attr::VENDOR_SPECIFIC).flat_map(|v| parse_vendor_specific(v).unwrap_or_default())
    }

    /// The value of the first vendor sub-attribute with this vendor and type.
    pub fn vendor_attr(&self, vendor_id: u32, vendor_type: u8) -> Option<&[u8]> {
        self.vendor_attrs(vendor_id, vendor_type).next()
    }

    /// The values of every vendor sub-attribute with this vendor and type.
    pub fn vendor_attrs(&self, vendor_id: u32, vendor_type: u8) -> impl Iterator<Item = &[u8]> + '_ {
        self.vendor_attributes()
            .filter(move |v| v.vendor_id == vendor_id && v.vendor_type == vendor_type)
            .map(|v| v.value)
    }

    /// The first matching vendor sub-attribute as a 32-bit integer.
    pub fn vendor_attr_u32(&self, vendor_id: u32, vendor_type: u8) -> Option<u32> {
        be_u32(self.vendor_attr(vendor_id, vendor_type)?)
    }

    /// Appends an attribute. Values over 253 octets make `encode` fail.
    pub fn add(&mut self, typ: u8, value: impl Into<Vec<u8>>) {
        self.attributes.push(Attribute { typ, value: value.into() });
    }

    /// Appends a text attribute.
    pub fn add_str(&mut self, typ: u8, value: &str) {
        self.add(typ, value.as_bytes());
    }

    /// Appends a 32-bit integer attribute (network byte order).
    pub fn add_u32(&mut self, typ: u8, value: u32) {
        self.add(typ, value.to_be_bytes());
    }

    /// Appends an IPv4 address attribute.
    pub fn add_ipv4(&mut self, typ: u8, value: Ipv4Addr) {
        self.add(typ, value.octets());
    }

    /// Appends a 64-bit counter as its low 32 bits plus a gigawords attribute (RFC 2869 §5.1).
    pub fn add_u64_split(&mut self, octets_typ: u8, gigawords_typ: u8, value: u64) {
        self.add_u32(octets_typ, value as u32);
        self.add_u32(gigawords_typ, (value >> 32) as u32);
    }

    /// Appends a long value as consecutive attributes of at most 253 octets, as
    /// EAP-Message and Reply-Message allow (RFC 3579 §3.1).
    pub fn add_split(&mut self, typ: u8, value: &[u8]) {
        if value.is_empty() {
            self.add(typ, Vec::new());
        }
        for chunk in value.chunks(MAX_ATTR_VALUE_LEN) {
            self.add(typ, chunk);
        }
    }

    /// Appends a Vendor-Specific attribute holding one sub-attribute (RFC 2865 §5.26).
    /// Values over 247 octets make `encode` fail.
    pub fn add_vendor(&mut self, vendor_id: u32, vendor_type: u8, value: &[u8]) {
        let mut vsa = Vec::with_capacity(6 + value.len());
        vsa.extend_from_slice(&vendor_id.to_be_bytes());
        vsa.push(vendor_type);
        vsa.push(u8::try_from(value.len() + 2).unwrap_or(u8::MAX));
        vsa.extend_from_slice(value);
        self.add(attr::VENDOR_SPECIFIC, vsa);
    }

    /// Appends a vendor text attribute.
    pub fn add_vendor_str(&mut self, vendor_id: u32, vendor_type: u8, value: &str) {
        self.add_vendor(vendor_id, vendor_type, value.as_bytes());
    }

    /// Appends a vendor 32-bit integer attribute.
    pub fn add_vendor_u32(&mut self, vendor_id: u32, vendor_type: u8, value: u32) {
        self.add_vendor(vendor_id, vendor_type, &value.to_be_bytes());
    }

    /// Appends a vendor IPv4 address attribute.
    pub fn add_vendor_ipv4(&mut self, vendor_id: u32, vendor_type: u8, value: Ipv4Addr) {
        self.add_vendor(vendor_id, vendor_type, &value.octets());
    }

    /// Appends a 64-bit vendor limit as low 32 bits plus gigawords, as
    /// Mikrotik-Total-Limit and Mikrotik-Total-Limit-Gigawords are.
    pub fn add_vendor_u64_split(&mut self, vendor_id: u32, octets_type: u8, gigawords_type: u8, value: u64) {
        self.add_vendor_u32(vendor_id, octets_type, value as u32);
        self.add_vendor_u32(vendor_id, gigawords_type, (value >> 32) as u32);
    }

    /// Removes every attribute of this type.
    pub fn remove(&mut self, typ: u8) {
        self.attributes.retain(|a| a.typ != typ);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dictionary::{microsoft, mikrotik};
    use crate::packet::tests::{hex, RFC2865_ACCESS_REQUEST};
    use crate::packet::Code;

    #[test]
    fn typed_getters_on_rfc2865_example() {
        let p = Packet::decode(&hex(RFC2865_ACCESS_REQUEST)).unwrap();
        assert_eq!(p.attr_str(attr::USER_NAME), Some("nemo"));
        assert_eq!(p.attr_ipv4(attr::NAS_IP_ADDRESS), Some(Ipv4Addr::new(192, 168, 1, 16)));
        assert_eq!(p.attr_u32(attr::NAS_PORT), Some(3));
        assert_eq!(p.attr_u32(attr::USER_PASSWORD), None, "4 octets only");
        assert_eq!(p.attr(attr::STATE), None);
    }

    #[test]
    fn builds_mikrotik_reply_and_reads_it_back() {
        let mut p = Packet::new(Code::AccessAccept, 1);
        p.add_vendor_str(mikrotik::VENDOR_ID, mikrotik::RATE_LIMIT, "10M/20M");
        p.add_vendor_u64_split(
            mikrotik::VENDOR_ID,
            mikrotik::TOTAL_LIMIT,
            mikrotik::TOTAL_LIMIT_GIGAWORDS,
            5 * (1 << 32) + 7,
        );
        p.add_vendor_str(mikrotik::VENDOR_ID, mikrotik::ADDRESS_LIST, "suspended");
        p.add_ipv4(attr::FRAMED_IP_ADDRESS, Ipv4Addr::new(100, 64, 0, 9));
        p.add_str(attr::FRAMED_POOL, "pool-a");
        let bytes = p.encode().unwrap();
        // Vendor-Specific: type 26, length 15, vendor 14988 (0x3a8c), type 8, length 9.
        assert_eq!(bytes[20..30], [26, 15, 0, 0, 0x3a, 0x8c, 8, 9, b'1', b'0']);
        let q = Packet::decode(&bytes).unwrap();
        assert_eq!(q.vendor_attr(mikrotik::VENDOR_ID, mikrotik::RATE_LIMIT), Some(&b"10M/20M"[..]));
        assert_eq!(q.vendor_attr_u32(mikrotik::VENDOR_ID, mikrotik::TOTAL_LIMIT), Some(7));
        assert_eq!(q.vendor_attr_u32(mikrotik::VENDOR_ID, mikrotik::TOTAL_LIMIT_GIGAWORDS), Some(5));
        assert_eq!(q.vendor_attr(microsoft::VENDOR_ID, mikrotik::RATE_LIMIT), None);
        assert_eq!(q.attr_str(attr::FRAMED_POOL), Some("pool-a"));
        assert_eq!(q, p);
    }

    #[test]
    fn several_sub_attributes_in_one_vsa() {
        let value = hex("00003a8c 0806 31 4d 2f 32 1306 6c 69 73 74");
        let subs = parse_vendor_specific(&value).unwrap();
        assert_eq!(subs.len(), 2);
        assert_eq!((subs[0].vendor_type, subs[0].value), (8, &b"1M/2"[..]));
        assert_eq!((subs[1].vendor_type, subs[1].value), (19, &b"list"[..]));
        let mut p = Packet::new(Code::AccessAccept, 0);
        p.add(attr::VENDOR_SPECIFIC, value);
        let lists: Vec<_> = p.vendor_attrs(mikrotik::VENDOR_ID, mikrotik::ADDRESS_LIST).collect();
        assert_eq!(lists, [b"list"]);
    }

    #[test]
    fn malformed_vsas_are_opaque() {
        for bad in ["", "00003a", "00003a8c", "00003a8c 08", "00003a8c 0801", "00003a8c 0805 3132"] {
            assert_eq!(parse_vendor_specific(&hex(bad)), None, "{bad}");
        }
        let mut p = Packet::new(Code::AccessAccept, 0);
        p.add(attr::VENDOR_SPECIFIC, hex("00003a8c 0805 3132"));
        assert_eq!(p.vendor_attributes().count(), 0);
    }

    #[test]
    fn counters_split_into_gigawords() {
        let mut p = Packet::new(Code::AccountingRequest, 0);
        let total = 3 * (1u64 << 32) + 12345;
        p.add_u64_split(attr::ACCT_INPUT_OCTETS, attr::ACCT_INPUT_GIGAWORDS, total);
        p.add_u32(attr::ACCT_OUTPUT_OCTETS, 99);
        assert_eq!(p.attr_u32(attr::ACCT_INPUT_GIGAWORDS), Some(3));
        assert_eq!(p.attr_u64(attr::ACCT_INPUT_OCTETS, attr::ACCT_INPUT_GIGAWORDS), Some(total));
        assert_eq!(p.attr_u64(attr::ACCT_OUTPUT_OCTETS, attr::ACCT_OUTPUT_GIGAWORDS), Some(99));
        assert_eq!(p.attr_u64(attr::ACCT_SESSION_TIME, attr::ACCT_OUTPUT_GIGAWORDS), None);
    }

    #[test]
    fn split_and_concat_long_values() {
        let eap: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        let mut p = Packet::new(Code::AccessChallenge, 0);
        p.add_split(attr::EAP_MESSAGE, &eap);
        let sizes: Vec<usize> = p.attrs(attr::EAP_MESSAGE).map(<[u8]>::len).collect();
        assert_eq!(sizes, [253, 253, 94]);
        let q = Packet::decode(&p.encode().unwrap()).unwrap();
        assert_eq!(q.concat(attr::EAP_MESSAGE), eap);
        p.remove(attr::EAP_MESSAGE);
        assert!(p.attributes.is_empty());
    }
}
