//! `server rehearse …`: a sale rehearsal from the command line. Progress on stderr, the report
//! on stdout (plain words, or `--json`). Exit status: 0 when the audit holds, 1 when it fails,
//! 2 for a bad argument, 3 when the rehearsal is refused (a sale near, another running).

use crate::rehearsal::{self, Options, Plan, Refusal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const USAGE: &str = "usage: server rehearse --product SLUG|ID [--shoppers N (default 1000)] \
[--over SECS (default 0: all at once)] [--give-up PCT (default 0)] [--stock N] [--no-browse] \
[--no-retry] [--json] [--quiet]";

struct Args {
    product: String,
    /// A rehearsal the owner's page claimed: run it (its plan is in its row).
    claimed: Option<i64>,
    quiet: bool,
    shoppers: i64,
    over: i64,
    give_up: i64,
    stock: Option<i64>,
    browse: bool,
    retry: bool,
    json: bool,
}

fn parse(args: &[&str]) -> Result<Args, String> {
    let mut parsed = Args {
        product: String::new(),
        claimed: None,
        quiet: false,
        shoppers: 1000,
        over: 0,
        give_up: 0,
        stock: None,
        browse: true,
        retry: true,
        json: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<i64, String> {
            let v = it.next().ok_or(format!("{name} needs a number"))?;
            v.trim()
                .replace(',', "")
                .parse::<i64>()
                .map_err(|_| format!("{name} needs a whole number, not {v:?}"))
        };
        match *arg {
            "--product" => {
                parsed.product = it.next().ok_or("--product needs a slug or id")?.to_string()
            }
            "--shoppers" => parsed.shoppers = number("--shoppers")?,
            "--over" => parsed.over = number("--over")?,
            "--give-up" => parsed.give_up = number("--give-up")?,
            "--stock" => parsed.stock = Some(number("--stock")?),
            "--no-browse" => parsed.browse = false,
            "--no-retry" => parsed.retry = false,
            "--json" => parsed.json = true,
            "--quiet" => parsed.quiet = true,
            "--claimed" => parsed.claimed = Some(number("--claimed")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if parsed.product.is_empty() && parsed.claimed.is_none() {
        return Err("--product is needed".to_owned());
    }
    Ok(parsed)
}

pub async fn run(config: &crate::Config, args: &[&str]) -> anyhow::Result<()> {
    let args = match parse(args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    // the live shop first: a rehearsal on the same machine yields the CPU to it (the second
    // shop, a child of this process, inherits the priority)
    #[cfg(unix)]
    if let Err(e) = rustix::process::setpriority_process(None, 10) {
        tracing::warn!(error = %e, "could not lower the rehearsal's priority");
    }
    let db = config.database_for_tools().await?;
    let stop = Arc::new(AtomicBool::new(false));
    tokio::spawn({
        let stop = stop.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("cancelling: the shoppers under way finish, then the report");
                stop.store(true, Ordering::Relaxed);
            }
        }
    });
    let quiet = args.quiet;
    let options = Options {
        server: std::env::current_exe()?,
        stop,
        on_progress: Box::new(move |p: &rehearsal::Progress| {
            if !quiet {
                eprintln!(
                    "  {:>6.1} s   {} of {} shoppers done   {} units sold",
                    p.seconds, p.shoppers_done, p.shoppers, p.units_sold
                );
            }
        }),
    };
    let (id, plan) = match args.claimed {
        Some(id) => match rehearsal::claimed_plan(&db, id).await {
            Ok(plan) => (id, plan),
            Err(e) => refused(&e),
        },
        None => {
            let plan = match plan_of(&db, &args).await {
                Ok(plan) => plan,
                Err(e) => refused(&e),
            };
            match rehearsal::admit(&db, &plan, &config.clock.now()).await {
                Ok(id) => (id, plan),
                Err(e) => refused(&e),
            }
        }
    };
    match rehearsal::run_claimed(config, &db, id, &plan, options).await {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else if !args.quiet {
                print!("{report}");
                println!("  (kept as rehearsal {id})");
            }
            if !report.audit.holds() {
                std::process::exit(1);
            }
            Ok(())
        }
        Err(e) => refused(&e),
    }
}

async fn plan_of(db: &crate::store::sql::Db, args: &Args) -> Result<Plan, Refusal> {
    let product = rehearsal::product_id(db, &args.product).await?;
    let mut plan = Plan::new(product, args.shoppers, args.over, args.give_up, args.stock)?;
    plan.browse = args.browse;
    plan.retry_busy = args.retry;
    Ok(plan)
}

fn refused(e: &Refusal) -> ! {
    eprintln!("rehearsal refused: {e}");
    let code = match e {
        Refusal::Plan(_) => 2,
        Refusal::Failed(_) | Refusal::Store(_) => 1,
        _ => 3,
    };
    std::process::exit(code)
}
