//! (e) `login-flood`: checkout while strangers flood the owner's login.

use super::*;

/// The order desk alone, in this process, no HTTP: how fast the single writer commits durable
/// (e) A flood of wrong owner logins from ever-new addresses (600 connections) while shoppers
/// check out at 64 connections: checkout p99 with and without the flood, what the flood was
/// answered, and the owner's own logins from her known phone meanwhile.
pub(crate) async fn scenario_login_flood(args: &Args) -> anyhow::Result<bool> {
    const SECRET: &str = "surge-login-flood-secret-0123456789abcdef";
    const EMAIL: &str = "owner@surge.example";
    const PASSWORD: &str = "surge owner password";
    let checkout = 64;
    let flood = 600;
    let server = Server::start(
        Some(checkout * 2),
        args.postgres.as_deref(),
        &[
            ("HOLDFAST_SECRET", SECRET),
            // the flood comes from ever-new addresses, as a botnet's would
            ("HOLDFAST_TRUST_PROXY", "true"),
        ],
    )
    .await?;
    let initial: i64 = 100_000_000;
    server
        .exec(&format!(
            "UPDATE products SET stock = {initial} WHERE id = {DIRECT}"
        ))
        .await?;
    // shoppers and the flood on clients of their own, as on the internet (no shared pool)
    let http = client(checkout + 8)?;
    let bots = client(flood)?;
    let base = server.base.clone();
    // the owner, and her phone's known-device cookie from a first login
    let code = server::admin::setup_code(SECRET.as_bytes());
    let setup = http
        .post(format!("{base}/admin/setup"))
        .form(&[
            ("code", code.as_str()),
            ("email", EMAIL),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    if setup.status() != 303 {
        bail!("owner setup answered {}", setup.status());
    }
    let first = http
        .post(format!("{base}/admin/login"))
        .header("x-forwarded-for", "198.51.100.1")
        .form(&[("email", EMAIL), ("password", PASSWORD), ("next", "/admin")])
        .send()
        .await?;
    let device = first
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("holdfast_device="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .context("the owner's first login set no known-device cookie")?;

    let seconds = args.seconds;
    let checkout_load = |offset: usize| {
        let (http, base) = (http.clone(), base.clone());
        run_load(
            Crowd::new(checkout, usize::MAX, Duration::from_secs(seconds)),
            move |i| {
                let (http, base) = (http.clone(), base.clone());
                let i = i + offset;
                async move {
                    let key = format!("surge-{i:012}");
                    let s = plain_order(&http, &base, key, DIRECT, &format!("+86139{i:08}")).await;
                    (vec![s], None)
                }
            },
        )
    };

    heading(&format!(
        "(e) checkout alone: one hot product, {checkout} connections, {seconds} s"
    ));
    let (calm, calm_elapsed) = checkout_load(0).await?;
    report(&calm, calm_elapsed);

    heading(&format!(
        "(e) the same checkout while {flood} connections flood the owner's login, {seconds} s"
    ));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooders = {
        let (http, base, stop) = (bots.clone(), base.clone(), stop.clone());
        run_load(
            Crowd::new(flood, usize::MAX, Duration::from_secs(seconds + 2)),
            move |i| {
                let (http, base, stop) = (http.clone(), base.clone(), stop.clone());
                async move {
                    if stop.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        return (Vec::new(), None);
                    }
                    // a new address every attempt, so per-address limits alone cannot stop
                    // it; half at the owner's email, half at ever-new ones (no account
                    // throttle stops those)
                    let from = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
                    let email = if i % 2 == 0 {
                        EMAIL.to_owned()
                    } else {
                        format!("bot{i}@flood.example")
                    };
                    let s = send(
                        "login",
                        http.post(format!("{base}/admin/login"))
                            .header("x-forwarded-for", from)
                            .form(&[
                                ("email", email.as_str()),
                                ("password", "not the password"),
                                ("next", "/admin"),
                            ]),
                    )
                    .await
                    .0;
                    (vec![s], None)
                }
            },
        )
    };
    let owner = {
        let (http, base, device, stop) = (http.clone(), base.clone(), device.clone(), stop.clone());
        async move {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let (s, _) = send(
                    "login-owner",
                    http.post(format!("{base}/admin/login"))
                        .header("x-forwarded-for", "198.51.100.1")
                        .header(reqwest::header::COOKIE, &device)
                        .form(&[("email", EMAIL), ("password", PASSWORD), ("next", "/admin")]),
                )
                .await;
                samples.push(s);
            }
            samples
        }
    };
    let flooding = tokio::spawn(flooders);
    let owner = tokio::spawn(owner);
    // the flood gets a second's head start, so checkout meets it at full strength
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (stormy, stormy_elapsed) = checkout_load(10_000_000).await?;
    stop.store(true, Ordering::Relaxed);
    let (logins, login_elapsed) = flooding.await??;
    let owner_tally = Tally {
        samples: owner.await?,
        ..Tally::default()
    };
    report(&stormy, stormy_elapsed);
    println!("  the flood:");
    report(&logins, login_elapsed);
    println!("  the owner's own logins from her known phone, once a second:");
    report(&owner_tally, stormy_elapsed);

    let p99 = |t: &Tally| {
        let lat: Vec<Duration> = t
            .samples
            .iter()
            .filter(|s| s.what == "order")
            .map(|s| s.latency)
            .collect();
        ms(percentile(&sorted(&lat), 99.0))
    };
    let rate = |t: &Tally, e: Duration| t.acknowledged().len() as f64 / e.as_secs_f64().max(1e-9);
    println!(
        "  checkout p99     {:.1} ms alone, {:.1} ms under the flood ({:.2} ×); orders/s {:.0} → {:.0}",
        p99(&calm),
        p99(&stormy),
        p99(&stormy) / p99(&calm).max(1e-9),
        rate(&calm, calm_elapsed),
        rate(&stormy, stormy_elapsed)
    );
    let owner_in = owner_tally
        .samples
        .iter()
        .filter(|s| s.kind == "logged_in")
        .count();
    println!(
        "  owner logged in  {owner_in} of {} tries during the flood",
        owner_tally.samples.len()
    );
    let mut acknowledged = calm.acknowledged();
    acknowledged.extend(stormy.acknowledged());
    let ok = audit(&server, DIRECT, initial, &acknowledged).await?;
    memory(&server);
    Ok(ok && owner_in == owner_tally.samples.len())
}
