//! RADIUS wire protocol for the ISP AAA daemon and for CoA/Disconnect clients.
//!
//! Packets and attributes ([`Packet`], RFC 2865 §3 and §5), the dictionary of attribute
//! codes ([`dictionary`]), authenticators and Message-Authenticator for both directions
//! ([`auth`]), and the authentication methods a PPPoE/Hotspot NAS uses: PAP ([`pap`]),
//! CHAP ([`chap`]) and MS-CHAPv2 ([`mschap`]) with MPPE keys ([`mppe`]); and the AAA
//! server itself ([`server`]): UDP listeners, authorization decisions and accounting.
//!
//! A server decodes a datagram, verifies it, and answers:
//!
//! ```
//! use isp_radiusd::{dictionary::attr, Code, Packet};
//!
//! let secret = b"s3cret";
//! // What a NAS would send.
//! let mut request = Packet::new_request(Code::AccessRequest, 7);
//! request.add_str(attr::USER_NAME, "alice");
//! request.add_user_password(b"wonderland", secret).unwrap();
//! let datagram = request.encode_request(secret).unwrap();
//!
//! // The server side.
//! let request = Packet::decode(&datagram).unwrap();
//! request.verify_request(secret).unwrap();
//! assert_eq!(request.user_password(secret).unwrap(), b"wonderland");
//! let mut accept = Packet::response_to(&request, Code::AccessAccept);
//! accept.add_u32(attr::SESSION_TIMEOUT, 3600);
//! let reply = accept.encode_response(&request.authenticator, secret).unwrap();
//! # let reply = Packet::decode(&reply).unwrap();
//! # reply.verify_response(&request.authenticator, secret).unwrap();
//! ```

#![warn(missing_docs)]

pub mod attributes;
pub mod auth;
pub mod chap;
pub mod dictionary;
pub mod mppe;
pub mod mschap;
pub mod packet;
pub mod pap;
pub mod server;

pub use attributes::VendorAttribute;
pub use auth::AuthError;
pub use packet::{Attribute, Code, DecodeError, EncodeError, Packet};
