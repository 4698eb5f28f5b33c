//! The GitHub Actions workflow cannot run here; this checks what it can: it parses, runs
//! nightly and by hand, shards with nextest's `--partition` and merges in one job that uploads
//! the reports, takes keys only from secrets, and runs exactly the commands the README documents.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> &'static Path {
    crate::support::root()
}

fn workflow() -> (String, Yaml) {
    let text = std::fs::read_to_string(root().join(".github/workflows/contract.yml"))
        .expect("the workflow exists");
    let docs = YamlLoader::load_from_str(&text).expect("the workflow is valid YAML");
    (text, docs.into_iter().next().expect("one document"))
}

/// Every `run:` command of a job's steps.
fn runs(job: &Yaml) -> Vec<String> {
    job["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .filter_map(|s| s["run"].as_str().map(str::trim).map(String::from))
        .collect()
}

/// The README's shell code blocks, line by line.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let mut out = Vec::new();
    let mut inside = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            inside = line == "```sh" && !inside;
            continue;
        }
        if inside {
            out.push(line.trim().to_string());
        }
    }
    out
}

#[test]
fn the_workflow_runs_nightly_and_by_hand() {
    let (_, wf) = workflow();
    let on = &wf["on"];
    let cron = on["schedule"][0]["cron"].as_str().expect("a schedule");
    assert_eq!(cron.split_whitespace().count(), 5, "a cron line: {cron}");
    assert!(!on["workflow_dispatch"].is_badvalue(), "a manual run");
}

#[test]
fn shards_partition_the_suite_and_one_job_merges_them() {
    let (_, wf) = workflow();
    let jobs = &wf["jobs"];
    let shard = &jobs["shard"];
    let shards = shard["strategy"]["matrix"]["shard"]
        .as_vec()
        .expect("a matrix of shards");
    let n = shards.len();
    assert!(n >= 2, "a matrix of shards");
    let partition = format!("--partition count:$SHARD/{n}");
    assert!(
        runs(shard).iter().any(|r| r.contains(&partition)),
        "each shard runs its partition of {n}: {:?}",
        runs(shard)
    );
    assert_eq!(shard["env"]["SHARD"].as_str(), Some("${{ matrix.shard }}"));
    assert!(
        shard["env"]["ERRCONTRACT_REPORT_DIR"]
            .as_str()
            .is_some_and(|d| d.contains("${{ matrix.shard }}")),
        "each shard writes its own directory"
    );
    let merge = &jobs["merge"];
    let needs: Vec<&str> = merge["needs"]
        .as_vec()
        .expect("the merge job's needs, a list")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert!(needs.contains(&"shard"), "the merge waits for the shards");
    let when = merge["if"].as_str().unwrap_or("");
    assert!(
        when.contains("!cancelled()") && !when.contains("failure()"),
        "merged even when cases fail: {when}"
    );
    assert!(
        runs(merge)
            .iter()
            .any(|r| r.contains("errcontract report reports")),
        "{:?}",
        runs(merge)
    );
    let uploads = merge["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
        })
        .count();
    assert_eq!(uploads, 1, "the merge job uploads the reports");
}

/// The commands of a job that compile: any cargo command but nextest's run from an archive.
fn compiling(job: &Yaml) -> Vec<String> {
    runs(job)
        .iter()
        .flat_map(|r| {
            r.lines()
                .map(str::trim)
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|l| {
            l.starts_with("cargo ")
                && !(l.starts_with("cargo nextest run ") && l.contains("--archive-file"))
        })
        .collect()
}

/// The names of the artifacts a job's steps upload (`upload`) or download.
fn artifacts(job: &Yaml, upload: bool) -> Vec<String> {
    let action = if upload {
        "actions/upload-artifact"
    } else {
        "actions/download-artifact"
    };
    job["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
        .filter_map(|s| s["with"]["name"].as_str().map(String::from))
        .collect()
}

#[test]
fn the_suite_is_compiled_once_and_the_shards_and_merge_run_what_it_built() {
    let (_, wf) = workflow();
    let jobs = &wf["jobs"];
    let build = &jobs["build"];
    let archive = runs(build)
        .into_iter()
        .find(|r| r.starts_with("cargo nextest archive"))
        .expect("the build job makes a nextest archive");
    assert!(archive.contains("--test contract"), "{archive}");
    let file = archive
        .split_whitespace()
        .skip_while(|w| *w != "--archive-file")
        .nth(1)
        .expect("the archive's file name")
        .to_string();
    let uploaded = build["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .filter_map(|s| s["with"]["path"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        uploaded.contains(&file),
        "the archive is uploaded: {uploaded}"
    );
    let built = artifacts(build, true);
    assert_eq!(built.len(), 1, "one artifact holds the build: {built:?}");
    for name in ["shard", "merge"] {
        let job = &jobs[name];
        assert!(
            compiling(job).is_empty(),
            "the {name} job compiles again: {:?}",
            compiling(job)
        );
        let needs = match &job["needs"] {
            Yaml::String(one) => vec![one.clone()],
            Yaml::Array(list) => list
                .iter()
                .filter_map(|y| y.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        };
        assert!(
            needs.iter().any(|n| n == "build"),
            "the {name} job waits for the build"
        );
        assert!(
            artifacts(job, false).contains(&built[0]),
            "the {name} job downloads the build ({}): {:?}",
            built[0],
            artifacts(job, false)
        );
    }
    let merge_run = runs(&jobs["merge"]).join("\n");
    let line = |start: &str| {
        merge_run
            .lines()
            .map(str::trim)
            .position(|l| l.starts_with(start))
    };
    let extract = line("tar ").filter(|_| {
        merge_run.lines().any(|l| {
            l.trim().starts_with("tar ")
                && l.contains(&file)
                && l.contains("target/debug/errcontract")
        })
    });
    assert!(
        matches!((extract, line("target/debug/errcontract report")), (Some(x), Some(r)) if x < r),
        "the merge job takes the binary out of the archive, then merges with it: {merge_run}"
    );
    let shard_run = runs(&jobs["shard"]).join("\n");
    for part in [
        format!("--archive-file {file}"),
        "--workspace-remap .".to_string(),
    ] {
        assert!(
            shard_run.contains(&part),
            "the shards run from the archive: {shard_run}"
        );
    }
}

#[test]
fn billable_cases_can_be_run_from_a_repository_variable() {
    let (_, wf) = workflow();
    assert_eq!(
        wf["env"]["ERRCONTRACT_ALLOW_BILLABLE"].as_str(),
        Some("${{ vars.ERRCONTRACT_ALLOW_BILLABLE }}"),
        "without it a nightly run against staging ignores every billable case"
    );
}

#[test]
fn keys_come_only_from_repository_secrets() {
    let (text, wf) = workflow();
    let env = wf["env"].as_hash().expect("workflow env");
    for (name, value) in env {
        let (Some(name), Some(value)) = (name.as_str(), value.as_str()) else {
            continue;
        };
        if name.ends_with("_API_KEY") {
            assert_eq!(value, format!("${{{{ secrets.{name} }}}}"), "{name}");
        }
    }
    assert!(!text.contains("sk_"), "no key is written into the workflow");
}

#[test]
fn the_workflow_runs_the_commands_the_readme_documents() {
    let (_, wf) = workflow();
    let documented = readme_commands();
    let jobs = wf["jobs"].as_hash().expect("jobs");
    let mut checked = 0;
    for job in jobs.values() {
        for run in runs(job) {
            for line in run
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("cargo ") || l.starts_with("target/debug/errcontract "))
            {
                assert!(
                    documented.iter().any(|d| d == line),
                    "the workflow runs `{line}`, which the README does not show"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 3,
        "the build, shard and merge commands were checked"
    );
}
