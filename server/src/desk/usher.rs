//! The usher: runs the waiting room's admission rounds on a timer — expiring overdue holds,
//! admitting the next in line, telling those who cannot be served that it is sold out.

use app::store::WaitingRoom;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

pub fn spawn(queue: Arc<dyn WaitingRoom>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        // after a stall, one round catches up: no burst of back-to-back rounds
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match queue.run_admission().await {
                Ok(round) if round != Default::default() => tracing::info!(
                    admitted = round.admitted,
                    holds_expired = round.holds_expired,
                    told_sold_out = round.told_sold_out,
                    "waiting room round"
                ),
                Ok(_) => {}
                // busy: the next tick tries again
                Err(e) => tracing::warn!(error = %e, "waiting room round failed"),
            }
        }
    })
}
