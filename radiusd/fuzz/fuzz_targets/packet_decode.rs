//! Fuzzes `Packet::decode`: it must never panic, and whatever it accepts must
//! re-encode to the same octets up to the Length field (RFC 2865 §3).
//! Run with `cargo +nightly fuzz run packet_decode` from `radiusd/`.
#![no_main]

use isp_radiusd::Packet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = Packet::decode(data) {
        let length = usize::from(u16::from_be_bytes([data[2], data[3]]));
        let encoded = packet.encode().expect("a decoded packet always re-encodes");
        assert_eq!(encoded, data[..length]);
        // Verification must not panic either, whatever the secret.
        let _ = packet.verify_request(b"secret");
        let _ = packet.verify_response(&[0; 16], b"secret");
        let _ = packet.user_password(b"secret");
        let _ = packet.vendor_attributes().count();
    }
});
