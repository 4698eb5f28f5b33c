//! The dependency tree stays lean: TLS is rustls with ring, so nothing that links OpenSSL,
//! builds aws-lc (cmake) or wraps the platform's TLS may enter it, by any path (a crate that
//! turns on reqwest's default features would bring them back).

const BANNED: &[&str] = &[
    "openssl-sys",
    "openssl",
    "aws-lc-sys",
    "aws-lc-rs",
    "native-tls",
];

/// The package names of `Cargo.lock`, which records every crate the build resolves, on every
/// platform, dev-dependencies included.
fn locked_packages() -> Vec<String> {
    let lock = std::fs::read_to_string(crate::support::root().join("Cargo.lock"))
        .expect("Cargo.lock is committed");
    lock.lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .map(String::from)
        .collect()
}

#[test]
fn no_openssl_aws_lc_or_native_tls_in_the_dependency_tree() {
    let packages = locked_packages();
    assert!(
        packages.iter().any(|p| p == "rustls") && packages.iter().any(|p| p == "ring"),
        "Cargo.lock was not read right: rustls and ring must be in it"
    );
    let found: Vec<&String> = packages
        .iter()
        .filter(|p| BANNED.contains(&p.as_str()))
        .collect();
    assert!(
        found.is_empty(),
        "banned crates in Cargo.lock: {found:?}; find who brings them with `cargo tree -i <name>` \
         and turn that crate's default features off"
    );
}
