//! (b) `orders` and (c) `mixed`: sustained orders (with page views), the desk alone, and on
//! Postgres a naive one-transaction-per-order baseline.

use super::*;

/// (b) and (c): orders for one hot product with ample stock, optionally mixed with page views.
pub(crate) async fn scenario_orders(
    args: &Args,
    concurrency: usize,
    page_view_percent: usize,
) -> anyhow::Result<(bool, f64)> {
    let server = Server::start(Some(concurrency * 2), args.postgres.as_deref(), &[]).await?;
    let initial: i64 = 100_000_000;
    server
        .exec(&format!(
            "UPDATE products SET stock = {initial} WHERE id = {DIRECT}"
        ))
        .await?;
    heading(&if page_view_percent == 0 {
        format!(
            "(b) sustained orders, one hot product, ample stock, {concurrency} connections, {} s",
            args.seconds
        )
    } else {
        format!("(c) mixed: {page_view_percent} % product page views, the rest orders, {concurrency} connections, {} s", args.seconds)
    });
    let http = client(concurrency)?;
    let base = server.base.clone();
    let (tally, elapsed) = run_load(
        Crowd::new(concurrency, usize::MAX, Duration::from_secs(args.seconds)),
        move |i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let s = if i % 100 < page_view_percent {
                    send("page", http.get(format!("{base}/p/{DIRECT_SLUG}")))
                        .await
                        .0
                } else {
                    let body = order_body(
                        format!("surge-{i:012}"),
                        DIRECT,
                        &format!("+86139{i:08}"),
                        None,
                    );
                    send(
                        "order",
                        http.post(format!("{base}/api/place_order")).json(&body),
                    )
                    .await
                    .0
                };
                (vec![s], None)
            }
        },
    )
    .await?;
    report(&tally, elapsed);
    let ok = audit(&server, DIRECT, initial, &tally.acknowledged()).await?;
    stop_and_compare(server, &tally, elapsed, concurrency).await?;
    let orders_per_sec = tally.acknowledged().len() as f64 / elapsed.as_secs_f64().max(1e-9);
    Ok((ok, orders_per_sec))
}

/// orders for one hot product. Tells the writer's share of the cost from the web stack's.
pub(crate) async fn desk_alone(orders: usize, postgres: Option<&str>) -> anyhow::Result<bool> {
    use app::domain::{CustomerInput, LineRequest, NewOrder};
    use app::store::Store;
    heading(&format!(
        "the order desk alone: {orders} orders for one product, no HTTP"
    ));
    let dir = tempfile::tempdir()?;
    let mut _pg = None;
    let (store, db): (Arc<dyn Store>, BenchDb) = match postgres {
        Some(admin) => {
            let pg = PgDatabase::create(admin).await?;
            let store = server::store::PgStore::open(&pg.url).await?;
            server::store::seed::seed_if_empty_postgres(&store).await?;
            let db = BenchDb::Pg(store.pool().clone());
            _pg = Some(pg);
            (Arc::new(store.ports()), db)
        }
        None => {
            let url = format!("sqlite://{}/desk.db", dir.path().display());
            let store = server::store::SqliteStore::open(&url).await?;
            server::store::seed::seed_if_empty(&store).await?;
            let db = BenchDb::Sqlite(store.writer().clone());
            (Arc::new(store.ports()), db)
        }
    };
    db.exec(&format!(
        "UPDATE products SET stock = {orders} WHERE id = {DIRECT}"
    ))
    .await?;
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let mut acknowledged = 0_usize;
    for i in 0..orders {
        let store = store.clone();
        set.spawn(async move {
            let customer = CustomerInput {
                name: "Surge Shopper".into(),
                phone: format!("+86139{i:08}"),
                address: "1 Harbour Row, Porthaven".into(),
                note: String::new(),
            };
            let line = [LineRequest {
                product_id: DIRECT,
                quantity: 1,
            }];
            match NewOrder::parse(&format!("desk-alone-{i:012}"), &line, &customer) {
                Ok(order) => store.place_order(order).await.is_ok(),
                Err(_) => false,
            }
        });
        // stay within the desk's queue, like the admission limit does
        while set.len() >= 2048 {
            acknowledged += usize::from(set.join_next().await.is_some_and(|r| r.unwrap_or(false)));
        }
    }
    while let Some(r) = set.join_next().await {
        acknowledged += usize::from(r.unwrap_or(false));
    }
    let secs = started.elapsed().as_secs_f64();
    let stock = db
        .scalar("SELECT stock FROM products WHERE id = $1", DIRECT)
        .await?;
    println!(
        "  {acknowledged} acknowledged in {secs:.2} s: {:.0} durable orders/s; stock left {stock}",
        acknowledged as f64 / secs
    );
    Ok(acknowledged == orders && stock == 0)
}

/// The naive way, for comparison, on the same Postgres: one transaction per order on the same hot
/// row (the row lock is held through each commit's WAL flush), driven straight over a connection
/// pool by `concurrency` clients. Returns orders per second.
pub(crate) async fn naive_postgres(
    admin: &str,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    heading(&format!(
        "naive baseline: one transaction per order, one hot row, {concurrency} clients, {seconds} s (no HTTP)"
    ));
    let pg = PgDatabase::create(admin).await?;
    let store = server::store::PgStore::open(&pg.url).await?;
    server::store::seed::seed_if_empty_postgres(&store).await?;
    store.close().await;
    // Postgres allows 100 connections by default; the clients queue for these
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(80)
        .acquire_timeout(Duration::from_secs(60))
        .connect(&pg.url)
        .await?;
    sqlx::query("UPDATE products SET stock = 100000000 WHERE id = $1")
        .bind(DIRECT)
        .execute(&pool)
        .await?;
    let p = pool.clone();
    let (tally, elapsed) = run_load(
        Crowd::new(concurrency, usize::MAX, Duration::from_secs(seconds)),
        move |i| {
            let pool = p.clone();
            async move {
                let t = Instant::now();
                let kind = match naive_order(&pool, i).await {
                    Ok(code) => {
                        return (
                            vec![Sample {
                                order_code: Some(code),
                                ..Sample::new("order", "acknowledged", t)
                            }],
                            None,
                        )
                    }
                    Err(e) => format!("error: {e}"),
                };
                (vec![Sample::new("order", &kind, t)], None)
            }
        },
    )
    .await?;
    report(&tally, elapsed);
    pool.close().await;
    Ok(tally.acknowledged().len() as f64 / elapsed.as_secs_f64().max(1e-9))
}

pub(crate) async fn naive_order(pool: &sqlx::PgPool, i: usize) -> Result<String, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (price,): (i64,) = sqlx::query_as(
        "UPDATE products SET stock = stock - 1 WHERE id = $1 AND stock >= 1 RETURNING price_cents",
    )
    .bind(DIRECT)
    .fetch_one(&mut *tx)
    .await?;
    let code = format!("N{i:011}");
    let (order_id,): (i64,) = sqlx::query_as(
        "INSERT INTO orders (code, status, customer_name, phone, address, note, total_cents, created_at, \
         status_changed_at) VALUES ($1, 'awaiting_payment', 'Naive', '+15550000000', '1 Harbour Row', '', $2, \
         '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z') RETURNING id",
    )
    .bind(&code)
    .bind(price)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO order_lines (order_id, product_id, product_name, unit_price_cents, quantity) \
         VALUES ($1, $2, 'Sea-Salt Caramels', $3, 1)",
    )
    .bind(order_id)
    .bind(DIRECT)
    .bind(price)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO idempotency_keys (key, request_hash, order_id, created_at) \
         VALUES ($1, '', $2, '2026-01-01T00:00:00.000Z')",
    )
    .bind(format!("naive-key-{i:012}"))
    .bind(order_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(code)
}
