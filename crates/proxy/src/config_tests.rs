//! Config validation: URLs, durations, hosts, origins, safe defaults.

use super::*;

#[test]
fn upstream_urls_are_normalised() {
    let cases = [
        ("http://owui.lan:8080/", "http://owui.lan:8080/"),
        (
            "https://example.com/openwebui/",
            "https://example.com/openwebui",
        ),
        ("127.0.0.1:8080", "http://127.0.0.1:8080/"),
        ("localhost:3000", "http://localhost:3000/"),
        ("chat.example.com", "https://chat.example.com/"),
    ];
    for (input, want) in cases {
        assert_eq!(parse_upstream_url(input).unwrap().as_str(), want, "{input}");
    }
}

#[test]
fn bad_upstream_urls_are_explained() {
    for input in ["", "ftp://x", "http://", "http://u:p@host", "http://h/?q=1"] {
        assert!(parse_upstream_url(input).is_err(), "{input}");
    }
}

#[test]
fn upstream_url_keeps_path_prefix() {
    let c = Config::new(parse_upstream_url("https://h/prefix/").unwrap());
    assert_eq!(c.upstream_url("/api/models"), "https://h/prefix/api/models");
    let c = Config::new(parse_upstream_url("https://h").unwrap());
    assert_eq!(c.upstream_url("/api/models"), "https://h/api/models");
}

#[test]
fn go_durations() {
    let ok = [
        ("0", 0.0),
        ("300ms", 0.3),
        ("30s", 30.0),
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
    ];
    for (input, secs) in ok {
        assert_eq!(
            parse_duration(input).unwrap(),
            Duration::from_secs_f64(secs),
            "{input}"
        );
    }
    for input in ["", "10", "5x", "m", "-1s", "1h 2m"] {
        assert!(parse_duration(input).is_err(), "{input}");
    }
}

#[test]
fn hosts_accept_ipv6_and_localhost() {
    assert_eq!(parse_host("::1").unwrap(), "::1".parse::<IpAddr>().unwrap());
    assert_eq!(
        parse_host("[::1]").unwrap(),
        "::1".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        parse_host("localhost").unwrap(),
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    );
    assert!(parse_host("example.com").is_err());
}

#[test]
fn origins_follow_ollamas_rules() {
    assert_eq!(
        parse_origin(" Chrome-Extension://* ").unwrap(),
        "chrome-extension://*"
    );
    assert_eq!(parse_origin("*").unwrap(), "*");
    assert_eq!(
        parse_origin("https://*.example.com").unwrap(),
        "https://*.example.com"
    );
    assert_eq!(
        parse_origin("app://obsidian.md").unwrap(),
        "app://obsidian.md"
    );
    for bad in [
        "localhost",
        "http://*.*.com",
        "https://x/y",
        "://x",
        "1x://y",
        "http://",
    ] {
        assert!(parse_origin(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_origins("a://b, ,c://d").unwrap(), ["a://b", "c://d"]);
}

#[test]
fn allowed_hosts_are_names_or_ips() {
    assert_eq!(
        parse_allowed_hosts("Box.LAN, [::1],10.0.0.2").unwrap(),
        ["box.lan", "::1", "10.0.0.2"]
    );
    assert!(parse_allowed_hosts("evil.com:80").is_err());
    assert!(parse_allowed_hosts("a b").is_err());
}

#[test]
fn defaults_are_safe() {
    let c = Config::new(parse_upstream_url("http://h").unwrap());
    assert!(c.listen.ip().is_loopback());
    assert!(c.cors_origins.is_empty() && c.allowed_hosts.is_empty());
    assert!(c.cache_dir.is_none() && c.client_token.is_none());
    assert!(c.header_read_timeout > Duration::ZERO && c.body_read_timeout > Duration::ZERO);
}

#[test]
fn human_bytes_reads_well() {
    assert_eq!(human_bytes(200), "200 B");
    assert_eq!(human_bytes(100 * 1024 * 1024), "100 MiB");
    assert_eq!(human_bytes(1536), "1.5 KiB");
}
