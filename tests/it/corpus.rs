//! The corpus against the reference server, through the library: every case passes, and the
//! coverage matrix shows all eight codes held, `invalid_api_key` on every endpoint, and
//! `not_found` on the endpoints that look a resource up.

use errcontract::case::{self, Feature, Role};
use errcontract::reference::{self, Config};
use errcontract::report::{self, Matrix};
use errcontract::run::Outcome;
use errcontract::target::Target;

use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_against_the_reference_and_the_matrix_is_complete() {
    let contract = support::contract();
    let loaded = case::load_all(&crate::support::root().join("cases"), &contract).expect("cases/");
    assert!(
        loaded.broken.is_empty(),
        "broken case files: {:?}",
        loaded.broken.iter().map(|b| &b.name).collect::<Vec<_>>()
    );
    assert!(
        loaded.cases.len() >= 60,
        "the corpus has {} cases; issue 4 asks for at least 60",
        loaded.cases.len()
    );

    let config = Config::default();
    let keys = config.keys();
    let server = reference::start(config)
        .await
        .expect("reference server starts");
    let by_role = [
        (Role::Valid, keys.valid),
        (Role::ZeroBalance, keys.zero_balance),
        (Role::Revoked, keys.revoked),
        (Role::Throttled, keys.throttled),
    ]
    .into_iter()
    .collect();
    let target = Target::new(
        &server.base_url(),
        true,
        by_role,
        Feature::ALL.into_iter().collect(),
    );
    let probe = errcontract::probe::Probe::new(Default::default()).expect("client");
    let runner =
        errcontract::run::Runner::new(probe, contract.clone(), target, support::settings());

    let mut results = Vec::new();
    let mut failures = Vec::new();
    for c in &loaded.cases {
        let r = runner.run_case(c).await;
        if !matches!(r.outcome, Outcome::Passed) {
            failures.push(format!(
                "{}: {:?}\n{}",
                c.trial_name(),
                r.outcome,
                errcontract::report::failure(c, &r, runner.target())
            ));
        }
        results.push(r);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let endpoints = &contract.endpoints;
    let matrix = Matrix::build(&contract.table, endpoints, &results);
    assert!(
        matrix.codes_never_held().is_empty(),
        "codes never held: {:?}\n{}",
        matrix.codes_never_held(),
        matrix.render()
    );
    let held = |endpoint: &str, code: &str| {
        matrix
            .rows
            .iter()
            .any(|(label, cells)| label == endpoint && cells.get(code).is_some_and(|c| c.held > 0))
    };
    for e in endpoints {
        assert!(
            held(&e.label(), "invalid_api_key"),
            "no invalid_api_key case held on {}\n{}",
            e.label(),
            matrix.render()
        );
    }
    for e in ["GET /v2/videos/generations/{id}", "GET /v2/models/{model}"] {
        assert!(
            held(e, "not_found"),
            "no not_found case held on {e}\n{}",
            matrix.render()
        );
    }
    assert!(
        held(report::OTHER, "not_found"),
        "no unknown-path case\n{}",
        matrix.render()
    );
    server.shutdown().await;
}
