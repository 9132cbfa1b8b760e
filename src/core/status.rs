//! What `status()` reports: the license state of this device from its last verified
//! authorization, the time, and the last error. It decides nothing; it describes. It also
//! keeps the status listeners and decides which new status is a change to tell them of.

use licet_protocol::license::Module;
use licet_protocol::wire::Authorization;
use licet_protocol::ErrorCode;

/// A snapshot of the license as this device sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `"uninitialized"`, or the authorization's state: `"valid"`, `"trial"`, `"tolerance"`.
    pub state: &'static str,
    /// What the app should know of, if anything: the end of the offline grace, a refused
    /// renewal, a clock found wanting, or the last call's failure, in that order.
    pub code: Option<ErrorCode>,
    pub offline_until: Option<u64>,
    pub active_until: Option<u64>,
    pub handshake_code: Option<String>,
    pub modules: Vec<Module>,
    /// Whether the last contact with the server succeeded.
    pub online: bool,
}

impl Status {
    /// The status before any authorization: what `status()` says before `initLicense`.
    pub const UNINITIALIZED: Status = Status {
        state: "uninitialized",
        code: None,
        offline_until: None,
        active_until: None,
        handshake_code: None,
        modules: Vec::new(),
        online: false,
    };
}

pub fn status(authorization: Option<&Authorization>, last_error: Option<ErrorCode>, online: bool) -> Status {
    match authorization {
        None => Status { code: last_error, online, ..Status::UNINITIALIZED },
        Some(a) => Status {
            state: a.state.as_str(),
            code: last_error,
            offline_until: Some(a.offline_until),
            active_until: Some(a.active_until),
            handshake_code: Some(a.handshake_code.clone()),
            modules: a.modules.clone(),
            online,
        },
    }
}

/// The status listeners, and the status they were last told of. A new status is a change
/// worth telling when its state, code, modules or `online` differ from that one: the rest
/// (`offline_until` after every renewal) moves too often to mean anything to the app.
/// Listeners are whatever the caller calls (JS functions in the browser).
pub struct StatusWatch<F> {
    last: Status,
    next_id: u32,
    listeners: Vec<(u32, F)>,
}

impl<F> StatusWatch<F> {
    /// A watch with no listeners whose listeners have been told of `initial`.
    pub const fn new(initial: Status) -> Self {
        StatusWatch { last: initial, next_id: 0, listeners: Vec::new() }
    }

    /// Adds a listener; the ID removes it again.
    pub fn subscribe(&mut self, listener: F) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.listeners.push((id, listener));
        id
    }

    pub fn unsubscribe(&mut self, id: u32) {
        self.listeners.retain(|(listener, _)| *listener != id);
    }

    /// The listener of `id`, while it is subscribed.
    pub fn listener(&self, id: u32) -> Option<&F> {
        self.listeners.iter().find(|(listener, _)| *listener == id).map(|(_, f)| f)
    }

    /// The IDs of the listeners to tell of `status`: every one when it is a change from the
    /// last status told (which it then becomes), none otherwise. IDs rather than listeners, so
    /// that a listener may subscribe or unsubscribe others while it is being called.
    pub fn changed(&mut self, status: &Status) -> Vec<u32> {
        let last = &self.last;
        if (last.state, last.code, &last.modules, last.online)
            == (status.state, status.code, &status.modules, status.online)
        {
            return Vec::new();
        }
        self.last = status.clone();
        self.listeners.iter().map(|(id, _)| *id).collect()
    }
}
