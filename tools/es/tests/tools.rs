//! `sextant-es-tools` against `osmem-server`: the index cleaner deletes only daily indices
//! older than the cutoff, `rollover init` creates the aliased indices (the archive's too),
//! and `templates` prints each dialect. Skips (saying so) when osmem-server is not installed.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn osmem_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OSMEM_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join("osmem-server"))
        .find(|p| p.is_file())
}

fn tool(url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sextant-es-tools"))
        .arg(format!("--es.server-urls={url}"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn http(method: &str, url: &str) -> String {
    // The cluster's own view, through curl-free plain std: a tiny HTTP/1.0 exchange.
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn cleaner_rollover_and_templates() {
    let Some(bin) = osmem_binary() else {
        println!(
            "SKIPPED: osmem-server not found (set OSMEM_SERVER or run scripts/setup/40-osmem.sh)"
        );
        return;
    };
    let mut child = Command::new(bin)
        .args(["--addr", "127.0.0.1:0", "--no-ja"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let url = v["url"].as_str().unwrap().to_string();

    let today = time::OffsetDateTime::now_utc().date();
    let day = |n: i64| {
        let d = today - time::Duration::days(n);
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    };
    for index in [
        format!("jaeger-span-{}", day(0)),
        format!("jaeger-span-{}", day(5)),
        format!("jaeger-service-{}", day(5)),
        format!("jaeger-span-{}", day(1)),
        "unrelated-2000-01-01".to_string(),
    ] {
        assert!(
            http("PUT", &format!("{url}/{index}")).contains("200"),
            "{index}"
        );
    }
    let deleted = tool(&url, &["index-cleaner", "2"]);
    let mut deleted: Vec<&str> = deleted.lines().collect();
    deleted.sort();
    assert_eq!(
        deleted,
        vec![
            format!("jaeger-service-{}", day(5)),
            format!("jaeger-span-{}", day(5))
        ]
    );
    let left = http("GET", &format!("{url}/_cat/indices?format=json&h=index"));
    assert!(left.contains(&format!("jaeger-span-{}", day(1))));
    assert!(left.contains("unrelated-2000-01-01"));
    assert!(!left.contains(&format!("jaeger-span-{}", day(5))));

    tool(&url, &["--es.index-prefix=r", "rollover", "init"]);
    let aliases = http("GET", &format!("{url}/_alias/r-jaeger-span-write"));
    assert!(aliases.contains("r-jaeger-span-000001"), "{aliases}");
    assert!(http("GET", &format!("{url}/_alias/r-jaeger-service-read"))
        .contains("r-jaeger-service-000001"));

    // The archive's rollover indices (Jaeger's es-rollover --archive): spans only.
    tool(
        &url,
        &["--es.index-prefix=r", "rollover", "init", "--archive"],
    );
    assert!(
        http("GET", &format!("{url}/_alias/r-jaeger-span-archive-write"))
            .contains("r-jaeger-span-archive-000001")
    );
    assert!(
        http("GET", &format!("{url}/_alias/r-jaeger-span-archive-read"))
            .contains("r-jaeger-span-archive-000001")
    );
    assert!(http(
        "GET",
        &format!("{url}/_alias/r-jaeger-service-archive-write")
    )
    .contains("404"));

    // Asking for a policy without ILM is refused before anything is sent.
    let out = Command::new(env!("CARGO_BIN_EXE_sextant-es-tools"))
        .arg(format!("--es.server-urls={url}"))
        .args(["rollover", "init", "--create-ilm-policy"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--es.use-ilm=true"));

    let es7 = tool(&url, &["--es.version=7", "templates"]);
    assert!(es7.contains("\"/_template/jaeger-span\""), "{es7}");
    let es8 = tool(&url, &["--es.version=8", "templates"]);
    assert!(es8.contains("\"/_index_template/jaeger-span\""));
    let _ = child.kill();
    let _ = child.wait();
}
