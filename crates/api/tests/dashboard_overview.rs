//! The overview's figures over HTTP: calls by outcome from the hourly counters that a call's
//! final move keeps, equal to a count of the calls themselves, and the calls in flight.
//! SQLite, and PostgreSQL when TRUNKLINE_TEST_POSTGRES is set.

mod dashboard_client;
mod support;

use dashboard_client::Browser;
use support::*;

/// The overview's calls by outcome come from counters the call's final move keeps, not from
/// counting call rows: they must equal a count of the calls themselves.
#[tokio::test]
async fn the_overviews_calls_by_outcome_equal_the_calls_own_count() {
    use livekit_double::CallOutcome;
    use std::time::Duration;
    let f = support::call_fixture::fixture().await;
    f.lk.set_outcome_for_suffix("0486", CallOutcome::Busy);
    f.lk.set_outcome_for_suffix("0603", CallOutcome::Reject);
    f.lk.set_outcome_for_suffix("0777", CallOutcome::AnswerAfter(Duration::from_secs(3600)));
    f.lk.set_answered_call_length(Some(Duration::from_millis(200)));
    let ends = [
        ("+14155550486", "busy"),
        ("+14155560486", "busy"),
        ("+14155550603", "rejected"),
        ("+14155550100", "completed"),
    ];
    let mut ids = vec![];
    for (to, _) in ends {
        ids.push(f.call(to).await);
    }
    let ringing = f.call("+14155550777").await;
    for (id, (_, want)) in ids.iter().zip(ends) {
        f.wait_status(id, want).await;
    }
    // LiveKit reports ringing only to a dialer that waits for the answer: dialing or ringing.
    let in_flight_status = eventually("the call in flight", || async {
        let s = f.get(&ringing).await["status"].as_str().unwrap().to_owned();
        ["dialing", "ringing"].contains(&s.as_str()).then_some(s)
    })
    .await;

    let tenant = f
        .srv
        .store
        .call_by_id(&ringing)
        .await
        .unwrap()
        .unwrap()
        .tenant_id;
    let counted = f.srv.store.call_outcomes_since(&tenant, 0).await.unwrap();
    let calls = f
        .srv
        .store
        .list_calls(
            &tenant,
            &trunkline_store::CallFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut by_status: Vec<(String, i64)> = vec![];
    for c in calls.iter().filter(|c| c.ended_at.is_some()) {
        match by_status.iter_mut().find(|(s, _)| *s == c.status) {
            Some((_, n)) => *n += 1,
            None => by_status.push((c.status.clone(), 1)),
        }
    }
    by_status.sort();
    assert_eq!(counted, by_status);
    assert_eq!(
        counted,
        [
            ("busy".into(), 2),
            ("completed".into(), 1),
            ("rejected".into(), 1)
        ]
    );
    let in_flight = f.srv.store.calls_in_flight_since(&tenant, 0).await.unwrap();
    assert_eq!(
        in_flight.len(),
        1,
        "{in_flight:?} ({in_flight_status} by the API)"
    );
    assert_eq!(in_flight[0].1, 1);

    // The page: one row per outcome with its figure as text, and the ringing call in progress.
    let mut b = Browser::new(&f.srv.url);
    assert_eq!(b.sign_in(&f.key).await.0, 303);
    let (status, page, _) = b.get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("5 calls by outcome"), "{page}");
    let row = |outcome: &str, n: i64| format!(r#">{outcome}</span></td><td class="num">{n}</td>"#);
    for (outcome, n) in [("busy", 2), ("completed", 1), ("rejected", 1)] {
        assert!(page.contains(&row(outcome, n)), "{outcome} in {page}");
    }
    // The call in flight may move from dialing to ringing meanwhile.
    assert!(
        page.contains(&row("dialing", 1)) || page.contains(&row("ringing", 1)),
        "{page}"
    );
    assert!(page.contains(&format!("/ui/calls/{ringing}")), "{page}");
}
