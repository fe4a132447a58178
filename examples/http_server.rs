//! For services that expose a model over HTTP: embed the server (Open Inference Protocol v2
//! and MLflow's `/invocations`) and let it follow the registry's `production` alias, so
//! every version the lifecycle promotes is swapped in without a restart.
//!
//! Run: `cargo run --example http_server` (it scores one request and exits).

use mlcycle::deploy::http::{FollowSpec, HttpConfig, HttpDeployer};
use mlcycle::prelude::*;
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> mlcycle::Result<()> {
    let clock = Arc::new(SystemClock);
    let stack = Stack::in_memory(clock.clone(), LifecycleConfig::new("credit"))?;
    let g = CreditDefault::new(8);
    stack
        .lifecycle
        .run_training(&g.sample(3_000, &DriftSpec::none(), 0)?, Trigger::Manual)
        .await?;

    // Port 0 picks a free port; scoring calls go to the stack's prediction log.
    let server = HttpDeployer::start(
        HttpConfig {
            addr: ([127, 0, 0, 1], 0).into(),
            ..HttpConfig::default()
        },
        clock,
        Some(stack.collector.clone()),
    )
    .await?;
    let follower = server
        .follow(
            stack.registry.clone(),
            FollowSpec::new("credit@production").with_poll_interval(Duration::from_millis(200)),
        )
        .await?;
    println!("serving credit@production on {}", server.endpoint());

    // A client call (MLflow's dataframe_records).
    let row = serde_json::json!({"dataframe_records": [{
        "age": 35, "income": 52000, "debt_ratio": 0.3, "credit_limit": 9000, "utilization": 0.5,
        "late_payments": 0, "months_employed": 40, "n_accounts": 4, "loan_amount": 8000,
        "interest_rate": 7.5, "home_ownership": "rent", "purpose": "car", "region": "north"}]});
    let answer = reqwest::Client::new()
        .post(format!("{}/invocations", server.endpoint()))
        .header("content-type", "application/json")
        .body(row.to_string())
        .send()
        .await
        .map_err(|e| mlcycle::Error::invalid("request", e))?;
    println!(
        "{}: {}",
        answer.status(),
        answer.text().await.unwrap_or_default()
    );

    // A new promotion moves the alias; the server follows (here checked at once).
    stack
        .lifecycle
        .run_training(&g.sample(6_000, &DriftSpec::none(), 1)?, Trigger::Manual)
        .await?;
    follower.poll_once().await?;
    println!(
        "now serving {:?}",
        server.current().await.map(|d| d.version)
    );
    server.undeploy().await?; // graceful stop, flushes the prediction log
    Ok(())
}
