//! `server`: runs the shop. Configuration comes from the environment (see README).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let config = server::Config::from_env()?;
    let app = server::Application::build(config).await?;
    app.run_until_stopped().await
}
