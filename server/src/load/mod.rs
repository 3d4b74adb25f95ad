//! The load generator's parts, shared by the surge benchmark (`bin/surge/`) and the owner's
//! sale rehearsal (`rehearsal`): shoppers driven over real HTTP ([`crowd`]), what each was
//! answered ([`answer`]), the figures made of them ([`figures`]) and what a server process used
//! ([`process`]).

pub mod answer;
pub mod crowd;
pub mod figures;
pub mod process;

pub use answer::{order_body, send, Sample, Tally};
pub use crowd::{client, pause_until, run_load, Crowd};
pub use figures::{ms, percentile, sorted, Spread};
