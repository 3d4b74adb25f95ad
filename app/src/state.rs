//! What every server function can reach: the store and the admission gate.

use crate::store::{Store, WaitingRoom};
use crate::tokens::Signer;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn WaitingRoom>,
    /// Signs and checks waiting-room tickets and hold tokens.
    pub signer: Arc<Signer>,
    /// Admits orders while the desk would answer them within the wait budget; beyond it the
    /// shop answers "try again in N s".
    pub order_admission: Arc<crate::admission::Admission>,
    /// Whether cookies get the `Secure` attribute (set when served over HTTPS).
    pub secure_cookies: bool,
    /// This server's answers and latencies, for the owner's control room.
    pub pulse: Arc<crate::pulse::Pulse>,
    /// How often orders may be looked up, per client and per code.
    pub lookups: Arc<crate::lookup_limits::LookupLimits>,
    /// How long any order may stay unpaid before it is cancelled (the shop-wide expiry), if the
    /// shop cancels them at all; a sale's own window may be shorter.
    pub unpaid_expiry: Option<std::time::Duration>,
    /// The server's open connections against its cap (the accept loop counts them).
    pub connections: Arc<crate::strain::Strain>,
    /// The shop's clock (the system's; a test's, set and moved by the test): what the pages'
    /// time-bound checks read, as the desk and the owner's side do.
    pub clock: crate::rules::Clock,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn WaitingRoom>,
        signer: Signer,
        order_admission: crate::admission::Admission,
        secure_cookies: bool,
        pulse: Arc<crate::pulse::Pulse>,
        lookups_per_client_per_min: u32,
    ) -> AppState {
        AppState {
            store,
            queue,
            signer: Arc::new(signer),
            order_admission: Arc::new(order_admission),
            secure_cookies,
            pulse,
            lookups: Arc::new(crate::lookup_limits::LookupLimits::new(
                lookups_per_client_per_min,
            )),
            unpaid_expiry: None,
            connections: crate::strain::Strain::new(usize::MAX),
            clock: crate::rules::Clock::system(),
        }
    }

    /// How strained the shop is now (0 idle, 1 at a limit): the fuller of its connections and
    /// its order desk.
    pub fn strain(&self) -> f64 {
        self.connections
            .connections()
            .max(self.order_admission.strain())
    }
}
