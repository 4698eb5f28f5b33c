//! `report.html` in a real browser: headless Chromium (Debian package `chromium`; `.ci/run`
//! installs it) opens the report of a run with failures, and a probe page asserts that the
//! summary and the coverage matrix are visible and that clicking the "failed" filter shows only
//! failed cases. A screenshot is saved under `target/` for review. Without Chromium the test
//! says how to install it and passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::UNKNOWN_PATH_CASE;

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ERRCONTRACT_CHROMIUM") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
    .find(|p| p.is_file())
}

/// Run Chromium headless with `args`, at most a minute.
fn run_chromium(browser: &Path, args: &[&str]) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("chromium output");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The probe: loads the report in a frame, checks what a person would see, clicks a filter.
const PROBE: &str = r#"<!doctype html><meta charset="utf-8"><body>
<iframe id="f" src="report.html" style="width:1366px;height:900px"></iframe>
<pre id="result">pending</pre>
<script>
var f = document.getElementById('f');
f.addEventListener('load', function () {
  var out = {};
  try {
    var d = f.contentDocument, w = f.contentWindow;
    var visible = function (el) {
      if (!el) { return false; }
      var r = el.getBoundingClientRect(), s = w.getComputedStyle(el);
      return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
    };
    out.summary = visible(d.getElementById('summary'));
    out.headline = (d.querySelector('#summary .headline') || {}).textContent || '';
    out.matrix = visible(d.querySelector('#coverage table.matrix'));
    out.matrixRows = d.querySelectorAll('#coverage tbody tr').length;
    var items = Array.prototype.slice.call(d.querySelectorAll('#case-list > li'));
    out.total = items.length;
    d.querySelector('#filters button[data-verdict="failed"]').click();
    out.shown = items.filter(visible).map(function (li) { return li.dataset.verdict; });
    out.hash = w.location.hash;
    d.querySelector('#filters button[data-verdict="all"]').click();
    out.afterAll = items.filter(visible).length;
    var area = d.getElementById('area');
    area.value = 'models';
    area.dispatchEvent(new Event('change'));
    out.areaShown = items.filter(visible).map(function (li) { return li.dataset.area; });
  } catch (e) { out.error = String(e); }
  document.getElementById('result').textContent = JSON.stringify(out);
});
</script>"#;

#[test]
fn the_html_report_shows_summary_matrix_and_filters_in_a_real_browser() {
    let Some(browser) = chromium() else {
        // Written past libtest's capture, so `cargo test` shows what it skipped.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the browser test of report.html needs Chromium; install it with `sudo apt-get install chromium` (Debian; .ci/run does) or point ERRCONTRACT_CHROMIUM at a Chrome binary"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = dir.path().join("cases");
    for (name, text) in [
        ("routing/unknown", UNKNOWN_PATH_CASE.to_string()),
        (
            "routing/param-gap",
            UNKNOWN_PATH_CASE.replace("\"param\": null", "\"param\": \"path\""),
        ),
        ("models/unknown", UNKNOWN_PATH_CASE.to_string()),
    ] {
        let path = cases.join(format!("{name}.json"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let reports = dir.path().join("reports");
    let run = crate::support::errcontract()
        .arg("run")
        .env("ERRCONTRACT_CASES", &cases)
        .env("ERRCONTRACT_REPORT_DIR", &reports)
        .env_remove("ERRCONTRACT_BASE_URL")
        .env_remove("ERRCONTRACT_EXPECTATIONS")
        .output()
        .expect("errcontract runs");
    assert_eq!(run.status.code(), Some(101), "the run has a failure");
    std::fs::write(reports.join("probe.html"), PROBE).expect("probe");

    let probe = format!("file://{}", reports.join("probe.html").display());
    let dom = run_chromium(
        &browser,
        &[
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            &probe,
        ],
    );
    let json = dom
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .unwrap_or_else(|| panic!("the probe wrote no result:\n{dom}"))
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    let seen: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("probe result {json:?}: {e}"));
    assert!(seen.get("error").is_none(), "{seen}");
    assert_eq!(seen["summary"], true, "the summary is visible: {seen}");
    assert_eq!(seen["matrix"], true, "the matrix is visible: {seen}");
    assert!(seen["matrixRows"].as_u64() >= Some(2), "{seen}");
    assert!(
        seen["headline"]
            .as_str()
            .is_some_and(|h| h.contains("1 of 3 cases fail")),
        "{seen}"
    );
    assert_eq!(seen["total"], 3, "{seen}");
    assert_eq!(
        seen["shown"],
        serde_json::json!(["failed"]),
        "the failed filter shows only the failed case: {seen}"
    );
    assert_eq!(seen["hash"], "#verdict=failed", "{seen}");
    assert_eq!(seen["afterAll"], 3, "{seen}");
    assert_eq!(seen["areaShown"], serde_json::json!(["models"]), "{seen}");

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("errcontract-report.png");
    let report = format!(
        "file://{}#verdict=failed",
        reports.join("report.html").display()
    );
    run_chromium(
        &browser,
        &[
            "--window-size=1366,900",
            &format!("--screenshot={}", shot.display()),
            &report,
        ],
    );
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000),
        "a screenshot at {}",
        shot.display()
    );
    eprintln!("report.html screenshot: {}", shot.display());
}
