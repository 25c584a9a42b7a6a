//! Attribute type codes and values this system speaks, and names for logs.
//!
//! Standard attributes come from RFC 2865 (authentication), RFC 2866 (accounting),
//! RFC 2869 (extensions), RFC 3162 (IPv6), RFC 4818, RFC 5176 (CoA/Disconnect) and
//! RFC 3579 (EAP). Vendor attributes follow the stock FreeRADIUS `dictionary.mikrotik`
//! and `dictionary.microsoft` (RFC 2548).

/// Defines `pub const NAME: $ty = code;` items with a generated doc line, plus a
/// private `(code, name)` table for [`attribute_name`] and friends.
macro_rules! codes {
    ($table:ident: $ty:ty { $($name:ident = $code:expr, $text:expr, $src:expr;)* }) => {
        $(
            #[doc = concat!("`", $text, "` (", $src, ").")]
            pub const $name: $ty = $code;
        )*
        pub(crate) const $table: &[($ty, &str)] = &[$(($code, $text)),*];
    };
}

/// Standard attribute types (the one-octet Type field, RFC 2865 §5).
pub mod attr {
    codes!(NAMES: u8 {
        USER_NAME = 1, "User-Name", "RFC 2865 §5.1";
        USER_PASSWORD = 2, "User-Password", "RFC 2865 §5.2";
        CHAP_PASSWORD = 3, "CHAP-Password", "RFC 2865 §5.3";
        NAS_IP_ADDRESS = 4, "NAS-IP-Address", "RFC 2865 §5.4";
        NAS_PORT = 5, "NAS-Port", "RFC 2865 §5.5";
        SERVICE_TYPE = 6, "Service-Type", "RFC 2865 §5.6";
        FRAMED_PROTOCOL = 7, "Framed-Protocol", "RFC 2865 §5.7";
        FRAMED_IP_ADDRESS = 8, "Framed-IP-Address", "RFC 2865 §5.8";
        FRAMED_IP_NETMASK = 9, "Framed-IP-Netmask", "RFC 2865 §5.9";
        FILTER_ID = 11, "Filter-Id", "RFC 2865 §5.11";
        FRAMED_MTU = 12, "Framed-MTU", "RFC 2865 §5.12";
        LOGIN_IP_HOST = 14, "Login-IP-Host", "RFC 2865 §5.14";
        LOGIN_SERVICE = 15, "Login-Service", "RFC 2865 §5.15";
        REPLY_MESSAGE = 18, "Reply-Message", "RFC 2865 §5.18";
        FRAMED_ROUTE = 22, "Framed-Route", "RFC 2865 §5.22";
        STATE = 24, "State", "RFC 2865 §5.24";
        CLASS = 25, "Class", "RFC 2865 §5.25";
        VENDOR_SPECIFIC = 26, "Vendor-Specific", "RFC 2865 §5.26";
        SESSION_TIMEOUT = 27, "Session-Timeout", "RFC 2865 §5.27";
        IDLE_TIMEOUT = 28, "Idle-Timeout", "RFC 2865 §5.28";
        TERMINATION_ACTION = 29, "Termination-Action", "RFC 2865 §5.29";
        CALLED_STATION_ID = 30, "Called-Station-Id", "RFC 2865 §5.30";
        CALLING_STATION_ID = 31, "Calling-Station-Id", "RFC 2865 §5.31";
        NAS_IDENTIFIER = 32, "NAS-Identifier", "RFC 2865 §5.32";
        PROXY_STATE = 33, "Proxy-State", "RFC 2865 §5.33";
        ACCT_STATUS_TYPE = 40, "Acct-Status-Type", "RFC 2866 §5.1";
        ACCT_DELAY_TIME = 41, "Acct-Delay-Time", "RFC 2866 §5.2";
        ACCT_INPUT_OCTETS = 42, "Acct-Input-Octets", "RFC 2866 §5.3";
        ACCT_OUTPUT_OCTETS = 43, "Acct-Output-Octets", "RFC 2866 §5.4";
        ACCT_SESSION_ID = 44, "Acct-Session-Id", "RFC 2866 §5.5";
        ACCT_AUTHENTIC = 45, "Acct-Authentic", "RFC 2866 §5.6";
        ACCT_SESSION_TIME = 46, "Acct-Session-Time", "RFC 2866 §5.7";
        ACCT_INPUT_PACKETS = 47, "Acct-Input-Packets", "RFC 2866 §5.8";
        ACCT_OUTPUT_PACKETS = 48, "Acct-Output-Packets", "RFC 2866 §5.9";
        ACCT_TERMINATE_CAUSE = 49, "Acct-Terminate-Cause", "RFC 2866 §5.10";
        ACCT_MULTI_SESSION_ID = 50, "Acct-Multi-Session-Id", "RFC 2866 §5.11";
        ACCT_LINK_COUNT = 51, "Acct-Link-Count", "RFC 2866 §5.12";
        ACCT_INPUT_GIGAWORDS = 52, "Acct-Input-Gigawords", "RFC 2869 §5.1";
        ACCT_OUTPUT_GIGAWORDS = 53, "Acct-Output-Gigawords", "RFC 2869 §5.2";
        EVENT_TIMESTAMP = 55, "Event-Timestamp", "RFC 2869 §5.3";
        CHAP_CHALLENGE = 60, "CHAP-Challenge", "RFC 2865 §5.40";
        NAS_PORT_TYPE = 61, "NAS-Port-Type", "RFC 2865 §5.41";
        PORT_LIMIT = 62, "Port-Limit", "RFC 2865 §5.42";
        CONNECT_INFO = 77, "Connect-Info", "RFC 2869 §5.11";
        EAP_MESSAGE = 79, "EAP-Message", "RFC 3579 §3.1";
        MESSAGE_AUTHENTICATOR = 80, "Message-Authenticator", "RFC 3579 §3.2";
        ACCT_INTERIM_INTERVAL = 85, "Acct-Interim-Interval", "RFC 2869 §5.16";
        NAS_PORT_ID = 87, "NAS-Port-Id", "RFC 2869 §5.17";
        FRAMED_POOL = 88, "Framed-Pool", "RFC 2869 §5.18";
        NAS_IPV6_ADDRESS = 95, "NAS-IPv6-Address", "RFC 3162 §2.1";
        FRAMED_INTERFACE_ID = 96, "Framed-Interface-Id", "RFC 3162 §2.2";
        FRAMED_IPV6_PREFIX = 97, "Framed-IPv6-Prefix", "RFC 3162 §2.3";
        FRAMED_IPV6_ROUTE = 99, "Framed-IPv6-Route", "RFC 3162 §2.5";
        FRAMED_IPV6_POOL = 100, "Framed-IPv6-Pool", "RFC 3162 §2.6";
        ERROR_CAUSE = 101, "Error-Cause", "RFC 5176 §3.6";
        DELEGATED_IPV6_PREFIX = 123, "Delegated-IPv6-Prefix", "RFC 4818 §3";
    });
}

/// Values of Acct-Status-Type (RFC 2866 §5.1).
pub mod acct_status_type {
    codes!(NAMES: u32 {
        START = 1, "Start", "RFC 2866 §5.1";
        STOP = 2, "Stop", "RFC 2866 §5.1";
        INTERIM_UPDATE = 3, "Interim-Update", "RFC 2866 §5.1";
        ACCOUNTING_ON = 7, "Accounting-On", "RFC 2866 §5.1";
        ACCOUNTING_OFF = 8, "Accounting-Off", "RFC 2866 §5.1";
    });
}

/// Values of Service-Type (RFC 2865 §5.6, RFC 5176 §3.1).
pub mod service_type {
    codes!(NAMES: u32 {
        LOGIN = 1, "Login-User", "RFC 2865 §5.6";
        FRAMED = 2, "Framed-User", "RFC 2865 §5.6";
        CALLBACK_LOGIN = 3, "Callback-Login-User", "RFC 2865 §5.6";
        CALLBACK_FRAMED = 4, "Callback-Framed-User", "RFC 2865 §5.6";
        OUTBOUND = 5, "Outbound-User", "RFC 2865 §5.6";
        ADMINISTRATIVE = 6, "Administrative-User", "RFC 2865 §5.6";
        NAS_PROMPT = 7, "NAS-Prompt-User", "RFC 2865 §5.6";
        AUTHENTICATE_ONLY = 8, "Authenticate-Only", "RFC 2865 §5.6";
        CALL_CHECK = 10, "Call-Check", "RFC 2865 §5.6";
        AUTHORIZE_ONLY = 17, "Authorize-Only", "RFC 5176 §3.1";
    });
}

/// Values of Framed-Protocol (RFC 2865 §5.7).
pub mod framed_protocol {
    codes!(NAMES: u32 {
        PPP = 1, "PPP", "RFC 2865 §5.7";
    });
}

/// Values of Acct-Authentic (RFC 2866 §5.6).
pub mod acct_authentic {
    codes!(NAMES: u32 {
        RADIUS = 1, "RADIUS", "RFC 2866 §5.6";
        LOCAL = 2, "Local", "RFC 2866 §5.6";
        REMOTE = 3, "Remote", "RFC 2866 §5.6";
    });
}

/// Values of Acct-Terminate-Cause (RFC 2866 §5.10).
pub mod terminate_cause {
    codes!(NAMES: u32 {
        USER_REQUEST = 1, "User-Request", "RFC 2866 §5.10";
        LOST_CARRIER = 2, "Lost-Carrier", "RFC 2866 §5.10";
        LOST_SERVICE = 3, "Lost-Service", "RFC 2866 §5.10";
        IDLE_TIMEOUT = 4, "Idle-Timeout", "RFC 2866 §5.10";
        SESSION_TIMEOUT = 5, "Session-Timeout", "RFC 2866 §5.10";
        ADMIN_RESET = 6, "Admin-Reset", "RFC 2866 §5.10";
        ADMIN_REBOOT = 7, "Admin-Reboot", "RFC 2866 §5.10";
        PORT_ERROR = 8, "Port-Error", "RFC 2866 §5.10";
        NAS_ERROR = 9, "NAS-Error", "RFC 2866 §5.10";
        NAS_REQUEST = 10, "NAS-Request", "RFC 2866 §5.10";
        NAS_REBOOT = 11, "NAS-Reboot", "RFC 2866 §5.10";
        PORT_UNNEEDED = 12, "Port-Unneeded", "RFC 2866 §5.10";
        PORT_PREEMPTED = 13, "Port-Preempted", "RFC 2866 §5.10";
        PORT_SUSPENDED = 14, "Port-Suspended", "RFC 2866 §5.10";
        SERVICE_UNAVAILABLE = 15, "Service-Unavailable", "RFC 2866 §5.10";
        CALLBACK = 16, "Callback", "RFC 2866 §5.10";
        USER_ERROR = 17, "User-Error", "RFC 2866 §5.10";
        HOST_REQUEST = 18, "Host-Request", "RFC 2866 §5.10";
    });
}

/// Values of NAS-Port-Type (RFC 2865 §5.41, RFC 4603).
pub mod nas_port_type {
    codes!(NAMES: u32 {
        ASYNC = 0, "Async", "RFC 2865 §5.41";
        VIRTUAL = 5, "Virtual", "RFC 2865 §5.41";
        ETHERNET = 15, "Ethernet", "RFC 2865 §5.41";
        WIRELESS_802_11 = 19, "Wireless-802.11", "RFC 2865 §5.41";
        PPPOEOE = 33, "PPPoEoE", "RFC 4603";
        PPPOEOQINQ = 34, "PPPoEoQinQ", "RFC 4603";
    });
}

/// Values of Termination-Action (RFC 2865 §5.29).
pub mod termination_action {
    codes!(NAMES: u32 {
        DEFAULT = 0, "Default", "RFC 2865 §5.29";
        RADIUS_REQUEST = 1, "RADIUS-Request", "RFC 2865 §5.29";
    });
}

/// Values of Error-Cause carried in CoA/Disconnect ACKs and NAKs (RFC 5176 §3.6).
pub mod error_cause {
    codes!(NAMES: u32 {
        RESIDUAL_SESSION_CONTEXT_REMOVED = 201, "Residual-Context-Removed", "RFC 5176 §3.6";
        INVALID_EAP_PACKET = 202, "Invalid-EAP-Packet", "RFC 5176 §3.6";
        UNSUPPORTED_ATTRIBUTE = 401, "Unsupported-Attribute", "RFC 5176 §3.6";
        MISSING_ATTRIBUTE = 402, "Missing-Attribute", "RFC 5176 §3.6";
        NAS_IDENTIFICATION_MISMATCH = 403, "NAS-Identification-Mismatch", "RFC 5176 §3.6";
        INVALID_REQUEST = 404, "Invalid-Request", "RFC 5176 §3.6";
        UNSUPPORTED_SERVICE = 405, "Unsupported-Service", "RFC 5176 §3.6";
        UNSUPPORTED_EXTENSION = 406, "Unsupported-Extension", "RFC 5176 §3.6";
        INVALID_ATTRIBUTE_VALUE = 407, "Invalid-Attribute-Value", "RFC 5176 §3.6";
        ADMINISTRATIVELY_PROHIBITED = 501, "Administratively-Prohibited", "RFC 5176 §3.6";
        REQUEST_NOT_ROUTABLE = 502, "Request-Not-Routable", "RFC 5176 §3.6";
        SESSION_CONTEXT_NOT_FOUND = 503, "Session-Context-Not-Found", "RFC 5176 §3.6";
        SESSION_CONTEXT_NOT_REMOVABLE = 504, "Session-Context-Not-Removable", "RFC 5176 §3.6";
        OTHER_PROXY_PROCESSING_ERROR = 505, "Other-Proxy-Processing-Error", "RFC 5176 §3.6";
        RESOURCES_UNAVAILABLE = 506, "Resources-Unavailable", "RFC 5176 §3.6";
        REQUEST_INITIATED = 507, "Request-Initiated", "RFC 5176 §3.6";
        MULTIPLE_SESSION_SELECTION_UNSUPPORTED = 508, "Multiple-Session-Selection-Unsupported", "RFC 5176 §3.6";
    });
}

/// MikroTik vendor attributes (vendor 14988, FreeRADIUS `dictionary.mikrotik`).
pub mod mikrotik {
    /// MikroTik's IANA Private Enterprise Number.
    pub const VENDOR_ID: u32 = 14988;
    codes!(NAMES: u8 {
        RECV_LIMIT = 1, "Mikrotik-Recv-Limit", "integer";
        XMIT_LIMIT = 2, "Mikrotik-Xmit-Limit", "integer";
        GROUP = 3, "Mikrotik-Group", "string";
        WIRELESS_FORWARD = 4, "Mikrotik-Wireless-Forward", "integer";
        WIRELESS_SKIP_DOT1X = 5, "Mikrotik-Wireless-Skip-Dot1x", "integer";
        WIRELESS_ENC_ALGO = 6, "Mikrotik-Wireless-Enc-Algo", "integer";
        WIRELESS_ENC_KEY = 7, "Mikrotik-Wireless-Enc-Key", "string";
        RATE_LIMIT = 8, "Mikrotik-Rate-Limit", "string";
        REALM = 9, "Mikrotik-Realm", "string";
        HOST_IP = 10, "Mikrotik-Host-IP", "ipaddr";
        MARK_ID = 11, "Mikrotik-Mark-Id", "string";
        ADVERTISE_URL = 12, "Mikrotik-Advertise-URL", "string";
        ADVERTISE_INTERVAL = 13, "Mikrotik-Advertise-Interval", "integer";
        RECV_LIMIT_GIGAWORDS = 14, "Mikrotik-Recv-Limit-Gigawords", "integer";
        XMIT_LIMIT_GIGAWORDS = 15, "Mikrotik-Xmit-Limit-Gigawords", "integer";
        WIRELESS_PSK = 16, "Mikrotik-Wireless-PSK", "string";
        TOTAL_LIMIT = 17, "Mikrotik-Total-Limit", "integer";
        TOTAL_LIMIT_GIGAWORDS = 18, "Mikrotik-Total-Limit-Gigawords", "integer";
        ADDRESS_LIST = 19, "Mikrotik-Address-List", "string";
        WIRELESS_MPKEY = 20, "Mikrotik-Wireless-MPKey", "string";
        WIRELESS_COMMENT = 21, "Mikrotik-Wireless-Comment", "string";
        DELEGATED_IPV6_POOL = 22, "Mikrotik-Delegated-IPv6-Pool", "string";
        DHCP_OPTION_SET = 23, "Mikrotik-DHCP-Option-Set", "string";
        DHCP_OPTION_PARAM_STR1 = 24, "Mikrotik-DHCP-Option-Param-STR1", "string";
        DHCP_OPTION_PARAM_STR2 = 25, "Mikrotik-DHCP-Option-Param-STR2", "string";
        WIRELESS_VLANID = 26, "Mikrotik-Wireless-VLANID", "integer";
        WIRELESS_VLANID_TYPE = 27, "Mikrotik-Wireless-VLANID-Type", "integer";
        WIRELESS_MINSIGNAL = 28, "Mikrotik-Wireless-Minsignal", "string";
        WIRELESS_MAXSIGNAL = 29, "Mikrotik-Wireless-Maxsignal", "string";
    });
}

/// Microsoft vendor attributes (vendor 311, RFC 2548).
pub mod microsoft {
    /// Microsoft's IANA Private Enterprise Number.
    pub const VENDOR_ID: u32 = 311;
    codes!(NAMES: u8 {
        CHAP_RESPONSE = 1, "MS-CHAP-Response", "RFC 2548 §2.1.3";
        CHAP_ERROR = 2, "MS-CHAP-Error", "RFC 2548 §2.1.5";
        MPPE_ENCRYPTION_POLICY = 7, "MS-MPPE-Encryption-Policy", "RFC 2548 §2.4.4";
        MPPE_ENCRYPTION_TYPES = 8, "MS-MPPE-Encryption-Types", "RFC 2548 §2.4.5";
        CHAP_DOMAIN = 10, "MS-CHAP-Domain", "RFC 2548 §2.1.6";
        CHAP_CHALLENGE = 11, "MS-CHAP-Challenge", "RFC 2548 §2.1.7";
        MPPE_SEND_KEY = 16, "MS-MPPE-Send-Key", "RFC 2548 §2.4.2";
        MPPE_RECV_KEY = 17, "MS-MPPE-Recv-Key", "RFC 2548 §2.4.3";
        CHAP2_RESPONSE = 25, "MS-CHAP2-Response", "RFC 2548 §2.3.2";
        CHAP2_SUCCESS = 26, "MS-CHAP2-Success", "RFC 2548 §2.3.3";
        PRIMARY_DNS_SERVER = 28, "MS-Primary-DNS-Server", "RFC 2548 §2.6.1";
        SECONDARY_DNS_SERVER = 29, "MS-Secondary-DNS-Server", "RFC 2548 §2.6.2";
    });
}

/// The name of a standard attribute type, for logs.
pub fn attribute_name(typ: u8) -> Option<&'static str> {
    lookup(attr::NAMES, typ)
}

/// The name of a vendor attribute, for logs; `None` for vendors not in this dictionary.
pub fn vendor_attribute_name(vendor_id: u32, vendor_type: u8) -> Option<&'static str> {
    match vendor_id {
        mikrotik::VENDOR_ID => lookup(mikrotik::NAMES, vendor_type),
        microsoft::VENDOR_ID => lookup(microsoft::NAMES, vendor_type),
        _ => None,
    }
}

/// The name of an integer value of a standard attribute (Acct-Status-Type=1 is "Start").
pub fn value_name(typ: u8, value: u32) -> Option<&'static str> {
    let table = match typ {
        attr::ACCT_STATUS_TYPE => acct_status_type::NAMES,
        attr::SERVICE_TYPE => service_type::NAMES,
        attr::FRAMED_PROTOCOL => framed_protocol::NAMES,
        attr::ACCT_AUTHENTIC => acct_authentic::NAMES,
        attr::ACCT_TERMINATE_CAUSE => terminate_cause::NAMES,
        attr::NAS_PORT_TYPE => nas_port_type::NAMES,
        attr::TERMINATION_ACTION => termination_action::NAMES,
        attr::ERROR_CAUSE => error_cause::NAMES,
        _ => return None,
    };
    lookup(table, value)
}

fn lookup<T: PartialEq>(table: &[(T, &'static str)], code: T) -> Option<&'static str> {
    table.iter().find(|(c, _)| *c == code).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_for_logs() {
        assert_eq!(attribute_name(attr::FRAMED_POOL), Some("Framed-Pool"));
        assert_eq!(attr::FRAMED_POOL, 88);
        assert_eq!(attr::ERROR_CAUSE, 101);
        assert_eq!(attribute_name(attr::MESSAGE_AUTHENTICATOR), Some("Message-Authenticator"));
        assert_eq!(attribute_name(254), None);
        assert_eq!(vendor_attribute_name(mikrotik::VENDOR_ID, mikrotik::RATE_LIMIT), Some("Mikrotik-Rate-Limit"));
        assert_eq!(vendor_attribute_name(microsoft::VENDOR_ID, microsoft::CHAP2_SUCCESS), Some("MS-CHAP2-Success"));
        assert_eq!(vendor_attribute_name(9, 1), None);
        assert_eq!(value_name(attr::ACCT_STATUS_TYPE, 3), Some("Interim-Update"));
        assert_eq!(value_name(attr::ERROR_CAUSE, 503), Some("Session-Context-Not-Found"));
        assert_eq!(value_name(attr::USER_NAME, 1), None);
    }

    #[test]
    fn tables_have_no_duplicate_codes() {
        fn check<T: PartialEq + std::fmt::Debug>(table: &[(T, &str)]) {
            for (i, (code, _)) in table.iter().enumerate() {
                assert!(!table[i + 1..].iter().any(|(c, _)| c == code), "{code:?}");
            }
        }
        check(attr::NAMES);
        check(mikrotik::NAMES);
        check(microsoft::NAMES);
        check(error_cause::NAMES);
        check(terminate_cause::NAMES);
    }
}
