//! Random 16-byte identifiers: device IDs (UUID v4), report IDs and request nonces. They are
//! made from caller-supplied random bytes, so this module needs no entropy source of its own.

use serde::{Deserialize, Serialize};

macro_rules! id16 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub [u8; 16]);

        impl $name {
            /// Lowercase hyphenated form, e.g. `0f8e…-…`.
            pub fn to_hyphenated(&self) -> String {
                let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
                uuid::Uuid::from_bytes(self.0).hyphenated().encode_lower(&mut buf).to_owned()
            }

            /// Parses the hyphenated (or simple) form.
            pub fn parse(text: &str) -> Option<Self> {
                uuid::Uuid::try_parse(text).ok().map(|u| $name(u.into_bytes()))
            }
        }
    };
}

id16!(
    /// A browser origin's private device ID: a random UUID v4 and nothing else.
    DeviceId
);
id16!(
    /// The ID of one sealed usage report; the server counts each ID once.
    ReportId
);
id16!(
    /// A request nonce that the signed response echoes.
    Nonce
);

impl DeviceId {
    /// A UUID v4 from 16 random bytes (version and variant bits set as RFC 9562 says).
    pub fn from_random(bytes: [u8; 16]) -> Self {
        DeviceId(*uuid::Builder::from_random_bytes(bytes).as_uuid().as_bytes())
    }

    /// True for a UUID v4, the only kind of device ID Licet makes.
    pub fn is_v4(&self) -> bool {
        uuid::Uuid::from_bytes(self.0).get_version_num() == 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_v4_and_round_trip() {
        let id = DeviceId::from_random([0xff; 16]);
        assert!(id.is_v4());
        let text = id.to_hyphenated();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
        assert_eq!(DeviceId::parse(&text), Some(id));
        assert_eq!(DeviceId::parse("not-a-uuid"), None);
    }
}
