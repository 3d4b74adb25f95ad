//! `server`: runs the shop. Configuration comes from the environment (see README).
//!
//!   server                  serve the shop
//!   server backup <file>    copy the live SQLite database to <file>, safely, while it serves
//!   server admin create-owner --email EMAIL
//!                           create an owner account (password from the terminal or stdin)
//!   server rehearse --product SLUG [--shoppers N] [--over SECS] [--give-up PCT] [--stock N]
//!                   [--no-browse] [--no-retry] [--json]
//!                           rehearse a sale on a copy of the shop (see docs/operations.md)

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // before anything is written: the database, backups, pictures and keys are the shop's alone
    server::ops::private_files::from_now_on();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // serving logs to standard output; a command's standard output is its answer
    server::ops::telemetry::init(if args.is_empty() {
        server::ops::telemetry::LogTo::Stdout
    } else {
        server::ops::telemetry::LogTo::Stderr
    })?;
    let config = server::Config::from_env()?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {
            let app = server::Application::build(config).await?;
            app.run_until_stopped().await
        }
        ["backup", dest] => {
            let source = config.sqlite_path().ok_or_else(|| {
                anyhow::anyhow!(
                    "backup copies the embedded SQLite database; DATABASE_URL is not SQLite"
                )
            })?;
            let report = server::ops::backup::backup(&source, std::path::Path::new(dest))?;
            println!(
                "backed up {} to {dest}: {} pages, {} bytes, {} orders; integrity ok",
                source.display(),
                report.pages,
                report.bytes,
                report.orders
            );
            Ok(())
        }
        ["admin", "create-owner", "--email", email] => {
            let db = config.database_for_tools().await?;
            let email = server::admin::cli::create_owner(&db, email, &config.clock).await?;
            println!("owner {email} created: log in at /admin/login");
            Ok(())
        }
        ["rehearse", rest @ ..] => server::rehearsal::cli::run(&config, rest).await,
        _ => {
            eprintln!(
                "usage: server              (serve the shop)\n       \
                 server backup <file>  (copy the live database)\n       \
                 server admin create-owner --email EMAIL  (password from the terminal or stdin)\n       \
                 server rehearse --product SLUG [--shoppers N] [--over SECS] [--give-up PCT] \
                 [--stock N] [--no-browse] [--no-retry] [--json]"
            );
            std::process::exit(2);
        }
    }
}
