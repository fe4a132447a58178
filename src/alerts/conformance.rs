//! The alert-store conformance suite: every [`AlertStore`] must pass it.

use super::{Alert, AlertKind, AlertQuery, AlertStore, CooldownMark, DeliveryAttempt, Severity};
use crate::Error;
use crate::conformance_support::{broken, check, step};
use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;

const SUITE: &str = "alert store";

/// Check `store` against the [`AlertStore`] contract. The store must be empty. Panics
/// naming the broken property.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// mlcycle::alerts::alert_store_conformance(&mlcycle::alerts::MemoryAlertStore::default()).await;
/// # });
/// ```
pub async fn alert_store_conformance(store: &dyn AlertStore) {
    let t0 =
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::nanoseconds(123_456_789);
    let mut a = Alert::new(
        t0,
        Severity::Warning,
        AlertKind::Drift,
        "credit",
        "inputs drifted: look",
        "t1",
    );
    a.version = Some(3);
    a.owner = Some("ann@example.com".into());
    a.column = Some("income".into());
    a.details =
        serde_json::json!({"drifted": [{"column": "income", "p_value": 1e-9, "statistic": 0.25}]});
    let mut b = Alert::new(
        t0 + Duration::hours(2),
        Severity::Info,
        AlertKind::Released,
        "credit",
        "credit/4 is served",
        "t2",
    );
    b.version = Some(4);
    let c = Alert::new(
        t0 + Duration::hours(1),
        Severity::Critical,
        AlertKind::Health,
        "fraud",
        "errors",
        "t3",
    );
    for (x, s) in [(&a, false), (&b, true), (&c, false)] {
        step(
            SUITE,
            "insert stores a new alert",
            "insert",
            store.insert(x, s).await,
        );
    }
    match store.insert(&a, false).await {
        Err(Error::AlreadyExists { .. }) => {}
        other => broken(
            SUITE,
            "insert refuses a stored id",
            format!("answered {}", crate::conformance_support::outcome(&other)),
        ),
    }
    let attempt = |n: u32, ok: bool| DeliveryAttempt {
        sink: "webhook:h".into(),
        attempt: n,
        delivery_id: Uuid::from_u128(7),
        at: t0 + Duration::seconds(n.into()),
        ok,
        status: Some(if ok { 200 } else { 500 }),
        error: (!ok).then(|| "the receiver answered 500".to_string()),
    };
    for (n, ok) in [(1, false), (2, false), (3, true)] {
        step(
            SUITE,
            "record_attempt appends",
            "record_attempt",
            store.record_attempt(a.id, &attempt(n, ok)).await,
        );
    }
    match store
        .record_attempt(Uuid::from_u128(1), &attempt(1, true))
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => broken(
            SUITE,
            "record_attempt refuses an unknown alert",
            format!("answered {}", crate::conformance_support::outcome(&other)),
        ),
    }
    let all = step(
        SUITE,
        "list answers every alert",
        "list",
        store.list(&AlertQuery::default()).await,
    );
    let ids: Vec<Uuid> = all.iter().map(|r| r.alert.id).collect();
    check(
        SUITE,
        "list is oldest first",
        ids == vec![a.id, c.id, b.id],
        || format!("{ids:?}"),
    );
    check(
        SUITE,
        "alerts read back equal",
        all[0].alert == a && all[2].alert == b,
        || "an alert changed in the store",
    );
    check(
        SUITE,
        "suppressed flag kept",
        !all[0].suppressed && all[2].suppressed,
        || "suppressed flag lost",
    );
    let ns: Vec<u32> = all[0].attempts.iter().map(|x| x.attempt).collect();
    check(
        SUITE,
        "attempts in order",
        ns == vec![1, 2, 3] && all[0].attempts[2] == attempt(3, true),
        || format!("{ns:?}"),
    );
    check(
        SUITE,
        "status of a delivered alert",
        all[0].status() == "delivered",
        || all[0].status(),
    );
    let q = AlertQuery {
        model: Some("credit".into()),
        since: Some(t0 + Duration::minutes(1)),
    };
    let some = step(SUITE, "list filters", "list", store.list(&q).await);
    let ids: Vec<Uuid> = some.iter().map(|r| r.alert.id).collect();
    check(
        SUITE,
        "list filters by model and time",
        ids == vec![b.id],
        || format!("{ids:?}"),
    );
    // Cooldown marks: one per (model, kind, key), the later save wins; clearing by key or kind.
    let mark = |kind: AlertKind, key: Option<&str>, hours: i64| CooldownMark {
        model: "credit".into(),
        kind,
        key: key.map(str::to_string),
        // Kept to the microsecond at least (PostgreSQL's precision).
        delivered_at: Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
            + Duration::microseconds(123_456)
            + Duration::hours(hours),
    };
    for m in [
        mark(AlertKind::Drift, Some("income"), 1),
        mark(AlertKind::Drift, Some("income"), 2),
        mark(AlertKind::Drift, Some(""), 1),
        mark(AlertKind::Drift, None, 1),
        mark(AlertKind::Released, Some("v4"), 3),
    ] {
        step(
            SUITE,
            "save_cooldown keeps a mark",
            "save_cooldown",
            store.save_cooldown(&m).await,
        );
    }
    let sorted = |mut v: Vec<CooldownMark>| {
        v.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
        v
    };
    let marks = sorted(step(
        SUITE,
        "cooldowns",
        "cooldowns",
        store.cooldowns().await,
    ));
    let want = sorted(vec![
        mark(AlertKind::Drift, Some("income"), 2),
        mark(AlertKind::Drift, Some(""), 1),
        mark(AlertKind::Drift, None, 1),
        mark(AlertKind::Released, Some("v4"), 3),
    ]);
    // A store that keeps no marks (the trait's defaults) answers none; one that keeps them
    // keeps them exactly.
    check(
        SUITE,
        "cooldown marks read back, one per key, the latest save",
        marks.is_empty() || marks == want,
        || format!("{marks:?}"),
    );
    if !marks.is_empty() {
        step(
            SUITE,
            "clear_cooldowns by key",
            "clear_cooldowns",
            store
                .clear_cooldowns("credit", AlertKind::Drift, Some("income"))
                .await,
        );
        let left = sorted(step(
            SUITE,
            "cooldowns",
            "cooldowns",
            store.cooldowns().await,
        ));
        check(
            SUITE,
            "clear_cooldowns removes one key",
            left == want
                .iter()
                .filter(|m| m.key.as_deref() != Some("income"))
                .cloned()
                .collect::<Vec<_>>(),
            || format!("{left:?}"),
        );
        step(
            SUITE,
            "clear_cooldowns of a kind",
            "clear_cooldowns",
            store
                .clear_cooldowns("credit", AlertKind::Drift, None)
                .await,
        );
        let left = step(SUITE, "cooldowns", "cooldowns", store.cooldowns().await);
        check(
            SUITE,
            "clear_cooldowns without a key removes the kind",
            left == vec![mark(AlertKind::Released, Some("v4"), 3)],
            || format!("{left:?}"),
        );
    }
}
