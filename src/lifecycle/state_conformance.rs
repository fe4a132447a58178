//! The conformance suite of [`LifecycleStateStore`]: every implementation must pass it.

use super::decide::EpisodeState;
use super::state_store::{ApprovalRecord, ApprovalStatus, LifecycleState, LifecycleStateStore};
use crate::conformance_support::{check, outcome, step};
use chrono::{DateTime, Duration, TimeZone, Utc};

const SUITE: &str = "lifecycle state";

fn request(model: &str, version: u32, at: DateTime<Utc>) -> ApprovalRecord {
    ApprovalRecord {
        model: model.into(),
        version,
        requested_at: at,
        trigger: "manual".into(),
        summary: serde_json::json!({"primary_metric": "roc_auc", "candidate": 0.8,
                                    "champion": null, "checks": []}),
        status: ApprovalStatus::Pending,
        decided_by: None,
        decided_at: None,
        reason: None,
        applied_at: None,
    }
}

/// Runs every property of the [`LifecycleStateStore`] contract on `store`, which must be
/// empty: state round trip, approval rows (insert, read, list order, model filter),
/// decisions (once only, `NotFound` for unknown rows) and claims (exactly one caller wins,
/// also when threads race).
///
/// # Panics
/// On the first violation, with a message naming it (it is a test suite).
pub fn lifecycle_state_conformance(store: &dyn LifecycleStateStore) {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    // State round trip.
    let p = "state round trip";
    check(
        SUITE,
        p,
        step(SUITE, p, "load", store.load("m-a")).is_none(),
        || "an empty store has a state for `m-a`",
    );
    let state = LifecycleState {
        episode: EpisodeState {
            last_deploy: Some(t0),
            last_clean: Some(t0 + Duration::hours(5)),
            drift_since: Some(t0 + Duration::hours(6)),
        },
        baseline_version: Some(3),
    };
    step(SUITE, p, "save", store.save("m-a", &state, t0));
    let back = step(SUITE, p, "load", store.load("m-a"));
    check(SUITE, p, back.as_ref() == Some(&state), || {
        format!("saved {state:?}, loaded {back:?}")
    });
    let later = LifecycleState::default();
    step(SUITE, p, "save again", store.save("m-a", &later, t0));
    let back = step(SUITE, p, "load", store.load("m-a"));
    check(
        SUITE,
        p,
        back == Some(later),
        || "the second save did not replace the first",
    );

    // Approval rows.
    let p = "approval rows";
    step(
        SUITE,
        p,
        "request",
        store.request(&request("m-a", 2, t0 + Duration::hours(1))),
    );
    step(SUITE, p, "request", store.request(&request("m-a", 1, t0)));
    step(
        SUITE,
        p,
        "request",
        store.request(&request("m-b", 1, t0 + Duration::hours(2))),
    );
    let one = step(SUITE, p, "approval", store.approval("m-a", 2));
    check(
        SUITE,
        p,
        one.as_ref() == Some(&request("m-a", 2, t0 + Duration::hours(1))),
        || format!("read back {one:?}"),
    );
    check(
        SUITE,
        p,
        step(SUITE, p, "approval", store.approval("m-a", 9)).is_none(),
        || "an unknown version has a row",
    );
    let all = step(SUITE, p, "approvals", store.approvals(None));
    let keys: Vec<_> = all.iter().map(|r| (r.model.as_str(), r.version)).collect();
    check(
        SUITE,
        p,
        keys == [("m-a", 1), ("m-a", 2), ("m-b", 1)],
        || format!("listed {keys:?}, expected oldest request first"),
    );
    let a = step(SUITE, p, "approvals", store.approvals(Some("m-b")));
    check(SUITE, p, a.len() == 1 && a[0].model == "m-b", || {
        format!("the model filter listed {} rows", a.len())
    });

    // Decisions.
    let p = "a decision is taken once";
    let at = t0 + Duration::hours(3);
    let d = step(
        SUITE,
        p,
        "decide",
        store.decide("m-a", 1, true, "alice", "reviewed", at),
    );
    check(
        SUITE,
        p,
        d.status == ApprovalStatus::Approved
            && d.decided_by.as_deref() == Some("alice")
            && d.decided_at == Some(at)
            && d.reason.as_deref() == Some("reviewed")
            && d.applied_at.is_none(),
        || format!("decided row reads {d:?}"),
    );
    let again = store.decide("m-a", 1, false, "bob", "no", at);
    check(
        SUITE,
        p,
        matches!(again, Err(crate::Error::Conflict(_))),
        || format!("deciding twice answered {}", outcome(&again)),
    );
    let unknown = store.decide("m-a", 9, true, "alice", "", at);
    check(
        SUITE,
        p,
        matches!(unknown, Err(crate::Error::NotFound { .. })),
        || format!("deciding an unknown version answered {}", outcome(&unknown)),
    );
    let r = step(
        SUITE,
        p,
        "decide",
        store.decide("m-a", 2, false, "bob", "worse", at),
    );
    check(SUITE, p, r.status == ApprovalStatus::Rejected, || {
        format!("a rejection reads {:?}", r.status)
    });

    // Claims.
    let p = "a decision is applied once";
    let pending_claim = step(SUITE, p, "claim", store.claim("m-b", 1, at));
    check(SUITE, p, !pending_claim, || "a pending row was claimed");
    let first = step(SUITE, p, "claim", store.claim("m-a", 2, at));
    let second = step(SUITE, p, "claim", store.claim("m-a", 2, at));
    check(SUITE, p, first && !second, || {
        format!("two claims answered {first} and {second}")
    });
    let row = step(SUITE, p, "approval", store.approval("m-a", 2));
    check(
        SUITE,
        p,
        row.is_some_and(|r| r.applied_at == Some(at)),
        || "the claimed row has no applied time",
    );
    let wins = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| store.claim("m-a", 1, at)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().is_ok_and(|r| r.unwrap_or(false)))
            .filter(|w| *w)
            .count()
    });
    check(SUITE, p, wins == 1, || {
        format!("{wins} of 8 racing claims won, expected exactly 1")
    });
}
