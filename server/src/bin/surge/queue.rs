//! (a) `queue`: shoppers race for a drop through its waiting room.

use super::*;

/// (a) Shoppers race for the units of a drop through its waiting room: join; when admitted, order
/// with the hold; while waiting, ask again every second; stop at sold out.
pub(crate) async fn scenario_queue(args: &Args, concurrency: usize) -> anyhow::Result<bool> {
    let server = Server::start(Some(concurrency * 2), args.postgres.as_deref(), &[]).await?;
    server
        .exec(&format!(
            "UPDATE products SET stock = {} WHERE id = {QUEUED}",
            args.stock
        ))
        .await?;
    // one unit per phone number, so the limit does not shape the race
    server
        .exec(&format!(
            "UPDATE sales SET per_customer_limit = 1 WHERE product_id = {QUEUED}"
        ))
        .await?;
    heading(&format!(
        "(a) waiting room: {} shoppers race for {} units, {concurrency} connections",
        args.shoppers, args.stock
    ));
    let http = client(concurrency)?;
    let base = server.base.clone();
    let (tally, elapsed) = run_load(
        Crowd::new(
            concurrency,
            args.shoppers,
            Duration::from_secs(args.seconds.max(60)),
        ),
        move |i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let began = Instant::now();
                let phone = format!("+4477{i:08}");
                let mut samples = Vec::new();
                let (s, mut status) = send(
                    "join",
                    http.post(format!("{base}/api/queue/join"))
                        .json(&json!({"product_id": QUEUED, "quantity": 1, "phone": phone})),
                )
                .await;
                samples.push(s);
                let ticket = status["ticket"].as_str().unwrap_or_default().to_owned();
                for _ in 0..120 {
                    match status["state"].as_str() {
                        Some("waiting") => {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            let (s, next) = send(
                                "status",
                                http.get(format!("{base}/api/queue/status"))
                                    .query(&[("ticket", &ticket)]),
                            )
                            .await;
                            samples.push(s);
                            status = next;
                        }
                        Some("admitted") => {
                            let hold = status["hold_token"].as_str().unwrap_or_default();
                            let body = order_body(
                                format!("surge-queue-{i:010}"),
                                QUEUED,
                                &phone,
                                Some(hold),
                            );
                            let (s, _) = send(
                                "order",
                                http.post(format!("{base}/api/place_order")).json(&body),
                            )
                            .await;
                            samples.push(s);
                            break;
                        }
                        _ => break,
                    }
                }
                (samples, Some(began.elapsed()))
            }
        },
    )
    .await?;
    report(&tally, elapsed);
    let journeys = sorted(&tally.journeys);
    println!(
        "  shopper journey  p50 {:.0} ms   p95 {:.0} ms   p99 {:.0} ms (join to final answer)",
        ms(percentile(&journeys, 50.0)),
        ms(percentile(&journeys, 95.0)),
        ms(percentile(&journeys, 99.0))
    );
    let ok = audit(&server, QUEUED, args.stock, &tally.acknowledged()).await?;
    stop_and_compare(server, &tally, elapsed, concurrency).await?;
    Ok(ok)
}
