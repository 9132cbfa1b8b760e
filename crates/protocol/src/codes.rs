//! The closed list of error codes shared by the server (HTTP error bodies) and the browser
//! module (the `code` of the JS errors it throws). docs/errors.md documents every entry; a
//! test keeps the two in step. Adding a code is a protocol change; renaming one is a break.

macro_rules! codes {
    ($( $variant:ident = $code:literal, $status:literal, $message:literal; )*) => {
        /// One stable error code. `as_str` is the SCREAMING_SNAKE form that crosses the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $( $variant, )* }

        impl ErrorCode {
            /// Every code, in documentation order.
            pub const ALL: &'static [ErrorCode] = &[$( ErrorCode::$variant, )*];

            /// The wire form, e.g. `"DOMAIN_MISMATCH"`.
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code, )* }
            }

            /// The HTTP status the server answers with (client-side codes say 0).
            pub fn http_status(self) -> u16 {
                match self { $( ErrorCode::$variant => $status, )* }
            }

            /// A lowercase sentence that tells the reader what to do next.
            pub fn message(self) -> &'static str {
                match self { $( ErrorCode::$variant => $message, )* }
            }

            /// Parses the wire form; `None` for a code this build does not know.
            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code { $( $code => Some(ErrorCode::$variant), )* _ => None }
            }
        }
    };
}

codes! {
    // Answered by the server.
    MalformedRequest = "MALFORMED_REQUEST", 400, "the request body is not a licet v1 request: update the sdk or check the proxy in between";
    DecryptionFailed = "DECRYPTION_FAILED", 400, "the sealed payload could not be opened: the license key does not match this server, or the data was altered";
    UnsupportedVersion = "UNSUPPORTED_VERSION", 400, "this protocol or key version is not supported: update the sdk or the server";
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", 413, "the request is larger than the server accepts: send usage more often";
    RateLimited = "RATE_LIMITED", 429, "too many requests from this network address: try again after the retry-after header's seconds; usage is kept and sent later";
    ReplayedNonce = "REPLAYED_NONCE", 409, "this request was already received once: send a fresh one";
    UnknownProject = "UNKNOWN_PROJECT", 404, "no project matches this organization id and handshake code: check the license key";
    OrganizationMismatch = "ORGANIZATION_MISMATCH", 403, "the handshake code belongs to another organization: check the organization id in the license key";
    WrongSessionPassword = "WRONG_SESSION_PASSWORD", 403, "the session password does not match the one set on this handshake code";
    NoLicense = "NO_LICENSE", 403, "no license is assigned to this handshake code: assign one on the license server";
    LicenseExpired = "LICENSE_EXPIRED", 403, "the license has expired: renew it or assign another license to the handshake code";
    QuotaExhausted = "QUOTA_EXHAUSTED", 403, "the license's quota and its tolerance are used up: add a license item with more quota to the handshake code";
    DeviceLimitReached = "DEVICE_LIMIT_REACHED", 403, "every device seat of the license is taken: wait for a seat to lapse or add a license item with more devices";
    ConcurrentLimitReached = "CONCURRENT_LIMIT_REACHED", 403, "the license's limit of devices working at once is reached: try again in a few minutes";
    TrialUnavailable = "TRIAL_UNAVAILABLE", 403, "this license server offers no public trial: use a license key with an organization id or handshake code";
    TrialUsed = "TRIAL_USED", 403, "this device already had its public trial or is known to the server: ask the vendor for a license";
    UnknownDevice = "UNKNOWN_DEVICE", 403, "this device has not been authorized for the project: call initLicense first";
    DomainMismatch = "DOMAIN_MISMATCH", 403, "the page's domain is not bound to this license: run the page on a bound domain, or ask the vendor to bind this one";
    Internal = "INTERNAL", 500, "the license server failed: try again later; the server log has the cause";
    // Raised by the browser module.
    InvalidArgument = "INVALID_ARGUMENT", 0, "an argument is out of range or of the wrong type: see the api documentation";
    NotInitialized = "NOT_INITIALIZED", 0, "call initLicense first";
    InvalidLicenseKey = "INVALID_LICENSE_KEY", 0, "the license key is not a licet license key: copy it again from the license server";
    NetworkError = "NETWORK_ERROR", 0, "the license server could not be reached: usage is kept and sent later";
    StorageError = "STORAGE_ERROR", 0, "the browser storage (indexeddb) failed: check that storage is allowed for this site";
    BadKey = "BAD_KEY", 0, "a key in the license key or license file is not valid";
    BadSignature = "BAD_SIGNATURE", 0, "a signature does not verify: the response or license was altered or comes from another server";
    NonceMismatch = "NONCE_MISMATCH", 0, "the response does not answer this request: a proxy may be replaying responses";
    BadResponse = "BAD_RESPONSE", 0, "the license server sent an answer this sdk does not understand: update the sdk or the server";
    GraceExpired = "GRACE_EXPIRED", 0, "the offline grace period is over: connect to the license server to go on counting";
    ClockSetBack = "CLOCK_SET_BACK", 0, "the device clock was set back: licensing keeps to the latest trusted time";
    ClockSkew = "CLOCK_SKEW", 0, "the device clock differs from the license server's by more than 5 minutes: licensing uses the server's time";
}

impl ErrorCode {
    /// Whether this failure says the license server could not be properly reached (no answer,
    /// a captive portal's page, a proxy's or the server's own failure, or the server shedding
    /// this address's load), as opposed to a refusal by the server: the browser module then tries
    /// the standby servers, and at start-up falls back to its cached authorization. A rate-limited
    /// request is one the server did not look at, so it must not end a session that a cached
    /// authorization still covers; reports stay in the outbox either way, until a receipt.
    pub fn is_unreachable(self) -> bool {
        matches!(self, ErrorCode::RateLimited | ErrorCode::NetworkError | ErrorCode::BadResponse | ErrorCode::Internal)
    }

    /// Whether this refusal says the license ran out (quota, expiry, seats, concurrent slot,
    /// trial) rather than that the request is wrong: a device already authorized keeps working
    /// until the `offline_until` of the authorization it holds, across reloads too, so at
    /// start-up the browser module falls back to its cached authorization as for an unreachable
    /// server, and shows this code in its status.
    pub fn is_lapse(self) -> bool {
        matches!(
            self,
            ErrorCode::QuotaExhausted
                | ErrorCode::LicenseExpired
                | ErrorCode::DeviceLimitReached
                | ErrorCode::ConcurrentLimitReached
                | ErrorCode::TrialUsed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_parses_back_and_is_documented() {
        let doc = include_str!("../../../docs/errors.md");
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
            assert!(doc.contains(&format!("`{}`", code.as_str())), "docs/errors.md lacks {}", code.as_str());
            assert!(code.message().chars().next().is_some_and(|c| c.is_lowercase()));
        }
        assert_eq!(ErrorCode::parse("NOT_A_CODE"), None);
    }

    #[test]
    fn unreachable_and_lapse_name_the_documented_codes() {
        let unreachable: Vec<_> =
            ErrorCode::ALL.iter().filter(|code| code.is_unreachable()).map(|code| code.as_str()).collect();
        assert_eq!(unreachable, ["RATE_LIMITED", "INTERNAL", "NETWORK_ERROR", "BAD_RESPONSE"]);
        let lapse: Vec<_> = ErrorCode::ALL.iter().filter(|code| code.is_lapse()).map(|code| code.as_str()).collect();
        assert_eq!(
            lapse,
            ["LICENSE_EXPIRED", "QUOTA_EXHAUSTED", "DEVICE_LIMIT_REACHED", "CONCURRENT_LIMIT_REACHED", "TRIAL_USED"]
        );
    }
}
