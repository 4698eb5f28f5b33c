use errcontract::contract::{Contract, default_schemas_dir};
use std::time::Instant;
fn main() {
    let contract = Contract::load(&default_schemas_dir()).unwrap();
    let text = std::fs::read_to_string("cases/images/resolution-4k-seedream-5-lite.json").unwrap();
    let n = 10_000;
    let t = Instant::now();
    for _ in 0..n {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        std::hint::black_box(v);
    }
    println!("parse {:?}", t.elapsed() / n);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(contract.case.is_valid(&v));
    }
    println!("is_valid {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(errcontract::locate::first_duplicate_key(text.as_bytes()));
    }
    println!("dups {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(errcontract::locate::nesting_depth(text.as_bytes(), 64));
    }
    println!("depth {:?}", t.elapsed() / n);
    let t = Instant::now();
    for i in 0..n {
        std::hint::black_box(
            errcontract::case::parse(
                format!("a/{i}"),
                std::path::Path::new("x.json"),
                text.as_bytes(),
                &contract,
            )
            .unwrap(),
        );
    }
    println!("parse whole {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            std::fs::read("cases/images/resolution-4k-seedream-5-lite.json").unwrap(),
        );
    }
    println!("read {:?}", t.elapsed() / n);
    let dir = tempfile::tempdir().unwrap();
    for i in 0..10_000 {
        let a = dir.path().join(format!("area{}", i % 10));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::write(a.join(format!("c-{i:05}.json")), &text).unwrap();
    }
    for _ in 0..3 {
        let t = Instant::now();
        let files = errcontract::case::discover(dir.path()).unwrap();
        println!("discover {:?}", t.elapsed());
        let t = Instant::now();
        let l = errcontract::case::Loaded::files(dir.path(), files, &contract);
        println!("load files {:?} {}", t.elapsed(), l.cases.len());
    }
}
#[allow(dead_code)]
fn unused() {}
